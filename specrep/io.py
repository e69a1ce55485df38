"""Audio file input/output: any format libsndfile reads, resampling with scipy, named bundled examples.

Every failure a user can cause (missing, empty, corrupt or non-audio file, non-finite samples) raises
:class:`specrep.errors.AudioFileError` with a one-line message naming the file.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .errors import AudioFileError, ParameterError, check_positive_int

#: Prefix that names a recording bundled with ``audioflux`` instead of a path (``example:guitar_chord1``).
EXAMPLE_PREFIX = "example:"
EXAMPLES = ("guitar_chord1", "guitar_chord2", "chord_metronome1", "chord_metronome2", "voice", "220", "880")


def example_path(name: str) -> str:
    """Path of a real recording bundled with the ``audioflux`` package (32 kHz mono WAV).

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLES` (guitar chords, guitar with metronome, a sung scale, two guitar notes).
    """
    if name not in EXAMPLES:
        raise ParameterError(f"example {name!r} is not one of {', '.join(EXAMPLES)}")
    try:
        from audioflux.utils import sample_path
    except ImportError:  # pragma: no cover - audioflux is a dependency
        raise AudioFileError("bundled examples need the 'audioflux' package (pip install audioflux)") from None
    return sample_path(name)


def resolve(path: str | os.PathLike) -> str:
    """Turn ``example:NAME`` into the bundled file's path; return any other path unchanged (as str)."""
    path = os.fspath(path)
    if path.startswith(EXAMPLE_PREFIX):
        return example_path(path[len(EXAMPLE_PREFIX):])
    return path


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited polyphase resampling along the last axis.

    Parameters
    ----------
    wave : np.ndarray, shape (..., time)
    orig_sr, target_sr : int > 0
        Sample rates in Hz.

    Returns
    -------
    np.ndarray, shape (..., ceil(time * target_sr / orig_sr)), same dtype as ``wave``.
    """
    check_positive_int("orig_sr", orig_sr)
    check_positive_int("target_sr", target_sr)
    if orig_sr == target_sr:
        return wave
    ratio = Fraction(target_sr, orig_sr)
    out = resample_poly(wave, ratio.numerator, ratio.denominator, axis=-1)
    n_out = math.ceil(wave.shape[-1] * target_sr / orig_sr)
    return out[..., :n_out].astype(wave.dtype, copy=False)


def info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (sample rate, channels, frames), raising :class:`AudioFileError` if unreadable."""
    path = resolve(path)
    _check_file(path)
    try:
        return sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({_short(exc)})") from None


def load(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file into float32.

    Parameters
    ----------
    path : str or PathLike
        Any format libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, MP3 with libsndfile >= 1.1, ...), or
        ``example:NAME`` for a bundled recording.
    sample_rate : int > 0, optional
        Resample to this rate; None keeps the file's rate.
    mono : bool
        Average the channels (True) or keep them.
    offset, duration : float, seconds
        Read only part of the file.

    Returns
    -------
    wave : np.ndarray, float32, shape (time,) when ``mono`` else (channels, time)
    sample_rate : int

    Raises
    ------
    AudioFileError
        Missing, empty, corrupt or non-audio file, or NaN/Inf samples.
    """
    check_positive_int("sample_rate", sample_rate, allow_none=True)
    if offset < 0:
        raise ParameterError(f"offset={offset} must be >= 0 seconds")
    if duration is not None and duration <= 0:
        raise ParameterError(f"duration={duration} must be > 0 seconds")
    path = resolve(path)
    _check_file(path)
    try:
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            start = int(round(offset * sr))
            frames = -1 if duration is None else int(round(duration * sr))
            if start:
                f.seek(min(start, f.frames))
            data = f.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: contains no samples")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{path}: contains NaN or Inf samples")
    wave = data.T  # (channels, time)
    if mono:
        wave = wave.mean(axis=0)
    if sample_rate is not None and sample_rate != sr:
        wave = resample(np.ascontiguousarray(wave), sr, sample_rate)
        sr = sample_rate
    return np.ascontiguousarray(wave, dtype=np.float32), sr


def save(path: str | os.PathLike, wave, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write audio; the format follows the file extension (``.wav``, ``.flac``, ``.ogg``, ...).

    Parameters
    ----------
    wave : array-like or torch.Tensor, shape (time,) or (channels, time)
        Float samples in [-1, 1]; values outside are clipped (the caller should not produce them).
    sample_rate : int > 0
    subtype : str, optional
        libsndfile subtype, e.g. ``"PCM_16"`` (default for WAV) or ``"FLOAT"``.
    """
    check_positive_int("sample_rate", sample_rate)
    if hasattr(wave, "detach"):
        wave = wave.detach().cpu().numpy()
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim not in (1, 2):
        raise ParameterError(f"wave has shape {wave.shape}; expected (time,) or (channels, time)")
    if not np.isfinite(wave).all():
        raise ParameterError("wave contains NaN or Inf samples; refusing to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(wave, -1.0, 1.0)
    data = data.T if data.ndim == 2 else data
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ParameterError(f"{path}: unknown audio extension {path.suffix!r}; use one of {', '.join(_FORMATS)}")
    tmp = path.with_name(path.name + ".part")  # never leave a half-written file under the real name
    sf.write(tmp, data, sample_rate, subtype=subtype, format=fmt)
    os.replace(tmp, path)
    return path


_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise AudioFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioFileError(f"{path}: file is empty")


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
