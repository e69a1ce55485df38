"""What a rendered walk does over time: descriptor curves (specrep's descriptors plus an onset rate; per loop,
:func:`gan_plugins.metrics.audio.loop_descriptors`) and the walk figure (whole-render spectrogram, descriptor
curves, the latent path in 2-D PCA coloured by time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import specrep
from gan_plugins.latent.render import WalkRender
from gan_plugins.metrics.audio import HOP, LOOP_DESCRIPTORS, N_FFT, loop_descriptors, onset_frames
from specrep.plotting import SpectrogramPanel, draw_spectrogram, spectrogram_db

__all__ = ["descriptor_curves", "path_pca", "plot_walk"]


def _describe(waves: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    with torch.no_grad():
        desc = specrep.descriptors.describe(torch.as_tensor(np.asarray(waves, dtype=np.float32)), sample_rate,
                                            n_fft=N_FFT, hop_length=HOP)
    return {k: v.numpy().astype(np.float64) for k, v in desc.items()}


def descriptor_curves(wave: np.ndarray, sample_rate: int, *, window_s: float = 2.0) -> tuple[np.ndarray, dict]:
    """Frame-wise descriptors of a whole render ``(T,)``: ``(times (frames,), name -> (frames,))``; ``onset_rate``
    counts onsets in a centred ``window_s`` window (onsets per second)."""
    desc = _describe(wave, sample_rate)
    times = np.arange(desc["loudness"].shape[-1]) * HOP / sample_rate
    curves = {name: desc[name] for name, _ in LOOP_DESCRIPTORS if name in desc}
    hits = np.zeros_like(times)
    hits[onset_frames(desc["onset_strength"])] = 1.0
    width = max(1, int(round(window_s * sample_rate / HOP)))
    curves["onset_rate"] = np.convolve(hits, np.ones(width), mode="same") / window_s
    return times, curves


def path_pca(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA of a path ``(T, d)``: ``(coordinates (T, 2), explained variance ratio (2,))``."""
    x = np.asarray(latents, dtype=np.float64)
    x = x - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s**2 / max((s**2).sum(), 1e-300)
    return x @ vt[:2].T, var[:2]


def plot_walk(render: WalkRender, path: str | Path, *, dense_latents: np.ndarray | None = None,
              dense_times: np.ndarray | None = None, title: str = "") -> Path:
    """The walk figure: log spectrogram of the whole render with loop boundaries, the six descriptor curves (frame
    values and per-loop means), and the latent path in 2-D PCA coloured by time (dots: the loops' latents).

    ``dense_latents (T, d)`` at ``dense_times (T,)`` draw the continuous path (default: the loops' latents only).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    sr = render.sample_rate
    db = spectrogram_db(render.wave, specrep.STFTParams(sample_rate=sr, n_fft=N_FFT, hop_length=HOP))
    times, curves = descriptor_curves(render.wave, sr)
    per_loop = loop_descriptors(render.loops, sr)
    centres = render.times + render.loop_seconds / 2

    fig = Figure(figsize=(14, 11), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subfigures(1, 2, width_ratios=(3.2, 1.4))
    grid = left.add_gridspec(1 + len(LOOP_DESCRIPTORS), 1, height_ratios=(3,) + (1,) * len(LOOP_DESCRIPTORS))
    ax = left.add_subplot(grid[0, 0])
    top = float(db.max())
    draw_spectrogram(ax, SpectrogramPanel(db, "spectrogram of the whole walk (dB; white lines: loop boundaries)",
                                          seconds=render.seconds, max_khz=sr / 2000, vmin=top - 80, vmax=top),
                     fontsize=10)
    for t in render.times[1:]:
        ax.axvline(t, color="white", lw=0.5, alpha=0.4)
    axes = [ax]
    for row, (name, unit) in enumerate(LOOP_DESCRIPTORS, start=1):
        a = left.add_subplot(grid[row, 0], sharex=ax)
        a.plot(times, curves[name], lw=0.5, color="0.65", label="per frame" if row == 1 else None)
        a.plot(centres, per_loop[name], "o-", ms=3, lw=1.4, color="C0", label="per loop" if row == 1 else None)
        a.set_ylabel(f"{name}\n{unit}", fontsize=8)
        a.tick_params(labelsize=7)
        axes.append(a)
    axes[1].legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1].set_xlabel("seconds")
    for a in axes[:-1]:
        a.tick_params(labelbottom=False)

    pax, _ = right.subplots(2, 1, height_ratios=(3, 1))
    _.axis("off")
    dense = render.latents if dense_latents is None else np.asarray(dense_latents)
    dense_t = render.times if dense_times is None else np.asarray(dense_times)
    coords, var = path_pca(np.concatenate([dense, render.latents]))
    line, dots = coords[: len(dense)], coords[len(dense):]
    segs = np.stack([line[:-1], line[1:]], axis=1)
    lc = LineCollection(segs, cmap="viridis", lw=2)
    lc.set_array(dense_t[:-1])
    pax.add_collection(lc)
    pax.scatter(dots[:, 0], dots[:, 1], c=render.times, cmap="viridis", s=30, edgecolors="k", lw=0.5, zorder=3)
    pax.annotate("start", dots[0], xytext=(6, 6), textcoords="offset points", fontsize=8)
    pax.autoscale()
    pax.set_xlabel(f"PC 1 ({var[0]:.0%} of variance)")
    pax.set_ylabel(f"PC 2 ({var[1]:.0%} of variance)")
    pax.set_title("latent path, 2-D PCA (colour: time)", fontsize=10)
    right.colorbar(lc, ax=pax, label="seconds", shrink=0.8, location="bottom")
    if title:
        fig.suptitle(title, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path
