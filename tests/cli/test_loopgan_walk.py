"""``loopgan walk``: a short walk end to end, and bad input -> one line on stderr, non-zero exit, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from loopgan_run import assert_one_line_error, run

import specrep


@pytest.mark.parametrize(("argv", "pattern"), [
    (["walk", "no-such-model", "--seconds", "4", "-o", "{tmp}/w.wav"], "not a run folder, a checkpoint file or a"),
    (["walk", "gansynth-mel-if", "--seconds", "0", "-o", "{tmp}/w.wav"], "--seconds 0 must be > 0"),
    (["walk", "gansynth-mel-if", "--seconds", "-3", "-o", "{tmp}/w.wav"], "--seconds -3 must be > 0"),
    (["walk", "gansynth-mel-if", "--seconds", "nan", "-o", "{tmp}/w.wav"], "--seconds nan must be > 0"),
    (["walk", "gansynth-mel-if", "--seconds", "two", "-o", "{tmp}/w.wav"], "invalid float value"),
    (["walk", "gansynth-mel-if", "--seconds", "4", "-o", "{tmp}/afile/w.wav"], "cannot write output"),
    (["walk", "gansynth-mel-if", "--seconds", "4", "-o", "{tmp}/adir.wav"], "is a directory"),
    (["walk", "gansynth-mel-if", "--seconds", "4", "-o", "{tmp}/w.mp9"], "use a .wav, .flac or .ogg"),
    (["walk", "gansynth-mel-if", "--seconds", "4", "-o", "{tmp}/w.wav", "--trajectory", "zigzag"], "invalid choice"),
    (["walk", "gansynth-mel-if", "--seconds", "4", "-o", "{tmp}/w.wav", "--speed", "0"], "speed=0.0"),
    (["walk", "gansynth-mel-if", "--seconds", "4", "-o", "{tmp}/w.wav", "--smoothness", "2"], "smoothness=2.0"),
    (["walk", "dcgan-mnist", "--seconds", "4", "-o", "{tmp}/w.wav"], "needs an audio model"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, pattern):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir.wav").mkdir()
    code, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert_one_line_error(code, err, pattern)
    assert not (tmp_path / "w.wav").exists()


@pytest.mark.parametrize(("argv", "pattern"), [
    (["demo", "--out", "{tmp}/d", "--seconds", "0"], "seconds=0.0 must be > 0"),
    (["demo", "--out", "{tmp}/d", "-n", "0"], "n=0 must be a positive integer"),
    (["demo", "--out", "{tmp}/afile"], "cannot write report"),
])
def test_demo_bad_input_is_one_line(capsys, tmp_path, argv, pattern):
    (tmp_path / "afile").write_text("not a folder")
    code, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert_one_line_error(code, err, pattern)
    assert not (tmp_path / "d").exists()


@pytest.mark.slow  # subprocesses: ~8 s on a shared 2-core CPU
def test_bad_input_from_the_installed_command(tmp_path):
    exe = [sys.executable, "-m", "loopgan_cli.loopgan"]
    proc = subprocess.run(exe + ["walk", "no-such-model", "--seconds", "2", "-o", str(tmp_path / "w.wav")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow  # ~6 s on a shared 2-core CPU
def test_walk_writes_audio_plot_and_json(capsys, tmp_path):
    out, plot = tmp_path / "walk.flac", tmp_path / "walk.png"
    code, stdout, err = run(capsys, "walk", "gansynth-mel-if", "--seconds", "5", "-o", str(out), "--plot", str(plot),
                            "--trajectory", "loop", "--seed", "3", "--json", "--no-progress")
    assert code == 0, err
    report = json.loads(stdout)
    wave, sr = specrep.io.load(out)
    assert sr == 16000 and wave.shape == (3 * 32000,)  # 5 s rounds up to three 2 s loops
    assert report["loops"] == 3 and report["walk"]["kind"] == "loop" and report["walk"]["seed"] == 3
    assert report["max_join_step_over_inside"] <= 1.0
    assert np.isfinite(wave).all() and np.abs(wave).max() > 0.05
    assert plot.stat().st_size > 20_000
