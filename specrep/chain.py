"""`Chain`: blocks composed into one invertible transform, and the named presets.

``chain(wave)`` runs every block's ``forward`` in order; ``chain.inverse(feats, length=...)`` runs every block's
``inverse`` in reverse. Presets build the representations compared in the project (GANSynth, Engel et al. 2019):

=========  ========  ===================================================================================
name       channels  blocks
=========  ========  ===================================================================================
mag-gl     1         STFT -> Magnitude (inverse: PGHI + fast Griffin-Lim) -> LogMagnitude
mag-if     2         STFT -> Polar -> LogMagnitude -> InstantaneousFrequency (exact inverse)
mel-gl     1         STFT -> Magnitude (PGHI + FGLA) -> MelScale -> LogMagnitude
mel-if     2         STFT -> Polar -> MelIF -> LogMagnitude (GANSynth's IF-Mel)
gansynth   2         GANSynth's exact layout: 16 kHz, n_fft 2048, hop 512, front padding, DC dropped,
                     128 frames x 1024 mel bands for 64,000 samples, its fixed normaliser
=========  ========  ===================================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .blocks import STFT, Block, InstantaneousFrequency, LogMagnitude, Magnitude, MelIF, MelScale, Normalize, Polar
from .errors import ParameterError
from .params import MelParams, STFTParams
from .phase import PhaseReconstruction


class Chain(nn.Module):
    """Sequential composition of :class:`~specrep.blocks.Block` s with a reversed inverse.

    Parameters
    ----------
    *blocks : Block
        Applied left to right by ``forward``; the first usually is :class:`~specrep.blocks.STFT`.
    name : str, optional
        Preset name, for display and checkpoints.

    Shapes: ``forward`` maps ``(..., time)`` -> ``(..., C, freq, frames)`` for waveform chains;
    ``inverse`` maps back, with ``length`` (samples) forwarded to every block.
    """

    def __init__(self, *blocks: Block, name: str | None = None):
        super().__init__()
        if not blocks:
            raise ParameterError("a Chain needs at least one block")
        for b in blocks:
            if not isinstance(b, Block):
                raise ParameterError(f"{b!r} is not a specrep Block")
        self.blocks = nn.ModuleList(blocks)
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def inverse(self, y: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        for block in reversed(self.blocks):
            if not block.invertible:
                raise ParameterError(f"chain contains the analysis-only block {type(block).__name__}")
            y = block.inverse(y, length=length)
        return y

    def append(self, block: Block) -> Chain:
        """A new chain with ``block`` added at the end (e.g. a fitted :class:`~specrep.blocks.Normalize`)."""
        return Chain(*self.blocks, block, name=self.name)

    @property
    def stft_params(self) -> STFTParams:
        """Parameters of the chain's STFT (the first block that has them)."""
        for b in self.blocks:
            if isinstance(getattr(b, "params", None), STFTParams):
                return b.params
        raise ParameterError("this chain has no STFT block")

    @property
    def n_channels(self) -> int:
        """Feature channels C of the output."""
        c = None
        for b in self.blocks:
            c = b.output_channels(c)
        if c is None:
            raise ParameterError("this chain does not produce (C, freq, frames) features")
        return c

    def feature_shape(self, length: int) -> tuple[int, int, int]:
        """``(C, freq, frames)`` of the features of a ``length``-sample waveform (computed, not guessed)."""
        with torch.no_grad():
            return tuple(self(torch.zeros(1, length)).shape[-3:])

    def extra_repr(self) -> str:
        return f"name={self.name!r}" if self.name else ""


def _stft_params(overrides: dict, **defaults) -> STFTParams:
    keys = ("sample_rate", "n_fft", "hop_length", "win_length", "window", "padding", "pad_mode", "drop_dc", "n_frames",
            "drop_nyquist")
    args = {**defaults, **{k: overrides.pop(k) for k in keys if k in overrides}}
    return STFTParams(**args)


def _mel_params(stft: STFTParams, overrides: dict, **defaults) -> MelParams:
    keys = ("n_mels", "f_min", "f_max", "scale", "norm", "power", "mel_inverse", "mel_nnls_iter")
    got = {k: overrides.pop(k) for k in keys if k in overrides}
    if "mel_inverse" in got:
        got["inverse"] = got.pop("mel_inverse")
    if "mel_nnls_iter" in got:
        got["nnls_iter"] = got.pop("mel_nnls_iter")
    return MelParams(stft=stft, **{**defaults, **got})


def _reconstruction(overrides: dict) -> PhaseReconstruction:
    keys = ("n_iter", "momentum", "init", "tol", "seed")
    return PhaseReconstruction(**{k: overrides.pop(k) for k in keys if k in overrides})


def _log_magnitude(overrides: dict) -> LogMagnitude:
    return LogMagnitude(overrides.pop("eps", 1e-6))


def _mag_gl(o):
    p = _stft_params(o)
    return [STFT(p), Magnitude(p, _reconstruction(o)), _log_magnitude(o)]


def _mag_if(o):
    p = _stft_params(o)
    return [STFT(p), Polar(), _log_magnitude(o), InstantaneousFrequency()]


def _mel_gl(o):
    p = _stft_params(o)
    return [STFT(p), Magnitude(p, _reconstruction(o)), MelScale(_mel_params(p, o)), _log_magnitude(o)]


def _mel_if(o):
    p = _stft_params(o)
    return [STFT(p), Polar(), MelIF(_mel_params(p, o)), _log_magnitude(o)]


def _gansynth(o):
    p = _stft_params(o, n_fft=2048, hop_length=512, padding="front", drop_dc=True, n_frames=128)
    mel = _mel_params(p, o, n_mels=p.n_fft // 2)  # mel_downscale=1: as many bands as linear bins
    normalize = o.pop("normalize", True)
    blocks = [STFT(p), Polar(), MelIF(mel), _log_magnitude(o)]
    return blocks + [Normalize.gansynth()] if normalize else blocks


_PRESETS: dict[str, Callable[[dict], list[Block]]] = {
    "mag-gl": _mag_gl,
    "mag-if": _mag_if,
    "mel-gl": _mel_gl,
    "mel-if": _mel_if,
    "gansynth": _gansynth,
}


def available_chains() -> list[str]:
    """Names accepted by :func:`chain`."""
    return list(_PRESETS)


def chain(name: str, **overrides) -> Chain:
    """Build a preset chain.

    Parameters
    ----------
    name : str
        One of :func:`available_chains`.
    **overrides
        STFT: ``sample_rate`` (16000), ``n_fft`` (1024), ``hop_length`` (n_fft/4), ``win_length``, ``window``,
        ``padding``, ``pad_mode``, ``drop_dc``, ``drop_nyquist``, ``n_frames``. Log: ``eps``. Mel presets:
        ``n_mels`` (128), ``f_min``, ``f_max``, ``scale``, ``norm``, ``power`` (2), ``mel_inverse``, ``mel_nnls_iter``.
        Magnitude-only presets: ``n_iter`` (32), ``momentum`` (0.99), ``init`` ("pghi"), ``tol``, ``seed``.
        ``gansynth``: ``normalize`` (True).

    Returns
    -------
    Chain
        ``forward``: ``(..., time)`` -> ``(..., C, freq, frames)``.

    Raises
    ------
    ParameterError
        Unknown name, an override the preset does not use, or an invalid value.
    """
    if name not in _PRESETS:
        raise ParameterError(f"chain {name!r} is not one of {', '.join(_PRESETS)}")
    remaining = dict(overrides)
    blocks = _PRESETS[name](remaining)
    if remaining:
        raise ParameterError(f"chain {name!r} does not take {', '.join(f'{k}={v!r}' for k, v in remaining.items())}")
    return Chain(*blocks, name=name)
