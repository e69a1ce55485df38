"""Audio file input/output: any format libsndfile reads, resampling with scipy, named bundled examples, and
atomic file writes (:func:`atomic_write`, :func:`atomic_path`, :class:`AtomicFile`) that every writer of the
project goes through.

Every failure a user can cause (missing, empty, corrupt or non-audio file, non-finite samples) raises
:class:`specrep.errors.AudioFileError` with a one-line message naming the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

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
    from scipy.signal import resample_poly  # 1-2 s to import: only when a file needs resampling

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
    with atomic_write(path, "w+b") as fh:  # never a half-written file under the real name; libsndfile seeks back
        sf.write(fh, data, sample_rate, subtype=subtype, format=fmt)
    return path


class AtomicFile:
    """A file that appears under its name complete or not at all: written as a temporary file in the same folder,
    then flushed, fsync'd and renamed onto the target by :meth:`commit` (``os.replace``, atomic on POSIX and
    Windows), the folder fsync'd too where the system allows it. :meth:`abort` deletes the temporary file and
    leaves the target untouched. For writers that keep a file open across calls; a block of code uses
    :func:`atomic_write`.

    The temporary file is ``.<name>.tmp<pid>`` beside the target: hidden, one per writing process (two processes
    writing one target do not share it; two threads of one process must not write one target at once). A writer
    killed mid-write leaves it behind; :func:`remove_stale_temps` deletes those of dead processes.

    Parameters
    ----------
    path : str or PathLike
        Destination; its folder is created.
    mode : str
        A writing mode of :func:`open` (``"wb"``, ``"w"``, ``"w+b"``, ...; not appending or reading alone).
    encoding : str, optional
        Text modes only (default UTF-8).

    Attributes
    ----------
    path : Path
        The target.
    tmp : Path
        The temporary file being written.
    file : file object
        Open on :attr:`tmp` until :meth:`commit` or :meth:`abort`.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "wb", *, encoding: str | None = None):
        if "w" not in mode or "a" in mode or "x" in mode:
            raise ParameterError(f"mode={mode!r} must be a writing mode such as 'wb' or 'w'")
        if "b" in mode and encoding is not None:
            raise ParameterError(f"encoding={encoding!r} is for text modes, not {mode!r}")
        self.path = Path(path)
        if self.path.is_dir():
            raise ParameterError(f"{self.path}: is a directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_path(self.path)
        self.file: IO | None = open(self.tmp, mode, encoding=encoding if "b" in mode else encoding or "utf-8")

    def commit(self) -> Path:
        """Flush and fsync the temporary file, close it and rename it onto :attr:`path`; returns :attr:`path`."""
        if self.file is None:
            raise ParameterError(f"{self.path}: atomic write already committed or aborted")
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.file = None
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        _fsync_folder(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; the target keeps what it had (or stays absent)."""
        if self.file is not None:
            self.file.close()
            self.file = None
        self.tmp.unlink(missing_ok=True)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO]:
    """``with atomic_write(path) as fh:`` — write ``fh``; on leaving the block the file replaces ``path`` whole.

    The block writes an :class:`AtomicFile`: if it raises, the temporary file is deleted and ``path`` keeps
    what it had (a reader never sees a half-written file, a crash never truncates the previous version).

    Parameters
    ----------
    path : str or PathLike
        Destination; its folder is created.
    mode, encoding
        As :class:`AtomicFile` (``"wb"`` binary, ``"w"`` UTF-8 text).

    Yields
    ------
    file object
        Open on the temporary file; do not close it.
    """
    target = AtomicFile(path, mode, encoding=encoding)
    try:
        yield target.file
    except BaseException:
        target.abort()
        raise
    target.commit()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """``with atomic_path(path) as tmp:`` — for writers that take a file name, not a file object (an external
    program, ``savefig`` choosing the format by suffix): write ``tmp``; on leaving the block it is fsync'd and
    renamed onto ``path``.

    ``tmp`` is ``.<name>.tmp<pid><suffix>`` beside ``path``, so it keeps the suffix a writer may go by. If the
    block raises, or leaves no file at ``tmp``, ``tmp`` is deleted and ``path`` keeps what it had.

    Parameters
    ----------
    path : str or PathLike
        Destination; its folder is created.

    Yields
    ------
    Path
        The temporary file to write (absent at first).
    """
    path = Path(path)
    if path.is_dir():
        raise ParameterError(f"{path}: is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp = tmp.with_name(tmp.name + path.suffix)
    tmp.unlink(missing_ok=True)  # a leftover of a killed writer whose pid this process now has
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)  # FileNotFoundError when the writer wrote nothing
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def temp_path(path: str | os.PathLike) -> Path:
    """The temporary file :class:`AtomicFile` writes for ``path`` in this process: ``.<name>.tmp<pid>`` beside it
    (:func:`atomic_path` appends the suffix of ``path``)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writers of ``path`` that were killed mid-write (their pid names no live
    process on this host); live or unknown pids, and this process's own, are kept. POSIX only (elsewhere nothing
    is removed): one scan of the folder, so call it after writes of large files, not of every small one.

    Returns
    -------
    list of Path
        The files deleted.
    """
    path = Path(path)
    if os.name != "posix" or not path.parent.is_dir():  # os.kill(pid, 0) probes a pid on POSIX only
        return []
    prefix, removed = f".{path.name}.tmp", []
    for tmp in path.parent.iterdir():
        if not tmp.name.startswith(prefix):
            continue
        pid = tmp.name[len(prefix):]
        if path.suffix and pid.endswith(path.suffix):  # atomic_path's name keeps the suffix
            pid = pid[: -len(path.suffix)]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        except OSError:  # e.g. PermissionError: alive, owned by someone else
            pass
    return removed


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open a folder for fsync)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


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
