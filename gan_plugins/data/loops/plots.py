"""Spectrogram pictures of loops: one loop, or a montage of several, written as PNG with matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from specrep.errors import ParameterError, check_positive_int
from specrep.functional import stft
from specrep.params import STFTParams


def log_spectrogram(wave: np.ndarray, *, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Log-magnitude STFT in dB through specrep's STFT (periodic Hann window, frames centred by reflection padding,
    constant padding for waves shorter than half a frame).

    Parameters
    ----------
    wave : np.ndarray, shape (time,)
    n_fft : int > 0
        Frame length (512 = 32 ms at 16 kHz).
    hop : int > 0
        Frame step.

    Returns
    -------
    np.ndarray, float64, shape (n_fft // 2 + 1, frames), ``20 log10(|X| + 1e-6)``; frames = 1 + time // hop.
    """
    check_positive_int("n_fft", n_fft)
    check_positive_int("hop", hop)
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ParameterError(f"wave has shape {wave.shape}; expected (time,)")
    # the sample rate does not enter the transform; 1 Hz keeps STFTParams' validation happy for any n_fft
    params = STFTParams(1, n_fft, hop, pad_mode="reflect" if wave.size > n_fft // 2 else "constant")
    mag = stft(torch.from_numpy(wave), params).abs().numpy()
    return 20.0 * np.log10(mag + 1e-6)


def plot_spectrograms(waves, sample_rate: int, path: str | os.PathLike, *, titles=None, columns: int = 2,
                      n_fft: int = 512, hop: int = 128, floor_db: float = -70.0, dpi: int = 100) -> Path:
    """Write a grid of log-magnitude spectrograms (time in s, frequency in kHz) to a PNG.

    Parameters
    ----------
    waves : sequence of np.ndarray, each shape (time,)
    sample_rate : int > 0
    path : path of the PNG (parent folders are created)
    titles : sequence of str, optional
        One per wave.
    columns : int > 0
        Panels per row.
    n_fft, hop : int
        STFT settings.
    floor_db : float < 0
        Each panel's colour range is [peak + floor_db, peak] dB.
    dpi : int > 0
        Resolution of the PNG.

    Returns
    -------
    pathlib.Path of the written PNG.
    """
    from specrep.plotting import subplots

    check_positive_int("sample_rate", sample_rate)
    check_positive_int("columns", columns)
    waves = list(waves)
    if not waves:
        raise ParameterError("plot_spectrograms needs at least one wave")
    titles = list(titles) if titles is not None else [f"#{i}" for i in range(len(waves))]
    cols = min(columns, len(waves))
    rows = int(np.ceil(len(waves) / cols))
    fig, axes = subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel()[len(waves):]:
        ax.axis("off")
    for ax, wave, title in zip(axes.ravel(), waves, titles, strict=False):
        spec = log_spectrogram(np.asarray(wave), n_fft=n_fft, hop=hop)
        top = spec.max()
        extent = (0.0, len(wave) / sample_rate, 0.0, sample_rate / 2000.0)
        ax.imshow(spec, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=top + floor_db, vmax=top)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("time (s)", fontsize=7)
        ax.set_ylabel("kHz", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
