"""Summary of a loop dataset: size, durations, level range, label counts, and a spectrogram montage."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from specrep.errors import ParameterError, check_positive_int

from .plots import plot_spectrograms
from .storage import LoopsInfo, to_float


def scan_rows(n: int, limit: int) -> np.ndarray:
    """Up to ``limit`` row indices spread evenly over ``n`` rows (all rows when ``n <= limit``)."""
    check_positive_int("limit", limit)
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def summarize(data: np.ndarray, info: LoopsInfo, *, max_scan: int = 2000) -> dict:
    """Facts about a dataset, JSON-serialisable.

    Parameters
    ----------
    data : np.ndarray, shape (N, samples)
        The mapped data (see :func:`gan_plugins.data.loops.storage.open_loops`).
    info : LoopsInfo
    max_scan : int > 0
        Level statistics read at most this many rows, spread evenly (so a huge dataset is summarised quickly).

    Returns
    -------
    dict with ``path``, ``n``, ``samples``, ``dtype``, ``sample_rate``, ``seconds_per_loop``, ``total_hours``,
    ``bytes``, ``scanned``, ``rms_dbfs`` (min, median, max over scanned loops; RMS level in dB re full scale),
    ``peak_max``, ``silent_loops`` (scanned loops below -60 dBFS RMS), ``non_finite_loops``, ``created_by``,
    ``source_files``, and ``styles`` / ``bpm`` / ``source_bpm`` (counts and ranges) when the sidecar has labels.
    """
    rows = scan_rows(info.n, max_scan)
    rms, peaks, bad = [], [], 0
    for start in range(0, rows.size, 256):
        block = to_float(np.asarray(data[rows[start:start + 256]])).astype(np.float64)
        finite = np.isfinite(block).all(axis=1)
        bad += int((~finite).sum())
        block = block[finite]
        rms.append(10 * np.log10(np.mean(block * block, axis=1) + 1e-12))
        peaks.append(np.abs(block).max(axis=1, initial=0.0))
    rms = np.concatenate(rms) if rms else np.zeros(0)
    peak = np.concatenate(peaks) if peaks else np.zeros(0)
    seconds = info.seconds
    out = {
        "path": str(info.path), "n": info.n, "samples": info.samples, "dtype": info.dtype,
        "sample_rate": info.sample_rate, "seconds_per_loop": seconds,
        "total_hours": None if seconds is None else info.n * seconds / 3600.0,
        "bytes": os.path.getsize(info.path), "scanned": int(rows.size),
        "rms_dbfs": ([float(np.min(rms)), float(np.median(rms)), float(np.max(rms))] if rms.size else None),
        "peak_max": float(peak.max()) if peak.size else None,
        "silent_loops": int((rms < -60.0).sum()), "non_finite_loops": bad,
        "created_by": info.meta.get("created_by"), "source_files": len(info.meta.get("source_files") or []),
    }
    labels = [lab for lab in (info.meta.get("labels") or []) if isinstance(lab, dict)]
    styles = Counter(lab["style"] for lab in labels if "style" in lab)
    if styles:
        out["styles"] = dict(sorted(styles.items()))
    bpms = [lab["bpm"] for lab in labels if isinstance(lab.get("bpm"), int | float)]
    if bpms:
        out["bpm"] = [float(min(bpms)), float(max(bpms))]
    source_bpms = [lab["source_bpm"] for lab in labels if isinstance(lab.get("source_bpm"), int | float)]
    if source_bpms:  # bar-aligned loops (prepare --align bars): the estimated tempo of their tracks
        out["source_bpm"] = [float(min(source_bpms)), float(max(source_bpms))]
    return out


def plot_montage(data: np.ndarray, info: LoopsInfo, path: str | os.PathLike, *, count: int = 8) -> Path:
    """Spectrograms of ``count`` loops spread over the dataset, titled with row, style and tempo when known."""
    check_positive_int("count", count)
    if info.sample_rate is None:
        raise ParameterError(f"{info.path}: the sample rate is unknown; give it to plot a raw memmap")
    rows = scan_rows(info.n, count)
    labels = info.meta.get("labels") or [None] * info.n
    titles = []
    for r in rows:
        lab = labels[r] if isinstance(labels[r], dict) else {}
        extra = " ".join(str(x) for x in (lab.get("style"), f"{lab['bpm']:.1f} BPM" if "bpm" in lab else None) if x)
        titles.append(f"#{r} {extra}".strip())
    waves = [to_float(np.asarray(data[r])) for r in rows]
    return plot_spectrograms(waves, info.sample_rate, path, titles=titles, columns=4 if count > 4 else 2)
