"""Data sources: a raw memmap and a bare .npy open everywhere a dataset is accepted, through flags or a descriptor."""

import json

import numpy as np
import pytest

from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.data.loops.source import DescriptorError, flags_for, read_descriptor
from gan_plugins.data.loops.storage import DatasetError, open_loops, write_descriptor
from gan_plugins.data.procedural.synth_dataset import write_synth_dataset
from specrep.errors import ParameterError


@pytest.fixture()
def raw(tmp_path):
    rows = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 800)).astype(np.float32)
    path = tmp_path / "seed.dat"
    with open(path, "wb") as f:
        f.write(b"HEAD" * 4)  # 16 header bytes before the rows
        f.write(rows.tobytes())
    return path, rows


def test_descriptor_opens_a_raw_memmap_without_copying(raw, tmp_path):
    path, rows = raw
    desc = write_descriptor(tmp_path / "d" / "seed.json", path, shape=(6, 800), dtype="float32", offset=16,
                            sample_rate=8000)
    meta = json.loads(desc.read_text())
    assert meta["path"] == "../seed.dat" and meta["shape"] == [6, 800] and meta["offset"] == 16
    data, info = open_loops(desc)
    assert info.path == path and info.sample_rate == 8000 and (info.n, info.samples) == (6, 800)
    np.testing.assert_array_equal(np.asarray(data), rows)
    ds = LoopDataset(desc)
    assert ds.path == str(path) and ds.sample_rate == 8000
    np.testing.assert_array_equal(ds[3].numpy(), rows[3])  # pread at offset + row bytes
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["seed.dat", "seed.json"]


def test_descriptor_for_a_bare_npy_and_its_errors(tmp_path, raw):
    rows = np.zeros((3, 100), np.int16)
    rows[:, ::10] = 32767
    bare = tmp_path / "bare.npy"
    np.save(bare, rows)
    with pytest.raises(DatasetError, match="--sample-rate"):
        open_loops(bare)
    desc = write_descriptor(tmp_path / "bare-desc.json", bare, sample_rate=16000)
    ds = LoopDataset(desc)
    assert len(ds) == 3 and ds.sample_rate == 16000 and float(ds[0].max()) == pytest.approx(1.0)
    with pytest.raises(ParameterError, match="needs 19240"):  # wrong shape refused when writing, not at training
        write_descriptor(tmp_path / "bad.json", raw[0], shape=(6, 801), dtype="float32", offset=16,
                         sample_rate=8000)
    assert not (tmp_path / "bad.json").exists()
    with pytest.raises(ParameterError, match="descriptor says 16000"):
        open_loops(desc, sample_rate=22050)
    with pytest.raises(ParameterError, match="drop them"):
        open_loops(desc, shape=(3, 100), dtype="int16")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "loopgan-source", "path": "missing.dat", "shape": [1, 2],
                                  "dtype": "float32", "sample_rate": 8000}))
    with pytest.raises(DescriptorError, match="does not exist"):
        open_loops(broken)
    broken.write_text(json.dumps({"format": "loopgan-source", "path": "bare.npy", "shape": [3, 100],
                                  "sample_rate": 8000}))
    with pytest.raises(DescriptorError, match="both shape and dtype"):
        read_descriptor(broken)


def test_flags_describe_only_files_that_do_not_describe_themselves(tmp_path, raw):
    synth = write_synth_dataset(tmp_path / "loops.npy", n=2, seconds=0.1, seed=0, progress=False)
    desc = write_descriptor(tmp_path / "s.json", raw[0], shape=(6, 800), dtype="float32", offset=16,
                            sample_rate=8000)
    flags = {"shape": (6, 800), "dtype": "float32", "offset": 16, "sample_rate": 8000}
    assert flags_for(synth, **flags) == {} and flags_for(desc, **flags) == {}
    assert flags_for(raw[0], **flags) == flags
    with pytest.raises(DatasetError, match="sidecar of loops.npy"):
        open_loops(synth.with_suffix(".json"))
