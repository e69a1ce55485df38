"""The mix bus of a procedural loop: side-chain ducking, a send reverb, and mastering (loudness + limiter).

All three treat the signal as one period of a loop: convolutions are circular (via the FFT), so a reverb tail or
a ducking envelope that runs past the end comes back in at the start, as it would when the loop repeats.
"""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError, check_positive_float, check_positive_int

from .filters import shape_spectrum


def _circular_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    if h.size > n:
        h = np.pad(h, (0, -h.size % n)).reshape(-1, n).sum(axis=0)  # fold a long response onto the loop
    return np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(h, n=n), n=n)


def duck_envelope(onsets: np.ndarray, total: int, sample_rate: int, *, depth: float, release: float = 0.09
                  ) -> np.ndarray:
    """Gain of a side-chain compressor keyed by the kick: drops by ``depth`` at each onset, recovers exponentially.

    Parameters
    ----------
    onsets : np.ndarray of int, shape (hits,)
        Kick positions in samples, in [0, total).
    total : int > 0
        Loop length in samples.
    sample_rate : int > 0
    depth : float in [0, 1]
        Gain reduction at an onset (0.5 ≈ -6 dB).
    release : float > 0
        Recovery time constant in seconds.

    Returns
    -------
    np.ndarray, shape (total,), values in [1 - depth, 1].
    """
    check_positive_int("total", total)
    check_positive_float("release", release)
    if not 0.0 <= depth <= 1.0:
        raise ParameterError(f"depth={depth} must lie in [0, 1]")
    trigger = np.zeros(total)
    trigger[np.asarray(onsets, dtype=np.int64)] = 1.0
    t = np.arange(total) / sample_rate
    env = _circular_convolve(trigger, np.exp(-t / release))
    return 1.0 - depth * np.clip(env, 0.0, 1.0)


def reverb(x: np.ndarray, sample_rate: int, rng: np.random.Generator, *, decay: float = 0.12,
           predelay: float = 0.015, damping: float = 5000.0) -> np.ndarray:
    """Wet signal of a small room: ``x`` convolved with exponentially decaying, low-passed noise.

    Parameters
    ----------
    x : np.ndarray, shape (time,)
        The send (a sum of the voices that get reverb), one loop period.
    sample_rate : int > 0
    rng : numpy.random.Generator
        Draws the impulse response.
    decay : float > 0
        Amplitude time constant in seconds (RT60 ≈ 6.9 × decay: 0.12 s gives 0.8 s).
    predelay : float >= 0
        Gap before the reverberation starts, seconds.
    damping : float > 0
        Low-pass edge of the reverberation in Hz (darker tails).

    Returns
    -------
    np.ndarray, shape (time,), unit-energy impulse response applied (the caller sets the send level).
    """
    check_positive_int("sample_rate", sample_rate)
    check_positive_float("decay", decay)
    check_positive_float("predelay", predelay, strict=False)
    length = int(min(8.0 * decay, 2.0) * sample_rate)
    t = np.arange(length) / sample_rate
    tail = shape_spectrum(rng.standard_normal(length), sample_rate, high=min(damping, 0.45 * sample_rate))
    ir = np.concatenate([np.zeros(int(predelay * sample_rate)), tail * np.exp(-t / decay)])
    ir /= np.sqrt(np.sum(ir * ir))
    return _circular_convolve(x, ir)


def master(mix: np.ndarray, sample_rate: int, *, rms_db: float, ceiling: float = 0.98) -> np.ndarray:
    """25 Hz high-pass, gain to ``rms_db`` dBFS RMS, then a tanh limiter: ``ceiling · tanh(x / ceiling)``.

    Parameters
    ----------
    mix : np.ndarray, shape (time,)
    sample_rate : int > 0
    rms_db : float
        Target RMS level before limiting (dB re full scale); peaks above about ``ceiling / 2`` are compressed
        smoothly and no sample reaches ``ceiling``.
    ceiling : float in (0, 1]

    Returns
    -------
    np.ndarray, shape (time,), values in (-ceiling, ceiling).
    """
    if not 0.0 < ceiling <= 1.0:
        raise ParameterError(f"ceiling={ceiling} must lie in (0, 1]")
    mix = shape_spectrum(mix, sample_rate, low=25.0)
    rms = np.sqrt(np.mean(mix * mix))
    if rms == 0:
        return mix
    return ceiling * np.tanh(mix * (10 ** (rms_db / 20.0) / rms) / ceiling)
