"""Reconstruction quality metrics. All return one value per item: waveforms ``(..., time)`` -> ``(...)``."""

from __future__ import annotations

import torch

from . import functional as Fn
from .blocks import LogMagnitude, Normalize
from .errors import ParameterError
from .params import STFTParams

__all__ = ["snr_db", "spectral_convergence_db", "log_spectral_distance", "spectral_consistency_db"]

_TINY = 1e-20


def _same_shape(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ParameterError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio ``10 log10(|ref|^2 / |ref - est|^2)`` in dB over the last axis. -> ``(...)``."""
    _same_shape(reference, estimate)
    noise = ((reference - estimate) ** 2).sum(-1)
    return 10.0 * torch.log10((reference**2).sum(-1) / (noise + _TINY) + _TINY)


def spectral_convergence_db(reference: torch.Tensor, estimate: torch.Tensor, params: STFTParams | None = None
                            ) -> torch.Tensor:
    """``20 log10(|| |S_ref| - |S_est| ||_F / || |S_ref| ||_F)`` in dB (lower is better).

    Parameters
    ----------
    reference, estimate : torch.Tensor
        Waveforms ``(..., time)`` when ``params`` is given (their STFT magnitudes are compared), otherwise
        magnitude spectrograms ``(..., freq, frames)``.

    Returns
    -------
    torch.Tensor, shape (...)
    """
    _same_shape(reference, estimate)
    if params is not None:
        reference, estimate = Fn.stft(reference, params).abs(), Fn.stft(estimate, params).abs()
    num = torch.linalg.vector_norm(reference - estimate, dim=(-2, -1))
    den = torch.linalg.vector_norm(reference, dim=(-2, -1))
    return 20.0 * torch.log10(num / (den + _TINY) + _TINY)


def log_spectral_distance(reference: torch.Tensor, estimate: torch.Tensor, params: STFTParams, *,
                          eps: float = 1e-8) -> torch.Tensor:
    """Log-spectral distance in dB: RMS over frequency of the dB difference of the power spectra, averaged over
    frames. Waveforms ``(..., time)`` -> ``(...)``."""
    _same_shape(reference, estimate)
    p_ref = Fn.stft(reference, params).abs() ** 2
    p_est = Fn.stft(estimate, params).abs() ** 2
    diff = 10.0 * (torch.log10(p_ref + eps) - torch.log10(p_est + eps))
    return torch.sqrt((diff**2).mean(dim=-2)).mean(dim=-1)


def spectral_consistency_db(chain, feats: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
    """How far features are from the features of their own resynthesis, in dB (lower: more consistent).

    ``feats`` -> ``chain.inverse`` -> waveform -> ``chain`` -> ``feats'``; the magnitudes of channel 0 (after
    undoing any trailing :class:`Normalize` / :class:`LogMagnitude`, so linear or mel magnitudes) are compared
    as a spectral convergence. For magnitude-only chains this is the phase reconstruction's spectral
    convergence; for IF chains it measures how well the generated magnitude and IF agree.

    Parameters
    ----------
    chain : specrep.Chain
    feats : torch.Tensor, shape (..., C, freq, frames)

    Returns
    -------
    torch.Tensor, shape (...)
    """
    with torch.no_grad():
        again = chain(chain.inverse(feats, length=length))
        a, b = _linear_channel0(chain, feats), _linear_channel0(chain, again)
    return spectral_convergence_db(a, b)


def _linear_channel0(chain, feats: torch.Tensor) -> torch.Tensor:
    x = feats
    for block in reversed(chain.blocks):
        if not isinstance(block, (Normalize, LogMagnitude)):
            break
        x = block.inverse(x)
    return x[..., 0, :, :]
