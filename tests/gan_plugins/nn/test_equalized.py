"""Progressive-GAN layers as units: equalised learning rate (He's constant applied at run time), pixel norm and
minibatch standard deviation (values and PGGAN's strided groups), all against hand-computed numbers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan_plugins.nn.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm


# ------------------------------------------------------------------------------------------ equalised LR
def test_linear_stores_unit_normal_weights_and_scales_by_he_at_run_time():
    torch.manual_seed(0)
    big = EqualizedLinear(256, 128)
    assert big.weight.std().item() == pytest.approx(1.0, abs=0.02)  # stored ~N(0, 1), not He-scaled
    assert abs(big.weight.mean().item()) < 0.02
    assert torch.equal(big.bias, torch.zeros(128))

    lin = EqualizedLinear(5, 3)
    x = torch.randn(4, 5)
    he = math.sqrt(2.0) / math.sqrt(5.0)  # gain sqrt(2), fan_in 5
    torch.testing.assert_close(lin(x), F.linear(x, lin.weight * he, lin.bias))
    # the constant is applied at run time: editing the stored weight changes the output by the scaled amount
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    torch.testing.assert_close(lin(x), x.sum(1, keepdim=True) * he + torch.tensor([0.5, -1.0, 2.0]))
    with torch.no_grad():
        lin.weight.mul_(3.0)
    torch.testing.assert_close(lin(x), 3 * x.sum(1, keepdim=True) * he + torch.tensor([0.5, -1.0, 2.0]))


def test_linear_gradient_is_scaled_too():
    # equalised LR: d out / d stored weight = he * x (this is what equalises Adam's step sizes across layers)
    lin = EqualizedLinear(4, 1, gain=1.0)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    lin(x).sum().backward()
    torch.testing.assert_close(lin.weight.grad, x / 2.0)  # gain 1 / sqrt(4)


@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0), 3.0])
def test_linear_gain(gain):
    lin = EqualizedLinear(9, 2, gain=gain)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    x = torch.ones(1, 9)
    torch.testing.assert_close(lin(x), torch.full((1, 2), 9 * gain / 3.0))  # sqrt(fan_in) = 3


@pytest.mark.parametrize("k", [1, 3, 5])
def test_conv_fan_in_is_in_channels_times_kernel_area(k):
    torch.manual_seed(1)
    conv = EqualizedConv2d(3, 4, k)
    assert conv.weight.shape == (4, 3, k, k)
    x = torch.randn(2, 3, 6, 7)
    he = math.sqrt(2.0) / math.sqrt(3 * k * k)
    out = conv(x)
    assert out.shape == (2, 4, 6, 7)  # 'same' padding
    torch.testing.assert_close(out, F.conv2d(x, conv.weight * he, conv.bias, padding=k // 2))
    with torch.no_grad():
        conv.weight.fill_(1.0)
    ones = conv(torch.ones(1, 3, 2 * k + 1, 2 * k + 1))
    # an interior pixel sums 3 k^2 ones
    assert ones[0, :, k, k].tolist() == pytest.approx([3 * k * k * he] * 4, rel=1e-5)


def test_conv_stores_unit_normal_weights():
    torch.manual_seed(2)
    conv = EqualizedConv2d(64, 64, 3)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.02)
    x = torch.randn(1, 64, 4, 4)
    ref = conv(x)
    with torch.no_grad():
        conv.weight.mul_(2.0)
    torch.testing.assert_close(conv(x) - conv.bias[None, :, None, None],
                               2 * (ref - conv.bias[None, :, None, None]), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------- pixel norm
def test_pixel_norm_values_over_channels_only():
    # (B=1, C=3, H=1, W=2): pixel 0 has channels (3, 4, 0), pixel 1 (1, 1, 1)
    x = torch.tensor([[[[3.0, 1.0]], [[4.0, 1.0]], [[0.0, 1.0]]]], dtype=torch.float64)
    out = PixelNorm(eps=0.0)(x)
    rms0 = math.sqrt((9 + 16 + 0) / 3)
    want = torch.tensor([[[[3 / rms0, 1.0]], [[4 / rms0, 1.0]], [[0.0, 1.0]]]], dtype=torch.float64)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)


def test_pixel_norm_eps_is_inside_the_root():
    x = torch.ones(2, 4, 3, 3, dtype=torch.float64)
    # x / sqrt(mean_c x^2 + eps) = 1 / sqrt(2) with eps = 1 (not 1 / (1 + 1))
    torch.testing.assert_close(PixelNorm(eps=1.0)(x), x / math.sqrt(2.0))
    assert PixelNorm().eps == 1e-8


def test_pixel_norm_gives_unit_rms_per_pixel_and_pixels_do_not_interact():
    torch.manual_seed(3)
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64) * torch.arange(1.0, 13.0, dtype=torch.float64).reshape(1, 1, 3, 4)
    out = PixelNorm()(x)
    torch.testing.assert_close(out.pow(2).mean(dim=1), torch.ones(2, 3, 4, dtype=torch.float64))
    y = x.clone()
    y[:, :, 0, 0] *= 100.0  # rescaling one pixel's feature vector changes no other pixel
    out_y = PixelNorm()(y)
    torch.testing.assert_close(out_y[:, :, 1:], out[:, :, 1:])
    torch.testing.assert_close(out_y[:, :, 0, 1:], out[:, :, 0, 1:])
    torch.testing.assert_close(out_y[1:], PixelNorm()(y[1:]))  # nor another sample


# -------------------------------------------------------------------------------------- minibatch std dev
def _batch(rows):
    """Samples of shape (C=2, H=1, W=2) from rows of 4 numbers (c0w0, c0w1, c1w0, c1w1)."""
    return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), 2, 1, 2)


def test_minibatch_std_values_with_strided_groups():
    # B = 4, group size 2: PGGAN reshapes to (G, B / G, ...), so group k = {x[k], x[2 + k]}: {x0, x2} and {x1, x3}
    x = _batch([[0, 0, 0, 0],
                [1, 1, 1, 1],
                [2, 4, 0, 6],
                [1, 1, 1, 1]])
    out = MinibatchStdDev(group_size=2)(x)
    assert out.shape == (4, 3, 1, 2)
    torch.testing.assert_close(out[:, :2], x, rtol=0, atol=0)  # the input channels pass through
    # group {x0, x2}: population std per feature |a - b| / 2 = 1, 2, 0, 3 -> mean over C, H, W = 1.5
    # (the 0 feature is sqrt(0 + 1e-8) = 1e-4); group {x1, x3}: all features equal -> sqrt(1e-8) = 1e-4
    g0 = (math.sqrt(1 + 1e-8) + math.sqrt(4 + 1e-8) + math.sqrt(1e-8) + math.sqrt(9 + 1e-8)) / 4
    g1 = math.sqrt(1e-8)
    want = torch.tensor([g0, g1, g0, g1], dtype=torch.float64)[:, None, None].expand(4, 1, 2)
    torch.testing.assert_close(out[:, 2], want, rtol=1e-12, atol=1e-15)


def test_minibatch_std_group_of_three_with_fallback_group_size():
    # B = 6, group_size 4 -> largest divisor of 6 not above 4 is 3; groups {x0, x2, x4} and {x1, x3, x5}
    x = _batch([[0, 0, 0, 0], [5, 5, 5, 5], [3, 0, 0, 0], [5, 5, 5, 5], [6, 0, 0, 0], [5, 5, 5, 8]])
    out = MinibatchStdDev(group_size=4)(x)
    # group 0, feature c0w0: values 0, 3, 6 -> mean 3, population var (9 + 0 + 9) / 3 = 6; other features constant
    g0 = (math.sqrt(6 + 1e-8) + 3 * math.sqrt(1e-8)) / 4
    # group 1, feature c1w1: values 5, 5, 8 -> mean 6, population var (1 + 1 + 4) / 3 = 2
    g1 = (3 * math.sqrt(1e-8) + math.sqrt(2 + 1e-8)) / 4
    want = torch.tensor([g0, g1, g0, g1, g0, g1], dtype=torch.float64)
    torch.testing.assert_close(out[:, 2, 0, 0], want, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(out[:, 2, 0, 1], want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("b,group,expected_groups", [(5, 4, 5), (2, 4, 1), (8, 4, 2), (12, 8, 2), (7, 7, 1)])
def test_minibatch_std_group_size_fallback(b, group, expected_groups):
    # expected_groups = B / (largest divisor of B not above min(group, B)), computed by hand per case:
    # 5 -> g 1 (5 groups of one: std 0 -> 1e-4); 2 -> g 2; 8 -> g 4; 12 -> g 6; 7 -> g 7
    torch.manual_seed(4)
    x = torch.randn(b, 2, 2, 2, dtype=torch.float64)
    out = MinibatchStdDev(group_size=group)(x)[:, 2, 0, 0]
    g = b // expected_groups
    for k in range(expected_groups):
        members = x[k::expected_groups]  # group k = {x[k], x[k + B/g], ...} (strided)
        assert members.shape[0] == g
        want = torch.sqrt(((members - members.mean(0)) ** 2).mean(0) + 1e-8).mean()
        torch.testing.assert_close(out[k::expected_groups], want.expand(g), rtol=1e-12, atol=1e-15)


def test_minibatch_std_is_differentiable_and_per_group():
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    out = MinibatchStdDev(group_size=2)(x)
    out[0, 3, 0, 0].backward()  # sample 0's std channel depends on its group {x0, x2} only
    assert x.grad[1].abs().sum() == 0 and x.grad[3].abs().sum() == 0
    assert x.grad[0].abs().sum() > 0 and x.grad[2].abs().sum() > 0
