"""``loopgan studio`` (a local web app over trained audio models) and ``loopgan export`` (one TorchScript or ONNX
graph ``z -> audio``).

Thin: each handler checks its arguments and calls :mod:`gan_plugins.apps.studio` or :mod:`gan_plugins.apps.export`.
Errors a user can cause raise :class:`specrep.errors.SpecrepError`, which ``loopgan`` prints as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from specrep.errors import ParameterError


def cmd_studio(args: argparse.Namespace) -> None:
    from gan_plugins.apps.studio import StudioServer, load_sessions

    sessions = load_sessions(args.models, device=args.device, history_size=args.history,
                             n_components=args.components)
    server = StudioServer(sessions, host=args.host, port=args.port, allow_remote=args.allow_remote)
    print(f"loopgan studio: {', '.join(s.name for s in sessions)} on {server.url} (Ctrl+C stops it)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()


def cmd_export(args: argparse.Namespace) -> None:
    from gan_plugins.apps.export import export_model

    out = Path(args.out)
    if out.is_dir():
        raise ParameterError(f"-o {out} is a directory; give a file name")
    meta = export_model(args.model, out, fmt=args.format, gl_init=args.gl_init, gl_n_iter=args.gl_n_iter,
                        rescale=not args.no_rescale, label=str(args.model))
    if args.json:
        print(json.dumps(meta, indent=2, sort_keys=True))
        return
    print(f"wrote {meta['format']} graph z ({meta['z_dim']}) -> audio ({meta['loop_samples']} samples at "
          f"{meta['sample_rate']} Hz) to {out}")


def register(subparsers) -> None:
    """Add ``studio`` and ``export`` to a ``loopgan`` subparsers object."""
    p = subparsers.add_parser("studio", help="a local web app: draw loops, play them looped, interpolate, move "
                                             "along the latent space's main directions, download WAVs, walks")
    p.add_argument("models", nargs="+", metavar="NAME_OR_RUN", help="bundled model, run folder or checkpoint (1-4)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host that is not loopback (the studio has no authentication)")
    p.add_argument("--device", default="cpu", help="torch device for generation (default cpu)")
    p.add_argument("--history", type=int, default=64, help="loops kept per model (default 64)")
    p.add_argument("--components", type=int, default=8, help="GANSpace sliders (default 8)")
    p.set_defaults(func=cmd_studio)

    p = subparsers.add_parser("export", help="write one TorchScript or ONNX graph z (B, z_dim) -> audio (B, samples) "
                                             "of an audio model, runnable without this package")
    p.add_argument("model", metavar="NAME_OR_RUN", help="bundled model, run folder or checkpoint")
    p.add_argument("--format", required=True, choices=("torchscript", "onnx"))
    p.add_argument("-o", "--out", required=True, help="output file (.pt / .onnx)")
    p.add_argument("--gl-init", choices=("random", "zeros"), default="random",
                   help="magnitude-only models: Griffin-Lim's initial phase (PGHI cannot be traced; default random, "
                        "specrep's seeded phase)")
    p.add_argument("--gl-n-iter", type=int, default=None, help="magnitude-only models: Griffin-Lim iterations "
                                                             "(default: the model's)")
    p.add_argument("--no-rescale", action="store_true",
                   help="return loops as synthesised (default: each loop divided by max(1, its peak), as render)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)
