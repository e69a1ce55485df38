"""The run folder's logs: ``log.csv`` (training rows), ``evals.csv`` (evaluator rows) and TensorBoard ``tb/``, written
by one :class:`RunLogger` on rank 0.

CSV files hold one header and one row per logged step, ``step`` first. A resumed run first drops the rows a killed
process logged after its last checkpoint (:func:`truncate_csv`). When a row brings columns the file's header lacks
(a resumed run whose code or schedule logs more values), the file is rewritten once with the union of the columns —
the old header's order, then the new columns in the row's order — and the old rows keep their values, with empty
cells under the new columns; a row without some of the header's columns gets empty cells there. No file is ever
renamed or dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gan_plugins.errors import GanError
from specrep.io import atomic_write

__all__ = ["RunLogger", "append_csv_row", "truncate_csv"]


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _write_atomic(path: Path, rows: list[list[str]]) -> None:
    with atomic_write(path, "w") as fh:  # a killed rewrite leaves the previous file whole
        csv.writer(fh).writerows(rows)


def truncate_csv(path: str | Path, step: int) -> None:
    """Drop the rows of ``path`` whose ``step`` column is above ``step`` (rows a killed run logged after its last
    checkpoint); nothing happens when the file is absent or holds no such row.

    The ``step`` column is found by name (the first column when the header has none).
    """
    path = Path(path)
    if not path.exists():
        return
    rows = _read(path)
    if not rows:
        return
    col = rows[0].index("step") if "step" in rows[0] else 0
    kept = rows[:1] + [r for r in rows[1:] if r and int(float(r[col])) <= step]
    if len(kept) != len(rows):
        _write_atomic(path, kept)


def append_csv_row(path: str | Path, row: Mapping[str, Any]) -> None:
    """Append ``row`` (column -> value) to the CSV file ``path``, writing a header first when the file is new.

    Columns of ``row`` that the header lacks are added by rewriting the file under the union of the columns (old
    rows kept, empty under the new columns; module docstring); header columns missing from ``row`` stay empty in
    this row.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
        return
    with open(path, newline="") as fh:
        header = next(csv.reader(fh), [])
    added = [k for k in row if k not in header]
    if added:
        rows = _read(path)
        width = len(header) + len(added)
        _write_atomic(path, [header + added] + [r + [""] * (width - len(r)) for r in rows[1:] if r])
        header = header + added
    with open(path, "a", newline="") as fh:
        csv.DictWriter(fh, fieldnames=header, restval="").writerow(row)


class RunLogger:
    """Training and evaluation logs of one run folder: CSV files plus TensorBoard scalars, as one object.

    Construction touches nothing; :meth:`open` creates the folder, trims rows past the resumed step and opens the
    TensorBoard writer; :meth:`close` (or leaving a ``with`` block) closes it. Only rank 0 should own one.

    Parameters
    ----------
    run_dir : path
        The run folder: ``log.csv``, ``evals.csv`` and ``tb/`` go there.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._tb = None

    def open(self, step: int) -> RunLogger:
        """Start (or continue at ``step``, 0 for a new run) logging: rows logged after ``step`` are dropped from both
        CSV files, and TensorBoard events after ``step`` are purged. Returns ``self``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in ("log.csv", "evals.csv"):
            truncate_csv(self.run_dir / name, step)
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=step + 1 if step else None)
        return self

    def _write(self, name: str, prefix: str, row: Mapping[str, float], step: int) -> None:
        if self._tb is None:
            raise GanError(f"{self.run_dir}: RunLogger.open() has not been called")
        append_csv_row(self.run_dir / name, row)
        for k, v in row.items():
            if k != "step":
                self._tb.add_scalar(f"{prefix}/{k}", v, step)

    def log_train(self, row: Mapping[str, float], step: int) -> None:
        """One training row (``step`` first, then scalars) into ``log.csv`` and TensorBoard ``train/<key>``."""
        self._write("log.csv", "train", row, step)

    def log_eval(self, row: Mapping[str, float], step: int) -> None:
        """One evaluator row (``step`` first, then scalars) into ``evals.csv`` and TensorBoard ``eval/<key>``."""
        self._write("evals.csv", "eval", row, step)

    def close(self) -> None:
        """Flush and close the TensorBoard writer (idempotent)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
