"""Every registered plugin, at tiny capacity: build, one train step, sample, save, load."""

from __future__ import annotations

import pytest
import torch

from gan_plugins.api import get_plugin, list_plugins
from gan_plugins.pretrained import load_generator
from gan_plugins.train import train

TRAINER_SETTINGS = {"batch_size": 8, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}
CAPACITY = {"width": 4, "hidden": 4, "channels": 4}  # applied where the plugin has such a setting


@pytest.mark.parametrize("name", [i.name for i in list_plugins()])
def test_plugin_builds_trains_samples_saves_loads(name, tmp_path):
    plugin = get_plugin(name)
    known = plugin.default_config()
    overrides = {**TRAINER_SETTINGS, **{k: v for k, v in CAPACITY.items() if k in known}}
    res = train(name, data="mnist", loss="non-saturating", out=tmp_path / "run", steps=1, overrides=overrides,
                progress=False)
    assert res.step == 1 and res.history and all(v == v for v in res.history[-1].values())
    plug, generator, cfg = load_generator(tmp_path / "run")
    assert plug is plugin and cfg["plugin"] == name
    z = plugin.latent(3, cfg, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        samples = generator(z)
    assert samples.shape[0] == 3 and torch.isfinite(samples).all()
    paths = plugin.save_samples(samples, tmp_path / "out", fmt="npy", config=cfg)
    assert all(p.is_file() for p in paths)
    assert plugin.save_grid(samples, tmp_path / "grid.png", cfg).is_file()
