"""Frame-wise acoustic descriptors, differentiable in torch.

All spectral descriptors take a magnitude spectrogram ``(..., freq, frames)`` and the frequency of each row
(Hz) and return ``(..., frames)``; :func:`describe` computes all of them from a waveform.
"""

from __future__ import annotations

import torch

from . import functional as Fn
from .errors import ParameterError
from .params import STFTParams

__all__ = [
    "a_weighting_db", "loudness", "spectral_centroid", "spectral_bandwidth", "spectral_flatness", "spectral_rolloff",
    "onset_strength", "magnitude", "describe", "DESCRIPTORS",
]

DESCRIPTORS = ("loudness", "centroid", "bandwidth", "flatness", "rolloff", "onset_strength")
_EPS = 1e-10


def a_weighting_db(freqs: torch.Tensor) -> torch.Tensor:
    """IEC 61672 A-weighting in dB at ``freqs`` (Hz); 0 dB at 1 kHz. Shape-preserving."""
    f2 = freqs.double() ** 2
    num = (12194.0**2) * f2**2
    den = (f2 + 20.6**2) * torch.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
    ra = num / torch.clamp(den, min=1e-300)
    return (20.0 * torch.log10(torch.clamp(ra, min=1e-30)) + 2.0).to(freqs.dtype)


def _freqs(freqs, mag: torch.Tensor) -> torch.Tensor:
    f = torch.as_tensor(freqs, dtype=mag.dtype, device=mag.device)
    if f.ndim != 1 or f.shape[0] != mag.shape[-2]:
        raise ParameterError(f"{f.shape[0] if f.ndim == 1 else tuple(f.shape)} frequencies for {mag.shape[-2]} rows")
    return f[:, None]


def loudness(mag: torch.Tensor, freqs, *, window_power: float = 1.0, floor_db: float = -120.0) -> torch.Tensor:
    """A-weighted frame power in dB: ``10 log10(sum_k A(f_k) |X_k|^2 / window_power)``.

    Parameters
    ----------
    mag : torch.Tensor, shape (..., freq, frames)
    freqs : sequence of float, Hz, one per row
    window_power : float
        ``sum(window ** 2) * n_fft / 4`` makes a full-scale sine read 0 dB (see :func:`describe`).
    floor_db : float
        Lower bound (silence).

    Returns
    -------
    torch.Tensor, shape (..., frames)
    """
    weight = 10.0 ** (a_weighting_db(_freqs(freqs, mag)) / 10.0)
    power = (weight * mag**2).sum(dim=-2) / window_power
    return torch.clamp(10.0 * torch.log10(power + _EPS), min=floor_db)


def spectral_centroid(mag: torch.Tensor, freqs) -> torch.Tensor:
    """Magnitude-weighted mean frequency (Hz). ``(..., freq, frames)`` -> ``(..., frames)``."""
    f = _freqs(freqs, mag)
    return (f * mag).sum(dim=-2) / (mag.sum(dim=-2) + _EPS)


def spectral_bandwidth(mag: torch.Tensor, freqs, *, p: float = 2.0) -> torch.Tensor:
    """Magnitude-weighted p-th order deviation around the centroid (Hz); p=2 is the spectral spread."""
    f = _freqs(freqs, mag)
    centroid = spectral_centroid(mag, freqs).unsqueeze(-2)
    weights = mag / (mag.sum(dim=-2, keepdim=True) + _EPS)
    return ((weights * (f - centroid).abs() ** p).sum(dim=-2) + _EPS) ** (1.0 / p)


def spectral_flatness(mag: torch.Tensor, *, power: float = 1.0) -> torch.Tensor:
    """Geometric over arithmetic mean of ``mag ** power`` (0: a tone, 1: white noise). -> ``(..., frames)``."""
    s = mag**power + _EPS
    return torch.exp(torch.log(s).mean(dim=-2)) / s.mean(dim=-2)


def spectral_rolloff(mag: torch.Tensor, freqs, *, threshold: float = 0.85) -> torch.Tensor:
    """Frequency (Hz) below which ``threshold`` of the magnitude sum lies, linearly interpolated between rows
    (so it is differentiable with respect to ``mag``). ``(..., freq, frames)`` -> ``(..., frames)``."""
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"threshold={threshold} must be in (0, 1)")
    f = _freqs(freqs, mag)[:, 0]
    cum = torch.cumsum(mag, dim=-2)
    target = threshold * cum[..., -1:, :]
    rows_last = cum.detach().transpose(-1, -2).contiguous()
    idx = torch.searchsorted(rows_last, target.detach().transpose(-1, -2).contiguous()).transpose(-1, -2)
    idx = idx.clamp(1, mag.shape[-2] - 1)
    c_hi, c_lo = cum.gather(-2, idx), cum.gather(-2, idx - 1)
    frac = ((target - c_lo) / (c_hi - c_lo + _EPS)).clamp(0.0, 1.0)
    return (f[idx - 1] + frac * (f[idx] - f[idx - 1])).squeeze(-2)


def onset_strength(mag: torch.Tensor, *, lag: int = 1) -> torch.Tensor:
    """Spectral flux: mean over rows of the positive part of the log-magnitude increase over ``lag`` frames.

    ``(..., freq, frames)`` -> ``(..., frames)``; the first ``lag`` frames are 0.
    """
    logmag = torch.log(mag + 1e-5)
    flux = torch.relu(logmag[..., lag:] - logmag[..., :-lag]).mean(dim=-2)
    return torch.nn.functional.pad(flux, (lag, 0))


def magnitude(wave: torch.Tensor, sample_rate: int, *, n_fft: int = 1024, hop_length: int | None = None
              ) -> tuple[torch.Tensor, STFTParams]:
    """The analysis all descriptors share: ``(..., time)`` -> magnitude ``(..., n_fft // 2 + 1, frames)`` of a
    centred, zero-padded STFT, and its parameters (frame ``m`` centred on sample ``m * hop_length``)."""
    params = STFTParams(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, pad_mode="constant")
    win = Fn.window(params, dtype=wave.dtype, device=wave.device)
    return Fn.stft(wave, params, win).abs(), params


def describe(wave: torch.Tensor, sample_rate: int, *, n_fft: int = 1024, hop_length: int | None = None
             ) -> dict[str, torch.Tensor]:
    """All descriptors of :data:`DESCRIPTORS` for a waveform.

    Parameters
    ----------
    wave : torch.Tensor, shape (..., time)
    sample_rate : int, Hz

    Returns
    -------
    dict name -> torch.Tensor of shape (..., frames), frame ``m`` centred on sample ``m * hop_length``.
    """
    mag, params = magnitude(wave, sample_rate, n_fft=n_fft, hop_length=hop_length)
    freqs = params.frequencies()
    window_power = float((Fn.window(params, dtype=torch.float64) ** 2).sum()) * n_fft / 4.0  # full-scale sine: 0 dB
    return {
        "loudness": loudness(mag, freqs, window_power=window_power),
        "centroid": spectral_centroid(mag, freqs),
        "bandwidth": spectral_bandwidth(mag, freqs),
        "flatness": spectral_flatness(mag),
        "rolloff": spectral_rolloff(mag, freqs),
        "onset_strength": onset_strength(mag),
    }
