"""specrep: invertible, differentiable spectral representations of audio.

>>> import specrep
>>> chain = specrep.chain("mag-if", sample_rate=16000, n_fft=1024, hop_length=256)
>>> feats = chain(wave)                                  # (..., time) -> (..., 2, 513, frames)
>>> wave2 = chain.inverse(feats, length=wave.shape[-1])  # exact

Names are loaded on first use (PEP 562): ``import specrep`` and ``specrep.errors`` do not import torch or scipy,
so command-line tools answer ``--help`` and argument errors without paying for them (about 2-3 s of imports on a
laptop CPU). ``from specrep import chain`` and ``specrep.chain(...)`` work as with eager imports.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from .errors import AudioFileError, ParameterError, SpecrepError

#: public name -> submodule that defines it (submodules themselves map to None)
_LAZY = {
    **dict.fromkeys(("descriptors", "functional", "io", "metrics", "plotting")),
    **dict.fromkeys(("CQT", "STFT", "Block", "InstantaneousFrequency", "LogMagnitude", "Magnitude", "MelIF",
                     "MelScale", "Normalize", "Polar"), "blocks"),
    **dict.fromkeys(("Chain", "available_chains", "chain"), "chain"),
    **dict.fromkeys(("MelParams", "STFTParams"), "params"),
    **dict.fromkeys(("PhaseReconstruction", "griffin_lim", "pghi"), "phase"),
}

__all__ = [
    "AudioFileError", "Block", "CQT", "Chain", "InstantaneousFrequency", "LogMagnitude", "Magnitude", "MelIF",
    "MelParams", "MelScale", "Normalize", "ParameterError", "PhaseReconstruction", "Polar", "STFT", "STFTParams",
    "SpecrepError", "available_chains", "chain", "descriptors", "functional", "griffin_lim", "io", "metrics",
    "pghi", "plotting",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'specrep' has no attribute {name!r}")
    source = _LAZY[name]
    if source is None:
        return importlib.import_module(f".{name}", __name__)
    module = importlib.import_module(f".{source}", __name__)
    for public, where in _LAZY.items():  # every name of that submodule at once; later lookups skip __getattr__
        if where == source:
            globals()[public] = getattr(module, public)
    return globals()[name]


class _Package(types.ModuleType):
    """specrep's module type: ``specrep.chain`` stays the function whatever imports the submodule ``chain``.

    The import system binds a loaded submodule to the package attribute of its name; with eager imports the
    function ``chain`` (of the submodule ``chain``) was bound after it, so it is rebound here."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "chain" and isinstance(value, types.ModuleType):
            value = value.chain
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
