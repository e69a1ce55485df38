"""Every registered plugin, at tiny capacity: build, one train step, sample, save, load.

A plugin takes part through its optional ``smoke_config(folder) -> (data, overrides)`` hook (see
:mod:`gan_plugins.api`); one without the hook is skipped with that reason, never silently passed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_plugins.api import get_plugin, list_plugins
from gan_plugins.io.model import load_model
from gan_plugins.training.trainer import train

TRAINER_SETTINGS = {"batch_size": 4, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}


@pytest.mark.parametrize("name", [i.name for i in list_plugins()])
def test_plugin_builds_trains_samples_saves_loads(name, tmp_path):
    plugin = get_plugin(name)
    if not hasattr(plugin, "smoke_config"):
        pytest.skip(f"plugin {name!r} has no smoke_config hook")
    data, tiny = plugin.smoke_config(tmp_path / "data")
    res = train(name, data=data, loss="non-saturating", out=tmp_path / "run", steps=1,
                overrides={**TRAINER_SETTINGS, **tiny}, progress=False)
    assert res.step == 1 and res.history and all(v == v for v in res.history[-1].values())
    model = load_model(tmp_path / "run")
    cfg = model.config
    assert model.plugin is plugin and cfg["plugin"] == name and model.step == 1 and model.name == "run"
    samples = model.generate(model.latent(3, seed=0))
    assert samples.shape[0] == 3 and torch.isfinite(samples).all()
    if model.is_audio:
        waves = model.decode(model.latent(3, seed=0), rescale=True)
        assert waves.shape == (3, model.loop_samples) and np.isfinite(waves).all() and np.abs(waves).max() <= 1.0
    paths = plugin.save_samples(samples, tmp_path / "out", fmt="npy", config=cfg)
    assert paths and all(p.is_file() for p in paths)
    assert plugin.save_grid(samples, tmp_path / "grid.png", cfg).is_file()
