"""Filtered x2 resampling: today's modes bit for bit, the [1, 3, 3, 1] filters against their closed forms (constants
kept, no repeated frames, the image / alias bands attenuated by the amounts the frequency responses give), dtypes,
gradients, state dicts and tracing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan_plugins.nn.resample import Downsample2d, Upsample2d, blur_kernel
from specrep.errors import ParameterError


def _ramp_and_sine(width: int = 64) -> torch.Tensor:
    """``(1, 2, 4, width)``: a ramp and a sine of period 16 along the last axis, constant along rows."""
    n = torch.arange(width, dtype=torch.float64)
    return torch.stack([n / width, torch.sin(2 * math.pi * n / 16)]).unsqueeze(1).expand(2, 4, width).unsqueeze(0)


def _alternation(y: torch.Tensor) -> torch.Tensor:
    """Mean squared second difference along the last axis (interior): the period-2 zig-zag energy, 0 on a line."""
    return (y[..., 2:] - 2 * y[..., 1:-1] + y[..., :-2]).pow(2).mean(dim=(-1, -2)).flatten()


def test_kernels_sum_to_their_gain_and_are_the_outer_product_of_1_3_3_1():
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    down, up = blur_kernel(1.0, dtype=torch.float64), blur_kernel(4.0, dtype=torch.float64)
    assert down.shape == up.shape == (1, 1, 4, 4)
    assert down.sum().item() == pytest.approx(1.0, abs=1e-15) and up.sum().item() == pytest.approx(4.0, abs=1e-15)
    torch.testing.assert_close(down[0, 0], torch.outer(k, k) / 64, rtol=0, atol=1e-16)
    torch.testing.assert_close(up[0, 0], torch.outer(k, k) / 16, rtol=0, atol=1e-16)
    assert Upsample2d("blur").kernel.sum().item() == pytest.approx(4.0)
    assert Downsample2d("blur").kernel.sum().item() == pytest.approx(1.0)


def test_nearest_and_avg_are_todays_ops_bit_for_bit():
    x = torch.randn(3, 5, 4, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(Upsample2d("nearest")(x), F.interpolate(x, scale_factor=2, mode="nearest"))
    assert torch.equal(Downsample2d("avg")(x), F.avg_pool2d(x, 2))
    assert torch.equal(Upsample2d()(x), Upsample2d("nearest")(x)) and torch.equal(Downsample2d()(x), F.avg_pool2d(x, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_constant_map_stays_constant_borders_included(dtype):
    x = torch.full((2, 3, 4, 8), 0.7, dtype=dtype)
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    for mode in ("blur", "linear", "nearest"):
        y = Upsample2d(mode)(x)
        assert y.shape == (2, 3, 8, 16) and y.dtype == dtype
        torch.testing.assert_close(y, torch.full_like(y, 0.7), rtol=0, atol=tol)
    for mode in ("blur", "avg"):
        y = Downsample2d(mode)(x)
        assert y.shape == (2, 3, 2, 4) and y.dtype == dtype
        torch.testing.assert_close(y, torch.full_like(y, 0.7), rtol=0, atol=tol)


def test_blur_upsampling_by_hand_and_equal_to_bilinear():
    # one row [a, b, c]: even outputs (x[k-1] + 3 x[k]) / 4, odd (3 x[k] + x[k+1]) / 4, edges replicated
    x = torch.tensor([[[[1.0, 5.0, 2.0]]]], dtype=torch.float64)
    y = Upsample2d("blur")(x)
    want = torch.tensor([1.0, 2.0, 4.0, 4.25, 2.75, 2.0], dtype=torch.float64)
    assert y.shape == (1, 1, 2, 6)
    torch.testing.assert_close(y[0, 0], want.expand(2, 6), rtol=0, atol=1e-14)
    r = torch.randn(2, 3, 4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(Upsample2d("blur")(r), Upsample2d("linear")(r), rtol=0, atol=1e-13)


def test_blur_upsampling_repeats_no_frame():
    x = torch.randn(2, 3, 8, 16, generator=torch.Generator().manual_seed(2))
    near, blur = Upsample2d("nearest")(x), Upsample2d("blur")(x)
    assert torch.equal(near[..., 0::2], near[..., 1::2])  # nearest: every pair of output frames is one frame twice
    gap = (blur[..., 0::2] - blur[..., 1::2]).abs()       # = |x[k-1] - x[k+1]| / 4 (edges: |x[k] - x[k+-1]| / 4)
    assert gap.min().item() > 1e-6
    row = x[:, :, :1]  # one row: both output rows are the row's interpolation, so the gaps are exactly these
    inner = (row[..., :-2] - row[..., 2:]).abs() / 4
    torch.testing.assert_close((Upsample2d("blur")(row)[..., 2:-2:2] - Upsample2d("blur")(row)[..., 3:-2:2]).abs(),
                               inner.expand(2, 3, 2, 14), rtol=1e-5, atol=1e-6)


def test_period_2_alternation_of_an_upsampled_ramp_and_sine_is_far_below_nearest():
    x = _ramp_and_sine()
    near = _alternation(Upsample2d("nearest")(x))
    blur = _alternation(Upsample2d("blur")(x)[..., 2:-2])  # replicated edges bend the ends: interior only
    # nearest's staircase has second differences +-(x[k+1] - x[k]): (1/64)**2 on the ramp, and on the sine of
    # period 16 the mean square of its first difference, (2 sin(pi/16))**2 / 2
    assert near[0].item() == pytest.approx(1 / 64**2, rel=1e-9)
    assert near[1].item() == pytest.approx((2 * math.sin(math.pi / 16)) ** 2 / 2, rel=0.05)
    assert blur[0].item() < 1e-28  # a ramp stays a line
    # interpolated, the sine is one of period 32: second differences of amplitude (2 sin(pi/32))**2
    assert blur[1].item() == pytest.approx((2 * math.sin(math.pi / 32)) ** 4 / 2, rel=0.05)
    assert (blur[1] / near[1]).item() < 0.012  # 0.0100: the zig-zag is a hundred times weaker


def test_blur_downsampling_removes_what_avg_pooling_aliases():
    n = torch.arange(64, dtype=torch.float64)
    nyquist = torch.cos(math.pi * n).expand(1, 1, 8, 64)
    assert Downsample2d("blur")(nyquist)[..., 1:-1].abs().max().item() < 1e-14
    near = torch.cos(0.8 * math.pi * n).expand(1, 1, 8, 64)  # just below Nyquist: aliases to 0.4 pi after stride 2
    avg = Downsample2d("avg")(near)[0, 0, :, 1:-1]
    blur = Downsample2d("blur")(near)[0, 0, :, 1:-1]
    rms = lambda t: t.pow(2).mean().sqrt().item()  # noqa: E731
    # responses |cos(w/2)| (2 taps) and |cos(w/2)|**3 ([1, 3, 3, 1] / 8) at w = 0.8 pi, on a unit cosine
    assert rms(avg) == pytest.approx(math.cos(0.4 * math.pi) / math.sqrt(2), rel=0.05)
    assert rms(blur) == pytest.approx(math.cos(0.4 * math.pi) ** 3 / math.sqrt(2), rel=0.05)
    assert rms(blur) / rms(avg) == pytest.approx(math.cos(0.4 * math.pi) ** 2, rel=0.05)  # 0.095: ten times less
    # a low frequency passes both nearly unchanged
    low = torch.cos(0.1 * math.pi * n).expand(1, 1, 8, 64)
    assert rms(Downsample2d("blur")(low)[0, 0, :, 1:-1]) == pytest.approx(math.cos(0.05 * math.pi) ** 3 / math.sqrt(2),
                                                                         rel=0.05)


@pytest.mark.parametrize("module", [Upsample2d("blur"), Downsample2d("blur")])
def test_filters_are_non_persistent_buffers_and_follow_dtype_and_gradients(module):
    assert list(module.parameters()) == [] and module.state_dict() == {}
    assert [name for name, _ in module.named_buffers()] == ["kernel"]
    x = torch.randn(1, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,))
    assert module(x.float()).dtype == torch.float32
    module.load_state_dict({}, strict=True)  # an old network's state dict (no filter) loads strictly


def test_bad_modes_are_refused_with_the_choices():
    with pytest.raises(ParameterError, match=r"upsample='bilinear' is not one of 'nearest', 'blur', 'linear'"):
        Upsample2d("bilinear")
    with pytest.raises(ParameterError, match=r"downsample='max' is not one of 'avg', 'blur'"):
        Downsample2d("max")


def test_blur_modules_trace_to_torchscript_for_other_shapes():
    import warnings

    net = torch.nn.Sequential(Upsample2d("blur"), Downsample2d("blur"), Upsample2d("blur"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)  # nothing data-dependent is frozen
        traced = torch.jit.trace(net, torch.randn(1, 3, 4, 4))
    other = torch.randn(2, 5, 8, 16)  # another batch, channel count and size: not specialised to the example
    torch.testing.assert_close(traced(other), net(other))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_blur_runs_on_cuda_like_on_cpu():
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    for module in (Upsample2d("blur"), Downsample2d("blur")):
        torch.testing.assert_close(module.cuda()(x.cuda()).cpu(), module.cpu()(x), rtol=1e-5, atol=1e-6)
