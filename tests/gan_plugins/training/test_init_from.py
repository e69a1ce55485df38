"""Warm starts (``init_from``): a new run begins with another run's weights, fresh optimisers and step 0."""

from __future__ import annotations

import json

import pytest
import torch

from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.training.trainer import train
from specrep.errors import ParameterError

TINY = {"width": 4, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}


def _max_diff(a: dict, b: dict) -> float:
    """Largest change of a learnt parameter (batch-norm statistics move with every forward pass in training)."""
    keys = [k for k in a if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    return max((a[k].float() - b[k].float()).abs().max().item() for k in keys)


def test_a_warm_start_begins_with_the_source_weights_and_a_fresh_step(tmp_path):
    # the source from another seed, so its weights are far from the ones this run's seed would draw
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "src", steps=3, overrides={**TINY, "seed": 1},
          progress=False)
    src = load_checkpoint(tmp_path / "src" / "last.pt")
    # learning rates too small to move anything: after one step the weights are still the source's
    still = {**TINY, "lr_g": 1e-30, "lr_d": 1e-30, "ema_decay": 0.0, "init_from": str(tmp_path / "src")}
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "warm", steps=1, overrides=still, progress=False)
    warm = load_checkpoint(tmp_path / "warm" / "last.pt")
    assert warm["step"] == 1  # the warm run counts its own steps
    for key in ("generator", "discriminator"):
        assert _max_diff(warm[key], src[key]) < 1e-6
    # without init_from the same settings start elsewhere (the seed's initial weights, not the source's)
    cold = {k: v for k, v in still.items() if k != "init_from"}
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "cold", steps=1, overrides=cold, progress=False)
    assert _max_diff(load_checkpoint(tmp_path / "cold" / "last.pt")["generator"], src["generator"]) > 1e-2
    # fresh optimisers: one Adam step recorded, not the source's three
    steps = {int(s["step"]) for s in warm["opt_g"]["state"].values()}
    assert steps == {1}
    assert json.loads((tmp_path / "warm" / "config.json").read_text())["init_from"] == str(tmp_path / "src")


def test_a_resumed_warm_run_continues_its_own_weights(tmp_path):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "src", steps=2, overrides=TINY, progress=False)
    over = {**TINY, "init_from": str(tmp_path / "src")}
    straight = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "a", steps=4, overrides=over,
                     progress=False)
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=2, overrides=over, progress=False)
    resumed = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=4, resume=True, progress=False)
    assert [r["loss_d"] for r in resumed.history] == pytest.approx([r["loss_d"] for r in straight.history[2:]],
                                                                   abs=1e-6)


@pytest.mark.parametrize("source, match", [("width", "width=4 there, 8 here"), ("missing", "no run folder"),
                                           ("mnist-model", "a dcgan model; this run trains gansynth")])
def test_a_warm_start_that_cannot_fit_says_why(tmp_path, source, match):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "src", steps=1, overrides=TINY, progress=False)
    if source == "width":
        with pytest.raises(ParameterError, match=match):
            train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=1, progress=False,
                  overrides={**TINY, "width": 8, "init_from": str(tmp_path / "src")})
    elif source == "missing":
        with pytest.raises(ParameterError, match=match):
            train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=1, progress=False,
                  overrides={**TINY, "init_from": str(tmp_path / "nothing-here")})
    else:
        from gan_plugins.api import get_plugin
        from gan_plugins.config import resolve_config
        from gan_plugins.training.trainer import Trainer

        plugin = get_plugin("gansynth")
        cfg = resolve_config(plugin, loss="wgan-gp", data="synth:16")  # placeholder data never read
        trainer = Trainer(plugin, cfg, tmp_path / "g", progress=False)
        trainer._ready = True  # the plugin check comes before any weight is touched
        trainer.device = torch.device("cpu")
        with pytest.raises(ParameterError, match=match):
            trainer.init_weights(tmp_path / "src")
