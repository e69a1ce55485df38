"""Zero-phase spectral filters for the procedural loop synthesiser.

Two kinds, both computed with the FFT so that they cost a few array operations, never a per-sample Python loop:

- :func:`shape_spectrum` applies a *static* magnitude response to a whole signal (noise sources of the drum voices
  are filtered this way before their amplitude envelope is applied, so the circular FFT never smears a transient).
- :func:`sweep_lowpass` applies a *time-varying* resonant low-pass (the analogue-synth filter envelope of basslines
  and chord stabs) by weighted overlap-add of short frames, each multiplied by the response at its own cutoff. The
  frames wrap around the end of the signal, so a loop stays seamless.

Magnitude responses are those of analogue prototypes evaluated at the FFT bin frequencies: Butterworth low/high-pass
``1 / sqrt(1 + (f/fc)^(±2n))`` and the two-pole resonant low-pass ``1 / sqrt((1 - r^2)^2 + (r/Q)^2)``, ``r = f/fc``.
"""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError, check_positive_float, check_positive_int


def butterworth_gain(freqs: np.ndarray, cutoff, *, order: int = 2, highpass: bool = False) -> np.ndarray:
    """Magnitude of an analogue Butterworth low- or high-pass at ``freqs``.

    Parameters
    ----------
    freqs : np.ndarray, shape (bins,)
        Frequencies in Hz (>= 0).
    cutoff : float > 0 or np.ndarray broadcastable against ``freqs``
        -3 dB frequency in Hz.
    order : int > 0
        Slope is ``6 * order`` dB per octave.
    highpass : bool
        High-pass instead of low-pass.

    Returns
    -------
    np.ndarray, shape broadcast(freqs, cutoff), values in (0, 1].
    """
    check_positive_int("order", order)
    ratio = np.maximum(freqs, 1e-9) / cutoff
    if highpass:
        ratio = 1.0 / ratio
    return 1.0 / np.sqrt(1.0 + ratio ** (2 * order))


def resonant_lowpass_gain(freqs: np.ndarray, cutoff, resonance) -> np.ndarray:
    """Magnitude of a two-pole (12 dB/octave) resonant low-pass.

    Parameters
    ----------
    freqs : np.ndarray, shape (bins,)
        Frequencies in Hz.
    cutoff : float or np.ndarray, shape (frames, 1)
        Cutoff in Hz (> 0).
    resonance : float >= 0.5
        Quality factor Q; the peak at the cutoff is ``Q`` (≈ ``20 log10 Q`` dB). 0.707 is a flat Butterworth.

    Returns
    -------
    np.ndarray, shape broadcast(freqs, cutoff).
    """
    r = freqs / cutoff
    return 1.0 / np.sqrt((1.0 - r * r) ** 2 + (r / resonance) ** 2)


def shape_spectrum(x: np.ndarray, sample_rate: int, *, low: float | None = None, high: float | None = None,
                   order: int = 2, peak: float | None = None, peak_q: float = 2.0,
                   peak_gain: float = 1.0) -> np.ndarray:
    """Band-limit a signal with a static zero-phase response (circular, via the FFT).

    Parameters
    ----------
    x : np.ndarray, shape (..., time)
    sample_rate : int > 0
        In Hz.
    low : float, optional
        High-pass cutoff in Hz (keep what is above it).
    high : float, optional
        Low-pass cutoff in Hz (keep what is below it).
    order : int > 0
        Butterworth order of both edges.
    peak : float, optional
        Centre in Hz of a resonant boost: the response is multiplied by ``1 + peak_gain * B(f)`` where ``B`` is
        a constant-skirt band-pass of quality ``peak_q`` — the "body" of a snare or the ring of a hat.
    peak_q, peak_gain : float
        Quality and linear gain of that band.

    Returns
    -------
    np.ndarray, same shape and dtype as ``x``.
    """
    check_positive_int("sample_rate", sample_rate)
    n = x.shape[-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    gain = np.ones_like(freqs)
    if low is not None:
        check_positive_float("low", low)
        gain *= butterworth_gain(freqs, low, order=order, highpass=True)
    if high is not None:
        check_positive_float("high", high)
        gain *= butterworth_gain(freqs, high, order=order)
    if peak is not None:
        check_positive_float("peak", peak)
        r = np.maximum(freqs, 1e-9) / peak
        gain = gain * (1.0 + peak_gain / np.sqrt(1.0 + (peak_q * (r - 1.0 / r)) ** 2))
    spec = np.fft.rfft(x, axis=-1) * gain
    return np.fft.irfft(spec, n=n, axis=-1).astype(x.dtype, copy=False)


def _sqrt_hann(n_fft: int) -> np.ndarray:
    """Periodic square-root Hann window: analysis times synthesis window is a Hann window."""
    return np.sqrt(np.hanning(n_fft + 1)[:-1])


def _overlap_add(frames: np.ndarray, hop: int, n: int) -> np.ndarray:
    """Sum frames (count, n_fft) placed every ``hop`` samples, folded circularly onto ``n`` samples."""
    count, n_fft = frames.shape
    out = np.zeros((count - 1) * hop + n_fft + hop)
    for j in range(n_fft // hop):  # each hop-long slice j of every frame lands at frame_start + j * hop
        out[j * hop: j * hop + count * hop] += frames[:, j * hop:(j + 1) * hop].reshape(-1)
    return np.pad(out, (0, -out.size % n)).reshape(-1, n).sum(axis=0)


def sweep_lowpass(x: np.ndarray, sample_rate: int, cutoff: np.ndarray, *, resonance: float = 1.0,
                  n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Resonant low-pass whose cutoff moves over time (circular, weighted overlap-add).

    Parameters
    ----------
    x : np.ndarray, shape (time,)
        Signal; treated as one period of a loop (frames wrap around its end).
    sample_rate : int > 0
        In Hz.
    cutoff : np.ndarray, shape (time,)
        Cutoff in Hz at every sample; it is read at each frame centre and clipped to [20 Hz, 0.45 sr].
    resonance : float >= 0.5
        Quality factor of the two-pole response.
    n_fft : int > 0
        Frame length in samples (512 = 32 ms at 16 kHz); the cutoff is constant within a frame.
    hop : int > 0
        Frame step; ``n_fft / hop`` must be an integer >= 2.

    Returns
    -------
    np.ndarray, shape (time,), float64.
    """
    check_positive_int("n_fft", n_fft)
    check_positive_int("hop", hop)
    check_positive_float("resonance", resonance)
    if n_fft % hop or n_fft // hop < 2:
        raise ParameterError(f"hop={hop} must divide n_fft={n_fft} at least twice")
    if x.ndim != 1 or cutoff.shape != x.shape:
        raise ParameterError(f"x {x.shape} and cutoff {cutoff.shape} must both have shape (time,)")
    n = x.shape[0]
    window = _sqrt_hann(n_fft)
    frames_count = -(-n // hop)  # frames start at 0, hop, ... < n and wrap around the loop end
    wrapped = np.concatenate([x, np.resize(x, frames_count * hop + n_fft - n)])
    frames = np.lib.stride_tricks.sliding_window_view(wrapped, n_fft)[::hop][:frames_count] * window
    centres = (np.arange(frames_count) * hop + n_fft // 2) % n
    fc = np.clip(cutoff[centres], 20.0, 0.45 * sample_rate)[:, None]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    spec = np.fft.rfft(frames, axis=-1) * resonant_lowpass_gain(freqs, fc, resonance)
    out = _overlap_add(np.fft.irfft(spec, n=n_fft, axis=-1) * window, hop, n)
    norm = _overlap_add(np.broadcast_to(window * window, frames.shape), hop, n)
    return out / np.maximum(norm, 1e-8)
