"""DCGAN plugin: shapes for MNIST and other image sizes, normalisation per loss, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gan_plugins.models.dcgan import DCGANDiscriminator, DCGANGenerator, ImageArrayDataset, image_grid, plugin
from specrep.errors import ParameterError


@pytest.mark.parametrize(("shape", "n_layers"), [((1, 28, 28), 2), ((3, 32, 32), 3), ((1, 16, 24), 2)])
def test_shapes(shape, n_layers):
    g = DCGANGenerator(z_dim=8, width=4, image_shape=shape, n_layers=n_layers)
    d = DCGANDiscriminator(width=4, image_shape=shape, n_layers=n_layers)
    x = g(torch.randn(5, 8))
    assert x.shape == (5, *shape)
    assert x.abs().max() <= 1.0
    assert d(x).shape == (5,)


def test_wgan_gp_critic_has_no_batch_norm():
    cfg = {**plugin.default_config(), "d_norm": "none"}
    _, d = plugin.build(cfg)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    _, d_bn = plugin.build({**cfg, "d_norm": "batch"})
    assert any(isinstance(m, nn.BatchNorm2d) for m in d_bn.modules())


def test_bad_shapes_are_rejected():
    with pytest.raises(ParameterError, match="divisible by 2\\*\\*n_layers=4"):
        DCGANGenerator(image_shape=(1, 30, 30))
    with pytest.raises(ParameterError, match="channels, height, width"):
        DCGANDiscriminator(image_shape=(28, 28))
    with pytest.raises(ParameterError, match="width=0"):
        DCGANGenerator(width=0)


def test_image_array_dataset_and_shape_check(tmp_path):
    arr = (np.arange(6 * 8 * 8) % 256).astype(np.uint8).reshape(6, 8, 8)
    np.save(tmp_path / "imgs.npy", arr)
    ds = ImageArrayDataset(tmp_path / "imgs.npy")
    assert ds.images.shape == (6, 1, 8, 8)
    assert ds.images.min() == -1.0 and ds[0][0][0, 0, 1].item() == pytest.approx(1 / 127.5 - 1)
    with pytest.raises(ParameterError, match="set image_shape=\\[1, 8, 8\\]"):
        plugin.dataset(str(tmp_path / "imgs.npy"), plugin.default_config(), split="train")


def test_image_grid_layout():
    imgs = -torch.ones(3, 1, 2, 2)
    imgs[1] = 1.0
    grid = image_grid(imgs, nrow=2, pad=1)
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1)
    assert grid[1, 1] == 0 and grid[1, 4] == 255 and grid[4, 1] == 0 and grid[0, 0] == 0


def test_wav_format_is_refused_for_images(tmp_path):
    from gan_plugins.api import PluginError

    with pytest.raises(PluginError, match="renders images"):
        plugin.save_samples(torch.zeros(1, 1, 28, 28), tmp_path, fmt="wav", config=plugin.default_config())


def _same_resolution_convs(module: nn.Module, x: torch.Tensor) -> list[tuple[int, int, int]]:
    """(channels, H_in, H_out) of every 3x3 convolution run on ``x``."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((o.shape[1], i[0].shape[-1], o.shape[-1])))
             for m in module.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    module(x)
    for h in hooks:
        h.remove()
    return seen


def test_extra_convs_add_same_resolution_layers_and_zero_keeps_the_bundled_architecture():
    from gan_plugins.io.checkpoint import load_checkpoint
    from gan_plugins.io.model import resolve_checkpoint

    bundled = load_checkpoint(resolve_checkpoint("dcgan-mnist"))  # trained with extra_convs=2
    DCGANGenerator(width=32, extra_convs=2).load_state_dict(bundled["ema"])  # strict: same modules, same names
    # extra_convs=0 keeps the names of the checkpoints written before the setting existed (the dcgan-mnist of 2026-11)
    assert list(DCGANGenerator(width=32, extra_convs=0).state_dict()) == [
        "fc.weight", "fc_norm.0.weight", "fc_norm.0.bias", "fc_norm.0.running_mean", "fc_norm.0.running_var",
        "fc_norm.0.num_batches_tracked", "ups.0.0.weight", "ups.0.1.weight", "ups.0.1.bias", "ups.0.1.running_mean",
        "ups.0.1.running_var", "ups.0.1.num_batches_tracked", "to_image.weight", "to_image.bias"]
    g, d = DCGANGenerator(width=8, extra_convs=2), DCGANDiscriminator(width=8, extra_convs=2)
    assert _same_resolution_convs(g, torch.randn(3, 64)) == [(16, 7, 7), (16, 7, 7), (8, 14, 14), (8, 14, 14)]
    assert _same_resolution_convs(d, torch.randn(3, 1, 28, 28)) == [(8, 14, 14), (8, 14, 14), (16, 7, 7), (16, 7, 7)]
    assert g(torch.randn(3, 64)).shape == (3, 1, 28, 28) and d(torch.randn(3, 1, 28, 28)).shape == (3,)
    assert _same_resolution_convs(DCGANGenerator(width=8), torch.randn(3, 64)) == []
    cfg = {**plugin.default_config(), "extra_convs": 1, "width": 8}
    g1, d1 = plugin.build(cfg)
    assert len(_same_resolution_convs(g1, torch.randn(2, 64))) == 2
    assert len(_same_resolution_convs(d1, torch.randn(2, 1, 28, 28))) == 2
    for bad in (-1, 1.5, True):
        with pytest.raises(ParameterError, match="extra_convs"):
            DCGANGenerator(extra_convs=bad)
