"""GANSynth's held-out split: by source file (track) when the sidecar knows each loop's source, by row otherwise."""

import numpy as np
import pytest

from gan_plugins.data.loops.storage import LoopWriter
from gan_plugins.data.procedural.synth_dataset import write_synth_dataset
from gan_plugins.models.gansynth import plugin

SIZES = [3, 12, 5, 8, 4, 9, 6, 7, 10, 2, 5, 4]  # loops per source track


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    path = tmp_path_factory.mktemp("splits") / "tracks.npy"
    rng = np.random.default_rng(0)
    with LoopWriter(path, samples=1600, sample_rate=16000, created_by="prepare") as w:
        for t, size in enumerate(SIZES):
            w.append(rng.uniform(-0.1, 0.1, (size, 1600)), sources=[f"track{t:02d}.wav"] * size,
                     offsets=2.0 * np.arange(size))
        w.append(rng.uniform(-0.1, 0.1, (2, 1600)))  # two loops without a source
    return path


def _cfg(path, fraction):
    return {**plugin.default_config(), "data": str(path), "test_fraction": fraction}


def _sources(path):
    import json

    meta = json.loads(path.with_suffix(".json").read_text())
    return np.asarray(meta["item_source"])


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.4])
def test_held_out_tracks_never_seen_in_training(tracks, fraction):
    n = sum(SIZES) + 2
    cfg = _cfg(tracks, fraction)
    train, test = plugin._split_rows(n, cfg, "train"), plugin._split_rows(n, cfg, "test")
    assert np.array_equal(np.sort(np.r_[train, test]), np.arange(n)) and len(test) > 0
    src = _sources(tracks)
    held, seen = set(src[test][src[test] >= 0]), set(src[train][src[train] >= 0])
    assert not held & seen                                  # no track on both sides
    target = n * fraction
    assert 0.5 * target <= len(test) <= 1.5 * target + 1     # about test_fraction of the loops
    assert np.array_equal(test, plugin._split_rows(n, cfg, "test"))   # deterministic
    ds = plugin.dataset(str(tracks), cfg, split="test")
    assert np.array_equal(ds.indices, test)


def test_split_groups_whole_tracks_not_a_row_permutation(tracks):
    n = sum(SIZES) + 2
    cfg = _cfg(tracks, 0.2)
    src = _sources(tracks)
    test = plugin._split_rows(n, cfg, "test")
    for t in set(src[test][src[test] >= 0]):
        assert set(np.flatnonzero(src == t)) <= set(test.tolist())  # every loop of a held-out track is held out


def test_rows_without_sources_split_by_row(tmp_path):
    path = write_synth_dataset(tmp_path / "synth.npy", n=40, seconds=0.1, seed=0, progress=False)
    cfg = _cfg(path, 0.25)
    test = plugin._split_rows(40, cfg, "test")
    assert len(test) == 10 and np.array_equal(np.sort(np.r_[test, plugin._split_rows(40, cfg, "train")]),
                                              np.arange(40))
    no_data = {k: v for k, v in cfg.items() if k != "data"}
    assert np.array_equal(plugin._split_rows(40, no_data, "test"), test)   # same rows with no sidecar to read


def test_a_long_track_is_not_held_out_when_it_would_overshoot(tmp_path):
    # one 40-loop track among eleven of 3; with test_fraction 0.1 (7 loops) holding it out would make the test split
    # 6x too large. Track 7 is the first in the fixed shuffled order: the guard has to skip it.
    sizes = [3] * 12
    sizes[7] = 40
    path = tmp_path / "long.npy"
    with LoopWriter(path, samples=160, sample_rate=16000) as w:
        for t, size in enumerate(sizes):
            w.append(np.full((size, 160), 0.01 * (t + 1)), sources=[f"t{t}.wav"] * size)
    n = sum(sizes)
    test = plugin._split_rows(n, _cfg(path, 0.1), "test")
    assert 7 not in set(_sources(path)[test]) and 0.5 * n * 0.1 <= len(test) <= 1.5 * n * 0.1


def test_the_split_follows_the_dataset_given_not_the_config_of_the_run(tracks, tmp_path):
    # a run's config names where it was trained (possibly another machine's path); a benchmark opening the same loops
    # elsewhere must split them by track as training did, or held-out loops share tracks with training loops
    import shutil

    copy = tmp_path / "elsewhere.npy"
    shutil.copy(tracks, copy)
    shutil.copy(tracks.with_suffix(".json"), copy.with_suffix(".json"))
    stale = {**_cfg(tmp_path / "gone" / "tracks.npy", 0.2)}  # the path in the run's config no longer exists
    held = plugin.dataset(str(copy), stale, split="test")
    sources = _sources(copy)
    train_rows = plugin.dataset(str(copy), stale, split="train")
    assert not set(sources[held.indices]) & set(sources[train_rows.indices]) - {-1}
