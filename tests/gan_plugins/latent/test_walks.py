"""Latent walks: on the shell, through their anchors, smooth where they say, closed when closed, deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_plugins.latent.walks import KINDS, JumpWalk, LinearWalk, LoopWalk, OUWalk, SplineWalk, make_walk, slerp
from specrep.errors import ParameterError

D = 64
R = math.sqrt(D)


def _angles(z: torch.Tensor) -> np.ndarray:
    """Angles (rad) between consecutive rows."""
    z = z.double()
    cos = (z[1:] * z[:-1]).sum(-1) / (z[1:].norm(dim=-1) * z[:-1].norm(dim=-1))
    return torch.arccos(cos.clamp(-1, 1)).numpy()


def test_slerp_endpoints_constant_speed_and_norm():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(D, generator=g, dtype=torch.float64), torch.randn(D, generator=g, dtype=torch.float64)
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    path = slerp(a.expand(11, D), b.expand(11, D), t)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(path.norm(dim=-1), a.norm().expand(11))
    steps = _angles(path)
    np.testing.assert_allclose(steps, steps.mean(), rtol=1e-6)  # constant angular speed


@pytest.mark.parametrize(("kind", "smoothness"), [("spline", 1.0), ("spline", 0.0), ("spline", 0.5), ("ou", 1.0),
                                                  ("ou", 0.2), ("loop", 1.0), ("loop", 0.3)])
def test_smooth_walks_stay_on_the_typical_shell(kind, smoothness):
    z = make_walk(kind, D, speed=60.0, smoothness=smoothness, seed=3)(np.linspace(0, 7.3, 500)).double()
    np.testing.assert_allclose(z.norm(dim=-1).numpy(), R, rtol=1e-5)


def test_lerp_leaves_the_shell_between_anchors():
    z = LinearWalk(D, speed=60.0, seed=3)(np.arange(6) + 0.5).double()
    norms = z.norm(dim=-1).numpy()
    # independent anchors are nearly orthogonal: the midpoint norm is about R / sqrt(2)
    assert (norms < 0.85 * R).all() and (norms > 0.55 * R).all()


def test_spline_passes_through_its_anchors_on_time():
    spline, lerp = SplineWalk(D, speed=30.0, seed=5), LinearWalk(D, speed=30.0, seed=5)
    times = np.arange(6) * 2.0  # 30 anchors per minute: one every 2 s
    torch.testing.assert_close(spline(times), lerp(times), atol=1e-5, rtol=0)
    angles = _angles(spline(times))
    assert (angles > 1.2).all()  # consecutive anchors are independent (about pi / 2 apart), not a slow crawl


def _velocity_jump(walk, s, h=1e-4):
    z = walk(np.array([s - h, s, s + h])).double()
    left, right = (z[1] - z[0]) / h, (z[2] - z[1]) / h
    return float((left - right).norm() / left.norm())


def test_spline_velocity_is_continuous_at_anchors_and_piecewise_slerp_is_not():
    smooth = SplineWalk(D, speed=60.0, smoothness=1.0, seed=1)
    corner = SplineWalk(D, speed=60.0, smoothness=0.0, seed=1)
    for s in (1.0, 2.0, 3.0):
        assert _velocity_jump(smooth, s) < 0.05
        assert _velocity_jump(corner, s) > 0.5


def test_closed_loop_returns_to_its_start_smoothly():
    walk = LoopWalk(D, speed=60.0, n_anchors=5, seed=2)
    assert walk.period == pytest.approx(5.0)
    t = np.array([0.0, 0.7, 2.3])
    torch.testing.assert_close(walk(t), walk(t + walk.period), atol=1e-5, rtol=0)
    torch.testing.assert_close(walk(t), walk(t + 3 * walk.period), atol=1e-5, rtol=0)
    assert _velocity_jump(walk, walk.period) < 0.05  # no corner at the seam
    assert _angles(walk(np.array([0.0, walk.period / 2])))[0] > 0.5  # it does go somewhere


def test_ou_steps_are_small_and_its_speed_is_as_asked():
    walk = OUWalk(D, speed=60.0, smoothness=1.0, seed=4, steps_per_anchor=32)
    ds = 1.0 / 32
    angles = _angles(walk(np.arange(0, 40, ds)))
    # RMS angular speed pi/2 per anchor unit: about (pi/2) * ds per grid step
    assert np.sqrt(np.mean(angles**2)) / ds == pytest.approx(math.pi / 2, rel=0.2)
    assert angles.max() < 3 * (math.pi / 2) * ds  # no step far beyond the typical one
    # smoothness: the heading is correlated over the correlation time (a rough walk would be diffusive)
    far = _angles(walk(np.array([0.0, 0.5])))[0]
    assert far > 0.5 * 0.5 * (math.pi / 2)


def test_ou_smoothness_controls_how_straight_it_goes():
    def spread(smoothness):
        walk = OUWalk(D, speed=60.0, smoothness=smoothness, seed=7)
        return np.mean([_angles(walk(np.array([s, s + 1.0])))[0] for s in np.arange(0, 30, 1.5)])

    assert spread(4.0) > 1.3 * spread(0.1)  # same speed, straighter path: it gets further in one anchor unit


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_walks_are_deterministic_and_extend_without_changing_their_prefix(kind):
    short = make_walk(kind, D, seed=11)(np.linspace(0, 10, 7))
    extended = make_walk(kind, D, seed=11)
    longer = extended(np.linspace(0, 600, 50))  # forces many more anchors / OU steps first
    torch.testing.assert_close(extended(np.linspace(0, 10, 7)), short)
    torch.testing.assert_close(make_walk(kind, D, seed=11)(np.linspace(0, 10, 7)), short)
    assert longer.shape == (50, D) and short.dtype == torch.float32
    other = make_walk(kind, D, seed=12)(np.linspace(0, 10, 7))
    assert (other - short).abs().max() > 0.1


def test_jumps_hold_one_latent_per_anchor_and_jump_between():
    walk = JumpWalk(D, speed=60.0, seed=0)
    z = walk(np.array([0.1, 0.9, 1.1]))
    torch.testing.assert_close(z[0], z[1])
    assert _angles(z[1:])[0] > 1.0


@pytest.mark.parametrize("bad", [
    dict(kind="spline", speed=0.0), dict(kind="spline", speed=-1.0), dict(kind="spline", smoothness=1.5),
    dict(kind="ou", smoothness=0.0), dict(kind="loop", n_anchors=2), dict(kind="spline", seed=-1),
    dict(kind="circle"),
])
def test_bad_parameters_raise_at_construction(bad):
    kind = bad.pop("kind")
    with pytest.raises(ParameterError):
        make_walk(kind, D, **bad)


def test_negative_times_are_refused():
    with pytest.raises(ParameterError):
        SplineWalk(D)(np.array([-1.0]))
