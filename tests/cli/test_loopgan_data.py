"""``loopgan data synth|info|prepare`` through the real ``loopgan`` entry point, and ``register`` on a bare parser."""

import argparse
import json

import numpy as np
import pytest

from gan_plugins.data.loops.storage import open_loops
from loopgan_cli import loopgan_data
from loopgan_cli.loopgan import main


def _one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err


def test_register_adds_the_data_group_to_any_parser():
    parser = argparse.ArgumentParser()
    loopgan_data.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "synth", "x.npy", "--n", "3", "--styles", "house", "dnb"])
    assert args.func is loopgan_data.cmd_synth and args.n == 3 and args.styles == ["house", "dnb"]
    args = parser.parse_args(["data", "info", "x.dat", "--shape", "4,100", "--dtype", "int16"])
    assert args.func is loopgan_data.cmd_info and args.shape == (4, 100)


def test_synth_then_info_with_montage(tmp_path, capsys):
    out = tmp_path / "loops.npy"
    assert main(["data", "synth", str(out), "--n", "6", "--seconds", "1", "--seed", "3", "--dtype", "int16",
                 "--styles", "house", "techno", "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "wrote 6 loops of 1 s at 16000 Hz (int16" in said
    data, info = open_loops(out)
    assert data.shape == (6, 16000) and info.dtype == "int16"
    assert {lab["style"] for lab in info.meta["labels"]} <= {"house", "techno"}

    png = tmp_path / "montage.png"
    assert main(["data", "info", str(out), "--plot", str(png), "--plot-count", "4", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["n"] == 6 and facts["sample_rate"] == 16000 and facts["seconds_per_loop"] == 1.0
    lo, mid, hi = facts["rms_dbfs"]
    assert -30 < lo <= mid <= hi < -5 and facts["peak_max"] < 1.0
    assert sum(facts["styles"].values()) == 6
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6 loops, 1 s each" in text and "16000 Hz" in text and "RMS dBFS" in text


def test_info_on_a_raw_memmap(tmp_path, capsys):
    raw = tmp_path / "seed.dat"
    (np.random.default_rng(0).uniform(-0.5, 0.5, (3, 800)).astype(np.float32)).tofile(raw)
    assert main(["data", "info", str(raw), "--shape", "3,800", "--dtype", "float32", "--sample-rate", "8000",
                 "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["n"] == 3 and facts["samples"] == 800 and facts["seconds_per_loop"] == 0.1
    _one_line_error(capsys, ["data", "info", str(raw), "--shape", "4,800", "--dtype", "float32"], "needs")
    _one_line_error(capsys, ["data", "info", str(raw), "--shape", "3,800", "--dtype", "float32", "--plot",
                             str(tmp_path / "x.png")], "sample rate is unknown")


@pytest.mark.parametrize("argv, match", [
    (["data", "synth", "OUT", "--n", "0"], "n=0"),
    (["data", "synth", "OUT", "--n", "2", "--seconds", "-1"], "seconds=-1"),
    (["data", "synth", "OUT.wav", "--n", "2"], "*.npy"),
    (["data", "info", "MISSING.npy"], "no such dataset"),
])
def test_errors_are_one_line(tmp_path, capsys, argv, match):
    argv = [a.replace("OUT", str(tmp_path / "o.npy")) if a == "OUT" else a for a in argv]
    argv = [str(tmp_path / a) if a.endswith((".wav", ".npy")) and "/" not in a else a for a in argv]
    _one_line_error(capsys, argv, match)


def test_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "synth", "x.npy", "--n", "2", "--styles", "polka"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "polka" in err


def test_bare_npy_without_sidecar_is_refused_then_opened_with_a_rate(tmp_path, capsys):
    bare = tmp_path / "bare.npy"
    np.save(bare, np.zeros((2, 100), np.float32))
    _one_line_error(capsys, ["data", "info", str(bare)], "sidecar")
    assert main(["data", "info", str(bare), "--sample-rate", "8000"]) == 0
    assert "2 loops" in capsys.readouterr().out


@pytest.mark.slow
def test_killed_synth_leaves_no_valid_dataset_and_a_rerun_succeeds(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from gan_plugins.data.loops.storage import DatasetError

    out = tmp_path / "big.npy"
    argv = ["data", "synth", str(out), "--n", "100000", "--seconds", "1", "--chunk", "4", "--no-progress"]
    code = f"import sys; from loopgan_cli.loopgan import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code])
    part = tmp_path / f".big.npy.tmp{proc.pid}"  # specrep.io.AtomicFile's temporary file
    deadline = time.time() + 60
    while time.time() < deadline and not (part.exists() and part.stat().st_size > 200_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no cleanup at all: the worst interruption
    proc.wait()
    assert part.exists(), "the writer never started"
    assert not out.exists() and not out.with_suffix(".json").exists()
    with pytest.raises(DatasetError):
        open_loops(out)
    assert main(["data", "synth", str(out), "--n", "3", "--seconds", "1", "--no-progress"]) == 0
    assert open_loops(out)[0].shape == (3, 16000)
    assert not part.exists()
