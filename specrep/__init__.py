"""specrep: invertible, differentiable spectral representations of audio.

>>> import specrep
>>> chain = specrep.chain("mag-if", sample_rate=16000, n_fft=1024, hop_length=256)
>>> feats = chain(wave)                                  # (..., time) -> (..., 2, 513, frames)
>>> wave2 = chain.inverse(feats, length=wave.shape[-1])  # exact
"""

from . import descriptors, functional, io, metrics, plotting
from .blocks import CQT, STFT, Block, InstantaneousFrequency, LogMagnitude, Magnitude, MelIF, MelScale, Normalize, Polar
from .chain import Chain, available_chains, chain
from .errors import AudioFileError, ParameterError, SpecrepError
from .params import MelParams, STFTParams
from .phase import PhaseReconstruction, griffin_lim, pghi

__all__ = [
    "AudioFileError", "Block", "CQT", "Chain", "InstantaneousFrequency", "LogMagnitude", "Magnitude", "MelIF",
    "MelParams", "MelScale", "Normalize", "ParameterError", "PhaseReconstruction", "Polar", "STFT", "STFTParams",
    "SpecrepError", "available_chains", "chain", "descriptors", "functional", "griffin_lim", "io", "metrics",
    "pghi", "plotting",
]
