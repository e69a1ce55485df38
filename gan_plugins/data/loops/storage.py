"""Memory-mapped loop datasets: a ``.npy`` of shape (N, samples) plus a JSON sidecar.

Format
------
``NAME.npy``
    A standard numpy ``.npy`` file (format 1.0), C order, dtype ``float32`` (values in [-1, 1]) or ``int16``
    (full scale 32767), shape ``(N, samples)``. Anything that reads ``.npy`` reads it; :func:`open_loops` maps it
    with ``np.load(mmap_mode="r")`` so a dataset far larger than memory is read a row at a time.
``NAME.json``
    The sidecar, written last: ``format``, ``version``, ``n``, ``samples``, ``dtype``, ``sample_rate``,
    ``seconds``, ``npy_bytes`` (size of the ``.npy``, checked on open), ``created_by``, ``settings`` (how it was
    made), ``source_files`` (distinct source paths), per item ``item_source`` (index into ``source_files``, -1 for
    none) and ``item_offset_s`` (start of the loop in its source, seconds), ``labels`` (a dict per item or null),
    and ``stats`` (always null: kept for older readers; training keeps fitted statistics in its run, never here).

A dataset is valid only when both files exist and agree. :class:`LoopWriter` appends rows to a temporary file
(constant memory, the row count need not be known in advance), and on :meth:`LoopWriter.commit` removes any old
sidecar, renames the data into place, then renames the new sidecar into place — so a run interrupted at any point
leaves either the previous dataset or a ``.npy`` without a sidecar, which :func:`open_loops` refuses.

The seed's kind of file — a raw memmap with no header — opens with explicit ``shape`` and ``dtype``, a bare ``.npy``
with an explicit sample rate, and either through a source descriptor (:mod:`.source`) that holds those settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_plugins.errors import GanError
from specrep.errors import ParameterError, check_positive_int
from specrep.io import AtomicFile, atomic_write, remove_stale_temps

from .source import DESCRIPTOR_FORMAT, DESCRIPTOR_VERSION, is_descriptor, read_descriptor

FORMAT = "loopgan-loops"
VERSION = 1
DTYPES = ("float32", "int16")
INT16_SCALE = 32767.0
_MAGIC = b"\x93NUMPY\x01\x00"
_HEADER_BYTES = 128  # magic (8) + length (2) + header text, room for shapes up to 20-digit dimensions


class DatasetError(GanError, OSError):
    """A loop dataset is missing, incomplete, or its files disagree."""


def sidecar_path(path: str | os.PathLike) -> Path:
    """The sidecar of ``NAME.npy`` is ``NAME.json``."""
    return Path(path).with_suffix(".json")


def _header(dtype: np.dtype, rows: int, samples: int) -> bytes:
    text = f"{{'descr': '{dtype.str}', 'fortran_order': False, 'shape': ({rows}, {samples}), }}"
    room = _HEADER_BYTES - len(_MAGIC) - 2 - 1
    if len(text) > room:  # pragma: no cover - needs dimensions of more than 20 digits
        raise ParameterError(f"shape ({rows}, {samples}) is too large for the .npy header")
    text = text.ljust(room) + "\n"
    return _MAGIC + len(text).to_bytes(2, "little") + text.encode("latin1")


def to_storage(wave: np.ndarray, dtype: str) -> np.ndarray:
    """Convert float waves in [-1, 1] to the storage dtype (int16: rounded, clipped to ±32767)."""
    wave = np.asarray(wave, dtype=np.float32)
    if dtype == "int16":
        return np.round(np.clip(wave, -1.0, 1.0) * INT16_SCALE).astype(np.int16)
    return wave


def to_float(rows: np.ndarray) -> np.ndarray:
    """Stored rows as float32 waves in [-1, 1] (int16 divided by 32767)."""
    if rows.dtype == np.int16:
        return rows.astype(np.float32) / np.float32(INT16_SCALE)
    return np.asarray(rows, dtype=np.float32)


class LoopWriter:
    """Write a loop dataset incrementally with constant memory.

    Rows go straight to a temporary file beside the target (:class:`specrep.io.AtomicFile`: ``.NAME.npy.tmp<pid>``);
    nothing under the final names changes until :meth:`commit`. Use as a context manager: leaving the block by an
    exception calls :meth:`abort` (the partial file is deleted). The temporary files of writers killed mid-write
    (no live process) are deleted by the next commit to the same path.

    Parameters
    ----------
    path : str or PathLike
        Destination ``.npy`` (the suffix is required).
    samples : int > 0
        Samples per loop.
    sample_rate : int > 0
        In Hz.
    dtype : {"float32", "int16"}
        Storage type; int16 halves the size (16-bit resolution, about 96 dB of dynamic range).
    created_by : str
        Recorded in the sidecar (``"synth"``, ``"prepare"``, ...).
    settings : dict, optional
        JSON-serialisable description of how the data was made, recorded in the sidecar.
    """

    def __init__(self, path: str | os.PathLike, *, samples: int, sample_rate: int, dtype: str = "float32",
                 created_by: str = "unknown", settings: dict | None = None):
        check_positive_int("samples", samples)
        check_positive_int("sample_rate", sample_rate)
        if dtype not in DTYPES:
            raise ParameterError(f"dtype={dtype!r} is not one of {', '.join(DTYPES)}")
        self.path = Path(path)
        if self.path.suffix != ".npy":
            raise ParameterError(f"{self.path}: a loop dataset must be named *.npy")
        if self.path.is_dir():
            raise ParameterError(f"{self.path}: is a directory")
        self.samples, self.sample_rate, self.dtype = samples, sample_rate, np.dtype(dtype)
        self.created_by, self.settings = created_by, dict(settings or {})
        self.n = 0
        self._sources: dict[str, int] = {}
        self._item_source: list[int] = []
        self._item_offset: list[float] = []
        self._labels: list = []
        self._data: AtomicFile | None = AtomicFile(self.path, "wb")  # committed by commit(), or aborted
        self._data.file.write(_header(self.dtype, 0, samples))

    def append(self, waves: np.ndarray, *, sources=None, offsets=None, labels=None) -> None:
        """Append loops.

        Parameters
        ----------
        waves : np.ndarray, shape (k, samples)
            Float waves in [-1, 1] (converted to the storage dtype).
        sources : sequence of (str or None), length k, optional
            Source file of each loop.
        offsets : sequence of float, length k, optional
            Start of each loop in its source, seconds.
        labels : sequence of (dict or None), length k, optional
            JSON-serialisable label of each loop.
        """
        if self._data is None:
            raise DatasetError(f"{self.path}: writer is already closed")
        waves = np.asarray(waves)
        if waves.ndim != 2 or waves.shape[1] != self.samples:
            raise ParameterError(f"waves has shape {waves.shape}; expected (k, {self.samples})")
        k = waves.shape[0]
        for name, seq in (("sources", sources), ("offsets", offsets), ("labels", labels)):
            if seq is not None and len(seq) != k:
                raise ParameterError(f"{name} has {len(seq)} entries for {k} loops")
        if not np.isfinite(waves).all():
            raise ParameterError("waves contain NaN or Inf samples")
        self._data.file.write(np.ascontiguousarray(to_storage(waves, self.dtype.name)).tobytes())
        for i in range(k):
            src = None if sources is None else sources[i]
            self._item_source.append(-1 if src is None else self._sources.setdefault(str(src), len(self._sources)))
            self._item_offset.append(0.0 if offsets is None else round(float(offsets[i]), 6))
            self._labels.append(None if labels is None else labels[i])
        self.n += k

    def commit(self) -> Path:
        """Finish the header, flush to disk, and move data then sidecar into place. Returns the ``.npy`` path."""
        if self._data is None:
            raise DatasetError(f"{self.path}: writer is already closed")
        if self.n == 0:
            self.abort()
            raise DatasetError(f"{self.path}: no loops to write")
        data, self._data = self._data, None
        data.file.seek(0)
        data.file.write(_header(self.dtype, self.n, self.samples))
        data.file.flush()
        meta = {
            "format": FORMAT, "version": VERSION, "n": self.n, "samples": self.samples,
            "dtype": self.dtype.name, "sample_rate": self.sample_rate,
            "seconds": self.samples / self.sample_rate, "npy_bytes": os.fstat(data.file.fileno()).st_size,
            "created_by": self.created_by, "settings": self.settings,
            "source_files": list(self._sources), "item_source": self._item_source,
            "item_offset_s": self._item_offset, "labels": self._labels, "stats": None,
        }
        side = sidecar_path(self.path)
        try:
            with atomic_write(side, "w") as fh:
                json.dump(meta, fh, separators=(",", ":"))
                side.unlink(missing_ok=True)  # from here until the data's rename no valid-looking pair exists
                data.commit()
        except BaseException:
            data.abort()  # a no-op once committed
            raise
        remove_stale_temps(self.path)
        remove_stale_temps(side)
        return self.path

    def abort(self) -> None:
        """Close and delete the partial file (the destination is untouched)."""
        if self._data is not None:
            self._data.abort()
            self._data = None

    def __enter__(self) -> LoopWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self._data is not None:
            self.commit()


@dataclass
class LoopsInfo:
    """What is known about an opened dataset.

    Attributes
    ----------
    path : Path
    n, samples : int
        Shape of the data.
    dtype : str
        ``"float32"``, ``"int16"`` or, for a raw memmap, any numpy dtype name.
    sample_rate : int or None
        None for a raw memmap opened without one.
    meta : dict
        The sidecar (empty for a raw memmap or a bare ``.npy``).
    """

    path: Path
    n: int
    samples: int
    dtype: str
    sample_rate: int | None
    meta: dict = field(default_factory=dict, repr=False)

    @property
    def seconds(self) -> float | None:
        """Duration of one loop in seconds (None without a sample rate)."""
        return None if not self.sample_rate else self.samples / self.sample_rate


def open_loops(path: str | os.PathLike, *, shape=None, dtype=None, offset: int = 0,
               sample_rate: int | None = None) -> tuple[np.ndarray, LoopsInfo]:
    """Map a loop dataset read-only.

    Parameters
    ----------
    path : str or PathLike
        A ``.npy`` with its sidecar, a bare ``.npy`` (give ``sample_rate``), a raw memmap (give ``shape`` and
        ``dtype``), or a source descriptor ``.json`` (:mod:`.source`) that gives them.
    shape : (int, int), optional
        ``(N, samples)`` of a raw memmap.
    dtype : str, optional
        Numpy dtype of a raw memmap (e.g. ``"float32"``, ``"int16"``).
    offset : int >= 0
        Bytes to skip at the start of a raw memmap.
    sample_rate : int, optional
        Sample rate of a raw memmap, or of a ``.npy`` without sidecar (opening such a file needs it: a plain
        ``.npy`` is refused without it, with a message naming ``--sample-rate`` and descriptors).

    Returns
    -------
    data : np.memmap or np.ndarray (memory-mapped), shape (N, samples)
    info : LoopsInfo
        ``info.path`` is the data file (for a descriptor: the file it points at).

    Raises
    ------
    DatasetError
        Missing files, a sidecar that disagrees with the data, or a bare ``.npy`` without ``sample_rate``.
    ParameterError
        Inconsistent ``shape``/``dtype``/``offset``.
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, not a dataset file")
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    if is_descriptor(path):
        spec = read_descriptor(path)
        if shape is not None or dtype is not None or offset:
            raise ParameterError(f"{path}: a source descriptor gives shape, dtype and offset itself; drop them")
        if sample_rate is not None and spec.sample_rate is not None and sample_rate != spec.sample_rate:
            raise ParameterError(f"{path}: the descriptor says {spec.sample_rate} Hz, not {sample_rate}")
        kwargs = spec.open_kwargs()
        kwargs["sample_rate"] = spec.sample_rate or sample_rate
        return open_loops(spec.path, **kwargs)
    if path.suffix.lower() == ".json" and path.with_suffix(".npy").is_file() and shape is None:
        raise DatasetError(f"{path}: is the sidecar of {path.with_suffix('.npy').name}; open the .npy")
    if shape is not None or dtype is not None:
        return _open_raw(path, shape, dtype, offset, sample_rate)
    with open(path, "rb") as f:
        if f.read(6) != _MAGIC[:6]:
            raise DatasetError(f"{path}: not a .npy file (no NUMPY header); for a raw memmap give --shape N,SAMPLES "
                               "--dtype D --sample-rate SR, or a descriptor (loopgan data describe)")
    side = sidecar_path(path)
    try:
        data = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable .npy file ({str(exc).splitlines()[0]}); for a raw "
                           "memmap give its shape and dtype") from None
    if data.ndim != 2:
        raise DatasetError(f"{path}: array has shape {data.shape}; a loop dataset is (N, samples)")
    if not side.is_file():
        if sample_rate is None:
            raise DatasetError(f"{path}: a plain .npy (no sidecar {side.name}) needs its sample rate: give "
                               "--sample-rate SR or a source descriptor (loopgan data describe)")
        check_positive_int("sample_rate", sample_rate)
        return data, LoopsInfo(path, data.shape[0], data.shape[1], data.dtype.name, sample_rate)
    meta = read_sidecar(path)
    expect = (meta["n"], meta["samples"], meta["dtype"], meta["npy_bytes"])
    found = (data.shape[0], data.shape[1], data.dtype.name, os.path.getsize(path))
    if expect != found:
        raise DatasetError(f"{path}: sidecar says (n, samples, dtype, bytes) = {expect} but the data is {found}")
    return data, LoopsInfo(path, meta["n"], meta["samples"], meta["dtype"], meta["sample_rate"], meta)


def _open_raw(path: Path, shape, dtype, offset: int, sample_rate) -> tuple[np.ndarray, LoopsInfo]:
    if shape is None or dtype is None:
        raise ParameterError("a raw memmap needs both shape and dtype")
    try:
        shape = tuple(int(s) for s in shape)
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise ParameterError(f"shape={shape!r} / dtype={dtype!r} are not a valid shape and numpy dtype") from None
    if len(shape) != 2 or min(shape) <= 0:
        raise ParameterError(f"shape={shape} must be (N, samples) with both > 0")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ParameterError(f"offset={offset!r} must be an integer >= 0 (bytes)")
    check_positive_int("sample_rate", sample_rate, allow_none=True)
    need = offset + shape[0] * shape[1] * dt.itemsize
    size = os.path.getsize(path)
    if size != need:
        raise ParameterError(f"{path}: {size} bytes, but shape={shape} dtype={dt.name} offset={offset} "
                             f"needs {need}")
    data = np.memmap(path, mode="r", dtype=dt, shape=shape, offset=offset)
    return data, LoopsInfo(path, shape[0], shape[1], dt.name, sample_rate)


def read_sidecar(path: str | os.PathLike) -> dict:
    """Load and check the sidecar of ``NAME.npy`` (raises :class:`DatasetError` when absent or malformed)."""
    side = sidecar_path(path)
    try:
        with open(side, encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise DatasetError(f"{side}: sidecar not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{side}: sidecar is not valid JSON ({exc})") from None
    needed = ("format", "n", "samples", "dtype", "sample_rate", "npy_bytes")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or any(k not in meta for k in needed):
        raise DatasetError(f"{side}: not a {FORMAT} sidecar (needs {', '.join(needed)})")
    return meta


def write_descriptor(out: str | os.PathLike, data: str | os.PathLike, *, shape=None, dtype=None, offset: int = 0,
                     sample_rate: int) -> Path:
    """Describe ``data`` (a bare ``.npy`` or a raw memmap) in the descriptor ``out`` after checking it opens.

    The data path is stored relative to ``out``'s folder when both lie on one drive, so the pair can move
    together; the data itself is never read beyond its header, copied or modified.

    Returns
    -------
    Path
        ``out``.
    """
    out, data = Path(out), Path(data)
    if out.suffix.lower() != ".json":
        raise ParameterError(f"{out}: a source descriptor must be named *.json")
    if out.resolve() == data.resolve():
        raise ParameterError(f"{out}: the descriptor would overwrite its own data file")
    if sample_rate is None:
        raise ParameterError("a source descriptor needs the sample rate")
    if is_descriptor(data):
        raise ParameterError(f"{data}: is already a descriptor")
    if shape is None and dtype is None and data.suffix == ".npy" and data.with_suffix(".json").is_file():
        raise ParameterError(f"{data}: has a sidecar and opens by itself; it needs no descriptor")
    _, info = open_loops(data, shape=shape, dtype=dtype, offset=offset, sample_rate=sample_rate)
    try:
        target = os.path.relpath(data.resolve(), out.resolve().parent)
    except ValueError:  # another drive (Windows)
        target = str(data.resolve())
    meta = {"format": DESCRIPTOR_FORMAT, "version": DESCRIPTOR_VERSION, "path": Path(target).as_posix(),
            "shape": None if shape is None else [info.n, info.samples], "dtype": None if dtype is None else info.dtype,
            "offset": int(offset), "sample_rate": int(sample_rate)}
    with atomic_write(out, "w") as fh:
        fh.write(json.dumps(meta, indent=1) + "\n")
    return out
