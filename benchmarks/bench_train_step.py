"""Benchmark (not a test): training-step time of the GANSynth CPU preset with and without the lazy gradient penalty.

``gp_every = k`` computes the WGAN-GP penalty on every k-th critic update only (weighted k times, so its average
weight is unchanged). The penalty needs a double backward through the critic, so skipping it saves time; this
measures how much. Both settings run in the same process, in alternating rounds, so a busy machine slows both
alike and the ratio stays meaningful.

Run from the repository root (the dataset comes from ``loopgan data synth``)::

    .venv/bin/python benchmarks/bench_train_step.py --data runs/data/loops-2s.npy \
        --report docs/results/train-step.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.training.trainer import Trainer

PRESET = {"representation": "mel-if", "n_mels": 128, "width_max": 64, "width_base": 512, "batch_size": 16,
          "sample_every": 0, "ckpt_every": 0, "log_every": 1000, "seed": 0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="loop dataset (.npy + sidecar)")
    ap.add_argument("--every", type=int, nargs="+", default=[1, 4], help="gp_every values; the first is the peer")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8, help="steps per round (a multiple of every gp_every)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", type=Path, help="write a markdown table here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    plugin = get_plugin("gansynth")
    trainers, times = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.every:
            cfg = resolve_config(plugin, loss="wgan-gp", data=args.data, overrides={**PRESET, "gp_every": k})
            trainers[k] = Trainer(plugin, cfg, Path(tmp) / f"every-{k}", progress=False).setup()
            trainers[k].train_step()  # warm-up: first-call allocations
            times[k] = []
        for r in range(args.rounds):
            for k, trainer in trainers.items():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step()
                times[k].append((time.perf_counter() - t0) / args.steps)
                print(f"round {r + 1}/{args.rounds} gp_every={k}: {times[k][-1]:.3f} s/step", file=sys.stderr)
    peer = statistics.median(times[args.every[0]])
    lines = [
        "# Training step time: lazy gradient penalty",
        "",
        "Command: `.venv/bin/python benchmarks/bench_train_step.py " + " ".join(argv or sys.argv[1:]) + "`",
        "",
        f"GANSynth CPU preset (mel-if, 128 mel bands x 64 frames, widths <= 64, batch 16, WGAN-GP + drift), "
        f"{args.threads} thread(s); median over {args.rounds} alternating rounds of {args.steps} steps.",
        "",
        "| gp_every | s/step | steps/hour | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for k in args.every:
        t = statistics.median(times[k])
        lines.append(f"| {k} | {t:.3f} | {3600 / t:.0f} | {peer / t:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
