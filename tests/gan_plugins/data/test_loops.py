"""Memory-mapped loop datasets: round trip, atomic commit, raw memmaps, the torch Dataset, the synth writer."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from gan_plugins.data.loops import storage as loops
from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.data.loops.storage import DatasetError, LoopWriter, open_loops, sidecar_path
from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.data.procedural.synth_dataset import write_synth_dataset
from specrep.errors import ParameterError


def _waves(n, samples=100, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, samples)).astype(np.float32)


@pytest.mark.parametrize("dtype, atol", [("float32", 0.0), ("int16", 0.5 / 32767 + 1e-7)])
def test_round_trip_in_two_appends(tmp_path, dtype, atol):
    waves = _waves(7)
    path = tmp_path / "d.npy"
    with LoopWriter(path, samples=100, sample_rate=8000, dtype=dtype, created_by="test") as w:
        w.append(waves[:3], sources=["a.wav", "b.wav", "a.wav"], offsets=[0.0, 0.5, 1.0])
        w.append(waves[3:], labels=[{"k": i} for i in range(4)])
    data, info = open_loops(path)
    assert isinstance(data, np.memmap) and data.shape == (7, 100) and data.dtype == np.dtype(dtype)
    np.testing.assert_allclose(loops.to_float(np.asarray(data)), waves, atol=atol, rtol=0)
    assert (info.n, info.samples, info.sample_rate, info.dtype) == (7, 100, 8000, dtype)
    assert info.seconds == pytest.approx(100 / 8000)
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["source_files"] == ["a.wav", "b.wav"]
    assert meta["item_source"] == [0, 1, 0, -1, -1, -1, -1]
    assert meta["item_offset_s"][:3] == [0.0, 0.5, 1.0]
    assert meta["labels"] == [None, None, None, {"k": 0}, {"k": 1}, {"k": 2}, {"k": 3}]
    assert meta["stats"] is None and meta["created_by"] == "test"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.npy"]  # no .part left behind
    np.testing.assert_array_equal(np.load(path), data)  # a plain .npy for any other reader


def test_exception_inside_writer_leaves_nothing(tmp_path):
    path = tmp_path / "d.npy"
    with pytest.raises(RuntimeError):
        with LoopWriter(path, samples=100, sample_rate=8000) as w:
            w.append(_waves(2))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_never_looks_valid(tmp_path):
    path = tmp_path / "d.npy"
    w = LoopWriter(path, samples=100, sample_rate=8000)
    w.append(_waves(3))  # the process "dies" here: commit never runs
    assert not path.exists() and not sidecar_path(path).exists()
    with pytest.raises(DatasetError, match="no such dataset"):
        LoopDataset(path)
    w.abort()


def test_failed_overwrite_keeps_the_previous_dataset_and_a_commit_clears_dead_writers_files(tmp_path):
    path = tmp_path / "d.npy"
    with LoopWriter(path, samples=100, sample_rate=8000) as w:
        w.append(_waves(2))
    with pytest.raises(RuntimeError):
        with LoopWriter(path, samples=100, sample_rate=8000) as w:
            w.append(_waves(5, seed=1))
            raise RuntimeError("interrupted")
    np.testing.assert_array_equal(open_loops(path)[0], _waves(2).astype(np.float32))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process, as a writer killed mid-write
    for name in (f".d.npy.tmp{dead.pid}", f".d.json.tmp{dead.pid}"):
        (tmp_path / name).write_bytes(b"half a dataset")
    with LoopWriter(path, samples=100, sample_rate=8000) as w:
        w.append(_waves(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.npy"]
    assert open_loops(path)[1].n == 3
    with pytest.raises(TypeError):  # the sidecar cannot be written: the data's temporary file goes too
        with LoopWriter(tmp_path / "e.npy", samples=100, sample_rate=8000, settings={"x": object()}) as w:
            w.append(_waves(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.npy"]


def test_interrupted_overwrite_between_renames_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "d.npy"
    with LoopWriter(path, samples=100, sample_rate=8000) as w:
        w.append(_waves(2))
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the data is in place, the new sidecar is not
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(loops.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        with LoopWriter(path, samples=100, sample_rate=8000) as w:
            w.append(_waves(5, seed=1))
    monkeypatch.undo()
    with pytest.raises(DatasetError, match="sidecar"):
        open_loops(path)  # neither the old nor the new sidecar pairs with the new data


def test_sidecar_disagreeing_with_data_is_refused(tmp_path):
    path = tmp_path / "d.npy"
    with LoopWriter(path, samples=100, sample_rate=8000) as w:
        w.append(_waves(2))
    np.save(path, _waves(3))
    with pytest.raises(DatasetError, match="sidecar says"):
        open_loops(path)


def test_bare_npy_needs_a_sample_rate(tmp_path):
    path = tmp_path / "bare.npy"
    np.save(path, _waves(4))
    with pytest.raises(DatasetError, match=r"a plain \.npy \(no sidecar bare\.json\) needs its sample rate: give "
                                           r"--sample-rate SR or a source descriptor") as err:
        open_loops(path)
    assert "interrupted" not in str(err.value)
    data, info = open_loops(path, sample_rate=16000)
    assert data.shape == (4, 100) and info.sample_rate == 16000 and info.meta == {}


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_raw_memmap_with_shape_and_dtype(tmp_path, dtype):
    path = tmp_path / "seed.dat"
    stored = loops.to_storage(_waves(5, samples=64), dtype)
    header = b"\0" * 16
    path.write_bytes(header + stored.tobytes())
    data, info = open_loops(path, shape=(5, 64), dtype=dtype, offset=16, sample_rate=16000)
    np.testing.assert_array_equal(data, stored)
    ds = LoopDataset(path, shape=(5, 64), dtype=dtype, offset=16)
    np.testing.assert_allclose(ds[2].numpy(), loops.to_float(stored[2]))
    with pytest.raises(ParameterError, match="needs"):
        open_loops(path, shape=(6, 64), dtype=dtype, offset=16)
    with pytest.raises(ParameterError, match="both shape and dtype"):
        open_loops(path, shape=(5, 64))


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ParameterError, match="dtype='float64'"):
        LoopWriter(tmp_path / "d.npy", samples=10, sample_rate=8000, dtype="float64")
    with pytest.raises(ParameterError, match=r"\*\.npy"):
        LoopWriter(tmp_path / "d.dat", samples=10, sample_rate=8000)
    with LoopWriter(tmp_path / "d.npy", samples=10, sample_rate=8000) as w:
        with pytest.raises(ParameterError, match=r"expected \(k, 10\)"):
            w.append(np.zeros((2, 11)))
        with pytest.raises(ParameterError, match="NaN"):
            w.append(np.full((1, 10), np.nan))
        w.append(np.zeros((1, 10)))
    with pytest.raises(DatasetError, match="no loops"):
        LoopWriter(tmp_path / "e.npy", samples=10, sample_rate=8000).commit()
    assert not list(tmp_path.glob(".e.npy.tmp*"))


def _int16_dataset(tmp_path, n=12):
    path = tmp_path / "d.npy"
    waves = _waves(n, samples=50)
    with LoopWriter(path, samples=50, sample_rate=8000, dtype="int16") as w:
        w.append(waves, labels=[{"i": i} for i in range(n)])
    return path, loops.to_float(loops.to_storage(waves, "int16"))


def test_dataset_random_access_and_indices(tmp_path):
    path, expected = _int16_dataset(tmp_path)
    ds = LoopDataset(path)
    assert len(ds) == 12 and ds.sample_rate == 8000 and ds.labels[3] == {"i": 3}
    x = ds[5]
    assert x.dtype == torch.float32 and x.shape == (50,) and float(x.abs().max()) <= 1.0
    np.testing.assert_array_equal(x.numpy(), expected[5])
    np.testing.assert_array_equal(ds[-1].numpy(), expected[11])
    with pytest.raises(IndexError):
        ds[12]
    sub = LoopDataset(path, indices=[7, 2], with_index=True)
    wave, row = sub[1]
    assert len(sub) == 2 and row == 2
    np.testing.assert_array_equal(wave.numpy(), expected[2])
    with pytest.raises(ParameterError, match="indices"):
        LoopDataset(path, indices=[12])


def test_dataloader_with_two_workers_and_distributed_sampler(tmp_path):
    path, expected = _int16_dataset(tmp_path)
    ds = LoopDataset(path, with_index=True)
    seen = {}
    for rank in (0, 1):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=3)
        loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2)
        for waves, rows in loader:
            for w, r in zip(waves, rows.tolist(), strict=True):
                seen[r] = w.numpy()
    assert sorted(seen) == list(range(12))  # the two ranks together cover the dataset
    for r, w in seen.items():
        np.testing.assert_array_equal(w, expected[r])


def test_write_synth_dataset_matches_generator_for_any_chunking(tmp_path):
    a = write_synth_dataset(tmp_path / "a.npy", 5, 0.5, 9, chunk=2, progress=False)
    b = write_synth_dataset(tmp_path / "b.npy", 5, 0.5, 9, chunk=5, progress=True)
    assert a.read_bytes() == b.read_bytes()
    direct, labels = synthesize_loops(5, seconds=0.5, seed=9)
    data, info = open_loops(a)
    np.testing.assert_array_equal(data, direct)
    assert info.meta["labels"] == labels and info.meta["created_by"] == "synth"
    assert info.meta["settings"]["seed"] == 9


def test_write_synth_dataset_in_two_processes(tmp_path):
    one = write_synth_dataset(tmp_path / "one.npy", 6, 0.5, 2, dtype="int16", chunk=2, progress=False)
    two = write_synth_dataset(tmp_path / "two.npy", 6, 0.5, 2, dtype="int16", chunk=2, workers=2, progress=False)
    assert one.read_bytes() == two.read_bytes()
    assert open_loops(two)[1].dtype == "int16"


def test_ensure_synth_dataset_reuses_only_the_same_dataset(tmp_path):
    from gan_plugins.data.procedural.synth_dataset import ensure_synth_dataset

    path = tmp_path / "default.npy"
    ensure_synth_dataset(path, 3, 0.5, 4, progress=False)
    first = path.stat().st_mtime_ns
    ensure_synth_dataset(path, 3, 0.5, 4, progress=False)
    assert path.stat().st_mtime_ns == first  # same settings: reused, not rewritten
    ensure_synth_dataset(path, 4, 0.5, 4, progress=False)
    assert open_loops(path)[0].shape == (4, 8000)  # different n: rebuilt
    sidecar_path(path).unlink()
    ensure_synth_dataset(path, 4, 0.5, 4, progress=False)  # a dataset without sidecar is not trusted
    assert open_loops(path)[1].meta["settings"]["n"] == 4


def test_open_refuses_directories_and_non_npy_files(tmp_path):
    with pytest.raises(DatasetError, match="is a directory"):
        open_loops(tmp_path)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy at all")
    with pytest.raises(DatasetError, match="no NUMPY header"):
        open_loops(junk)
