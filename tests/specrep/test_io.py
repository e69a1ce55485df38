import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from specrep import io
from specrep.errors import AudioFileError, ParameterError


@pytest.mark.parametrize("ext,rate,channels", [(".wav", 44100, 2), (".flac", 22050, 1), (".ogg", 48000, 2)])
def test_load_formats_mix_and_resample(tmp_path, ext, rate, channels):
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / f"x{ext}"
    sf.write(path, data, rate)
    wave, sr = io.load(path, sample_rate=16000)
    assert sr == 16000 and wave.dtype == np.float32 and wave.ndim == 1
    assert wave.shape[0] == 16000
    assert np.sqrt(np.mean(wave[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)
    multi, _ = io.load(path, mono=False)
    assert multi.shape == (channels, rate)


def test_bad_files_raise_one_line_errors(tmp_path):
    cases = {"missing.wav": None, "empty.wav": b"", "text.wav": b"not audio at all"}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(AudioFileError) as err:
            io.load(tmp_path / name)
        assert "\n" not in str(err.value) and name in str(err.value)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        io.load(nan)


def test_save_round_trip_and_refuses_nan(tmp_path):
    wave = (0.3 * np.sin(np.linspace(0, 100, 8000))).astype(np.float32)
    path = io.save(tmp_path / "out" / "a.wav", wave, 8000, subtype="FLOAT")
    back, sr = io.load(path)
    assert sr == 8000 and np.allclose(back, wave, atol=1e-7)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav"]  # no temporary file left
    with pytest.raises(ParameterError, match="NaN"):
        io.save(tmp_path / "b.wav", np.array([np.nan], dtype=np.float32), 8000)
    with pytest.raises(ParameterError, match="extension"):
        io.save(tmp_path / "b.xyz", wave, 8000)


def test_examples_resolve():
    assert io.resolve("example:voice").endswith("voice.wav")
    with pytest.raises(ParameterError, match="not one of"):
        io.resolve("example:nope")


class _Midway(RuntimeError):
    pass


def test_atomic_write_commits_whole_content_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "state.bin"
    payload = bytes(range(256)) * 4096  # 1 MiB, several buffer flushes
    with io.atomic_write(target) as fh:
        fh.write(payload)
        assert not target.exists()  # nothing under the real name until the block ends
        assert io.temp_path(target).stat().st_size > 0  # the buffer went out to the temporary file
    assert target.read_bytes() == payload
    assert os.listdir(target.parent) == ["state.bin"]
    with io.atomic_write(target, "w") as fh:  # text mode, UTF-8, replaces the old content whole
        fh.write("é\n")
    assert target.read_bytes() == "é\n".encode()


def test_atomic_write_keeps_the_target_when_the_writer_raises_midway(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(_Midway):
        with io.atomic_write(target, "w") as fh:
            fh.write("new, half" * 10_000)
            fh.flush()
            raise _Midway
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]
    with pytest.raises(_Midway):
        with io.atomic_write(tmp_path / "fresh.bin") as fh:
            fh.write(b"x")
            raise _Midway
    assert os.listdir(tmp_path) == ["state.json"]  # a new target stays absent


def test_atomic_file_commit_and_abort(tmp_path):
    target = tmp_path / "rows.npy"
    f = io.AtomicFile(target)
    f.file.write(b"abc")
    f.abort()
    assert os.listdir(tmp_path) == []
    f = io.AtomicFile(target)
    f.file.write(b"abc")
    assert f.commit() == target and target.read_bytes() == b"abc" and os.listdir(tmp_path) == ["rows.npy"]
    with pytest.raises(ParameterError, match="already committed"):
        f.commit()
    with pytest.raises(ParameterError, match="writing mode"):
        io.AtomicFile(target, "rb")
    with pytest.raises(ParameterError, match="is a directory"):
        io.AtomicFile(tmp_path)


def test_atomic_path_keeps_the_suffix_and_the_target_on_failure(tmp_path):
    target = tmp_path / "fig.png"
    with io.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and not tmp.exists()
        tmp.write_bytes(b"png!")
    assert target.read_bytes() == b"png!" and os.listdir(tmp_path) == ["fig.png"]
    with pytest.raises(_Midway):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise _Midway
    assert target.read_bytes() == b"png!" and os.listdir(tmp_path) == ["fig.png"]
    with pytest.raises(FileNotFoundError):  # a writer that wrote nothing does not replace the target
        with io.atomic_path(target):
            pass
    assert target.read_bytes() == b"png!" and os.listdir(tmp_path) == ["fig.png"]


@pytest.mark.skipif(os.name != "posix", reason="pids are probed on POSIX only")
def test_remove_stale_temps_deletes_dead_writers_only(tmp_path):
    target = tmp_path / "big.npy"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process
    dead_file = tmp_path / f".big.npy.tmp{dead.pid}"
    dead_path = tmp_path / f".big.npy.tmp{dead.pid}.npy"  # atomic_path's name
    mine = io.temp_path(target)
    other = tmp_path / f".other.npy.tmp{dead.pid}"
    for p in (dead_file, dead_path, mine, other, tmp_path / ".big.npy.tmpnotapid"):
        p.write_bytes(b"half")
    assert sorted(io.remove_stale_temps(target)) == sorted([dead_file, dead_path])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name, ".big.npy.tmpnotapid"])


@pytest.mark.skipif(os.name != "posix", reason="folders are fsync'd on POSIX only")
def test_atomic_writes_fsync_the_file_before_the_rename_and_then_the_folder(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(a, b):
        events.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(io.os, "fsync", fsync)
    monkeypatch.setattr(io.os, "replace", replace)
    with io.atomic_write(tmp_path / "a.bin") as fh:
        fh.write(b"x")
    with io.atomic_path(tmp_path / "b.png") as tmp:
        tmp.write_bytes(b"y")
    assert events == ["fsync file", "replace", "fsync folder"] * 2
