"""``loopgan walk`` and ``loopgan demo``: a smooth latent walk as evolving audio, and the main job's HTML report.

Thin: each handler parses nothing itself and calls library functions. :func:`register` adds the commands to the
``loopgan`` parser; handlers raise :class:`specrep.errors.SpecrepError` (or ``OSError``) for anything a user can
cause, which ``loopgan`` prints as one line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from specrep.errors import ParameterError


def _check_writable(path: Path, what: str) -> None:
    """Fail before any work if ``path`` cannot be written; creates its folder."""
    if path.is_dir():
        raise ParameterError(f"{what} {path} is a directory")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ParameterError(f"cannot write {what} {path}: a parent is a file, not a directory") from None
    except OSError as exc:
        raise ParameterError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ParameterError(f"cannot write {what} {path}: permission denied")


def cmd_walk(args: argparse.Namespace) -> None:
    import numpy as np

    import specrep
    from gan_plugins.io.model import load_model
    from gan_plugins.latent.analysis import plot_walk
    from gan_plugins.latent.render import render_walk
    from gan_plugins.latent.walks import make_walk

    if not args.seconds > 0:
        raise ParameterError(f"--seconds {args.seconds:g} must be > 0")
    out = Path(args.out)
    if out.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise ParameterError(f"-o {out}: use a .wav, .flac or .ogg file name")
    _check_writable(out, "output")
    if args.plot:
        _check_writable(Path(args.plot), "plot")
    model = load_model(args.model).require_audio("a walk")
    options = {"speed": args.speed, "seed": args.seed}
    if args.smoothness is not None:
        options["smoothness"] = args.smoothness
    walk = make_walk(args.trajectory, model.z_dim, **options)
    start = time.perf_counter()
    render = render_walk(model, walk, args.seconds, crossfade=args.crossfade, progress=not args.no_progress)
    specrep.io.save(out, render.wave, render.sample_rate)
    joins = render.join_report()
    levels = render.join_levels_db()
    result = {"output": str(out), "model": str(args.model), "seconds": round(render.seconds, 3),
              "loops": int(render.loops.shape[0]), "loop_seconds": render.loop_seconds,
              "sample_rate": render.sample_rate, "walk": render.walk,
              "crossfade_s": render.crossfade / render.sample_rate,
              "max_join_step_over_inside": round(max((j["join"] / j["inside"] for j in joins), default=0.0), 4),
              "max_join_level_db": round(float(np.abs(levels).max()) if levels.size else 0.0, 3)}
    if args.plot:
        t = np.linspace(0.0, render.seconds, 20 * render.loops.shape[0] + 1)
        result["plot"] = str(plot_walk(render, args.plot, dense_latents=walk(t).numpy(), dense_times=t,
                                       title=f"{args.model}: {args.trajectory} walk, seed {args.seed}"))
    result["elapsed_s"] = round(time.perf_counter() - start, 2)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    print(f"wrote {result['seconds']:g} s ({result['loops']} loops, {args.trajectory} walk) to {out}")
    print(f"  joins: largest step {result['max_join_step_over_inside']:.2f}x the largest inside the loops, "
          f"level within {result['max_join_level_db']:.1f} dB")
    if args.plot:
        print(f"  figure: {result['plot']}")


def cmd_demo(args: argparse.Namespace) -> None:
    from gan_plugins.apps.demo import run_demo
    from specrep.errors import check_positive_int

    if not args.seconds > 0:
        raise ParameterError(f"seconds={args.seconds!r} must be > 0")
    check_positive_int("n", args.n)
    out = Path(args.out)
    _check_writable(out / "report.html", "report")
    path = run_demo(out, seconds=args.seconds, n_loops=args.n, quick=args.quick, progress=not args.no_progress)
    print(path)


#: The walk kinds of :data:`gan_plugins.latent.walks.KINDS`, named here so that building the parser (``--help``,
#: argument errors) does not import torch; tests/cli check that the two agree.
TRAJECTORIES = ("spline", "ou", "loop", "lerp", "jumps")


def register(subparsers) -> None:
    """Add ``walk`` and ``demo`` to a ``loopgan`` subparsers object."""
    p = subparsers.add_parser("walk", help="render a smooth random latent walk of an audio model as one evolving "
                                           "track (one latent per loop, crossfaded on the loop grid)")
    p.add_argument("model", metavar="NAME_OR_RUN", help="bundled model (loopgan pretrained), run folder or checkpoint")
    p.add_argument("--seconds", type=float, required=True, help="length (rounded up to whole loops)")
    p.add_argument("-o", "--out", required=True, help="output audio file (.wav, .flac or .ogg)")
    p.add_argument("--plot", default=None, help="write the walk figure (spectrogram, descriptors, path) here")
    p.add_argument("--trajectory", choices=TRAJECTORIES, default="spline",
                   help="spline (through random anchors), ou (filtered random walk), loop (closed path); "
                        "lerp and jumps are the baselines")
    p.add_argument("--speed", type=float, default=3.75, help="anchors per minute (default 3.75: one per 16 s)")
    p.add_argument("--smoothness", type=float, default=None,
                   help="spline/loop: 0..1 (default 1); ou: velocity correlation time in anchors (default 1)")
    p.add_argument("--crossfade", type=float, default=None, help="seconds (default a quarter of a loop)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_walk)

    p = subparsers.add_parser("demo", help="the main job: loops and a smooth walk from each bundled GANSynth model, "
                                           "a round trip of a real recording, one self-contained HTML report")
    p.add_argument("--out", default="out/demo", help="folder of the report (default out/demo)")
    p.add_argument("--seconds", type=float, default=32.0, help="length of each walk (default 32)")
    p.add_argument("-n", "--n", type=int, default=8, help="loops per model in the batch (default 8)")
    p.add_argument("--quick", action="store_true", help="a smaller smoothness measurement (for tests)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)
