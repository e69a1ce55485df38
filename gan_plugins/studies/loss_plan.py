"""The loss benchmark's plan: which runs exist (loss x hyper-parameter point x seed), in which order, on which shard.

The hyper-parameter neighbourhood of a loss is a one-at-a-time neighbourhood around its literature defaults
(``gan_plugins.training.losses``),
in the spirit of Lucic et al. 2018 and Kurach et al. 2019, who report the spread of FD over
seeds *and* over hyper-parameters: every :class:`Knob` of the loss is moved alone by each of its factors while the
others stay at their defaults. With :data:`NEIGHBOURHOOD`:

=============================  =====================================  ========
loss                           points                                 # points
=============================  =====================================  ========
minimax, non-saturating,       default, lr x1/4, lr x4                3
lsgan, hinge
wgan                           default, lr x1/4, lr x4, clip x1/4,    5
                               clip x4
wgan-gp                        default, lr x1/4, lr x4, λ x0.1, λ x10  5
=============================  =====================================  ========

``lr`` scales the generator's and the discriminator's learning rates together (``lr_g``, ``lr_d``).

Seeds: the default point gets ``seeds`` seeds (the spread over seeds), each neighbourhood point
``neighbourhood_seeds`` (the spread over hyper-parameters). As in Lucic et al. 2018, whose hyper-parameter search
trains each sampled setting once and only the best settings over many seeds, the benchmark's default is one seed per
neighbourhood point: it halves the plan (34 runs instead of 66 for 6 losses and 3 seeds) and the neighbourhood
distribution of a loss still holds its default point's seeds.

Order: first every loss's *default* point, seed by seed (so whole (loss, default) seed sets finish first), then the
neighbourhood points, loss by loss, each point's seeds together. ``--shard i/n`` takes runs ``i, i+n, i+2n, ...`` of
that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gan_plugins.training.losses import get_loss
from specrep.errors import ParameterError, check_positive_int

__all__ = ["DEFAULT_POINT", "Knob", "LR", "NEIGHBOURHOOD", "PlannedRun", "build_plan", "neighbourhood_points",
           "parse_shard", "shard_plan"]

DEFAULT_POINT = "default"


@dataclass(frozen=True)
class Knob:
    """One hyper-parameter of the neighbourhood.

    Attributes
    ----------
    name : str
        Label used in point names (``lr``, ``clip``, ``gp_weight``).
    keys : tuple of str
        Config keys multiplied together by the factor (e.g. ``("lr_g", "lr_d")``).
    factors : tuple of float > 0
        Multipliers of the loss's literature default, each giving one point (1 is the default point itself and is
        not listed).
    """

    name: str
    keys: tuple[str, ...]
    factors: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ParameterError(f"knob {self.name!r} needs at least one config key")
        for f in self.factors:
            if not f > 0 or f == 1:
                raise ParameterError(f"knob {self.name!r}: factor {f!r} must be > 0 and != 1")


LR = Knob("lr", ("lr_g", "lr_d"), (0.25, 4.0))

#: Per loss, the knobs moved one at a time around the literature defaults (losses not listed get ``(LR,)``).
NEIGHBOURHOOD: Mapping[str, tuple[Knob, ...]] = MappingProxyType({
    "minimax": (LR,),
    "non-saturating": (LR,),
    "lsgan": (LR,),
    "hinge": (LR,),
    "wgan": (LR, Knob("clip", ("clip",), (0.25, 4.0))),
    "wgan-gp": (LR, Knob("gp_weight", ("gp_weight",), (0.1, 10.0))),
})


def _factor_label(f: float) -> str:
    return f"{f:g}"


def neighbourhood_points(loss: str, *, neighbourhood: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """The hyper-parameter points of ``loss``: ``[(label, overrides), ...]``, the default point first.

    Labels are folder-safe: ``default``, ``lr_x0.25``, ``lr_x4``, ``clip_x0.25``, ``gp_weight_x10``. Overrides hold
    the absolute values (literature default x factor) of the knob's keys; the default point's overrides are empty.
    """
    defaults = get_loss(loss).defaults
    points: list[tuple[str, dict[str, Any]]] = [(DEFAULT_POINT, {})]
    if not neighbourhood:
        return points
    for knob in NEIGHBOURHOOD.get(loss, (LR,)):
        for f in knob.factors:
            missing = [k for k in knob.keys if k not in defaults]
            if missing:
                raise ParameterError(f"loss {loss!r} has no default for {missing} (knob {knob.name!r})")
            points.append((f"{knob.name}_x{_factor_label(f)}", {k: float(defaults[k]) * f for k in knob.keys}))
    return points


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan.

    Attributes
    ----------
    index : int
        Position in the full plan (before sharding).
    loss, point : str
        Loss name and hyper-parameter point label.
    seed : int
    overrides : mapping
        Config values of the point (empty for the default point).
    """

    index: int
    loss: str
    point: str
    seed: int
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """``loss/point/seed<k>``: the key in ``runs.jsonl`` and the run folder below ``runs/``."""
        return f"{self.loss}/{self.point}/seed{self.seed}"


def build_plan(losses: Sequence[str], *, seeds: int, neighbourhood: bool = True,
               neighbourhood_seeds: int | None = None) -> list[PlannedRun]:
    """Every (loss, point, seed) run in benchmark order (module docstring).

    Parameters
    ----------
    losses : sequence of str
        Registered losses, in report order.
    seeds : int > 0
        Seeds ``0 .. seeds-1`` of each default point.
    neighbourhood : bool
        False: only the default point of each loss.
    neighbourhood_seeds : int > 0, optional
        Seeds ``0 .. neighbourhood_seeds-1`` of each other point (default: ``seeds``).
    """
    check_positive_int("seeds", seeds)
    if neighbourhood_seeds is None:
        neighbourhood_seeds = seeds
    check_positive_int("neighbourhood_seeds", neighbourhood_seeds)
    if not losses:
        raise ParameterError("losses must name at least one loss")
    if len(set(losses)) != len(losses):
        raise ParameterError(f"losses={list(losses)} lists a loss twice")
    items: list[tuple[str, str, int, dict[str, Any]]] = []
    points = {name: neighbourhood_points(name, neighbourhood=neighbourhood) for name in losses}
    for name in losses:
        label, over = points[name][0]
        items += [(name, label, s, over) for s in range(seeds)]
    for name in losses:
        for label, over in points[name][1:]:
            items += [(name, label, s, over) for s in range(neighbourhood_seeds)]
    return [PlannedRun(i, n, p, s, MappingProxyType(o)) for i, (n, p, s, o) in enumerate(items)]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ParameterError(f"shard={text!r} must be 'i/n', e.g. 0/2") from None
    if n < 1 or not 0 <= i < n:
        raise ParameterError(f"shard={text!r} needs 0 <= i < n")
    return i, n


def shard_plan(plan: Sequence[PlannedRun], shard: tuple[int, int] = (0, 1)) -> list[PlannedRun]:
    """Runs ``i, i+n, i+2n, ...`` of ``plan`` for ``shard = (i, n)``."""
    i, n = shard
    if n < 1 or not 0 <= i < n:
        raise ParameterError(f"shard={shard!r} needs 0 <= i < n")
    return list(plan)[i::n]
