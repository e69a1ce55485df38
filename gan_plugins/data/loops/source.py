"""Loop data sources: how a file that does not describe itself is described, once, the same way everywhere.

A loop dataset is one of

- ``NAME.npy`` with its sidecar ``NAME.json`` (``loopgan data synth`` / ``prepare``): self-describing;
- a bare ``.npy`` (no sidecar): shape and dtype are in its header, the **sample rate** must be given;
- a raw memmap (the seed's kind of file: no header, no sidecar): **shape, dtype and sample rate** must be given,
  and an **offset** when the rows start after some header bytes;
- a **source descriptor**: a small JSON file that points at either of the last two and holds what they lack, so a
  single path describes them. Nothing is copied: the descriptor names the data file (relative to the descriptor's
  folder, or absolute)::

      {"format": "loopgan-source", "version": 1, "path": "seed.dat", "shape": [12000, 32000],
       "dtype": "float32", "offset": 0, "sample_rate": 16000}

  ``loopgan data describe DATA OUT.json --shape N,SAMPLES --dtype D --sample-rate SR`` writes one (after opening
  the data with those settings, so a wrong shape is refused there and then).

On the command line the same four flags — ``--shape N,SAMPLES --dtype D [--offset BYTES] --sample-rate SR`` —
describe a bare file wherever a dataset is accepted (``data info``, ``data wav``, ``evaluate``, ``train``). A plugin's
``dataset(data, ...)`` hook takes the dataset as one string with no room for flags: a descriptor is that string, so
``loopgan train --data FILE`` with the flags writes one into the run folder (``RUN/data-source.json``) and trains on
it, and the run's config names it. :func:`gan_plugins.data.loops.storage.open_loops` (and so
:class:`~.dataset.LoopDataset`) opens a descriptor like any dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gan_plugins.errors import GanError

__all__ = ["DESCRIPTOR_FORMAT", "SourceSpec", "is_descriptor", "read_descriptor",
           "describes_itself", "flags_for"]

DESCRIPTOR_FORMAT = "loopgan-source"
DESCRIPTOR_VERSION = 1
#: Descriptors are tiny; a larger ``.json`` is not read whole to find out.
_MAX_DESCRIPTOR_BYTES = 1 << 16


class DescriptorError(GanError, OSError):
    """A source descriptor is unreadable, malformed or points at nothing."""


@dataclass(frozen=True)
class SourceSpec:
    """What opening a loop file needs beyond its path (see the module documentation).

    Attributes
    ----------
    path : Path
        The data file (``.npy`` or raw).
    shape : (int, int) or None
        ``(N, samples)`` of a raw memmap; None for a ``.npy``.
    dtype : str or None
        Numpy dtype of a raw memmap; None for a ``.npy``.
    offset : int
        Header bytes to skip in a raw memmap.
    sample_rate : int or None
        Hz.
    """

    path: Path
    shape: tuple[int, int] | None = None
    dtype: str | None = None
    offset: int = 0
    sample_rate: int | None = None

    def open_kwargs(self) -> dict:
        """Keyword arguments of :func:`~.storage.open_loops` besides the path."""
        return {"shape": self.shape, "dtype": self.dtype, "offset": self.offset, "sample_rate": self.sample_rate}


def is_descriptor(path: str | os.PathLike) -> bool:
    """True when ``path`` is a JSON file whose ``format`` is :data:`DESCRIPTOR_FORMAT`."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file() or path.stat().st_size > _MAX_DESCRIPTOR_BYTES:
        return False
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("format") == DESCRIPTOR_FORMAT


def read_descriptor(path: str | os.PathLike) -> SourceSpec:
    """The :class:`SourceSpec` a descriptor holds (its ``path`` resolved against the descriptor's folder).

    Raises
    ------
    DescriptorError
        Not a descriptor, a field of the wrong type, or a data file that does not exist.
    """
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DescriptorError(f"{path}: not a readable source descriptor ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != DESCRIPTOR_FORMAT:
        raise DescriptorError(f"{path}: not a {DESCRIPTOR_FORMAT} descriptor")
    target = meta.get("path")
    if not isinstance(target, str) or not target:
        raise DescriptorError(f"{path}: descriptor has no 'path' of the data file")
    data = Path(target) if Path(target).is_absolute() else Path(os.path.normpath(path.parent / target))
    if not data.is_file():
        raise DescriptorError(f"{path}: its data file {data} does not exist")
    if is_descriptor(data):
        raise DescriptorError(f"{path}: points at another descriptor ({data}); point at the data file")
    shape = meta.get("shape")
    dtype = meta.get("dtype")
    offset = meta.get("offset", 0)
    sample_rate = meta.get("sample_rate")
    if shape is not None and not (isinstance(shape, list) and len(shape) == 2
                                  and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)):
        raise DescriptorError(f"{path}: shape={shape!r} must be [N, samples] (two integers) or null")
    if dtype is not None and not isinstance(dtype, str):
        raise DescriptorError(f"{path}: dtype={dtype!r} must be a numpy dtype name or null")
    if (shape is None) != (dtype is None):
        raise DescriptorError(f"{path}: a raw memmap needs both shape and dtype (a .npy neither)")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise DescriptorError(f"{path}: offset={offset!r} must be an integer >= 0 (bytes)")
    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, int)
                                    or sample_rate <= 0):
        raise DescriptorError(f"{path}: sample_rate={sample_rate!r} must be a positive integer (Hz)")
    return SourceSpec(data, None if shape is None else (shape[0], shape[1]), dtype, offset, sample_rate)


def describes_itself(path: str | os.PathLike) -> bool:
    """True for a descriptor and for a ``.npy`` with its sidecar: files that need no ``--shape/--dtype/...``."""
    path = Path(path)
    return is_descriptor(path) or (path.suffix == ".npy" and path.with_suffix(".json").is_file())


def flags_for(path: str | os.PathLike, *, shape=None, dtype=None, offset: int = 0,
              sample_rate: int | None = None) -> dict:
    """The ``open_loops`` keyword arguments that the command-line flags give ``path``.

    A command with two datasets (``evaluate --real A --fake B``) has one set of ``--shape/--dtype/--offset/
    --sample-rate`` flags: they describe whichever dataset does not describe itself (:func:`describes_itself`);
    a self-describing file gets none. Two bare files of different layouts need a descriptor for one of them.
    """
    if describes_itself(path):
        return {}
    return {"shape": shape, "dtype": dtype, "offset": offset, "sample_rate": sample_rate}
