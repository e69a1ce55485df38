"""Compare trained audio GANs that differ in representation (GANSynth's table: IF vs magnitude + phase
reconstruction): NDB/K, Fréchet descriptor distance, spectral consistency, synthesis speed, training curves and
audio examples, with the floor (held-out real loops) and ceiling (noise) beside every score.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

import specrep
from gan_plugins.checkpoint import load_checkpoint
from gan_plugins.data.loop_dataset import LoopDataset
from gan_plugins.metrics.audio import NDBReference, descriptor_features, frechet_descriptor_distance
from gan_plugins.pretrained import load_generator, resolve_checkpoint
from specrep.errors import ParameterError

__all__ = ["benchmark_representations", "write_report"]


def _generate(plugin, generator, cfg, n: int, seed: int, batch: int = 64) -> tuple[np.ndarray, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    waves, feats = [], []
    with torch.no_grad():
        for start in range(0, n, batch):
            f = generator(plugin.latent(min(batch, n - start), cfg, generator=gen))
            feats.append(f)
            waves.append(plugin.render(f, cfg))
    return torch.cat(waves).numpy(), torch.cat(feats)


def _consistency(plugin, cfg, feats: torch.Tensor) -> float:
    af = plugin.audio_features(cfg)
    x = af.norm.inverse(feats.clamp(-1, 1)) if af.norm is not None else feats
    return float(specrep.metrics.spectral_consistency_db(af.chain, x, length=af.model_samples).mean())


def _speed(plugin, generator, cfg, *, batch: int = 16, repeat: int = 3) -> float:
    """Samples per second of generator + synthesis for one batch (best of ``repeat``)."""
    z = plugin.latent(batch, cfg, generator=torch.Generator().manual_seed(1))
    best = float("inf")
    with torch.no_grad():
        plugin.render(generator(z), cfg)  # warm-up (compiles PGHI once)
        for _ in range(repeat):
            start = time.perf_counter()
            plugin.render(generator(z), cfg)
            best = min(best, time.perf_counter() - start)
    return batch / best


def benchmark_representations(runs: Mapping[str, str | Path], data: str | Path, *, n: int = 500, n_real: int = 1000,
                              k: int = 50, seed: int = 0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Score each run's EMA generator against the loops of ``data``.

    Parameters
    ----------
    runs : mapping label -> run folder or checkpoint
    data : the training dataset (``.npy`` + sidecar)
    n : generated loops per run; n_real : real loops that define the NDB bins; k : NDB bins
    out_dir : where audio examples, spectrogram sheets and plots go (None: nowhere)

    Returns
    -------
    dict with ``floor``, ``ceiling`` and one entry per run (ndb_k, jsd, fdd, consistency_db, samples_per_s, step,
    representation, synthesis), plus ``settings``.
    """
    if not runs:
        raise ParameterError("give at least one run to benchmark")
    loaded = {label: load_generator(path) for label, path in runs.items()}
    first_plugin, _, first_cfg = next(iter(loaded.values()))
    sr = int(first_cfg["sample_rate"])
    full = LoopDataset(data)
    train_rows = full  # the bins come from training loops; the floor from loops the model never saw
    held = first_plugin.dataset(str(data), dict(first_cfg), split="test")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(train_rows), size=min(n_real, len(train_rows)), replace=False))
    real = np.stack([train_rows[int(i)].numpy() for i in pick])
    held_out = np.stack([held[i].numpy() for i in range(len(held))])
    ref = NDBReference(real, sr, k=k, seed=seed)
    real_desc = descriptor_features(real, sr)
    noise = (rng.standard_normal(held_out.shape) * held_out.std()).astype(np.float32)
    result: dict[str, Any] = {
        "settings": {"data": str(data), "n": n, "n_real": len(real), "n_held_out": len(held_out), "k": k,
                     "seed": seed},
        "floor": {**ref.score(held_out), "fdd": frechet_descriptor_distance(real, held_out, sr,
                                                                            real_features=real_desc)},
        "ceiling": {**ref.score(noise), "fdd": frechet_descriptor_distance(real, noise, sr, real_features=real_desc)},
        "runs": {},
    }
    out = Path(out_dir) if out_dir else None
    for label, (plugin, generator, cfg) in loaded.items():
        waves, feats = _generate(plugin, generator, cfg, n, seed)
        row = {"representation": cfg["representation"], "run": str(runs[label]), **ref.score(waves),
               "fdd": frechet_descriptor_distance(real, waves, sr, real_features=real_desc),
               "consistency_db": _consistency(plugin, cfg, feats[:64]),
               "samples_per_s": _speed(plugin, generator, cfg),
               "synthesis": "cumulative sum of IF" if cfg["representation"].endswith("if")
               else f"PGHI + {cfg['gl_iter']} fast Griffin-Lim iterations",
               "max_abs": float(np.abs(waves).max()), "finite": bool(np.isfinite(waves).all())}
        if cfg["representation"].endswith("gl"):
            row["samples_per_s_pghi_only"] = _speed(plugin, generator, {**cfg, "gl_iter": 0})
        row["step"] = int(load_checkpoint(resolve_checkpoint(runs[label]), map_location="cpu")["step"])
        result["runs"][label] = row
        if out is not None:
            examples = out / label
            plugin.save_samples(feats[:8], examples, fmt="wav", config=cfg)
    if out is not None:
        _plot_curves(runs, out / "training-curves.png")
    return result


def _plot_curves(runs: Mapping[str, str | Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for label, run in runs.items():
        log = Path(run) / "log.csv"
        if not log.is_file():
            continue
        with open(log) as f:
            rows = list(csv.DictReader(f))
        step = np.array([float(r["step"]) for r in rows])
        gap = np.array([float(r["d_real"]) - float(r["d_fake"]) for r in rows])
        loss_g = np.array([float(r["loss_g"]) for r in rows])
        win = max(1, len(step) // 50)
        smooth = np.convolve(gap, np.ones(win) / win, mode="same")
        axes[0].plot(step, smooth, label=label)
        axes[1].plot(step, np.convolve(loss_g, np.ones(win) / win, mode="same"), label=label)
    axes[0].set_title("critic gap D(real) - D(fake) (Wasserstein estimate), smoothed")
    axes[1].set_title("generator loss, smoothed")
    for ax in axes:
        ax.set_xlabel("generator step")
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def write_report(result: Mapping[str, Any], path: str | Path, *, command: str) -> Path:
    """Markdown table of :func:`benchmark_representations`' result, headed by the command that produced it."""
    fl, ce = result["floor"], result["ceiling"]
    lines = [
        "# Representations: magnitude + phase reconstruction vs magnitude + instantaneous frequency",
        "",
        f"Command: `{command}`",
        "",
        f"Data: `{result['settings']['data']}`; NDB bins: k = {result['settings']['k']} k-means bins on log-mel "
        f"spectrograms of {result['settings']['n_real']} training loops; {result['settings']['n']} generated loops "
        f"per model; floor = {result['settings']['n_held_out']} held-out real loops; ceiling = noise at the data's "
        "level. Lower is better for every score except speed.",
        "",
        "| model | representation | steps | NDB/K | JSD | FDD | consistency (dB) | synthesis "
        "| samples/s (batch 16, CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
        f"| floor (held-out real) | | | {fl['ndb_k']:.2f} | {fl['jsd']:.3f} | {fl['fdd']:.2f} | | | |",
    ]
    for label, r in result["runs"].items():
        speed = f"{r['samples_per_s']:.1f}"
        if "samples_per_s_pghi_only" in r:
            speed += f" (PGHI only: {r['samples_per_s_pghi_only']:.1f})"
        lines.append(f"| {label} | {r['representation']} | {r.get('step', '')} | {r['ndb_k']:.2f} | {r['jsd']:.3f} | "
                     f"{r['fdd']:.2f} | {r['consistency_db']:.1f} | {r['synthesis']} | {speed} |")
    lines.append(f"| ceiling (noise) | | | {ce['ndb_k']:.2f} | {ce['jsd']:.3f} | {ce['fdd']:.2f} | | | |")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
