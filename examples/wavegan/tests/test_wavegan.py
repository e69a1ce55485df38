"""The wavegan plugin: the workbench's plugin check, phase shuffle, lengths, the identity renderer."""

from __future__ import annotations

import pytest
import torch
from wavegan_plugin import PhaseShuffle, WaveGANDiscriminator, WaveGANGenerator, WaveGANPlugin, plugin

from gan_plugins.api import list_plugins
from gan_plugins.testing import check_plugin
from specrep.errors import ParameterError


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    from gan_plugins.data.procedural.synth_dataset import write_synth_dataset

    return str(write_synth_dataset(tmp_path_factory.mktemp("data") / "loops.npy", n=6, seconds=0.1, seed=0,
                                   progress=False))


def test_check_plugin_passes_with_wgan_gp(tmp_path):
    registered = "wavegan" in {i.name for i in list_plugins()}
    report = check_plugin("wavegan" if registered else plugin, workdir=tmp_path, loss="wgan-gp")
    assert report.ok, str(report)
    assert all(c.status == "ok" for c in report.checks if c.name != "export")
    assert report["export"].status == "skipped" and "AudioFeatures" in report["export"].reason
    if registered:  # installed: sampled through load_model, as loopgan sample does
        assert "load_model" in report["sample"].reason


def test_phase_shuffle_shifts_each_example_by_at_most_n_with_reflection():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 20)
    shuffle = PhaseShuffle(2).train()
    y = shuffle(x)
    padded = torch.nn.functional.pad(x, (2, 2), mode="reflect")
    shifts = []
    for b in range(64):
        found = [k for k in range(-2, 3) if torch.equal(y[b], padded[b, :, 2 - k: 2 - k + 20])]
        assert len(found) == 1  # one shift per example, the same for every channel
        shifts.append(found[0])
    assert set(shifts) == {-2, -1, 0, 1, 2}
    assert torch.equal(y[shifts.index(1), :, 1:], x[shifts.index(1), :, :-1])  # k = 1: a delay by one sample
    assert torch.equal(shuffle.eval()(x), x) and torch.equal(PhaseShuffle(0).train()(x), x)


def test_the_paper_architecture_makes_16384_samples():
    g = WaveGANGenerator(z_dim=100, model_size=64, layers=5, kernel_size=25, seed_length=16)
    d = WaveGANDiscriminator(model_size=64, layers=5, kernel_size=25, seed_length=16, phase_shuffle=2)
    with torch.no_grad():
        wave = g(torch.rand(2, 100) * 2 - 1)
        logits = d(wave)
    assert wave.shape == (2, 1, 1, 16384) and wave.abs().max() <= 1.0 and logits.shape == (2,)
    assert [m.out_channels for m in g.ups] == [512, 256, 128, 64, 1] and g.seed_shape == (1024, 16)
    assert [m.out_channels for m in d.convs] == [64, 128, 256, 512, 1024]


def test_prepare_covers_the_loop_with_the_smallest_seed(loops):
    cfg = {**WaveGANPlugin().default_config(), "data": loops}
    assert plugin.prepare(loops, cfg) == {"loop_samples": 1600, "seed_length": 2}  # 2 x 4^5 = 2048 >= 1600
    assert plugin.prepare(loops, {**cfg, "loop_samples": 1024}) == {"seed_length": 1}  # a crop to 1024


def test_features_pad_and_render_crops_back_exactly(loops):
    cfg = {**plugin.default_config(), "data": loops}
    cfg.update(plugin.prepare(loops, cfg))
    waves = torch.stack([plugin.dataset(loops, cfg, split="train")[i] for i in range(2)])
    waves = 0.5 * waves / waves.abs().amax(-1, keepdim=True)  # peaks at 0.5
    feats = plugin.features(waves, cfg, {})
    assert feats.shape == (2, 1, 1, 2048) and torch.equal(feats[..., 1600:], torch.zeros(2, 1, 1, 448))
    assert torch.equal(plugin.render(feats, cfg, rescale=False), waves)
    loud = plugin.render(feats * 4.0, cfg, rescale=True)  # above full scale: divided by its own peak
    assert torch.allclose(loud.abs().amax(-1), torch.ones(2), atol=1e-6)


def test_the_split_is_gansynths(loops):
    from gan_plugins.models.gansynth import plugin as gansynth

    cfg = {**plugin.default_config(), "data": loops, "test_fraction": 0.34}
    gs = {**gansynth.default_config(), "data": loops, "test_fraction": 0.34}
    for split in ("train", "test"):
        assert list(plugin.dataset(loops, cfg, split=split).indices) == \
               list(gansynth.dataset(loops, gs, split=split).indices)


def test_bad_settings_are_refused_with_their_name(loops):
    with pytest.raises(ParameterError, match="kernel_size=24"):
        WaveGANGenerator(kernel_size=24)
    with pytest.raises(ParameterError, match="phase_shuffle=-1"):
        WaveGANDiscriminator(phase_shuffle=-1)
    cfg = {**plugin.default_config(), "data": loops}
    with pytest.raises(ParameterError, match="set sample_rate=16000"):
        plugin.prepare(loops, {**cfg, "sample_rate": 22050})
    with pytest.raises(ParameterError, match="use seed_length >= 2"):
        plugin.build({**cfg, "loop_samples": 1600, "seed_length": 1})
