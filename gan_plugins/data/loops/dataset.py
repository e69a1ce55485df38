"""A torch ``Dataset`` over a loop dataset file, safe for DataLoader workers and DistributedSampler.

The file is validated once at construction (through the memory map of
:func:`.storage.open_loops`); rows are then read with ``os.pread`` at their byte offset from a file
descriptor opened lazily, once per process: the object pickles without it (spawned workers reopen it) and a forked
worker notices the new process id and opens its own. Reading by offset instead of through the map keeps the
resident memory of a reader flat: pages of a memory map that a process has touched count in its resident set until
the kernel reclaims them, so iterating a 2 GB dataset through a map left each DataLoader worker at about 2 GB
resident, against about 0.3 GB with ``pread`` (docs/data.md). The OS page cache still serves repeated reads.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset

from specrep.errors import ParameterError

from .storage import DatasetError, LoopsInfo, open_loops, to_float


class LoopDataset(Dataset):
    """Loops as float32 tensors of shape (samples,).

    Parameters
    ----------
    path : str or PathLike
        A ``.npy`` with sidecar, a bare ``.npy`` with ``sample_rate``, a raw memmap with ``shape``, ``dtype`` and
        ``sample_rate``, or a source descriptor (:mod:`.source`).
    shape, dtype, offset, sample_rate
        As in :func:`gan_plugins.data.loops.storage.open_loops`.
    indices : sequence of int, optional
        Use only these rows (a train/test split), in this order.
    with_index : bool
        Return ``(wave, row)`` instead of ``wave`` (row = position in the file, to look up labels).

    Notes
    -----
    int16 data is scaled to [-1, 1] by 1/32767; float data is returned as stored.
    """

    def __init__(self, path, *, shape=None, dtype=None, offset: int = 0, sample_rate: int | None = None,
                 indices=None, with_index: bool = False):
        self._open_kwargs = {"shape": shape, "dtype": dtype, "offset": offset, "sample_rate": sample_rate}
        data, self.info = open_loops(path, **self._open_kwargs)  # validates now, in the main process
        self.path = os.fspath(self.info.path)  # the data file itself (a source descriptor names it)
        self._dtype = data.dtype
        self._offset = int(data.offset)
        self._row_bytes = self.info.samples * data.dtype.itemsize
        del data
        if indices is None:
            self.indices = None
        else:
            self.indices = np.asarray(indices, dtype=np.int64)
            if self.indices.ndim != 1 or (self.indices.size and (self.indices.min() < 0
                                                                  or self.indices.max() >= self.info.n)):
                raise ParameterError(f"indices must be a 1-d sequence of rows in [0, {self.info.n})")
        self.with_index = with_index
        self._fd = None
        self._pid = None

    @property
    def sample_rate(self) -> int | None:
        """Sample rate in Hz (None for a raw memmap opened without one)."""
        return self.info.sample_rate

    @property
    def labels(self) -> list:
        """Per-row labels from the sidecar (a list of None when there are none)."""
        labels = self.info.meta.get("labels")
        return labels if labels is not None else [None] * self.info.n

    def read_row(self, row: int) -> np.ndarray:
        """Row ``row`` of the file as stored (dtype of the file), shape (samples,)."""
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY)  # a forked worker must not share the parent's offset
            self._pid = os.getpid()
        buf = os.pread(self._fd, self._row_bytes, self._offset + row * self._row_bytes)
        if len(buf) != self._row_bytes:
            raise DatasetError(f"{self.path}: row {row} is truncated (file changed after it was opened?)")
        return np.frombuffer(buf, dtype=self._dtype)

    def __len__(self) -> int:
        return self.info.n if self.indices is None else int(self.indices.size)

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} loops")
        row = int(self.indices[i]) if self.indices is not None else i % self.info.n
        wave = torch.from_numpy(to_float(self.read_row(row)).copy())
        return (wave, row) if self.with_index else wave

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_fd"] = None  # a worker opens the file itself
        state["_pid"] = None
        return state

    def __del__(self):
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            os.close(self._fd)

    def __repr__(self) -> str:
        info: LoopsInfo = self.info
        return (f"LoopDataset({self.path!r}, n={len(self)}, samples={info.samples}, dtype={info.dtype}, "
                f"sample_rate={info.sample_rate})")
