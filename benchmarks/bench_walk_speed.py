"""Benchmark (not a test): how fast each bundled audio model renders a latent walk, in multiples of real time.

For every bundled GANSynth / progressive model: a spline walk of ``--seconds`` seconds (seed 0) rendered with
:func:`gan_plugins.latent.render.render_walk` (generator, decoder, crossfaded joins), one torch thread, best of
``--repeat`` after one warm-up render (numba's and torch's first-call costs are not the walk's). Real-time factor =
audio seconds / wall seconds; issue 30's goal is >= 50.

    .venv/bin/python benchmarks/bench_walk_speed.py [--seconds 60] [--report docs/results/walk-speed.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import torch


def main(argv=None) -> int:
    from gan_plugins.io.model import load_model
    from gan_plugins.latent.render import render_walk
    from gan_plugins.latent.walks import make_walk
    from gan_plugins.pretrained import available_pretrained
    from specrep.timing import time_calls

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for name in available_pretrained():
        model = load_model(name)
        if not model.is_audio:
            continue
        walk = make_walk("spline", model.z_dim, seed=0)
        t = time_calls(lambda m=model, w=walk: render_walk(m, w, args.seconds, progress=False),
                       repeat=args.repeat, warmup=1)
        audio = t.result.seconds
        rows.append((name, audio, t.best, audio / t.best, t.result.loops.shape[0]))
        print(f"{name}: {audio:.0f} s of audio in {t.best:.2f} s ({audio / t.best:.0f}x real time)", flush=True)
    lines = [
        "# Latent-walk rendering speed",
        "",
        f"Command: `python benchmarks/bench_walk_speed.py --seconds {args.seconds:g}"
        f"{' --report ' + str(args.report) if args.report else ''}`; {datetime.date.today()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, one thread; best of "
        f"{args.repeat} after a warm-up.",
        "",
        "| model | walk | loops | seconds to render | x real time | goal >= 50x |",
        "|---|---:|---:|---:|---:|---|",
        *[f"| {n} | {a:.0f} s | {k} | {s:.2f} | {r:.0f} | {'met' if r >= 50 else 'not met'} |"
          for n, a, s, r, k in rows],
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
