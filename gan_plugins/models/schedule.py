"""The progressive-growing schedule: generator step -> stage, level, fade-in alpha, images seen, batch size, lr.

A model of ``levels + 1`` resolutions (level 0 = the seed grid, level ``levels`` = the final feature size) trains in
*stages* that alternate a stable phase and a fade-in, as GANSynth's ``train_progressive`` mode does (Engel et al.
2019, after Karras et al. 2018)::

    stage 0: stable at start_level | stage 1: fade in start_level + 1 | stage 2: stable at start_level + 1 | ...

the last stage being the stable phase of the final level, which lasts until training stops. A phase is given in
*images* (real examples shown to the discriminator: ``batch_size(level) * n_critic`` per generator step, per process)
and rounded up to whole generator steps of that level's batch size. Within a fade of ``n`` steps, step ``k``
(0-based) has ``fade_alpha = k / n``: 0 on the fade's first step, ``(n - 1) / n`` on its last, 1 from the next
stable stage on.

Everything :meth:`ProgressiveSchedule.at` returns is a pure function of the step and the config: the trainer's
checkpointed step is the only state, so a run resumed mid-fade continues with the same alpha, stage and images seen
(no counter that a restart would reset).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from specrep.errors import ParameterError, check_positive_int

__all__ = ["Phase", "ProgressiveSchedule", "per_level"]


def per_level(name: str, value: Any, n_levels: int, *, kind: type, allow_zero: bool = False) -> list:
    """``value`` (one number, or a list with one entry per level) as a list of ``n_levels`` positive numbers.

    Raises
    ------
    ParameterError
        If a list has the wrong length or an entry is not a positive number of ``kind`` (``>= 0`` with
        ``allow_zero``).
    """
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n_levels
    if len(values) != n_levels:
        raise ParameterError(f"{name}={value!r} must be one value or a list of {n_levels} (one per level, seed "
                             f"first), not {len(values)}")
    out = []
    for v in values:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (v >= 0 if allow_zero else v > 0) and (kind is float or float(v).is_integer())
        if not ok:
            bound = ">= 0" if allow_zero else "> 0"
            raise ParameterError(f"{name}={value!r}: every entry must be {'an integer' if kind is int else 'a number'}"
                                 f" {bound}, got {v!r}")
        out.append(kind(v))
    return out


@dataclass(frozen=True)
class Phase:
    """One stage of the schedule.

    Attributes
    ----------
    stage : int
        Index in the schedule (0 = the first stable phase).
    level : int
        Resolution trained (0 = seed grid).
    fading : bool
        True for a fade-in of ``level`` (blending in from ``level - 1``).
    start_step, steps : int
        First generator step and length in steps (``steps`` is None for the last, open-ended stage).
    start_images : int
        Images seen before ``start_step``.
    batch_size : int
        Per-process batch of every step of this stage.
    """

    stage: int
    level: int
    fading: bool
    start_step: int
    steps: int | None
    start_images: int
    batch_size: int


class ProgressiveSchedule:
    """Stages of progressive growing as a pure function of the generator step (a :class:`gan_plugins.api.Schedule`).

    Parameters
    ----------
    levels : int >= 0
        Index of the final resolution (``seed_grid(shape)[0]``).
    stage_images : int or list of int
        Images of each stable stage (per level, seed first); the final level's stable stage has no end.
    fade_images : int or list of int
        Images of each fade-in (per level; the entry of level 0 and of levels below ``start_level`` is unused). 0
        switches to the new level without a fade.
    batch_sizes : int or list of int
        Per-process batch size at each level.
    lr_g, lr_d : float > 0
        Base learning rates.
    lr_scales : float or list of float, optional
        Per-level factor on ``lr_g`` and ``lr_d`` (default 1).
    n_critic : int >= 1
        Discriminator updates per generator step (each shows one batch of real images).
    start_level : int
        First level trained (``levels`` = no growing: the fixed-resolution ablation of the same code).

    Raises
    ------
    ParameterError
        On any invalid value (the message names it).
    """

    def __init__(self, *, levels: int, stage_images, fade_images, batch_sizes, lr_g: float, lr_d: float,
                 lr_scales=1.0, n_critic: int = 1, start_level: int = 0) -> None:
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 0:
            raise ParameterError(f"levels={levels!r} must be an integer >= 0")
        n = levels + 1
        if isinstance(start_level, bool) or not isinstance(start_level, int) or not 0 <= start_level <= levels:
            raise ParameterError(f"start_level={start_level!r} must be an integer in [0, {levels}] (the final level "
                                 "trains at full resolution from the start)")
        check_positive_int("n_critic", n_critic)
        for name, v in (("lr_g", lr_g), ("lr_d", lr_d)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ParameterError(f"{name}={v!r} must be a number > 0")
        self.levels, self.start_level, self.n_critic = levels, start_level, n_critic
        self.stage_images = per_level("stage_images", stage_images, n, kind=int)
        self.fade_images = per_level("fade_images", fade_images, n, kind=int, allow_zero=True)
        self.batch_sizes = per_level("stage_batch_size", batch_sizes, n, kind=int)
        self.lr_scales = per_level("stage_lr_scale", lr_scales, n, kind=float)
        self.lr_g, self.lr_d = float(lr_g), float(lr_d)
        self.phases: list[Phase] = []
        step = images = 0
        for level in range(start_level, n):
            bs = self.batch_sizes[level]
            per_step = bs * n_critic
            kinds = [(True, self.fade_images[level])] if level > start_level and self.fade_images[level] else []
            kinds.append((False, self.stage_images[level]))
            for fading, n_images in kinds:
                last = level == levels and not fading
                steps = None if last else math.ceil(n_images / per_step)
                self.phases.append(Phase(len(self.phases), level, fading, step, steps, images, bs))
                if steps is not None:
                    step, images = step + steps, images + steps * per_step
        self._starts = [p.start_step for p in self.phases]

    def phase(self, step: int) -> Phase:
        """The stage that generator step ``step`` (0-based) belongs to."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ParameterError(f"step={step!r} must be an integer >= 0")
        return self.phases[bisect.bisect_right(self._starts, step) - 1]

    @property
    def final_step(self) -> int:
        """First step of the final level's stable stage (the growing is over from there)."""
        return self.phases[-1].start_step

    def at(self, step: int) -> dict[str, Any]:
        """Settings of generator step ``step``.

        Returns
        -------
        dict
            ``stage`` (int), ``level`` (int), ``fade_alpha`` (float in [0, 1]: weight of the new level during a
            fade, 1 otherwise), ``images`` (int, real images seen before this step, per process), ``batch_size``
            (int), ``lr_g`` and ``lr_d`` (float).
        """
        p = self.phase(step)
        k = step - p.start_step
        alpha = k / p.steps if p.fading else 1.0
        scale = self.lr_scales[p.level]
        return {"stage": p.stage, "level": p.level, "fade_alpha": alpha,
                "images": p.start_images + k * p.batch_size * self.n_critic, "batch_size": p.batch_size,
                "lr_g": self.lr_g * scale, "lr_d": self.lr_d * scale}

    def boundaries(self) -> list[dict[str, Any]]:
        """Every stage as a plain dict (``stage``, ``level``, ``fading``, ``start_step``, ``steps``,
        ``start_images``, ``batch_size``): where to mark stage boundaries on training curves."""
        return [dict(p.__dict__) for p in self.phases]

