"""The representation benchmark end to end on tiny trained runs (numbers are not meaningful, the plumbing is)."""

from __future__ import annotations

import numpy as np
import pytest

from gan_plugins.data.procedural.synth_dataset import write_synth_dataset
from gan_plugins.studies.representations import benchmark_representations, write_report
from gan_plugins.training.trainer import train

TINY = {"n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32, "batch_size": 4, "sample_every": 0,
        "ckpt_every": 0, "grid_size": 4, "width_max": 8, "width_base": 8, "z_dim": 8, "gl_n_iter": 4}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rep")
    data = write_synth_dataset(root / "loops.npy", n=60, seconds=0.1, seed=0, progress=False)
    out = {}
    for rep in ("mel-if", "mel-gl"):
        train("gansynth", data=str(data), loss="wgan-gp", out=root / rep, steps=2,
              overrides={**TINY, "representation": rep}, progress=False)
        out[rep] = root / rep
    return data, out


@pytest.mark.slow  # ~5 s
def test_benchmark_reports_every_score_with_floor_and_ceiling(runs, tmp_path):
    data, paths = runs
    result = benchmark_representations(paths, data, n=24, n_real=40, k=4, out_dir=tmp_path / "out")
    assert result["floor"]["fdd"] < result["noise"]["fdd"]
    for label, row in result["runs"].items():
        assert row["finite"] and row["max_abs"] <= 1.0
        assert 0.0 <= row["ndb_k"] <= 1.0 and row["fdd"] >= 0.0
        assert 0.0 <= row["oracle"]["ndb_k"] <= 1.0 and row["oracle"]["fdd"] >= 0.0
        for t in row["speed"].values():
            assert t["synthesis_s"] > 0.0 and t["total_s"] > 0.0 and t["batch"] == 16
        assert row["step"] == 2
        assert len(list((tmp_path / "out" / label).glob("*.wav"))) == 8
    assert list(result["runs"]["mel-gl"]["speed"]) == ["PGHI + 4 fast Griffin-Lim iterations",
                                                       "random phase + 32 fast Griffin-Lim iterations", "PGHI only"]
    assert list(result["runs"]["mel-if"]["speed"]) == ["cumulative sum of IF"]
    assert (tmp_path / "out" / "training-curves.png").is_file() and (tmp_path / "out" / "rhythm.png").is_file()
    assert np.isnan(result["floor"]["clear_beat"])  # 0.1 s loops hold no beat period: no rhythm scores
    assert "| n/a | n/a | n/a |" in write_report(result, tmp_path / "r.md", command="c").read_text()
    report = write_report(result, tmp_path / "report.md", command="loopgan benchmark representations ...").read_text()
    assert "| mel-if | mel-if | 2 |" in report and "floor (held-out real)" in report
    assert "noise (reference, not a bound)" in report
    assert "held-out real through mel-gl's representation" in report and "| mel-if | cumulative sum of IF |" in report
    assert "| 1.0x |" in report  # the IF decoder against itself
    assert (tmp_path / "out" / "side-by-side.png").is_file()
    assert "Figures: `out/side-by-side.png`" in report


@pytest.mark.slow  # ~2 s: decodes two runs
def test_runs_with_one_representation_share_one_round_trip(runs, tmp_path):
    data, paths = runs
    twice = {"if-a": paths["mel-if"], "if-b": paths["mel-if"], "gl": paths["mel-gl"]}
    result = benchmark_representations(twice, data, n=8, n_real=40, k=4)
    a, b = result["runs"]["if-a"], result["runs"]["if-b"]
    assert (a["oracle_of"], b["oracle_of"], result["runs"]["gl"]["oracle_of"]) == ("if-a", "if-a", "gl")
    assert b["oracle"] == a["oracle"] and result["runs"]["gl"]["oracle"] != a["oracle"]
    report = write_report(result, tmp_path / "r.md", command="c").read_text()
    assert "through if-a's representation" in report and "through if-b's" not in report


@pytest.mark.slow  # ~2 s
def test_ndb_bins_and_reference_statistics_come_from_training_loops_only(runs, monkeypatch):
    # the floor scores held-out loops against bins fitted on training loops; bins that saw the held-out loops make
    # the floor optimistic
    from gan_plugins.io.model import load_model
    from gan_plugins.models.gansynth import plugin
    from gan_plugins.studies import representations as mod

    data, paths = runs
    fitted = []
    real_ndb = mod.NDBReference

    def spy(real, *args, **kwargs):
        fitted.append(np.asarray(real))
        return real_ndb(real, *args, **kwargs)

    monkeypatch.setattr(mod, "NDBReference", spy)
    mod.benchmark_representations({"gl": paths["mel-gl"]}, data, n=4, n_real=1000, k=4)
    cfg = load_model(paths["mel-gl"]).config
    held = plugin.dataset(str(data), cfg, split="test")
    train_rows = plugin.dataset(str(data), cfg, split="train")
    (real,) = fitted
    assert len(real) == len(train_rows)  # n_real above the training split's size takes all of it, no more
    for i in range(len(held)):
        assert not (np.abs(real - held[i].numpy()[None]).max(axis=1) == 0).any(), "a held-out loop is in the bins"


@pytest.mark.slow  # ~10 s: three small C2STs
def test_judge_tests_each_run_against_training_loops_and_its_own_round_trip(runs, tmp_path, monkeypatch):
    from gan_plugins.io.model import load_model
    from gan_plugins.studies import representations as mod

    data, paths = runs
    seen = []
    real_c2st = mod.c2st

    def spy(a, b, sr, **kw):
        seen.append((np.array(a), np.array(b)))
        return real_c2st(a, b, sr, **kw)

    monkeypatch.setattr(mod, "c2st", spy)
    result = benchmark_representations({"gl": paths["mel-gl"]}, data, n=24, n_real=40, k=4, c2st_loops=20,
                                       out_dir=tmp_path / "out")
    row = result["runs"]["gl"]
    for test in (row["judge"], row["judge_round_trip"]):
        assert 0.0 <= test["c2st_low"] <= test["c2st_accuracy"] <= test["c2st_high"] <= 1.0
    assert result["noise"]["judge"]["c2st_accuracy"] is None  # no C2ST on noise: it is told apart trivially
    assert result["floor"]["judge"]["c2st_accuracy"] is None  # 3 held-out loops: too few for 5 folds
    # the round-trip test's reference is the run's own decode(encode()) of the C2ST's training loops
    model = load_model(paths["mel-gl"])
    train_rows = model.plugin.dataset(str(data), dict(model.config), split="train")
    rng = np.random.default_rng(0)
    real = np.stack([train_rows[int(i)].numpy() for i in np.sort(rng.choice(len(train_rows), 40, replace=False))])
    pick = np.sort(np.random.default_rng(0).choice(len(real), 20, replace=False))
    want = mod._oracle(model.plugin, model.config, real[pick])
    assert any(a.shape == want.shape and np.allclose(a, want, atol=1e-5) for a, _ in seen)
    report = write_report(result, tmp_path / "r.md", command="c").read_text()
    line = next(ln for ln in report.splitlines() if ln.startswith("| gl | 0.") or ln.startswith("| gl | 1."))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == f"{row['judge']['c2st_accuracy']:.2f} [{row['judge']['c2st_low']:.2f}, " \
                       f"{row['judge']['c2st_high']:.2f}]"
    assert cells[2].startswith(f"{row['judge_round_trip']['c2st_accuracy']:.2f} [")
    assert (tmp_path / "out" / "judge.png").is_file()


@pytest.mark.slow  # ~3 s: a 2-step WaveGAN run
def test_a_waveform_model_is_scored_with_the_loops_themselves_as_its_round_trip(runs, tmp_path):
    # WaveGAN (examples/wavegan) has no specrep chain: no consistency, no decoder but its output, and the round trip
    # of real loops through "its representation" is the loops unchanged, so that row scores exactly as the floor
    pytest.importorskip("wavegan_plugin")
    data, paths = runs
    train("wavegan", data=str(data), loss="wgan-gp", out=tmp_path / "wave", steps=2, progress=False,
          overrides={"z_dim": 8, "model_size": 2, "layers": 3, "kernel_size": 9, "batch_size": 4,
                     "sample_every": 0, "ckpt_every": 0})
    result = benchmark_representations({"wave": tmp_path / "wave", "gl": paths["mel-gl"]}, data, n=24, n_real=40,
                                       k=4, judge=False)
    wave, gl = result["runs"]["wave"], result["runs"]["gl"]
    assert wave["representation"] == "waveform" and wave["consistency_db"] is None
    assert list(wave["speed"]) == ["the generator's waveform (no decoder)"]
    assert wave["oracle"]["fdd"] == pytest.approx(result["floor"]["fdd"], rel=1e-6)
    assert wave["oracle"]["ndb_k"] == result["floor"]["ndb_k"]
    assert gl["oracle"]["fdd"] != pytest.approx(result["floor"]["fdd"], rel=1e-3)  # a real decoder loses something
    report = write_report(result, tmp_path / "r.md", command="c").read_text()
    assert "| wave | waveform | 2 |" in report
