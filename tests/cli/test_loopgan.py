"""loopgan CLI: commands end to end, and bad input -> one line on stderr, non-zero exit, no traceback."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from loopgan_run import assert_one_line_error, run

from loopgan_cli import loopgan

TINY = ["--set", "width=4", "--set", "batch_size=8", "--set", "sample_every=0", "--no-progress"]


@pytest.mark.parametrize(("argv", "pattern"), [
    (["train", "nosuchplugin", "--loss", "hinge", "--out", "{tmp}/r"], "unknown plugin 'nosuchplugin'"),
    (["train", "dcgan", "--loss", "vanilla", "--out", "{tmp}/r"], "loss='vanilla' is not one of minimax"),
    (["train", "dcgan", "--loss", "hinge", "--out", "{tmp}/r", "--set", "width"], "must look like key=value"),
    (["train", "dcgan", "--loss", "hinge", "--out", "{tmp}/r", "--set", "widht=4"], "'widht' is not a setting"),
    (["train", "dcgan", "--loss", "hinge", "--out", "{tmp}/r", "--data", "{tmp}"], "missing MNIST IDX file"),
    (["train", "dcgan", "--loss", "hinge", "--out", "{tmp}/r", "--resume"], "does not exist"),
    (["sample", "{tmp}/corrupt.pt", "-n", "2", "-o", "{tmp}/s"], "is corrupt"),
    (["sample", "no-such-model", "-n", "2", "-o", "{tmp}/s"], "not a run folder, a checkpoint file or a bundled"),
    (["train", "dcgan"], "required: --loss"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, pattern):
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code, _, err = run(capsys, *argv)
    except SystemExit as exc:  # argparse usage errors
        code, err = exc.code, capsys.readouterr().err
    assert_one_line_error(code, err, pattern)


@pytest.mark.slow  # trains: ~18 s on a shared 2-core CPU
def test_train_resume_sample_evaluate(capsys, tmp_path):
    rundir = str(tmp_path / "run")
    code, out, _ = run(capsys, "train", "dcgan", "--loss", "lsgan", "--out", rundir, "--steps", "2", *TINY)
    assert code == 0 and "to step 2" in out
    code, out, _ = run(capsys, "train", "dcgan", "--loss", "lsgan", "--out", rundir, "--steps", "3", "--resume",
                       "--no-progress")
    assert code == 0 and "to step 3" in out
    code, out, _ = run(capsys, "sample", rundir, "-n", "5", "-o", str(tmp_path / "png"))
    assert code == 0 and len(list((tmp_path / "png").glob("sample_*.png"))) == 5
    assert (tmp_path / "png" / "grid.png").is_file()
    code, _, _ = run(capsys, "sample", rundir, "-n", "7", "-o", str(tmp_path / "npy"), "--format", "npy")
    arr = np.load(tmp_path / "npy" / "samples.npy")
    assert code == 0 and arr.shape == (7, 1, 28, 28) and 0.0 <= arr.min() and arr.max() <= 1.0
    code, _, err = run(capsys, "sample", rundir, "-n", "1", "-o", str(tmp_path / "w"), "--format", "wav")
    assert_one_line_error(code, err, "renders images")
    code, out, _ = run(capsys, "evaluate", rundir, "-n", "50", "--json", "--class-grid", str(tmp_path / "cg.png"))
    report = json.loads(out)
    assert code == 0 and report["n"] == 50 and report["fd_floor"] < report["fd_noise"]
    assert set(report) >= {"fd", "coverage", "kl_uniform", "confidence"}
    share = np.asarray(report["class_share"])
    assert share.shape == (10,) and share.sum() == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.round(share * 50, 6) % 1 == 0)  # shares of 50 samples
    assert report["coverage"] == (share >= 0.01).sum() and (tmp_path / "cg.png").is_file()


def test_plugins_and_pretrained_listing(capsys):
    code, out, _ = run(capsys, "plugins", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["dcgan"]["status"] == "ok" and rows["dcgan"]["distribution"] == "specrep"
    code, out, _ = run(capsys, "pretrained", "--json")
    assert code == 0 and "dcgan-mnist" in [r["name"] for r in json.loads(out)]


@pytest.mark.slow  # trains: ~20 s on a shared 2-core CPU
def test_benchmark_losses_tiny(capsys, tmp_path):
    code, out, _ = run(capsys, "benchmark", "losses", "--losses", "hinge,wgan", "--seeds", "1", "--neighbourhood",
                       "off", "--cap", "2", "--eval-every", "1", "--patience", "2", "--min-improvement", "0.1",
                       "--width", "4", "--set", "batch_size=8", "--shard", "0/1", "--out", str(tmp_path),
                       "--no-progress")
    assert code == 0 and "| hinge | 1 | 1 |" in out and "| wgan | 5 | 1 |" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["losses"]) == {"hinge", "wgan"} and summary["floor"] < summary["noise_fd"]
    assert summary["config"]["overrides"] == {"width": 4, "batch_size": 8} and summary["config"]["cap"] == 2
    assert (tmp_path / "fd_curves.png").is_file() and (tmp_path / "grid_hinge.png").is_file()
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [len(r["curve"]) for r in runs] == [2, 2] and [r["curve"][-1]["d_updates"] for r in runs] == [2, 10]
    code, _, err = run(capsys, "benchmark", "losses", "--shard", "2/2", "--out", str(tmp_path / "x"))
    assert code == 2 and "shard" in err


def test_benchmark_losses_help_states_the_library_defaults(capsys):
    from gan_plugins.studies.losses import BENCHMARK_DEFAULTS as bd

    with pytest.raises(SystemExit):
        loopgan.main(["benchmark", "losses", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, value in (("seeds", bd["seeds"]), ("neighbourhood_seeds", bd["neighbourhood_seeds"]),
                        ("cap", bd["cap"]), ("eval_every", bd["eval_every"]),
                        ("patience", bd["patience"]), ("min_improvement", bd["min_improvement"])):
        assert f"(default {value})" in text, flag
    assert f"(default {'on' if bd['neighbourhood'] else 'off'})" in text


def test_command_groups_register_through_their_module(capsys, monkeypatch):
    mod = types.ModuleType("fake_group_for_test")

    def register(subparsers):
        p = subparsers.add_parser("hello")
        p.set_defaults(func=lambda args: print("hello from a group"))

    mod.register = register
    monkeypatch.setitem(sys.modules, "fake_group_for_test", mod)
    monkeypatch.setattr(loopgan, "COMMAND_GROUPS", ("fake_group_for_test",))
    code, out, _ = run(capsys, "hello")
    assert code == 0 and out.strip() == "hello from a group"
