"""A ladder of controlled degradations of real loops, to validate the audio judge's scores.

Every score of the judge must rank real loops < mildly degraded < strongly degraded < noise. :func:`degrade` makes
the rungs: ``degrade(real, kind, strength)`` with ``strength`` 0 (identity, exactly) to 1 (strongest), one kind per
failure of generated music that a score should see:

- ``"blur"``: transients smeared. The magnitude of a short STFT (:data:`BLUR_N_FFT` = 128-sample Hann window, hop
  :data:`BLUR_HOP` = 16 samples: 8 ms and 1 ms at 16 kHz) is smoothed along time by a circular Gaussian (loops are
  periodic) of standard deviation ``strength * BLUR_SIGMA_S`` (40 ms at strength 1); the original phase is kept.
  The window must be short: with the 64 ms window of the other kinds the kept phase rebuilds the attacks (the
  median 10-90 % attack time of :func:`gan_plugins.metrics.rhythm.attack_times_ms` stayed at 12 ms on procedural
  loops at every strength); at 8 ms it grows from 12 ms to 31, 53 and 70 ms at strengths 1/3, 2/3 and 1.
- ``"pairs"``: what nearest 2x upsampling in a generator does at its feature frame rate. At hop :data:`PAIR_HOP`
  (512 samples, the bundled models' ``hop_length``: 64 frames per 2 s loop at 16 kHz), the magnitude of frame
  ``2k + 1`` is replaced by that of frame ``2k`` for a share ``strength`` of the pairs (drawn once per loop from
  ``seed``: the pairs of a weaker rung are a subset of a stronger one's, so the ladder is nested); strength 1
  duplicates every pair. The original phase is kept, as a generator's phase channel (or Griffin-Lim) would not
  copy it. The overlap-add blurs the copy: in the STFT of the output (same window and hop) the mean within-pair
  magnitude change is 0.38 times the between-pair one at strength 1 (0.84 at 1/3; about 1.0 for unedited loops).
  Copying the complex frames instead cancels in the overlap-add and hides the pairs (0.96).
- ``"shuffle"``: frames out of order. STFT magnitude frames (hop :data:`PAIR_HOP`) are permuted within consecutive
  windows of ``round(frames ** strength)`` frames: 1 (identity) at strength 0, 4 frames (128 ms) at 1/3 and 16
  (0.5 s) at 2/3 for 2 s loops at 16 kHz (63 frames), the whole loop at 1. The original phase is kept.
- ``"noise"``: white Gaussian noise mixed in, ``sqrt(1 - strength**2) * x + strength * rms(x) * n``: the noise's
  share of the power is ``strength**2`` (SNR 9.0 dB at 1/3, 1.0 dB at 2/3), pure noise at strength 1.

Magnitude-editing kinds re-synthesise by inverse STFT (Hann window, 50 % overlap or more, so an unedited STFT
comes back to within float32 rounding). Every output loop is scaled back to the RMS of its input loop (silent loops
stay silent); samples are not clipped.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from specrep.errors import ParameterError, check_choice, check_positive_int

__all__ = ["BLUR_HOP", "BLUR_N_FFT", "BLUR_SIGMA_S", "DEGRADATIONS", "N_FFT", "PAIR_HOP", "degrade"]

#: the kinds of :func:`degrade`, in the order of the judge's ladder tables
DEGRADATIONS = ("blur", "pairs", "shuffle", "noise")
#: STFT window (samples) of ``"pairs"`` and ``"shuffle"``
N_FFT = 1024
#: STFT window (samples) of ``"blur"``: short, so the kept phase does not rebuild the attacks
BLUR_N_FFT = 128
#: hop (samples) of ``"blur"``
BLUR_HOP = 16
#: standard deviation (seconds) of the ``"blur"`` kernel at strength 1
BLUR_SIGMA_S = 0.040
#: hop (samples) of ``"pairs"`` and ``"shuffle"``: the bundled models' feature frame rate (``hop_length`` 512)
PAIR_HOP = 512


def _check(waves, kind: str, strength: float, sample_rate: int, seed: int) -> np.ndarray:
    check_choice("kind", kind, DEGRADATIONS)
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise ParameterError(f"strength={strength!r} must be a number in [0, 1]") from None
    if not 0.0 <= s <= 1.0:  # also refuses NaN
        raise ParameterError(f"strength={strength!r} must be a number in [0, 1]")
    check_positive_int("sample_rate", sample_rate)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be an integer >= 0")
    x = np.asarray(waves)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < N_FFT:
        raise ParameterError(f"waves of shape {x.shape} must be (N >= 1, samples >= {N_FFT})")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise ParameterError(f"waves of dtype {x.dtype} must be real numbers")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ParameterError("waves hold non-finite samples")
    return x


def _stft(x: np.ndarray, hop: int, n_fft: int = N_FFT) -> torch.Tensor:
    window = torch.hann_window(n_fft)
    return torch.stft(torch.from_numpy(x), n_fft, hop, window=window, center=True, return_complex=True)


def _istft(spec: torch.Tensor, hop: int, length: int, n_fft: int = N_FFT) -> np.ndarray:
    window = torch.hann_window(n_fft)
    return torch.istft(spec, n_fft, hop, window=window, center=True, length=length).numpy()


def _with_magnitude(spec: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """``spec`` with its magnitude replaced and its phase kept (bins of zero magnitude get phase 0)."""
    return torch.polar(magnitude, torch.angle(spec))


def _blur(x: np.ndarray, strength: float, sample_rate: int) -> np.ndarray:
    spec = _stft(x, BLUR_HOP, BLUR_N_FFT)
    sigma = strength * BLUR_SIGMA_S * sample_rate / BLUR_HOP  # frames
    smooth = gaussian_filter1d(spec.abs().numpy(), sigma, axis=-1, mode="wrap", truncate=3.0)
    return _istft(_with_magnitude(spec, torch.from_numpy(smooth)), BLUR_HOP, x.shape[-1], BLUR_N_FFT)


def _pairs(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    spec = _stft(x, PAIR_HOP)
    mag = spec.abs()
    frames = mag.shape[-1]
    n_pairs = frames // 2
    chosen = torch.from_numpy(rng.random((x.shape[0], n_pairs)) < strength)  # (N, pairs)
    even, odd = mag[..., 0:2 * n_pairs:2], mag[..., 1:2 * n_pairs:2]
    mag[..., 1:2 * n_pairs:2] = torch.where(chosen[:, None, :], even, odd)
    return _istft(_with_magnitude(spec, mag), PAIR_HOP, x.shape[-1])


def _shuffle(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    spec = _stft(x, PAIR_HOP)
    mag = spec.abs()
    frames = mag.shape[-1]
    width = max(1, int(round(frames ** strength)))
    order = np.empty((x.shape[0], frames), dtype=np.int64)
    for row in range(x.shape[0]):
        for start in range(0, frames, width):
            stop = min(start + width, frames)
            order[row, start:stop] = start + rng.permutation(stop - start)
    index = torch.from_numpy(order)[:, None, :].expand_as(mag)
    return _istft(_with_magnitude(spec, torch.gather(mag, -1, index)), PAIR_HOP, x.shape[-1])


def _noise(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=-1, keepdims=True))
    noise = rng.standard_normal(x.shape)
    return math.sqrt(1.0 - strength ** 2) * x + strength * rms * noise


def degrade(waves, kind: str, strength: float, *, sample_rate: int, seed: int = 0) -> np.ndarray:
    """One rung of the degradation ladder (see the module documentation for each kind).

    Parameters
    ----------
    waves : array-like, real, shape (N >= 1, samples >= N_FFT)
        Mono loops; finite samples.
    kind : {"blur", "pairs", "shuffle", "noise"}
        One of :data:`DEGRADATIONS`.
    strength : float in [0, 1]
        0 returns a float32 copy of ``waves`` (exactly); 1 is the strongest rung (pure noise for ``"noise"``).
    sample_rate : int > 0
        In Hz; sets the ``"blur"`` kernel's width in frames (its width in seconds does not depend on it).
    seed : int >= 0
        Seeds the pairs drawn, the permutations and the noise: the same arguments give the same output.

    Returns
    -------
    np.ndarray, float32, shape (N, samples)
        Each loop at the RMS level of its input loop.

    Raises
    ------
    ParameterError
        For an unknown kind, a strength outside [0, 1], a bad sample rate or seed, or waves not of the shape above.
    """
    x = _check(waves, kind, strength, sample_rate, seed)
    strength = float(strength)
    if strength == 0.0:
        return x.copy()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        if kind == "blur":
            y = _blur(x, strength, sample_rate)
        elif kind == "pairs":
            y = _pairs(x, strength, rng)
        elif kind == "shuffle":
            y = _shuffle(x, strength, rng)
        else:
            y = _noise(x, strength, rng)
    y = y.astype(np.float64)
    rms_in = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=-1, keepdims=True))
    rms_out = np.sqrt(np.mean(y ** 2, axis=-1, keepdims=True))
    gain = np.where(rms_out > 0, rms_in / np.where(rms_out > 0, rms_out, 1.0), 0.0)
    return (y * gain).astype(np.float32)
