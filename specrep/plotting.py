"""Figures for people to look at: round-trip comparisons and analysis sheets (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import descriptors as D
from . import functional as Fn
from .params import STFTParams


def subplots(*grid, figsize, **kwargs):
    """``(figure, axes)`` like ``pyplot.subplots`` but on a bare :class:`matplotlib.figure.Figure`: no global
    backend switch (``matplotlib.use``), no pyplot state, nothing to close; ``fig.savefig`` renders with Agg.

    ``grid`` and ``kwargs`` go to :meth:`Figure.subplots` (``layout`` to the figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=kwargs.pop("layout", None))
    return fig, fig.subplots(*grid, **kwargs)


def _db(wave: torch.Tensor, params: STFTParams) -> np.ndarray:
    mag = Fn.stft(wave.detach().float().cpu(), params).abs()
    return (20 * torch.log10(mag + 1e-6)).numpy()


def _spec_image(ax, db: np.ndarray, params: STFTParams, title: str, vmin: float, vmax: float):
    seconds = db.shape[-1] * params.hop_length / params.sample_rate
    im = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
                   extent=(0, seconds, 0, params.sample_rate / 2000))
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("kHz")
    return im


def plot_roundtrip(original: torch.Tensor, rebuilt: torch.Tensor, sample_rate: int, path: str | Path, *,
                   title: str = "") -> Path:
    """Spectrograms of the original and the reconstruction, their dB difference and both waveforms.

    Parameters
    ----------
    original, rebuilt : torch.Tensor, shape (time,)
    """
    params = STFTParams(sample_rate=sample_rate, n_fft=1024, hop_length=256)
    a, b = _db(original, params), _db(rebuilt, params)
    top = max(a.max(), b.max())
    fig, axes = subplots(4, 1, figsize=(10, 11), sharex=True)
    _spec_image(axes[0], a, params, "original (dB)", top - 90, top)
    im = _spec_image(axes[1], b, params, "reconstruction (dB)", top - 90, top)
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="dB")
    diff = _spec_image(axes[2], np.abs(a - b), params, "|difference| (dB)", 0, 20)
    diff.set_cmap("viridis")
    fig.colorbar(diff, ax=axes[2], label="dB")
    t = np.arange(original.shape[-1]) / sample_rate
    axes[3].plot(t, original.detach().cpu().numpy(), lw=0.5, label="original")
    axes[3].plot(t, rebuilt.detach().cpu().numpy(), lw=0.5, alpha=0.7, label="reconstruction")
    axes[3].legend(loc="upper right", fontsize=8)
    axes[3].set_xlabel("seconds")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_analysis(wave: torch.Tensor, sample_rate: int, path: str | Path, *, n_fft: int = 1024,
                  hop_length: int = 256, title: str = "") -> Path:
    """Log spectrogram, instantaneous frequency and the descriptors of :mod:`specrep.descriptors` over time.

    Parameters
    ----------
    wave : torch.Tensor, shape (time,)
    """
    params = STFTParams(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length)
    spec = Fn.stft(wave.detach().float().cpu(), params)
    db = (20 * torch.log10(spec.abs() + 1e-6)).numpy()
    ifreq = Fn.phase_to_if(spec.angle()).numpy()
    desc = D.describe(wave.detach().float().cpu(), sample_rate, n_fft=n_fft, hop_length=hop_length)
    fig, axes = subplots(2 + len(desc), 1, figsize=(10, 3 + 1.4 * (2 + len(desc))), sharex=True,
                             gridspec_kw={"height_ratios": [3, 3] + [1] * len(desc)})
    im = _spec_image(axes[0], db, params, "log-magnitude (dB)", db.max() - 90, db.max())
    fig.colorbar(im, ax=axes[0], label="dB")
    im = _spec_image(axes[1], ifreq, params, "instantaneous frequency (phase difference / pi)", -1, 1)
    im.set_cmap("twilight")
    fig.colorbar(im, ax=axes[1])
    t = np.arange(db.shape[-1]) * hop_length / sample_rate
    units = {"loudness": "dB(A)", "centroid": "Hz", "bandwidth": "Hz", "rolloff": "Hz"}
    for ax, (name, value) in zip(axes[2:], desc.items(), strict=True):
        ax.plot(t, value.numpy(), lw=0.8)
        ax.set_ylabel(f"{name}\n{units.get(name, '')}", fontsize=8)
    axes[-1].set_xlabel("seconds")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path
