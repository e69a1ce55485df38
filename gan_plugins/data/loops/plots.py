"""Spectrogram pictures of loops: one loop, or a montage of several, written as PNG with matplotlib
(:func:`specrep.plotting.plot_spectrogram_sheet`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from specrep.errors import ParameterError, check_positive_int
from specrep.params import STFTParams
from specrep.plotting import SpectrogramPanel, plot_spectrogram_sheet, spectrogram_db


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
        STFT settings (:func:`specrep.plotting.spectrogram_db`).
    floor_db : float < 0
        Each panel's colour range is [peak + floor_db, peak] dB.
    dpi : int > 0
        Resolution of the PNG.

    Returns
    -------
    pathlib.Path of the written PNG.
    """
    check_positive_int("sample_rate", sample_rate)
    check_positive_int("columns", columns)
    if not floor_db < 0:
        raise ParameterError(f"floor_db={floor_db} must be < 0 dB")
    waves = [np.asarray(w, dtype=np.float64) for w in waves]
    if not waves:
        raise ParameterError("plot_spectrograms needs at least one wave")
    if any(w.ndim != 1 for w in waves):
        raise ParameterError(f"waves have shapes {[w.shape for w in waves]}; expected each (time,)")
    params = STFTParams(sample_rate, n_fft, hop)
    titles = list(titles) if titles is not None else [f"#{i}" for i in range(len(waves))]
    panels = []
    for wave, title in zip(waves, titles, strict=False):
        spec = spectrogram_db(wave, params)
        top = float(spec.max())
        panels.append(SpectrogramPanel(spec, title, seconds=len(wave) / sample_rate, max_khz=sample_rate / 2000,
                                       vmin=top + floor_db, vmax=top))
    return plot_spectrogram_sheet(panels, path, columns=columns, panel_size=(4.2, 2.8), dpi=dpi)
