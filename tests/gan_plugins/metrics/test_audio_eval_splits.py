"""`loopgan evaluate`'s floor: held-out real loops from tracks the reference half never saw, when sources are known."""

import numpy as np
import pytest

from gan_plugins.data.loops.storage import LoopWriter
from gan_plugins.metrics.audio_eval import _halves, evaluate_audio, source_groups

SR = 8000


def _tracks(path, with_sources):
    """Eight 'tracks' of six loops each: every track is its own chord of two tones, so loops of one track resemble
    each other far more than loops of another."""
    t = np.arange(SR) / SR
    rng = np.random.default_rng(1)
    with LoopWriter(path, samples=SR, sample_rate=SR) as w:
        for track in range(8):
            f1, f2 = 150.0 * 1.5 ** track, 230.0 * 1.4 ** track
            loops = [0.3 * np.sin(2 * np.pi * f1 * t + rng.uniform(0, 6)) + 0.2 * np.sin(2 * np.pi * f2 * t)
                     + 0.01 * rng.standard_normal(SR) for _ in range(6)]
            w.append(np.stack(loops), sources=[f"track{track}.wav"] * 6 if with_sources else None)
    return path


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalsplit")
    return _tracks(root / "tracks.npy", True), _tracks(root / "rows.npy", False)


@pytest.mark.slow  # ~20 s on a shared 2-core CPU
def test_floor_held_out_by_track_when_sources_are_known(sets):
    by_track, by_row = sets
    groups = source_groups(by_track, limit=None)
    assert groups is not None and len(np.unique(groups)) == 8 and source_groups(by_row) is None
    for seed in range(4):
        ref, held = _halves(len(groups), groups, seed)
        assert not set(groups[ref]) & set(groups[held]) and len(ref) == len(held) == 24
    a = [evaluate_audio(by_track, by_row, k=4, limit=None, seed=s, judge=False) for s in range(4)]
    b = [evaluate_audio(by_row, by_track, k=4, limit=None, seed=s, judge=False) for s in range(4)]
    assert all(r["floor_split"] == "tracks" for r in a) and all(r["floor_split"] == "rows" for r in b)
    # unseen tracks fall outside the reference's bins and statistics; rows of tracks the reference holds do not
    mean = {key: (np.mean([r["floor"][key] for r in a]), np.mean([r["floor"][key] for r in b]))
            for key in ("ndb_k", "fdd")}
    assert mean["ndb_k"][0] > mean["ndb_k"][1] + 0.3 and mean["fdd"][0] > 3 * mean["fdd"][1], mean


def test_limit_keeps_groups_aligned_with_rows(sets):
    by_track, _ = sets
    groups = source_groups(by_track, limit=20, seed=3)
    full = source_groups(by_track, limit=None)
    rows = np.sort(np.random.default_rng(3).choice(np.arange(48), size=20, replace=False))
    assert np.array_equal(groups, full[rows])
