"""The progressive-vs-fixed benchmark: budgets (images, cumulative wall-clock), stage boundaries, report."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from gan_plugins.api import get_plugin
from gan_plugins.data.procedural.synth_dataset import write_synth_dataset
from gan_plugins.io.checkpoint import save_checkpoint
from gan_plugins.studies.progressive import (
    benchmark_progressive,
    cumulative_seconds,
    run_budget,
    write_progressive_report,
)
from gan_plugins.training.trainer import train

TINY = {"n_fft": 512, "hop_length": 256, "n_mels": 16, "frames": 8, "width_max": 8, "width_base": 8, "z_dim": 8,
        "batch_size": 2, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4,
        "representation": "mel-gl", "gl_n_iter": 2}


def test_cumulative_seconds_adds_the_sittings_of_a_resumed_run():
    # the trainer's clock restarts at each resume: 3 sittings
    got = cumulative_seconds(np.array([10, 20, 30, 40, 50]), np.array([5.0, 10.0, 3.0, 6.0, 1.0]))
    np.testing.assert_allclose(got, [5.0, 10.0, 13.0, 16.0, 17.0])
    np.testing.assert_allclose(cumulative_seconds(np.array([1, 2]), np.array([1.0, 2.0])), [1.0, 2.0])


def _checkpoint(path, plugin: str, step: int, **config):
    """A checkpoint of an untrained tiny run as the trainer writes it, as far as run_budget reads it: format, step,
    the resolved config and the EMA generator's weights."""
    cfg = {**get_plugin(plugin).default_config(), **TINY, "plugin": plugin, **config}
    generator, _ = get_plugin(plugin).build(cfg)
    state = {"format": 1, "kind": "training", "step": step, "config": cfg, "ema": generator.state_dict()}
    return save_checkpoint(state, path / "last.pt").parent


@pytest.mark.parametrize("batch_size, n_critic, want", [(2, 1, 14), (2, 2, 28), (2, 3, 42), (5, 1, 35), (5, 3, 105)])
def test_fixed_run_budget_counts_every_critic_batch(tmp_path, batch_size, n_critic, want):
    # a fixed-resolution run shows batch x n_critic real images per generator step: 7 steps
    budget = run_budget(_checkpoint(tmp_path, "gansynth", 7, batch_size=batch_size, n_critic=n_critic))
    assert budget["step"] == 7 and budget["images"] == want and budget["boundaries"] == []
    assert np.isnan(budget["seconds"])  # no log.csv


@pytest.mark.parametrize("n_critic, step, want, starts", [
    (1, 5, 14, [0, 12, 24]), (2, 5, 24, [0, 12, 24]), (3, 5, 36, [0, 18, 30]), (3, 2, 18, [0, 18, 30])])
def test_progressive_run_budget_follows_the_schedule_with_n_critic(tmp_path, n_critic, step, want, starts):
    # batch 3 at level 0 and 2 above, 12 images per stage; a step shows batch x n_critic, stages round up to steps:
    #   n_critic 1: stable 0 = 4 steps (12 images), fade 1 = 6 steps of 2 (12): step 5 = 12 + 1 x 2 = 14
    #   n_critic 2: stable 0 = 2 steps of 6 (12), fade 1 = 3 steps of 4 (12), stable 1 from step 5 at 24
    #   n_critic 3: stable 0 = 2 steps of 9 (18), fade 1 = 2 steps of 6 (12), stable 1 from step 4 at 30: step 5 = 36
    plugin = get_plugin("progressive")
    levels = plugin.schedule({**plugin.default_config(), **TINY}).levels
    run = _checkpoint(tmp_path, "progressive", step, n_critic=n_critic, stage_batch_size=[3] + [2] * levels,
                      stage_images=12, fade_images=12)
    budget = run_budget(run)
    assert budget["step"] == step and budget["images"] == want
    assert [b["start_images"] for b in budget["boundaries"][:3]] == starts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("prog")
    data = str(write_synth_dataset(root / "loops.npy", n=48, seconds=0.1, seed=0, progress=False))
    train("progressive", data=data, loss="wgan-gp", out=root / "prog", steps=8,
          overrides={**TINY, "stage_images": 4, "fade_images": 4, "stage_batch_size": [2, 2, 4]}, progress=False)
    # and one stopped mid-growth (fading in level 1): its features are smaller than the decoder's
    train("progressive", data=data, loss="wgan-gp", out=root / "mid", steps=3,
          overrides={**TINY, "stage_images": 4, "fade_images": 4}, progress=False)
    train("gansynth", data=data, loss="wgan-gp", out=root / "fixed", steps=3, overrides=TINY, progress=False)
    # resume the fixed run: its log's clock restarts, the budget must still grow
    train("gansynth", data=data, loss="wgan-gp", out=root / "fixed", steps=6, resume=True, progress=False)
    return data, {"prog": root / "prog", "fixed": root / "fixed", "mid": root / "mid"}


@pytest.mark.slow  # trains four tiny runs: ~15 s on a shared 2-core CPU
def test_budget_rows_stage_boundaries_and_report(runs, tmp_path):
    data, paths = runs
    result = benchmark_progressive(paths, data, n=8, n_real=8, k=2, out_dir=tmp_path / "out")
    prog, fixed = result["runs"]["prog"], result["runs"]["fixed"]
    mid = result["runs"]["mid"]  # scored like the others although its generator makes quarter-size features
    assert mid["step"] == 3 and np.isfinite(mid["consistency_db"]) and np.isfinite(mid["fdd"])
    assert prog["progressive"] and not fixed["progressive"]
    # fixed: images = steps x batch x n_critic (GANSynth: 1 critic update per step)
    assert fixed["images"] == 6 * 2 * 1
    stages = result["boundaries"]["prog"]
    assert [s["stage"] for s in stages] == list(range(len(stages))) and "fixed" not in result["boundaries"]
    assert stages[0]["start_step"] == 0 and stages[1]["start_step"] > 0
    # by hand (batch 2, 2, 4 per level; 4 images per stable and per fade stage): 2 steps stable at level 0 (4 images),
    # 2 fading in level 1 (8), 2 stable at level 1 (12), 1 step fading in level 2 at batch 4 (16), 1 stable (20):
    # 8 steps, 20 images, not 8 x 2
    assert prog["images"] == 20
    assert [s["batch_size"] for s in stages][:4] == [2, 2, 2, 4]
    # wall-clock: cumulative over the fixed run's two sittings, i.e. at least its first sitting's last time
    with open(paths["fixed"] / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    secs = [float(r["seconds"]) for r in rows]
    steps = [float(r["step"]) for r in rows]
    assert fixed["seconds"] == pytest.approx(cumulative_seconds(np.array(steps), np.array(secs))[-1], rel=1e-6)
    if secs[3] < secs[2]:  # the resumed sitting's clock restarted below the first one's: seen as a new sitting
        assert fixed["seconds"] == pytest.approx(secs[2] + secs[-1], rel=1e-6)
    # (on a loaded machine the 3-step first sitting can end before the second's first logged time: a sitting the
    # clock-drop rule cannot see; docs/progressive.md states the limitation)
    assert np.isfinite(prog["seconds"]) and prog["seconds"] > 0
    report = write_progressive_report(result, tmp_path / "report.md", command="loopgan benchmark progressive ...")
    text = report.read_text()
    assert text.startswith("# Progressive growing vs fixed resolution") and "## Budget of each checkpoint" in text
    assert "| prog | yes | 8 | 20 |" in text and "| fixed | no | 6 | 12 |" in text
    assert "Stages of prog:" in text and "| 1 |" in text
    assert (tmp_path / "out" / "progressive-curves.png").is_file()
