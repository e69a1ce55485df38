"""Random latent trajectories for a Gaussian prior: smooth walks on the shell of typical norm, and two baselines.

A ``d``-dimensional standard Gaussian puts almost all its mass near the sphere of radius ``sqrt(d)`` (norm
``sqrt(d) +- 0.7``), so a path that should stay "where the generator was trained" moves along that sphere (slerp),
not along chords through the origin (lerp), where no training latent ever was.

Every walk is a function of time: ``walk(times)`` maps times in seconds ``(T,)`` to latents ``(T, z_dim)``
(float32). Time is converted to *anchor units* ``s = t * speed / 60``: one unit is the time the walk takes to
travel between two independent random latents (a quarter of a great circle, since independent Gaussian vectors
are almost orthogonal in high dimension). Walks are deterministic given ``seed`` and lazily extended, so
``walk(t)`` is the same whether a 10 s or a 10 min stretch is asked for.

- :class:`SplineWalk` — through random anchors: piecewise slerp (``smoothness=0``, constant angular speed, the
  direction turns abruptly at each anchor) up to a spherical Catmull-Rom spline (``smoothness=1``, the velocity
  is continuous through the anchors); exactly on the shell.
- :class:`OUWalk` — Ornstein-Uhlenbeck filtered random walk on the sphere: the angular velocity is an OU process in
  the tangent space (correlation time ``smoothness`` anchor units), the position follows geodesics.
- :class:`LoopWalk` — a closed spherical Catmull-Rom spline through ``n_anchors`` anchors: ``walk(t + period)``
  equals ``walk(t)``, for endless playback.
- :class:`LinearWalk` (baseline) — linear interpolation through the same anchors as :class:`SplineWalk`.
- :class:`JumpWalk` (baseline) — independent random latents, held for one anchor unit each.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from specrep.errors import ParameterError, check_choice, check_positive_float, check_positive_int

__all__ = ["KINDS", "JumpWalk", "LinearWalk", "LoopWalk", "OUWalk", "SplineWalk", "Walk", "make_walk", "slerp"]

_BLOCK = 64  # anchors (or OU noise steps) drawn per block, so extending a walk never changes its prefix


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Spherical interpolation between ``a`` and ``b`` ``(..., d)`` at ``t`` (broadcast to ``(...)``).

    The direction moves along the great circle through ``a`` and ``b`` at constant angular speed (``t`` outside
    ``[0, 1]`` extrapolates along it); the norm is interpolated linearly, so two points on one sphere give a path
    on that sphere. Nearly parallel inputs fall back to linear interpolation.
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.ndim < a.ndim:
        t = t.unsqueeze(-1)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp(min=1e-12), b / nb.clamp(min=1e-12)
    omega = torch.arccos((ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    small = so < 1e-6
    so = torch.where(small, torch.ones_like(so), so)
    wa = torch.where(small, 1.0 - t, torch.sin((1.0 - t) * omega) / so)
    wb = torch.where(small, t, torch.sin(t * omega) / so)
    u = wa * ua + wb * ub
    u = u / u.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return u * ((1.0 - t) * na + t * nb)


class Walk:
    """Base class: a deterministic latent path ``times (T,) seconds -> latents (T, z_dim)``.

    Parameters
    ----------
    z_dim : int > 0
        Latent dimension.
    speed : float > 0
        Anchors per minute: how many independent random latents' worth of distance the walk covers each minute
        (the default 3.75 = a new "place" every 16 s, eight 2 s loops).
    smoothness : float
        Meaning depends on the walk (see each class).
    seed : int >= 0
    """

    kind = ""
    #: True when the path returns to its start (``period`` seconds)
    closed = False

    def __init__(self, z_dim: int, *, speed: float = 3.75, smoothness: float = 1.0, seed: int = 0) -> None:
        check_positive_int("z_dim", z_dim)
        check_positive_float("speed", speed)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ParameterError(f"seed={seed!r} must be an integer >= 0")
        self.z_dim, self.speed, self.smoothness, self.seed = int(z_dim), float(speed), float(smoothness), seed
        #: radius of the shell of typical norm
        self.radius = math.sqrt(self.z_dim)
        self._rng = torch.Generator().manual_seed(seed)
        self._anchors = torch.empty(0, self.z_dim, dtype=torch.float64)

    @property
    def anchor_seconds(self) -> float:
        """Seconds per anchor unit (``60 / speed``)."""
        return 60.0 / self.speed

    def settings(self) -> dict:
        """The walk's parameters as plain values (for reports and ``--json``)."""
        return {"kind": self.kind, "z_dim": self.z_dim, "speed": self.speed, "smoothness": self.smoothness,
                "seed": self.seed}

    def _anchor(self, index: Tensor) -> Tensor:
        """Anchors ``(..., z_dim)`` (float64, on the shell) for integer indices ``>= 0``, drawn in blocks."""
        need = int(index.max()) + 1 if index.numel() else 0
        while self._anchors.shape[0] < need:
            block = torch.randn(_BLOCK, self.z_dim, generator=self._rng, dtype=torch.float64)
            block = block / block.norm(dim=-1, keepdim=True) * self.radius
            self._anchors = torch.cat([self._anchors, block])
        return self._anchors[index]

    def _path(self, s: Tensor) -> Tensor:  # anchor units (T,) float64 -> (T, z_dim) float64
        raise NotImplementedError

    def __call__(self, times) -> Tensor:
        """Latents ``(T, z_dim)`` float32 at ``times`` (seconds, array-like of shape ``(T,)``, each >= 0)."""
        t = torch.as_tensor(np.asarray(times, dtype=np.float64)).reshape(-1)
        if t.numel() and (not torch.isfinite(t).all() or t.min() < 0):
            raise ParameterError("times must be finite and >= 0 seconds")
        return self._path(t * (self.speed / 60.0)).float()


def _catmull_rom_slerp(p0: Tensor, p1: Tensor, p2: Tensor, p3: Tensor, u: Tensor) -> Tensor:
    """Uniform Catmull-Rom between ``p1`` (u=0) and ``p2`` (u=1) in the Barry-Goldman pyramid, every linear
    interpolation replaced by slerp: on the sphere when the four points are, C1 through the anchors."""
    a1, a2, a3 = slerp(p0, p1, u + 1.0), slerp(p1, p2, u), slerp(p2, p3, u - 1.0)
    b1, b2 = slerp(a1, a2, (u + 1.0) / 2.0), slerp(a2, a3, u / 2.0)
    return slerp(b1, b2, u)


class SplineWalk(Walk):
    """Spline through random anchors on the shell, anchor ``k`` reached at ``k * 60 / speed`` seconds.

    ``smoothness`` in ``[0, 1]`` blends (by slerp) piecewise slerp (0: constant angular speed, corners at the
    anchors) with the spherical Catmull-Rom spline (1: no corners). Every point is on the sphere of radius
    ``sqrt(z_dim)``.
    """

    kind = "spline"

    def __init__(self, z_dim: int, *, speed: float = 3.75, smoothness: float = 1.0, seed: int = 0) -> None:
        super().__init__(z_dim, speed=speed, smoothness=smoothness, seed=seed)
        if not 0.0 <= self.smoothness <= 1.0:
            raise ParameterError(f"smoothness={smoothness!r} must be in [0, 1] for a spline walk")

    def _index(self, k: Tensor) -> Tensor:
        return k + 1  # anchor -1 exists (the spline's first segment needs a predecessor)

    def _path(self, s: Tensor) -> Tensor:
        k = torch.floor(s).long()
        u = (s - k)[:, None]
        p = [self._anchor(self._index(k + j)) for j in (-1, 0, 1, 2)]
        linear = slerp(p[1], p[2], u)
        if self.smoothness == 0.0:
            return linear
        smooth = _catmull_rom_slerp(*p, u)
        return smooth if self.smoothness == 1.0 else slerp(linear, smooth, self.smoothness)


class LoopWalk(SplineWalk):
    """Closed spherical Catmull-Rom spline through ``n_anchors`` random anchors: back at its start after
    ``period = n_anchors * 60 / speed`` seconds, with continuous velocity across the seam.

    Parameters
    ----------
    n_anchors : int >= 3
        Anchors on the loop.
    """

    kind = "loop"
    closed = True

    def __init__(self, z_dim: int, *, speed: float = 3.75, smoothness: float = 1.0, seed: int = 0,
                 n_anchors: int = 4) -> None:
        super().__init__(z_dim, speed=speed, smoothness=smoothness, seed=seed)
        check_positive_int("n_anchors", n_anchors)
        if n_anchors < 3:
            raise ParameterError(f"n_anchors={n_anchors} must be >= 3 for a closed path")
        self.n_anchors = int(n_anchors)

    @property
    def period(self) -> float:
        """Seconds until the path returns to its start."""
        return self.n_anchors * self.anchor_seconds

    def settings(self) -> dict:
        return {**super().settings(), "n_anchors": self.n_anchors, "period_s": self.period}

    def _index(self, k: Tensor) -> Tensor:
        return torch.remainder(k, self.n_anchors)


class LinearWalk(SplineWalk):
    """Baseline: linear interpolation through the anchors of :class:`SplineWalk` with the same seed. Between two
    anchors the norm dips to about ``sqrt(z_dim / 2)``, off the shell where the prior has its mass."""

    kind = "lerp"

    def __init__(self, z_dim: int, *, speed: float = 3.75, smoothness: float = 0.0, seed: int = 0) -> None:
        super().__init__(z_dim, speed=speed, smoothness=0.0, seed=seed)

    def settings(self) -> dict:
        return {k: v for k, v in super().settings().items() if k != "smoothness"}

    def _path(self, s: Tensor) -> Tensor:
        k = torch.floor(s).long()
        u = (s - k)[:, None]
        a, b = self._anchor(self._index(k)), self._anchor(self._index(k + 1))
        return (1.0 - u) * a + u * b


class JumpWalk(Walk):
    """Baseline: an independent random latent for each anchor unit, held constant in between (jumps at
    ``k * 60 / speed`` seconds). At one anchor per loop this is a playlist of unrelated random loops."""

    kind = "jumps"

    def settings(self) -> dict:
        return {k: v for k, v in super().settings().items() if k != "smoothness"}

    def _path(self, s: Tensor) -> Tensor:
        return self._anchor(torch.floor(s).long())


class OUWalk(Walk):
    """Ornstein-Uhlenbeck filtered random walk on the sphere of radius ``sqrt(z_dim)``.

    The direction ``u`` moves along geodesics with an angular velocity ``v`` in its tangent space; ``v`` is an OU
    process (parallel-transported as ``u`` moves) with RMS speed ``pi / 2`` radians per anchor unit, the angle
    between two independent anchors, so ``speed`` means the same as for the spline walks. Simulated exactly
    (OU in closed form per step, geodesic moves) on a grid of ``1 / steps_per_anchor`` anchor units and slerped in
    between.

    Parameters
    ----------
    smoothness : float > 0
        Correlation time of the velocity, in anchor units: small values turn often (rough, diffusive), large
        values keep heading the same way (smooth, nearly great circles).
    steps_per_anchor : int > 0
        Simulation steps per anchor unit.
    """

    kind = "ou"

    def __init__(self, z_dim: int, *, speed: float = 3.75, smoothness: float = 1.0, seed: int = 0,
                 steps_per_anchor: int = 32) -> None:
        super().__init__(z_dim, speed=speed, smoothness=smoothness, seed=seed)
        check_positive_float("smoothness", smoothness)
        check_positive_int("steps_per_anchor", steps_per_anchor)
        if self.z_dim < 2:
            raise ParameterError(f"z_dim={z_dim} must be >= 2 for a walk on the sphere")
        self.steps_per_anchor = int(steps_per_anchor)
        self._ds = 1.0 / self.steps_per_anchor
        self._sigma = (math.pi / 2.0) / math.sqrt(self.z_dim - 1)  # stationary std of each tangent component
        self._decay = math.exp(-self._ds / self.smoothness)
        u = torch.randn(self.z_dim, generator=self._rng, dtype=torch.float64)
        u = u / u.norm()
        self._v = self._tangent(u, torch.randn(self.z_dim, generator=self._rng, dtype=torch.float64)) * self._sigma
        self._grid = u[None]  # unit directions on the simulation grid

    @staticmethod
    def _tangent(u: Tensor, x: Tensor) -> Tensor:
        return x - (x * u).sum(-1, keepdim=True) * u

    def _extend(self, n: int) -> None:
        while self._grid.shape[0] < n:
            noise = torch.randn(_BLOCK, self.z_dim, generator=self._rng, dtype=torch.float64)
            u, v, rows = self._grid[-1], self._v, []
            kick = math.sqrt(1.0 - self._decay**2) * self._sigma
            for xi in noise:
                speed = v.norm()
                theta = speed * self._ds
                if speed > 0:
                    heading = v / speed
                    u, v = (math.cos(theta) * u + math.sin(theta) * heading,
                            speed * (-math.sin(theta) * u + math.cos(theta) * heading))  # geodesic + transport
                u = u / u.norm()
                v = self._decay * self._tangent(u, v) + kick * self._tangent(u, xi)
                rows.append(u)
            self._grid, self._v = torch.cat([self._grid, torch.stack(rows)]), v

    def _path(self, s: Tensor) -> Tensor:
        pos = s / self._ds
        j = torch.floor(pos).long()
        self._extend(int(j.max()) + 2 if j.numel() else 1)
        return slerp(self._grid[j], self._grid[j + 1], (pos - j)[:, None]) * self.radius


KINDS: dict[str, Callable[..., Walk]] = {"spline": SplineWalk, "ou": OUWalk, "loop": LoopWalk,
                                         "lerp": LinearWalk, "jumps": JumpWalk}


def make_walk(kind: str, z_dim: int, **kwargs) -> Walk:
    """Build a walk by name (one of :data:`KINDS`); ``kwargs`` go to its constructor."""
    check_choice("trajectory", kind, tuple(KINDS))
    return KINDS[kind](z_dim, **kwargs)
