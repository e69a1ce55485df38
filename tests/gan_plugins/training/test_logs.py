"""Run logs: CSV rows whose columns change keep one file under the union of the columns (never renamed), rows past
a resumed step are dropped, and TensorBoard gets the scalars."""

from __future__ import annotations

import csv

from gan_plugins.training.logs import RunLogger, append_csv_row, truncate_csv
from gan_plugins.training.trainer import train

TINY = {"width": 4, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}


def _table(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_new_columns_rewrite_the_header_and_keep_the_old_rows(tmp_path):
    path = tmp_path / "log.csv"
    append_csv_row(path, {"step": 1, "a": 0.5})
    append_csv_row(path, {"step": 2, "a": 0.25})
    append_csv_row(path, {"step": 3, "b": 7, "a": 0.125})  # a new column, in another order
    header, rows = _table(path)
    assert header == ["step", "a", "b"]
    assert rows == [["1", "0.5", ""], ["2", "0.25", ""], ["3", "0.125", "7"]]
    append_csv_row(path, {"step": 4, "b": 8})  # a column missing from the row: an empty cell
    assert _table(path) == (["step", "a", "b"], rows + [["4", "", "8"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]  # nothing renamed, no temporary file left
    truncate_csv(path, 2)
    assert _table(path) == (["step", "a", "b"], rows[:2])
    truncate_csv(tmp_path / "absent.csv", 2)
    assert not (tmp_path / "absent.csv").exists()


def test_resumed_run_whose_columns_changed_keeps_one_log(tmp_path):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=2, overrides=TINY, progress=False)
    header, rows = _table(tmp_path / "log.csv")
    # as if written by a version that did not log the gradient norms yet
    keep = [i for i, k in enumerate(header) if not k.startswith("grad_norm")]
    with open(tmp_path / "log.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([[r[i] for i in keep] for r in [header, *rows]])
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=4, resume=True, progress=False)
    new_header, new_rows = _table(tmp_path / "log.csv")
    assert new_header == [header[i] for i in keep] + ["grad_norm_d", "grad_norm_g"]
    assert [r[0] for r in new_rows] == ["1", "2", "3", "4"]
    assert [r[-2:] for r in new_rows[:2]] == [["", ""], ["", ""]]  # old rows: empty under the new columns
    assert all(float(v) > 0 for r in new_rows[2:] for v in r[-2:])
    assert [r[:len(keep)] for r in new_rows[:2]] == [[r[i] for i in keep] for r in rows]
    assert not list(tmp_path.glob("log.*.csv"))


def test_run_logger_writes_csv_and_tensorboard(tmp_path):
    with RunLogger(tmp_path / "run").open(0) as log:
        log.log_train({"step": 1, "loss_d": 0.5}, 1)
        log.log_eval({"step": 1, "fd": 3.0}, 1)
    assert _table(tmp_path / "run" / "log.csv") == (["step", "loss_d"], [["1", "0.5"]])
    assert _table(tmp_path / "run" / "evals.csv") == (["step", "fd"], [["1", "3.0"]])
    assert any((tmp_path / "run" / "tb").iterdir())
