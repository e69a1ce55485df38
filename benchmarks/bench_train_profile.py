"""Benchmark (not a test): GANSynth training throughput, where a step's time goes, and what the trainer adds.

For each preset, one process builds the networks once through the plugin and times, in alternating rounds of
``--steps`` steps (so a change of load hits both sides):

- **trainer**: :meth:`gan_plugins.training.trainer.Trainer.train_step` (schedule, the seeded batch stream,
  latents from the shared noise generator, WGAN-GP + drift through the loss and penalty registries, gradient
  norms, the non-finite checks, EMA);
- **bare loop**: the same generator, critic, optimisers, loss, penalty, data and feature encoding written out as a
  plain PyTorch loop in this file, each phase timed with ``time.perf_counter``: data (random rows read from the
  memmap), feature encoding (STFT, mel, IF: ``AudioFeatures.encode``), the generator's forward for the critic, the
  critic's loss forward and backward, the gradient penalty's forward and double backward, the critic's Adam step,
  the generator's step (G and D forward, backward, Adam) and the EMA update.

Images per second count the real images the critic sees (batch x n_critic per step). Presets: the GANSynth
defaults (mel-IF 128 x 64, widths <= 128), the bundled models' CPU size (widths <= 64) and issue 29's hop-256 grid
(128 x 128). One torch thread.

    .venv/bin/python benchmarks/bench_train_profile.py --data runs/data/loops-2s.npy \
        --report docs/results/train-profile.md
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

PRESETS = {
    "defaults (mel-IF 128x64, widths <= 128)": {},
    "bundled CPU size (widths <= 64)": {"width_max": 64, "width_base": 512},
    "hop 256 (128x128, widths <= 64)": {"width_max": 64, "width_base": 512, "hop_length": 256, "frames": 128},
}
PHASES = ("data", "features", "G forward (critic step)", "critic loss fwd+bwd", "penalty fwd + double bwd",
          "critic Adam", "generator step (fwd, bwd, Adam)", "EMA")


class BareLoop:
    """WGAN-GP + drift written out by hand on copies of the trainer's networks and optimiser settings."""

    def __init__(self, trainer, seed: int = 0):
        cfg = trainer.cfg
        self.cfg, self.plugin = cfg, trainer.plugin
        self.g = copy.deepcopy(trainer.generator)
        self.d = copy.deepcopy(trainer.discriminator)
        self.ema = copy.deepcopy(trainer.ema)
        betas = tuple(cfg["betas"])
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=float(cfg["lr_g"]), betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=float(cfg["lr_d"]), betas=betas)
        self.dataset = trainer.stream.dataset
        self.encode = trainer.plugin.audio_features(cfg).encode
        self.rng = np.random.default_rng(seed)
        self.bs, self.z_dim = int(cfg["batch_size"]), int(cfg["z_dim"])
        self.gp_w, self.drift, self.decay = float(cfg["gp_weight"]), float(cfg["drift"]), float(cfg["ema_decay"])
        self.times: dict[str, float] = defaultdict(float)

    def _tick(self, name: str, t0: float) -> float:
        t = time.perf_counter()
        self.times[name] += t - t0
        return t

    def step(self) -> None:
        t = time.perf_counter()
        rows = self.rng.integers(0, len(self.dataset), self.bs)
        batch = torch.stack([self.dataset[int(i)] for i in rows])
        t = self._tick("data", t)
        real = self.encode(batch)
        t = self._tick("features", t)
        with torch.no_grad():
            fake = self.g(torch.randn(self.bs, self.z_dim))
        t = self._tick("G forward (critic step)", t)
        self.opt_d.zero_grad(set_to_none=True)
        d_real, d_fake = self.d(real), self.d(fake)
        (d_fake.mean() - d_real.mean() + self.drift * d_real.pow(2).mean()).backward()
        t = self._tick("critic loss fwd+bwd", t)
        a = torch.rand(self.bs, 1, 1, 1)
        x = (a * real + (1 - a) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.d(x).sum(), x, create_graph=True)
        (self.gp_w * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()).backward()
        t = self._tick("penalty fwd + double bwd", t)
        self.opt_d.step()
        t = self._tick("critic Adam", t)
        self.opt_g.zero_grad(set_to_none=True)
        (-self.d(self.g(torch.randn(self.bs, self.z_dim))).mean()).backward()
        self.opt_g.step()
        t = self._tick("generator step (fwd, bwd, Adam)", t)
        with torch.no_grad():
            for pe, pm in zip(self.ema.parameters(), self.g.parameters(), strict=True):
                pe.lerp_(pm, 1.0 - self.decay)
        self._tick("EMA", t)


def measure(data: str, overrides: dict, steps: int, rounds: int) -> dict:
    from gan_plugins.api import get_plugin
    from gan_plugins.config import resolve_config
    from gan_plugins.training.trainer import Trainer

    plugin = get_plugin("gansynth")
    cfg = resolve_config(plugin, loss="wgan-gp", data=data, overrides=overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(plugin, cfg, tmp, progress=False).setup()
        bare = BareLoop(trainer)
        trainer.train_step()  # warm-up: allocator, first-call costs
        bare.step()
        bare.times.clear()
        t_tr, t_bare = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            t_tr.append((time.perf_counter() - t) / steps)
            t = time.perf_counter()
            for _ in range(steps):
                bare.step()
            t_bare.append((time.perf_counter() - t) / steps)
        shape = tuple(trainer.plugin.audio_features(trainer.cfg).shape)
        images = int(cfg["batch_size"]) * int(cfg["n_critic"])
    phases = {k: bare.times[k] / (steps * rounds) for k in PHASES}
    return {"trainer": float(np.median(t_tr)), "bare": float(np.median(t_bare)), "phases": phases,
            "shape": shape, "images_per_step": images, "rounds_trainer": t_tr, "rounds_bare": t_bare}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="runs/data/loops-2s.npy")
    ap.add_argument("--steps", type=int, default=6, help="steps per round and side")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    results = {}
    for name, overrides in PRESETS.items():
        results[name] = r = measure(args.data, overrides, args.steps, args.rounds)
        print(f"{name}: trainer {r['trainer']:.3f} s/step, bare {r['bare']:.3f} s/step", flush=True)
    cmd = f"python benchmarks/bench_train_profile.py --data {args.data}"
    if (args.steps, args.rounds) != (6, 3):
        cmd += f" --steps {args.steps} --rounds {args.rounds}"
    cmd += f" --report {args.report}" if args.report else ""
    lines = [
        "# GANSynth training: throughput, step profile and trainer overhead",
        "",
        f"Command: `{cmd}`; {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, one thread; batch 16, WGAN-GP + drift, n_critic 1; median of {args.rounds} "
        f"alternating rounds of {args.steps} steps per side.",
        "",
        "| preset | features (C, rows, frames) | trainer s/step | images/s | bare loop s/step | trainer overhead |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r['shape']} | {r['trainer']:.3f} | {r['images_per_step'] / r['trainer']:.2f} | "
                     f"{r['bare']:.3f} | {(r['trainer'] / r['bare'] - 1) * 100:+.1f} % |")
    lines += ["", "Where a bare-loop step's time goes (share of the step):", "",
              "| phase | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for ph in PHASES:
        lines.append(f"| {ph} | " + " | ".join(
            f"{r['phases'][ph] * 1e3:.0f} ms ({r['phases'][ph] / sum(r['phases'].values()) * 100:.0f} %)"
            for r in results.values()) + " |")
    lines += ["", "Per-round seconds per step (trainer / bare), to judge the noise: " + "; ".join(
        f"{name.split(' (')[0]}: " + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(r['rounds_trainer'],
                                                                                     r['rounds_bare'], strict=True))
        for name, r in results.items()) + "."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
