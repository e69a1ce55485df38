"""Band-limited oscillators driven by a per-sample frequency track.

Saw and square use polyBLEP: the naive waveform minus a two-sample polynomial residual around each discontinuity,
which removes most of the aliasing a naive saw folds back below the Nyquist frequency at 16 kHz. Everything is a
whole-array numpy expression; the phase is the cumulative sum of ``f / sample_rate``.
"""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError, check_positive_int

WAVEFORMS = ("saw", "square", "sine")


def midi_to_hz(note) -> np.ndarray:
    """Equal-tempered frequency of MIDI note numbers (69 = A4 = 440 Hz); accepts fractional notes (detune)."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def phase_from_frequency(freq: np.ndarray, sample_rate: int, *, start: float = 0.0) -> np.ndarray:
    """Normalised phase in [0, 1) of an oscillator following ``freq``.

    Parameters
    ----------
    freq : np.ndarray, shape (..., time)
        Instantaneous frequency in Hz.
    sample_rate : int > 0
    start : float
        Initial phase in cycles.

    Returns
    -------
    np.ndarray, shape (..., time), float64.
    """
    check_positive_int("sample_rate", sample_rate)
    return np.mod(start + np.cumsum(freq / sample_rate, axis=-1), 1.0)


def _polyblep(phase: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Residual of a unit step at phase 0 smoothed over one sample each side (``dt`` = cycles per sample)."""
    out = np.zeros_like(phase)
    before = phase < dt
    t = phase[before] / dt[before]
    out[before] = 2.0 * t - t * t - 1.0
    after = phase > 1.0 - dt
    t = (phase[after] - 1.0) / dt[after]
    out[after] = t * t + 2.0 * t + 1.0
    return out


def oscillator(freq: np.ndarray, sample_rate: int, *, waveform: str = "saw", start: float = 0.0) -> np.ndarray:
    """Band-limited oscillator.

    Parameters
    ----------
    freq : np.ndarray, shape (time,)
        Instantaneous frequency in Hz, each value in (0, sample_rate / 2).
    sample_rate : int > 0
    waveform : {"saw", "square", "sine"}
    start : float
        Initial phase in cycles (randomise it to decorrelate detuned voices).

    Returns
    -------
    np.ndarray, shape (time,), float64, peak about 1.
    """
    if waveform not in WAVEFORMS:
        raise ParameterError(f"waveform={waveform!r} is not one of {', '.join(WAVEFORMS)}")
    freq = np.asarray(freq, dtype=np.float64)
    phase = phase_from_frequency(freq, sample_rate, start=start)
    if waveform == "sine":
        return np.sin(2.0 * np.pi * phase)
    dt = np.minimum(freq / sample_rate, 0.5)
    saw = 2.0 * phase - 1.0 - _polyblep(phase, dt)
    if waveform == "saw":
        return saw
    shifted = np.mod(phase + 0.5, 1.0)
    saw2 = 2.0 * shifted - 1.0 - _polyblep(shifted, dt)
    return saw - saw2  # difference of two saws half a cycle apart: a 50% square
