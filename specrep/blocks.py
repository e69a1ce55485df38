"""Invertible blocks: ``nn.Module`` s with ``forward`` and a stateless ``inverse``.

Feature tensors are ``(..., channels, freq, frames)``; channel 0 is always the magnitude (or its log), channel 1
(when present) the phase or instantaneous frequency. Each block reads one frozen parameter object in both
directions; windows and matrices are non-persistent buffers derived from it, so ``.to(device/dtype)`` moves them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import functional as Fn
from .errors import ParameterError, SpecrepError
from .params import MelParams, STFTParams
from .phase import PhaseReconstruction, reconstruct

__all__ = [
    "Block", "STFT", "Polar", "Magnitude", "LogMagnitude", "InstantaneousFrequency", "MelScale", "MelIF",
    "Normalize", "CQT",
]


class Block(nn.Module):
    """Base of every specrep block: ``forward(x)`` and ``inverse(y, *, length=None)``.

    ``invertible`` is False only for analysis-only blocks (:class:`CQT`).
    """

    invertible = True

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def output_channels(self, channels: int | None) -> int | None:
        """Channel count after this block given the count before it (None: not a feature tensor yet)."""
        return channels


def _channels(x: torch.Tensor, expected: int, who: str) -> None:
    if x.ndim < 3 or x.shape[-3] != expected:
        raise ParameterError(f"{who} expects features of shape (..., {expected}, freq, frames), got {tuple(x.shape)}")


class STFT(Block):
    """Complex STFT: waveform ``(..., time)`` -> complex ``(..., freq, frames)``; exact inverse.

    Parameters
    ----------
    params : STFTParams, optional
        Shared with every later block that needs the transform (phase reconstruction); keyword arguments build
        one (``STFT(n_fft=1024, hop_length=256)``).
    """

    def __init__(self, params: STFTParams | None = None, **kwargs):
        super().__init__()
        if params is not None and kwargs:
            raise ParameterError("pass either an STFTParams or keyword arguments, not both")
        self.params = params if params is not None else STFTParams(**kwargs)
        self.register_buffer("window", Fn.window(self.params), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return Fn.stft(wave, self.params, self.window.to(wave.dtype) if wave.is_floating_point() else None)

    def inverse(self, spec: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        return Fn.istft(spec, self.params, length=length, win=self.window.to(spec.real.dtype))

    def output_channels(self, channels):
        return None

    def extra_repr(self) -> str:
        return repr(self.params)


class Polar(Block):
    """Complex ``(..., freq, frames)`` -> ``(..., 2, freq, frames)`` = (magnitude, phase in radians); exact."""

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if not spec.is_complex():
            raise ParameterError(f"Polar expects a complex spectrogram, got dtype {spec.dtype}")
        return torch.stack([spec.abs(), spec.angle()], dim=-3)

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        _channels(y, 2, "Polar.inverse")
        mag, phase = y.unbind(-3)
        return torch.polar(torch.clamp(mag, min=0.0), phase)

    def output_channels(self, channels):
        return 2


class Magnitude(Block):
    """Complex ``(..., freq, frames)`` -> ``(..., 1, freq, frames)`` magnitude; inverse by phase reconstruction.

    Parameters
    ----------
    params : STFTParams
        The transform the magnitude came from (the same object as the chain's :class:`STFT`).
    reconstruction : PhaseReconstruction
        PGHI and/or fast Griffin-Lim settings.

    Notes
    -----
    The inverse returns the STFT of the reconstructed waveform (consistent by construction), so a following
    :class:`STFT` inverse yields that waveform. Gradients flow to the magnitude through the Griffin-Lim
    iterations; the PGHI initial phase is a constant.
    """

    def __init__(self, params: STFTParams, reconstruction: PhaseReconstruction | None = None):
        super().__init__()
        if not isinstance(params, STFTParams):
            raise ParameterError(f"params={params!r} must be an STFTParams")
        self.params = params
        self.reconstruction = reconstruction or PhaseReconstruction()

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if not spec.is_complex():
            raise ParameterError(f"Magnitude expects a complex spectrogram, got dtype {spec.dtype}")
        return spec.abs().unsqueeze(-3)

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        _channels(y, 1, "Magnitude.inverse")
        mag = torch.clamp(y.squeeze(-3), min=0.0)
        if length is None:
            length = self.params.default_length(mag.shape[-1])
        wave = reconstruct(mag, self.params, self.reconstruction, length=length)
        return Fn.stft(wave, self.params)

    def output_channels(self, channels):
        return 1

    def extra_repr(self) -> str:
        return repr(self.reconstruction)


class LogMagnitude(Block):
    """``log(x + eps)`` on channel 0 of ``(..., C, freq, frames)``; exact inverse ``exp(y) - eps``.

    Parameters
    ----------
    eps : float > 0
        Floor; GANSynth uses 1e-6 (-138 dB).
    """

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        if not eps > 0:
            raise ParameterError(f"eps={eps} must be > 0")
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 3:
            raise ParameterError(f"LogMagnitude expects (..., C, freq, frames), got {tuple(x.shape)}")
        return torch.cat([Fn.log_magnitude(x[..., :1, :, :], self.eps), x[..., 1:, :, :]], dim=-3)

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        return torch.cat([Fn.inv_log_magnitude(y[..., :1, :, :], self.eps), y[..., 1:, :, :]], dim=-3)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


class InstantaneousFrequency(Block):
    """Phase (channel 1) -> instantaneous frequency: unwrap along time, first difference, / pi; exact inverse.

    Input and output ``(..., 2, freq, frames)``; IF lies in [-1, 1] ([-1, 1) after the first frame). The inverse
    accumulates in float64, so the float32 round trip stays exact over any number of frames.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _channels(x, 2, "InstantaneousFrequency")
        return torch.stack([x[..., 0, :, :], Fn.phase_to_if(x[..., 1, :, :])], dim=-3)

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        _channels(y, 2, "InstantaneousFrequency.inverse")
        return torch.stack([y[..., 0, :, :], Fn.if_to_phase(y[..., 1, :, :])], dim=-3)


class _MelBase(Block):
    def __init__(self, params: MelParams):
        super().__init__()
        if not isinstance(params, MelParams):
            raise ParameterError(f"params={params!r} must be a MelParams")
        self.params = params
        fb = Fn.mel_filterbank(params)
        # Stored once in float64 (the phase projection needs it) and cast to the input's dtype at use.
        self.register_buffer("fb", torch.as_tensor(fb), persistent=False)
        self.register_buffer("inv", torch.as_tensor(Fn.mel_inverse_matrix(params, fb)), persistent=False)

    def _to_mel(self, mag: torch.Tensor) -> torch.Tensor:
        return Fn.mel_project(mag ** self.params.power, self.fb.to(mag.dtype))

    def _from_mel(self, mel: torch.Tensor) -> torch.Tensor:
        nnls_iter = self.params.nnls_iter if self.params.inverse == "nnls" else 0
        lin = Fn.mel_unproject(torch.clamp(mel, min=0.0), self.fb.to(mel.dtype), self.inv.to(mel.dtype),
                               nnls_iter=nnls_iter)
        if self.params.power == 1.0:
            return lin
        # The floor keeps the root's gradient finite where a band went to exactly zero (sqrt'(0) = inf).
        return torch.clamp(lin, min=1e-20) ** (1.0 / self.params.power)

    def extra_repr(self) -> str:
        p = self.params
        return f"n_mels={p.n_mels}, scale={p.scale!r}, power={p.power:g}, inverse={p.inverse!r}"


class MelScale(_MelBase):
    """Magnitude ``(..., 1, freq, frames)`` -> mel bands of ``magnitude ** power``: ``(..., 1, n_mels, frames)``.

    The inverse is approximate (the filterbank has fewer bands than rows): see :class:`MelParams` ``inverse``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _channels(x, 1, "MelScale (use MelIF for magnitude + phase)")
        return self._to_mel(x)

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        _channels(y, 1, "MelScale.inverse")
        return self._from_mel(y)


class MelIF(_MelBase):
    """GANSynth's IF-Mel: ``(..., 2, freq, frames)`` (magnitude, phase) -> ``(..., 2, n_mels, frames)``.

    Channel 0: mel bands of ``magnitude ** power``. Channel 1: the phase unwrapped along time, projected by the
    same filterbank, then differentiated along time and divided by pi (mel instantaneous frequency). The inverse
    projects the mel IF back with the pseudo-inverse (or GANSynth's transpose), integrates it along time and wraps
    the phase.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _channels(x, 2, "MelIF")
        mag, phase = x.unbind(-3)
        unwrapped = Fn.unwrap(phase.double(), dim=-1)
        mel_phase = Fn.mel_project(unwrapped, self.fb.double())  # float64 even after module.float()
        mel_if = torch.diff(mel_phase, dim=-1, prepend=torch.zeros_like(mel_phase[..., :1])) / math.pi
        return torch.stack([self._to_mel(mag), mel_if.to(phase.dtype)], dim=-3)

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        _channels(y, 2, "MelIF.inverse")
        mel_mag, mel_if = y.unbind(-3)
        # Unprojecting (along frequency) commutes with integrating (along time), so the bounded IF is unprojected
        # in the input dtype and only the integration runs in float64; unprojecting the integrated phase (it grows
        # to ~1e4 rad) needed a float64 matrix product, measured 1.1-1.4x slower for 16 loops at 64-128 bands.
        # Phase never goes through the non-negative refinement: GANSynth's transpose or the pseudo-inverse.
        lin_if = Fn.mel_unproject(mel_if, self.fb.to(mel_if.dtype), self.inv.to(mel_if.dtype), nonneg=False)
        return torch.stack([self._from_mel(mel_mag), Fn.if_to_phase(lin_if)], dim=-3)


class Normalize(Block):
    """Per-channel affine map ``y = scale * x + shift`` on ``(..., C, freq, frames)``; exact inverse.

    Parameters
    ----------
    scale, shift : sequence of float, one per channel
    clip : bool
        Clip the forward output to [-1, 1] (GANSynth does; the inverse is then exact only inside the range).

    Use :meth:`fit` for stats from data or :meth:`gansynth` for GANSynth's constants.
    """

    def __init__(self, scale, shift, *, clip: bool = False):
        super().__init__()
        scale = torch.as_tensor(scale, dtype=torch.float64).flatten()
        shift = torch.as_tensor(shift, dtype=torch.float64).flatten()
        if scale.numel() == 0 or scale.shape != shift.shape:
            raise ParameterError(f"scale ({scale.numel()}) and shift ({shift.numel()}) need one value per channel")
        if not torch.isfinite(scale).all() or (scale == 0).any() or not torch.isfinite(shift).all():
            raise ParameterError(f"scale={scale.tolist()} must be finite and non-zero, shift finite")
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)
        self.clip = bool(clip)

    @classmethod
    def fit(cls, feats: torch.Tensor, *, margin: float = 0.8, clip: bool = False) -> Normalize:
        """Map each channel's [min, max] over ``feats`` (..., C, freq, frames) onto [-margin, margin]."""
        if not 0 < margin <= 1:
            raise ParameterError(f"margin={margin} must be in (0, 1]")
        if feats.ndim < 3:
            raise ParameterError(f"fit expects (..., C, freq, frames), got {tuple(feats.shape)}")
        x = feats.detach().double().movedim(-3, 0).reshape(feats.shape[-3], -1)
        lo, hi = x.min(dim=1).values, x.max(dim=1).values
        span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        scale = 2.0 * margin / span
        shift = -margin - scale * lo
        return cls(scale, shift, clip=clip)

    @classmethod
    def gansynth(cls) -> Normalize:
        """GANSynth's prespecified normaliser (log-magnitude a=0.0661, b=0.1137; IF a=0.8, b=0), clipped."""
        return cls([0.0661371661726, 0.8], [0.113718730221, 0.0], clip=True)

    def _view(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 3 or x.shape[-3] != t.numel():
            raise ParameterError(f"Normalize has {t.numel()} channels, features have shape {tuple(x.shape)}")
        return t.to(x.dtype).view(-1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._view(self.scale, x) * x + self._view(self.shift, x)
        return torch.clamp(y, -1.0, 1.0) if self.clip else y

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        return (y - self._view(self.shift, y)) / self._view(self.scale, y)

    def extra_repr(self) -> str:
        return f"scale={[round(v, 6) for v in self.scale.tolist()]}, shift={[round(v, 6) for v in self.shift.tolist()]}"


class CQT(Block):
    """Constant-Q magnitude analysis (nnAudio's CQT1992v2): ``(..., time)`` -> ``(..., 1, n_bins, frames)``.

    Analysis only (``invertible = False``): the CQT is for descriptors and plots; torch.stft stays the engine
    of every invertible chain.

    Parameters
    ----------
    sample_rate : int, hop_length : int, f_min : float (Hz), n_bins : int, bins_per_octave : int
    """

    invertible = False

    def __init__(self, sample_rate: int = 16000, hop_length: int = 256, f_min: float = 32.70,
                 n_bins: int = 84, bins_per_octave: int = 12):
        super().__init__()
        from nnAudio.features import CQT1992v2

        top = f_min * 2 ** (n_bins / bins_per_octave)
        if top > sample_rate / 2:
            raise ParameterError(f"n_bins={n_bins} from f_min={f_min} Hz reaches {top:.0f} Hz > Nyquist")
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.cqt = CQT1992v2(sr=sample_rate, hop_length=hop_length, fmin=f_min, n_bins=n_bins,
                             bins_per_octave=bins_per_octave, output_format="Magnitude", verbose=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        lead = wave.shape[:-1]
        out = self.cqt(wave.reshape(-1, wave.shape[-1]).float()).to(wave.dtype)
        return out.reshape(*lead, 1, *out.shape[-2:])

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        raise SpecrepError("CQT is an analysis-only block (no inverse); use an STFT chain to resynthesise")

    def output_channels(self, channels):
        return 1
