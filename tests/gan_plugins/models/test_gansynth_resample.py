"""The ``upsample`` / ``downsample`` settings of the GANSynth and progressive plugins: they reach the networks' blocks,
change the function but not the weights, are validated, and a stored run that predates them keeps building nearest /
average pooling (``absent_settings``) on load and on resume, whatever the defaults become."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan_plugins.api import PluginError
from gan_plugins.config import complete_stored_config
from gan_plugins.io.checkpoint import LAST, load_checkpoint, save_checkpoint
from gan_plugins.io.model import load_model
from gan_plugins.models import gansynth, progressive
from gan_plugins.models.gansynth import GANSynthDiscriminator, GANSynthGenerator, GANSynthPlugin
from gan_plugins.nn.resample import Upsample2d
from gan_plugins.training.callbacks import Callback
from gan_plugins.training.trainer import train
from specrep.errors import ParameterError

SHAPE = (2, 16, 32)
TINY = {"width_max": 8, "width_base": 8}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``(data, tiny, config)``: the plugin's smoke dataset and settings, and a complete gansynth config (prepared)."""
    data, tiny = gansynth.plugin.smoke_config(tmp_path_factory.mktemp("data"))
    cfg = {"plugin": "gansynth", "loss": "wgan-gp", "data": data, **gansynth.plugin.default_config(), **tiny}
    return data, tiny, {**cfg, **gansynth.plugin.prepare(data, cfg)}


def _grow_as_before(g: GANSynthGenerator, z: torch.Tensor) -> torch.Tensor:
    """The generator's forward with the blocks' upsampling written out as today's nearest x2."""
    x = g.seed(z)
    for conv1, conv2 in g.blocks:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = g.norm(F.leaky_relu(conv1(x), 0.2))
        x = g.norm(F.leaky_relu(conv2(x), 0.2))
    return torch.tanh(g.to_features(x))


def test_defaults_are_gansynths_resampling_bit_for_bit():
    torch.manual_seed(0)
    g, d = GANSynthGenerator(z_dim=8, shape=SHAPE, **TINY), GANSynthDiscriminator(shape=SHAPE, **TINY)
    assert g.upsample.mode == "nearest" and d.downsample.mode == "avg"
    assert gansynth.plugin.default_config()["upsample"] == "nearest"
    assert gansynth.plugin.default_config()["downsample"] == "avg"
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(g(z), _grow_as_before(g, z))
        h = torch.randn(3, 8, 16, 32)
        assert torch.equal(d.shrink(h, d.levels), F.avg_pool2d(F.leaky_relu(d.blocks[0][1](
            F.leaky_relu(d.blocks[0][0](h), 0.2)), 0.2), 2))


@pytest.mark.parametrize("name", ["gansynth", "progressive"])
def test_build_with_blur_changes_the_function_not_the_shapes_or_weights(smoke, name):
    plug = {"gansynth": gansynth.plugin, "progressive": progressive.plugin}[name]
    _, _, cfg = smoke
    cfg = {**plug.default_config(), **cfg, "plugin": name}
    g0, d0 = plug.build(cfg)
    g1, d1 = plug.build({**cfg, "upsample": "blur", "downsample": "blur"})
    assert (g1.upsample.mode, d1.downsample.mode) == ("blur", "blur")
    assert (g0.upsample.mode, d0.downsample.mode) == ("nearest", "avg")
    # the same parameters and state-dict keys: a checkpoint of one loads strictly into the other
    assert g1.state_dict().keys() == g0.state_dict().keys() and d1.state_dict().keys() == d0.state_dict().keys()
    g1.load_state_dict(g0.state_dict(), strict=True)
    d1.load_state_dict(d0.state_dict(), strict=True)
    z = torch.randn(4, int(cfg["z_dim"]), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x0, x1 = g0(z), g1(z)
        shape = tuple(plug.audio_features(cfg).shape)
        assert x0.shape == x1.shape == (4, *shape)
        assert (x1 - x0).abs().max().item() > 1e-3  # the blocks' upsampling is the filter, not nearest
        assert (d1(x0) - d0(x0)).abs().max().item() > 1e-4
        # grow() runs its convolutions on the filtered map
        seed = g1.seed(z)
        conv1, conv2 = g1.blocks[0]
        by_hand = g1.norm(F.leaky_relu(conv2(g1.norm(F.leaky_relu(conv1(Upsample2d("blur")(seed)), 0.2))), 0.2))
        torch.testing.assert_close(g1.grow(seed, 1), by_hand)


@pytest.mark.parametrize("key, value", [("upsample", "cubic"), ("downsample", "max")])
def test_bad_resampling_settings_are_refused_at_build(smoke, key, value):
    _, _, cfg = smoke
    with pytest.raises(ParameterError, match=rf"{key}='{value}' is not one of"):
        gansynth.plugin.build({**cfg, key: value})


def _old_checkpoint(cfg: dict, path) -> None:
    """A generator checkpoint whose config predates the resampling settings."""
    old = {k: v for k, v in cfg.items() if k not in ("upsample", "downsample")}
    g, _ = gansynth.plugin.build(cfg)
    save_checkpoint({"format": 1, "kind": "generator", "config": old, "ema": g.state_dict(), "step": 0}, path)


def _blur_defaults(monkeypatch) -> None:
    """A later session flips the defaults to blur."""
    before = GANSynthPlugin.default_config
    monkeypatch.setattr(GANSynthPlugin, "default_config",
                        lambda self: {**before(self), "upsample": "blur", "downsample": "blur"})


def test_a_stored_config_without_the_settings_loads_nearest_when_the_default_is_blur(smoke, tmp_path, monkeypatch):
    _, _, cfg = smoke
    _old_checkpoint(cfg, tmp_path / "old.pt")
    save_checkpoint({**load_checkpoint(tmp_path / "old.pt"), "config": {**cfg, "upsample": "blur"}},
                    tmp_path / "new.pt")
    _blur_defaults(monkeypatch)
    assert gansynth.plugin.default_config()["upsample"] == "blur"
    old = load_model(tmp_path / "old.pt")
    assert old.generator.upsample.mode == "nearest"
    assert old.config["upsample"] == "nearest" and old.config["downsample"] == "avg"
    assert load_model(tmp_path / "new.pt").generator.upsample.mode == "blur"  # a stored value always wins


@pytest.mark.slow  # ~5 s: trains one step, then resumes for one
def test_a_resumed_run_that_predates_the_settings_keeps_nearest(smoke, tmp_path, monkeypatch):
    data, tiny, _ = smoke
    sets = {**tiny, "batch_size": 4, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}
    train("gansynth", data=data, loss="wgan-gp", out=tmp_path / "run", steps=1, overrides=sets, progress=False)
    state = load_checkpoint(tmp_path / "run" / LAST)
    assert state["config"]["upsample"] == "nearest"  # a run written from now on stores the setting
    state["config"] = {k: v for k, v in state["config"].items() if k not in ("upsample", "downsample")}
    save_checkpoint(state, tmp_path / "run" / LAST)
    _blur_defaults(monkeypatch)
    seen = []

    class Spy(Callback):  # the networks the resumed trainer built
        def on_step_end(self, trainer, step, logs):
            seen.append((trainer.generator.upsample.mode, trainer.discriminator.downsample.mode))

    train("gansynth", data=data, loss="wgan-gp", out=tmp_path / "run", steps=2, resume=True, progress=False,
          callbacks=[Spy()])
    assert seen == [("nearest", "avg")]
    stored = load_checkpoint(tmp_path / "run" / LAST)["config"]
    assert (stored["upsample"], stored["downsample"]) == ("nearest", "avg")


def test_complete_stored_config_orders_stored_absent_then_defaults():
    class Plugin:
        name = "toy"
        absent_settings = {"new": "old-behaviour"}

    defaults = {"new": "default", "other": 1, "kept": 2}
    assert complete_stored_config(Plugin(), {"kept": 3}, defaults) == {"new": "old-behaviour", "other": 1, "kept": 3}
    assert complete_stored_config(Plugin(), {"new": "given"}, defaults)["new"] == "given"

    class Plain:  # no absent_settings: every missing setting takes its default
        name = "plain"

    assert complete_stored_config(Plain(), {}, defaults) == defaults

    class Wrong:
        name = "wrong"
        absent_settings = {"typo": 1}

    with pytest.raises(PluginError, match=r"plugin 'wrong': absent_settings names typo"):
        complete_stored_config(Wrong(), {}, defaults)
