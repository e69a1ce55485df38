"""Plugin registry over entry points: lazy listing, broken plugins, duplicate names, a third-party distribution."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gan_plugins import api

TINY_PLUGIN = '''
"""A third-party plugin: an MLP GAN on 8x8 random blobs, written against the public protocol only."""
import torch
from torch import nn
from torch.utils.data import TensorDataset

from gan_plugins.models.dcgan import image_grid


class TinyPlugin:
    name = "tinyplug"
    output_kind = "image"

    def default_config(self):
        return {"z_dim": 4, "hidden": 8}

    def build(self, config):
        g = nn.Sequential(nn.Linear(config["z_dim"], config["hidden"]), nn.ReLU(),
                          nn.Linear(config["hidden"], 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
        d = nn.Sequential(nn.Flatten(), nn.Linear(64, config["hidden"]), nn.LeakyReLU(0.2),
                          nn.Linear(config["hidden"], 1), nn.Flatten(0))
        return g, d

    def prepare(self, data, config):
        return {}

    def dataset(self, data, config, *, split):
        return TensorDataset(torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)

    def features(self, batch, config, schedule_state):
        return batch

    def latent(self, n, config, *, device="cpu", generator=None):
        return torch.randn(n, config["z_dim"], device=device, generator=generator)

    def schedule(self, config):
        return None

    def apply_schedule(self, generator, discriminator, state):
        return None

    def save_samples(self, samples, out_dir, *, fmt, config):
        import numpy as np
        out_dir.mkdir(parents=True, exist_ok=True)
        np.save(out_dir / "samples.npy", samples.numpy())
        return [out_dir / "samples.npy"]

    def save_grid(self, samples, path, config):
        from PIL import Image
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image_grid(samples)).save(path)
        return path


plugin = TinyPlugin()
'''


def make_distribution(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """Write an installed-looking distribution (``<dist>-1.0.dist-info`` + modules) under ``root``."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{api.ENTRY_POINT_GROUP}]\n{lines}\n")
    for name, src in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(src))
    return root


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_dcgan_is_listed_from_metadata():
    info = {i.name: i for i in api.list_plugins()}
    assert info["dcgan"].value == "gan_plugins.models.dcgan:plugin"
    assert info["dcgan"].distribution == "specrep"


@pytest.mark.slow  # ~3 s: a fresh interpreter
def test_listing_imports_nothing():
    code = ("import sys; from gan_plugins.api import list_plugins; infos = list_plugins(); "
            "assert 'gan_plugins.models.dcgan' not in sys.modules, 'listing imported the plugin'; "
            "print(sorted(i.name for i in infos))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "dcgan" in out.stdout


def test_broken_plugin_is_listed_with_its_error(on_path):
    make_distribution(on_path, "brokenplug", {"brokenplug": "brokenplug_mod:plugin"},
                      {"brokenplug_mod": "import a_module_that_does_not_exist_42\n"})
    infos = {i.name: i for i in api.list_plugins(probe=True)}
    assert infos["brokenplug"].status == "broken"
    assert "a_module_that_does_not_exist_42" in infos["brokenplug"].error
    assert infos["dcgan"].status == "ok"  # one broken plugin does not hide the others
    with pytest.raises(api.PluginError, match="brokenplug.*broken"):
        api.get_plugin("brokenplug")


def test_object_that_is_not_a_plugin_is_broken(on_path):
    make_distribution(on_path, "notaplug", {"notaplug": "notaplug_mod:plugin"},
                      {"notaplug_mod": "plugin = 42\n"})
    with pytest.raises(api.PluginError, match="does not implement the plugin protocol"):
        api.get_plugin("notaplug")


def test_audio_plugin_without_render_or_feature_map_is_broken(on_path):
    # an audio plugin must provide render() and audio_features(): the CLI's sample/walk and the benchmarks call them
    src = TINY_PLUGIN.replace('output_kind = "image"', 'output_kind = "audio"').replace("tinyplug", "mutepl")
    make_distribution(on_path, "muteplug", {"mutepl": "mutepl_mod:plugin"}, {"mutepl_mod": src})
    with pytest.raises(api.PluginError, match="missing audio_features, final_size, render"):
        api.get_plugin("mutepl")


def test_plugin_without_prepare_is_broken(on_path):
    src = TINY_PLUGIN.replace("    def prepare(self, data, config):\n        return {}\n", "")
    src = src.replace("tinyplug", "noprep")
    make_distribution(on_path, "noprep", {"noprep": "noprep_mod:plugin"}, {"noprep_mod": src})
    with pytest.raises(api.PluginError, match="missing prepare"):
        api.get_plugin("noprep")


def test_duplicate_names_name_both_distributions(on_path):
    make_distribution(on_path / "a", "alphadist", {"dupe": "dupe_a:plugin"}, {"dupe_a": "plugin = None\n"})
    make_distribution(on_path / "b", "betadist", {"dupe": "dupe_b:plugin"}, {"dupe_b": "plugin = None\n"})
    sys.path[:0] = [str(on_path / "a"), str(on_path / "b")]
    try:
        with pytest.raises(api.PluginError, match="alphadist.*betadist"):
            api.list_plugins()
        with pytest.raises(api.PluginError, match="claimed by two distributions"):
            api.get_plugin("dcgan")
    finally:
        sys.path.remove(str(on_path / "a"))
        sys.path.remove(str(on_path / "b"))


def test_unknown_plugin_lists_the_available_ones():
    with pytest.raises(api.PluginError, match="unknown plugin 'nope'; available: .*dcgan"):
        api.get_plugin("nope")


@pytest.mark.slow  # ~10 s: pip-style install and a CLI training
def test_third_party_plugin_trains_one_step_through_the_cli(tmp_path):
    site = make_distribution(tmp_path / "site", "tinyplug-dist", {"tinyplug": "tinyplug_mod:plugin"},
                             {"tinyplug_mod": TINY_PLUGIN})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "loopgan_cli.loopgan"]
    listed = subprocess.run(cli + ["plugins"], capture_output=True, text=True, env=env, check=True)
    assert any(line.startswith("tinyplug") and "tinyplug-dist" in line and line.endswith("ok")
               for line in listed.stdout.splitlines()), listed.stdout
    run = tmp_path / "run"
    res = subprocess.run(cli + ["train", "tinyplug", "--data", "synthetic", "--loss", "hinge", "--out", str(run),
                                "--steps", "1", "--set", "batch_size=16", "--no-progress"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "to step 1" in res.stdout
    log = (run / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss_d,loss_g") and log[1].startswith("1,")
    smp = subprocess.run(cli + ["sample", str(run), "-n", "5", "-o", str(tmp_path / "s"), "--format", "npy"],
                         capture_output=True, text=True, env=env)
    assert smp.returncode == 0, smp.stderr
    import numpy as np

    assert np.load(tmp_path / "s" / "samples.npy").shape == (5, 1, 8, 8)
