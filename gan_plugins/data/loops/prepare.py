"""Build a loop dataset from a folder of audio files of any format, rate and channel count.

:func:`prepare_folder` walks the folder recursively (sorted, so the result is reproducible), decodes every file in a
pool of processes with :func:`specrep.io.load` (mixed to mono, resampled), cuts it into loops of ``seconds``,
drops silent loops, and appends the rest to a :class:`~gan_plugins.data.loops.storage.LoopWriter` in file order — memory
stays at a few decoded files whatever the folder's size, and an interrupted run leaves no valid-looking dataset.

Every file that yields no loop is reported with a reason:

===============  ==============================================================================
``not audio``    libsndfile cannot read it and it does not start like an audio container
``corrupt``      it starts like WAV/AIFF/FLAC/OGG/MP3 but cannot be decoded
``empty``        zero bytes, or a valid header with no samples
``nan/inf``      it decodes to NaN or infinite samples
``too short``    shorter than ``min_fill`` of one loop
``silent``       every loop is below ``silence_db``
``unreadable``   any other read error (permissions, ...)
``no beat``      ``align="bars"`` only: no onsets to estimate a tempo from (a steady tone, a drone)
===============  ==============================================================================

With ``align="bars"`` each file's beat grid is estimated first (:mod:`.tempo`) and the loops are its whole
``bars``-bar slices from the first downbeat, each stretched to the loop length (:mod:`.bars`); every loop's label
records the estimated source tempo (``source_bpm``), the stretch ratio and the grid.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from specrep.errors import AudioFileError, ParameterError, check_positive_float, check_positive_int
from specrep.io import load

from ..pool import ordered_map
from .storage import DatasetError, LoopWriter

REMAINDERS = ("pad", "drop")
ALIGNS = ("none", "bars")
NORMALIZE = ("none", "peak")
#: First bytes of the containers libsndfile reads (to tell "corrupt audio" from "not audio").
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"FORM", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2",
                b".snd", b"caff", b"wvpk")


@dataclass(frozen=True)
class Skipped:
    """A file that gave no loop: its path (relative to the folder), a reason category and the detail."""

    path: str
    reason: str
    detail: str


@dataclass
class PrepareReport:
    """Outcome of :func:`prepare_folder`.

    Attributes
    ----------
    out : Path or None
        The written ``.npy`` (None when nothing was usable).
    files : int
        Files found under the folder.
    used : int
        Files that gave at least one loop.
    loops : int
        Loops written.
    silent_loops : int
        Loops dropped for silence (in files that gave other loops too).
    skipped : list of Skipped
    """

    out: Path | None
    files: int
    used: int = 0
    loops: int = 0
    silent_loops: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> list[str]:
        """Human-readable lines: totals, then one line per skipped file."""
        lines = [f"{self.files} files: {self.used} used -> {self.loops} loops"
                 + (f" ({self.silent_loops} silent loops dropped)" if self.silent_loops else "")
                 + f"; {len(self.skipped)} skipped"]
        lines += [f"  skipped {s.path}: {s.reason} ({s.detail})" for s in self.skipped]
        return lines


class NoUsableAudioError(DatasetError):
    """No file of the folder gave a loop; ``report`` says why for each."""

    def __init__(self, message: str, report: PrepareReport):
        super().__init__(message)
        self.report = report


def find_files(root: str | os.PathLike) -> list[Path]:
    """Every regular file under ``root``, recursively, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f"{root}: not a directory")
    return sorted(p for p in root.rglob("*") if p.is_file())


def segment(wave: np.ndarray, samples: int, *, remainder: str = "pad", min_fill: float = 0.5,
            silence_db: float = -60.0) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut a mono wave into loops.

    Parameters
    ----------
    wave : np.ndarray, shape (time,)
    samples : int > 0
        Loop length.
    remainder : {"pad", "drop"}
        What to do with the samples after the last whole loop: zero-pad them to a loop (when they fill at least
        ``min_fill`` of one) or drop them.
    min_fill : float in (0, 1]
        Shortest remainder (fraction of a loop) worth padding; also the shortest file kept at all.
    silence_db : float
        Loops whose RMS level (dB re full scale) is below this are dropped.

    Returns
    -------
    loops : np.ndarray, float32, shape (k, samples)
    starts : np.ndarray of int, shape (k,)
        First sample of each loop in ``wave``.
    silent : int
        Loops dropped for silence.
    """
    check_positive_int("samples", samples)
    if remainder not in REMAINDERS:
        raise ParameterError(f"remainder={remainder!r} is not one of {', '.join(REMAINDERS)}")
    if not 0.0 < min_fill <= 1.0:
        raise ParameterError(f"min_fill={min_fill} must lie in (0, 1]")
    full, rest = divmod(wave.size, samples)
    if remainder == "pad" and rest >= min_fill * samples:
        wave = np.concatenate([wave, np.zeros(samples - rest, dtype=wave.dtype)])
        full += 1
    loops = wave[: full * samples].reshape(full, samples).astype(np.float32, copy=False)
    starts = np.arange(full) * samples
    keep = ~_silent(loops, silence_db)
    return loops[keep], starts[keep], int((~keep).sum())


def classify(path: Path, error: Exception) -> tuple[str, str]:
    """Reason category and one-line detail for a file :func:`specrep.io.load` refused."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    detail = message.split(": ", 1)[1] if message.startswith(str(path)) else message
    if "empty" in message or "no samples" in message:
        return "empty", detail
    if "NaN" in message or "Inf" in message:
        return "nan/inf", detail
    if "not a readable audio file" in message:
        try:
            with open(path, "rb") as f:
                head = f.read(4)
        except OSError:
            head = b""
        return ("corrupt" if head.startswith(_AUDIO_MAGIC) else "not audio"), detail
    return "unreadable", detail


def _silent(loops: np.ndarray, silence_db: float) -> np.ndarray:
    level = 10 * np.log10(np.mean(loops.astype(np.float64) ** 2, axis=1) + 1e-20)
    return level < silence_db


def _decode(job):
    """Worker: decode and cut one file; returns (index, loops, starts_s, labels, silent, skipped-or-None)."""
    index, path, rel, samples, sample_rate, remainder, min_fill, silence_db, align, bars, normalize = job
    path = Path(path)
    try:
        wave, _ = load(path, sample_rate=sample_rate, mono=True)
    except (AudioFileError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        reason, detail = classify(path, exc)
        return index, None, None, None, 0, Skipped(rel, reason, detail)
    if normalize == "peak" and wave.size and np.any(wave):
        wave = wave / np.float32(np.abs(wave).max())
    empty = np.zeros((0, samples), np.float32)
    if align == "bars":
        return _decode_bars(index, rel, wave, samples, sample_rate, silence_db, bars)
    if wave.size < min_fill * samples or (remainder == "drop" and wave.size < samples):
        return index, empty, None, None, 0, Skipped(
            rel, "too short", f"{wave.size / sample_rate:.2f} s < {min_fill * samples / sample_rate:.2f} s"
            if remainder == "pad" else f"{wave.size / sample_rate:.2f} s < {samples / sample_rate:.2f} s")
    loops, starts, silent = segment(wave, samples, remainder=remainder, min_fill=min_fill, silence_db=silence_db)
    if loops.shape[0] == 0:
        return index, empty, None, None, 0, Skipped(rel, "silent", f"all {silent} loops below {silence_db:g} dBFS")
    return index, loops, starts / sample_rate, None, silent, None


def _decode_bars(index, rel, wave, samples, sample_rate, silence_db, bars):
    # the beat tracker needs torch and the stretch scipy.signal (3-6 s of imports): loaded by the first track that
    # is cut on bars, so `loopgan data --help` and the other alignments do not pay for them
    from .bars import bar_loops
    from .tempo import beat_grid

    empty = np.zeros((0, samples), np.float32)
    if wave.size == 0 or not np.any(wave):
        return index, empty, None, None, 0, Skipped(rel, "silent", "all samples are zero")
    try:
        grid = beat_grid(wave, sample_rate)
    except ParameterError as exc:
        return index, empty, None, None, 0, Skipped(rel, "no beat", str(exc))
    loops, starts, stretch = bar_loops(wave, sample_rate, grid, bars=bars, samples=samples)
    if loops.shape[0] == 0:
        return index, empty, None, None, 0, Skipped(
            rel, "too short", f"{wave.size / sample_rate:.2f} s holds no whole {bars} bar(s) at {grid.bpm:.1f} BPM "
                              f"from the first downbeat ({grid.downbeat_s:.2f} s)")
    quiet = _silent(loops, silence_db)
    if quiet.all():
        return index, empty, None, None, 0, Skipped(rel, "silent", f"all {quiet.size} loops below {silence_db:g} dBFS")
    loop_bpm = 60.0 * grid.beats_per_bar * bars * sample_rate / samples
    label = {"source_bpm": round(grid.bpm, 3), "bpm": round(loop_bpm, 4), "bars": bars,
             "stretch": round(stretch, 5), "downbeat_s": round(grid.downbeat_s, 4),
             "beat_strength": round(grid.strength, 4)}
    keep = ~quiet
    return index, loops[keep], starts[keep], [dict(label) for _ in range(int(keep.sum()))], int(quiet.sum()), None


def prepare_folder(audio_dir: str | os.PathLike, out_path: str | os.PathLike, *, seconds: float,
                   sample_rate: int = 16000, remainder: str = "pad", min_fill: float = 0.5,
                   silence_db: float = -60.0, dtype: str = "float32", workers: int | None = None,
                   progress: bool = True, align: str = "none", bars: int = 1,
                   normalize: str = "none") -> PrepareReport:
    """Cut every audio file under ``audio_dir`` into loops and write them to ``out_path``.

    Parameters
    ----------
    audio_dir : str or PathLike
        Folder walked recursively; files that are not audio are reported, not fatal.
    out_path : str or PathLike
        Destination ``.npy`` (sidecar beside it, with per-loop source file and offset, and the skip list).
    seconds : float > 0
        Loop duration.
    sample_rate : int > 0
        Target rate in Hz (files are resampled).
    remainder : {"pad", "drop"}
        See :func:`segment`.
    min_fill : float in (0, 1]
        See :func:`segment`.
    silence_db : float
        Loops quieter than this RMS level (dBFS) are dropped.
    dtype : {"float32", "int16"}
        Storage type.
    workers : int > 0, optional
        Decoding processes (default: the CPU count).
    progress : bool
        tqdm bar over files on stderr.
    align : {"none", "bars"}
        ``none``: consecutive windows of ``seconds`` from each file's start (``remainder``, ``min_fill`` apply).
        ``bars``: whole ``bars``-bar slices from the estimated first downbeat, each resampled to ``seconds``
        (module documentation); ``remainder`` and ``min_fill`` do not apply.
    bars : int > 0
        Bars per loop with ``align="bars"``.
    normalize : {"none", "peak"}
        ``peak``: scale each file so that its peak is full scale (before cutting), e.g. for renders in floating
        point that exceed ±1 (a quarter of the LMMS demo loops did); ``none`` keeps the levels as decoded.

    Returns
    -------
    PrepareReport

    Raises
    ------
    NoUsableAudioError
        Not a single loop came out (nothing is written); its ``report`` names every file and why.
    """
    check_positive_float("seconds", seconds)
    check_positive_int("sample_rate", sample_rate)
    if remainder not in REMAINDERS:
        raise ParameterError(f"remainder={remainder!r} is not one of {', '.join(REMAINDERS)}")
    if not 0.0 < min_fill <= 1.0:
        raise ParameterError(f"min_fill={min_fill} must lie in (0, 1]")
    if align not in ALIGNS:
        raise ParameterError(f"align={align!r} is not one of {', '.join(ALIGNS)}")
    check_positive_int("bars", bars)
    if normalize not in NORMALIZE:
        raise ParameterError(f"normalize={normalize!r} is not one of {', '.join(NORMALIZE)}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    check_positive_int("workers", workers)
    samples = int(round(seconds * sample_rate))
    check_positive_int("seconds * sample_rate", samples)
    root = Path(audio_dir)
    files = find_files(root)
    report = PrepareReport(out=None, files=len(files))
    if not files:
        raise NoUsableAudioError(f"{root}: no files found", report)
    jobs = [(i, str(p), p.relative_to(root).as_posix(), samples, sample_rate, remainder, min_fill, silence_db,
             align, bars, normalize) for i, p in enumerate(files)]
    settings = {"audio_dir": str(root.resolve()), "seconds": seconds, "sample_rate": sample_rate,
                "remainder": remainder, "min_fill": min_fill, "silence_db": silence_db, "align": align,
                "normalize": normalize}
    if align == "bars":
        settings.update(bars=bars, stretch="resample")
    writer = LoopWriter(out_path, samples=samples, sample_rate=sample_rate, dtype=dtype, created_by="prepare",
                        settings=settings)
    try:
        with tqdm(total=len(files), unit="file", desc="prepare", disable=not progress, leave=False) as bar:
            for index, loops, starts, labels, silent, skipped in ordered_map(_decode, jobs,
                                                                             min(workers, len(files))):
                bar.update(1)
                if skipped is not None:
                    report.skipped.append(skipped)
                    continue
                writer.append(loops, sources=[jobs[index][2]] * loops.shape[0], offsets=starts, labels=labels)
                report.used += 1
                report.loops += loops.shape[0]
                report.silent_loops += silent
                bar.set_postfix(loops=report.loops)
        if report.loops == 0:
            writer.abort()
            raise NoUsableAudioError(f"{root}: none of {len(files)} files gave a loop "
                                     f"({len(report.skipped)} skipped)", report)
        writer.settings["skipped"] = [asdict(s) for s in report.skipped]
        report.out = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return report
