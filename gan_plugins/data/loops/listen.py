"""Write chosen loops of a dataset as audio files, to listen to them (``loopgan data wav``).

Rows are chosen by a small spec (``"0-7,100,250-251"``); every file is named after its row and, when the sidecar
records it, its source file and offset, so a loop heard can be found again in its song.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import specrep
from gan_plugins.data.loops.storage import LoopsInfo, to_float
from specrep.errors import ParameterError

__all__ = ["parse_rows", "write_loop_files"]


def parse_rows(spec: str, n: int) -> np.ndarray:
    """``"0-7,100"`` -> ``array([0, ..., 7, 100])``: comma-separated rows and inclusive ranges, each in ``[0, n)``.

    Raises
    ------
    ParameterError
        A malformed item, a range that runs backwards, or a row outside the dataset.
    """
    rows: list[int] = []
    for item in spec.split(","):
        item = item.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", item)
        if not match:
            raise ParameterError(f"rows {spec!r}: {item!r} is not a row or a range like 0-7")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise ParameterError(f"rows {spec!r}: range {item!r} runs backwards")
        if hi >= n:
            raise ParameterError(f"rows {spec!r}: row {hi} is outside the dataset (rows 0-{n - 1})")
        rows.extend(range(lo, hi + 1))
    return np.asarray(rows, dtype=np.int64)


def _label(info: LoopsInfo, row: int) -> str:
    meta = info.meta or {}
    sources, items, offsets = meta.get("source_files"), meta.get("item_source"), meta.get("item_offset_s")
    if not (isinstance(sources, list) and isinstance(items, list) and row < len(items)):
        return ""
    src = int(items[row])
    if not 0 <= src < len(sources):
        return ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(sources[src])).stem).strip("_")[:60]
    label = f"_{stem}"
    if isinstance(offsets, list) and row < len(offsets) and offsets[row] is not None:
        label += f"_{float(offsets[row]):.2f}s"
    return label


def write_loop_files(data: np.ndarray, info: LoopsInfo, rows: np.ndarray, out_dir: str | Path, *,
                     fmt: str = "wav") -> list[Path]:
    """Write ``data[rows]`` ``(N, samples)`` as ``out_dir/loop_<row>[_<source>_<offset>s].<fmt>`` at the dataset's
    sample rate; returns the paths in ``rows`` order.

    Raises
    ------
    ParameterError
        The dataset has no known sample rate (a raw memmap opened without ``--sample-rate``).
    """
    if not info.sample_rate:
        raise ParameterError("the dataset's sample rate is unknown: give --sample-rate")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in rows:
        wave = to_float(np.asarray(data[int(row)]))
        paths.append(specrep.io.save(out / f"loop_{int(row):06d}{_label(info, int(row))}.{fmt}", wave,
                                     int(info.sample_rate)))
    return paths
