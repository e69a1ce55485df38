"""specrep: invertible, differentiable spectral representations of audio."""

from . import io
from .errors import AudioFileError, ParameterError, SpecrepError

__all__ = ["AudioFileError", "ParameterError", "SpecrepError", "io"]
