"""Figures for people to look at: spectrogram panels and sheets, round-trip comparisons and analysis sheets
(matplotlib, no display needed). Every spectrogram figure of the project draws its panels with
:func:`draw_spectrogram` (a grid of them: :func:`plot_spectrogram_sheet`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import descriptors as D
from . import functional as Fn
from .errors import ParameterError, check_positive_int
from .io import atomic_path
from .params import STFTParams

__all__ = ["SpectrogramPanel", "draw_spectrogram", "plot_analysis", "plot_roundtrip", "plot_spectrogram_sheet",
           "spectrogram_db", "subplots"]


def subplots(*grid, figsize, **kwargs):
    """``(figure, axes)`` like ``pyplot.subplots`` but on a bare :class:`matplotlib.figure.Figure`: no global
    backend switch (``matplotlib.use``), no pyplot state, nothing to close; ``fig.savefig`` renders with Agg.

    ``grid`` and ``kwargs`` go to :meth:`Figure.subplots` (``layout`` to the figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=kwargs.pop("layout", None))
    return fig, fig.subplots(*grid, **kwargs)


def spectrogram_db(wave, params: STFTParams) -> np.ndarray:
    """Log-magnitude STFT in dB, the picture every spectrogram figure of the project draws.

    Parameters
    ----------
    wave : np.ndarray or torch.Tensor, shape (..., time)
    params : STFTParams
        Frames centred with ``params.pad_mode``; a wave of at most ``n_fft // 2`` samples, too short to reflect,
        is padded with zeros instead.

    Returns
    -------
    np.ndarray, shape (..., n_fft // 2 + 1, 1 + time // hop_length)
        ``20 log10(|X| + 1e-6)``, float64 for a float64 wave, else float32.
    """
    x = wave.detach().cpu() if isinstance(wave, torch.Tensor) else torch.from_numpy(np.asarray(wave))
    if x.dtype != torch.float64:
        x = x.float()
    if x.shape[-1] <= params.n_fft // 2 and params.pad_mode == "reflect":
        params = replace(params, pad_mode="constant")
    with torch.no_grad():
        mag = Fn.stft(x, params).abs()
    return (20 * torch.log10(mag + 1e-6)).numpy()


@dataclass(frozen=True)
class SpectrogramPanel:
    """One panel of a spectrogram figure.

    Attributes
    ----------
    image : np.ndarray, shape (rows, frames)
        Row 0 (lowest frequency) is drawn at the bottom.
    title : str
    seconds, max_khz : float, optional
        Time span and top frequency: the axes read seconds and kHz; None gives frame and row indices.
    vmin, vmax : float, optional
        Colour range (default: the image's range).
    cmap : str
        Matplotlib colour map (``"magma"`` for magnitudes, ``"twilight"`` for phase-like values).
    ticks : bool
        Draw the axes (False: the bare image, for sheets of many small feature maps).
    """

    image: np.ndarray
    title: str = ""
    seconds: float | None = None
    max_khz: float | None = None
    vmin: float | None = None
    vmax: float | None = None
    cmap: str = "magma"
    ticks: bool = True


def draw_spectrogram(ax, panel: SpectrogramPanel, *, fontsize: float = 9):
    """Draw ``panel`` on a matplotlib axes (titles at ``fontsize``, axis labels and ticks smaller); returns the
    ``AxesImage`` (for a colour bar)."""
    image = np.asarray(panel.image)
    if image.ndim != 2:
        raise ParameterError(f"a spectrogram panel is (rows, frames), got shape {image.shape}")
    extent = None
    if panel.seconds is not None or panel.max_khz is not None:
        extent = (0.0, panel.seconds if panel.seconds is not None else image.shape[1],
                  0.0, panel.max_khz if panel.max_khz is not None else image.shape[0])
    im = ax.imshow(image, origin="lower", aspect="auto", cmap=panel.cmap, vmin=panel.vmin, vmax=panel.vmax,
                   extent=extent)
    ax.set_title(panel.title, fontsize=fontsize)
    if not panel.ticks:
        ax.axis("off")
        return im
    if panel.max_khz is not None:
        ax.set_ylabel("kHz", fontsize=fontsize - 1)
    ax.tick_params(labelsize=fontsize - 2)
    return im


def plot_spectrogram_sheet(panels, path: str | Path, *, columns: int, panel_size: tuple[float, float] = (3.2, 2.1),
                           title: str = "", fontsize: float = 8, dpi: int = 100) -> Path:
    """A grid of spectrogram panels written as an image (the format follows the suffix, e.g. PNG).

    Parameters
    ----------
    panels : sequence of (SpectrogramPanel or None)
        Row by row; None leaves its cell empty, as do the cells after the last panel.
    path : str or PathLike
        Written atomically (:func:`specrep.io.atomic_path`); parent folders are created.
    columns : int > 0
        Panels per row (fewer when there are fewer panels).
    panel_size : (width, height), inches
    title : str
        Above the grid.
    fontsize : float
        Of the panels' titles.
    dpi : int > 0

    Returns
    -------
    Path
        ``path``.
    """
    check_positive_int("columns", columns)
    check_positive_int("dpi", dpi)
    panels = list(panels)
    if not any(p is not None for p in panels):
        raise ParameterError("a spectrogram sheet needs at least one panel")
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = subplots(rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows), squeeze=False,
                         layout="constrained")
    for i, ax in enumerate(axes.flat):
        panel = panels[i] if i < len(panels) else None
        if panel is None:
            ax.axis("off")
            continue
        draw_spectrogram(ax, panel, fontsize=fontsize)
        if panel.ticks and panel.seconds is not None and i // cols == rows - 1:
            ax.set_xlabel("seconds", fontsize=fontsize - 1)
    if title:
        fig.suptitle(title, fontsize=fontsize + 1)
    return _save(fig, path, dpi=dpi, tight=False)


def plot_roundtrip(original: torch.Tensor, rebuilt: torch.Tensor, sample_rate: int, path: str | Path, *,
                   title: str = "") -> Path:
    """Spectrograms of the original and the reconstruction, their dB difference and both waveforms.

    Parameters
    ----------
    original, rebuilt : torch.Tensor, shape (time,)
    """
    params = STFTParams(sample_rate=sample_rate, n_fft=1024, hop_length=256)
    a, b = spectrogram_db(original, params), spectrogram_db(rebuilt, params)
    top = max(a.max(), b.max())
    fig, axes = subplots(4, 1, figsize=(10, 11), sharex=True)
    frame = _frame(a, params)
    draw_spectrogram(axes[0], SpectrogramPanel(a, "original (dB)", vmin=top - 90, vmax=top, **frame))
    im = draw_spectrogram(axes[1], SpectrogramPanel(b, "reconstruction (dB)", vmin=top - 90, vmax=top, **frame))
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="dB")
    diff = draw_spectrogram(axes[2], SpectrogramPanel(np.abs(a - b), "|difference| (dB)", vmin=0, vmax=20,
                                                      cmap="viridis", **frame))
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
    frame = _frame(db, params)
    im = draw_spectrogram(axes[0], SpectrogramPanel(db, "log-magnitude (dB)", vmin=db.max() - 90, vmax=db.max(),
                                                    **frame))
    fig.colorbar(im, ax=axes[0], label="dB")
    im = draw_spectrogram(axes[1], SpectrogramPanel(ifreq, "instantaneous frequency (phase difference / pi)",
                                                    vmin=-1, vmax=1, cmap="twilight", **frame))
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


def _frame(db: np.ndarray, params: STFTParams) -> dict[str, float]:
    """``seconds`` and ``max_khz`` of a spectrogram ``(..., bins, frames)`` of ``params``."""
    return {"seconds": db.shape[-1] * params.hop_length / params.sample_rate, "max_khz": params.sample_rate / 2000}


def _save(fig, path, *, dpi: int = 100, tight: bool = True) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None)
    return Path(path)
