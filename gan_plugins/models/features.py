"""Loops <-> model features: the specrep chain, padding to a power-of-two frame count and normalisation.

Shared by the audio plugins (GANSynth, progressive growing). A config names the representation
(``mag-gl``, ``mag-if``, ``mel-gl``, ``mel-if``) and its STFT settings; the feature tensor is
``(B, C, rows, frames)`` with ``rows`` = ``n_mels`` (mel) or ``n_fft / 2`` (linear, Nyquist bin dropped) and
``frames`` a power of two: the waveform is zero-padded from the loop length to ``hop * (frames - 1)`` samples so
that the centred STFT has exactly ``frames`` frames and an exact inverse, then cropped back after synthesis.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

import specrep
from gan_plugins.representation import Representation
from specrep.errors import ParameterError, check_positive_int

__all__ = ["AudioFeatures", "default_mel_nnls_iter", "fit_normalization", "lowest_mel_band_hz"]


def default_mel_nnls_iter(representation: str | Representation) -> int:
    """NNLS refinements of the mel inverse used when decoding ``representation`` (a name of
    :data:`gan_plugins.representation.REPRESENTATIONS` or a :class:`~gan_plugins.representation.Representation`).

    Measured on 48 procedural loops (n_fft 1024, hop 512; docs/results/feature-roundtrip.md): for mel-gl at 64
    bands, 50 refinements improve the Griffin-Lim output's spectral convergence from -7.1 to -9.0 dB over 2; for
    mel-if the band-averaged phase, not the magnitude, limits quality (128 bands: -18.74 dB with none, -18.93 dB
    with 50), so IF decoding uses the clipped pseudo-inverse alone and stays fast.
    """
    return 0 if Representation.parse(representation).is_if else 50


def lowest_mel_band_hz(sample_rate: int, n_mels: int) -> float:
    """Width in Hz of the spacing between the first two HTK mel band centres (0 Hz to Nyquist)."""
    step = float(specrep.functional.hz_to_mel(sample_rate / 2.0)) / (n_mels + 1)
    return float(specrep.functional.mel_to_hz(step))


def _warn_if_bass_bins_shared(sample_rate: int, n_fft: int, n_mels: int) -> None:
    """mel-if averages the phase derivative of every linear bin inside a band; when the lowest bands span more than
    one bin, the bass bins (most of a loop's energy) share one IF and the decoded loop loses its low end
    (docs/results/feature-roundtrip.md: 64 or 96 bands at n_fft 1024 round-trip at -5 to -6 dB spectral
    convergence, 128 bands at -18.7 dB)."""
    band, bin_hz = lowest_mel_band_hz(sample_rate, n_mels), sample_rate / n_fft
    if band > bin_hz:
        need = next(m for m in range(n_mels, 100 * n_mels) if lowest_mel_band_hz(sample_rate, m) <= bin_hz)
        warnings.warn(f"mel-if with n_mels={n_mels} at n_fft={n_fft}: the lowest mel bands ({band:.1f} Hz) are wider "
                      f"than one STFT bin ({bin_hz:.1f} Hz), so bass bins share one instantaneous frequency and "
                      f"decoded loops lose their low end; use n_mels >= {need}", UserWarning, stacklevel=3)


class AudioFeatures:
    """The feature map of one config.

    Parameters
    ----------
    config : Mapping
        ``representation``, ``sample_rate``, ``loop_samples``, ``n_fft``, ``hop_length``, ``frames``, ``n_mels``
        (mel), ``mel_inverse`` / ``mel_nnls_iter`` (mel: how decoding maps bands back to linear rows, see
        :class:`specrep.MelParams`; None picks :func:`default_mel_nnls_iter`), ``gl_n_iter`` / ``gl_init``
        (magnitude-only: Griffin-Lim iterations and initial phase), and ``norm_scale`` / ``norm_shift`` (one value
        per channel, or None before they are fitted).
    """

    #: every config key the feature map and its decoder read
    KEYS = ("representation", "sample_rate", "loop_samples", "n_fft", "hop_length", "n_mels", "frames", "gl_n_iter",
            "gl_init", "mel_inverse", "mel_nnls_iter", "norm_scale", "norm_shift")

    @classmethod
    def config_key(cls, config: Mapping[str, Any]) -> tuple:
        """Hashable summary of :attr:`KEYS` in ``config``: equal keys give the same encoding and decoding."""
        return tuple(tuple(v) if isinstance(v, list) else v for v in (config.get(k) for k in cls.KEYS))

    def __init__(self, config: Mapping[str, Any]):
        rep = Representation.of(config)
        self.representation = rep
        self.sample_rate = int(config["sample_rate"])
        self.loop_samples = config.get("loop_samples")
        self.frames = int(config["frames"])
        check_positive_int("frames", self.frames)
        if self.frames & (self.frames - 1):
            raise ParameterError(f"frames={self.frames} must be a power of two")
        hop = int(config["hop_length"])
        self.model_samples = hop * (self.frames - 1)
        if self.loop_samples is not None and self.loop_samples > self.model_samples:
            need = math.ceil(self.loop_samples / hop) + 1
            raise ParameterError(f"frames={self.frames} at hop_length={hop} cover {self.model_samples} samples, fewer "
                                 f"than the loops' {self.loop_samples}; use frames >= {2 ** math.ceil(math.log2(need))}"
                                 " or a larger hop_length")
        kw: dict[str, Any] = {"sample_rate": self.sample_rate, "n_fft": int(config["n_fft"]), "hop_length": hop}
        if rep.is_mel:
            kw["n_mels"] = int(config["n_mels"])
            if config.get("mel_inverse") is not None:  # else specrep's default (MelParams)
                kw["mel_inverse"] = str(config["mel_inverse"])
            n_iter = config.get("mel_nnls_iter")
            kw["mel_nnls_iter"] = int(default_mel_nnls_iter(rep) if n_iter is None else n_iter)
        else:
            kw["drop_nyquist"] = True  # n_fft / 2 rows, a power of two; dropping DC instead would remove bass
        if not rep.is_if:
            # unset: specrep's defaults (PhaseReconstruction), so each default lives in one place
            if config.get("gl_n_iter") is not None:
                kw["n_iter"] = int(config["gl_n_iter"])
            if config.get("gl_init") is not None:
                kw["init"] = str(config["gl_init"])
        self.mel_nnls_iter: int | None = kw.get("mel_nnls_iter")  # resolved NNLS refinements (None: linear rows)
        if rep.is_mel and rep.is_if:
            _warn_if_bass_bins_shared(self.sample_rate, kw["n_fft"], kw["n_mels"])
        self.chain = specrep.chain(str(rep), **kw)
        scale, shift = config.get("norm_scale"), config.get("norm_shift")
        self.norm = specrep.Normalize(scale, shift, clip=True) if scale is not None else None
        self._on: dict[str, tuple] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, rows, frames)`` of one example."""
        return self.chain.feature_shape(self.model_samples)

    def _modules(self, device, dtype):
        """The chain and normaliser on ``device``: one copy per device (``nn.Module.to`` moves in place, so a
        shared module would follow the last device asked for). Blocks cast their buffers to the input dtype."""
        key = str(torch.device(device))
        if key not in self._on:
            norm = copy.deepcopy(self.norm).to(device) if self.norm is not None else None
            self._on[key] = (copy.deepcopy(self.chain).to(device), norm)
        return self._on[key]

    def fit_pad(self, waves: Tensor) -> Tensor:
        """Zero-pad or crop ``(B, samples)`` to ``(B, model_samples)``."""
        extra = self.model_samples - waves.shape[-1]
        return torch.nn.functional.pad(waves, (0, extra)) if extra >= 0 else waves[..., : self.model_samples]

    def encode(self, waves: Tensor, *, normalize: bool = True) -> Tensor:
        """Waves ``(B, samples)`` -> features ``(B, C, rows, frames)`` (normalised to [-1, 1] when fitted)."""
        chain, norm = self._modules(waves.device, waves.dtype)
        with torch.no_grad():
            feats = chain(self.fit_pad(waves))
            if normalize:
                if norm is None:
                    raise ParameterError("normalisation stats are not fitted yet (norm_scale is None)")
                feats = norm(feats)
        return feats

    def decode(self, feats: Tensor, *, rescale: bool = True) -> Tensor:
        """Features ``(B, C, rows, frames)`` -> waves ``(B, loop_samples)``, finite.

        With ``rescale`` (default) a loop whose reconstruction peaks above full scale (phase reconstruction moves
        peaks) is scaled down as a whole rather than clipped, so every loop is in [-1, 1] and none is distorted.
        Without it the waves are returned as synthesised (they may exceed full scale): a caller that joins loops,
        e.g. a latent walk, applies one smooth gain instead of a different gain per loop.
        """
        chain, norm = self._modules(feats.device, feats.dtype)
        with torch.no_grad():
            x = norm.inverse(feats.clamp(-1.0, 1.0)) if norm is not None else feats
            waves = chain.inverse(x, length=self.model_samples)
        waves = waves[..., : self.loop_samples or self.model_samples]
        waves = torch.nan_to_num(waves, nan=0.0, posinf=0.0, neginf=0.0)
        if not rescale:
            return waves
        return waves / waves.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)


def fit_normalization(features: AudioFeatures, waves: np.ndarray | Tensor, *, margin: float = 0.8
                      ) -> dict[str, list[float]]:
    """Per-channel affine stats mapping the features of ``waves`` ``(N, samples)`` onto ``[-margin, margin]``
    (GANSynth's simple normaliser). Returns ``{"norm_scale": [...], "norm_shift": [...]}``."""
    x = torch.as_tensor(np.asarray(waves, dtype=np.float32))
    feats = torch.cat([features.encode(chunk, normalize=False) for chunk in x.split(32)])
    norm = specrep.Normalize.fit(feats, margin=margin)
    return {"norm_scale": norm.scale.tolist(), "norm_shift": norm.shift.tolist()}
