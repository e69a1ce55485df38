"""Early stopping on a Fréchet-distance curve: stop when FD has stopped improving.

Rule (Keras ``EarlyStopping`` with a relative ``min_delta``): evaluation ``i`` *improves* when its FD is below
``(1 - min_improvement) x ref``, where ``ref`` is the FD of the last improving evaluation (the first evaluation always
improves and sets ``ref``). Training stops after ``patience`` consecutive evaluations that do not improve. Because
``ref`` only moves on an improvement, a slow steady decline still counts once it adds up to ``min_improvement``; a
NaN/Inf FD never improves.

:class:`PlateauStop` applies the rule to a training run as a :mod:`gan_plugins.training.callbacks` callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gan_plugins.training.callbacks import Callback
from specrep.errors import ParameterError, check_positive_int

__all__ = ["PlateauStop", "early_stop_at"]


def early_stop_at(fds: Sequence[float], *, min_improvement: float, patience: int) -> int | None:
    """Index of the evaluation after which the rule stops training, or None if it never fires on ``fds``.

    Parameters
    ----------
    fds : sequence of float
        FD per evaluation, in training order.
    min_improvement : float in [0, 1)
        Relative improvement that counts (0.05 = 5 % below the reference).
    patience : int > 0
        Consecutive non-improving evaluations that stop training.

    Returns
    -------
    int or None
        The first index ``k`` such that evaluations ``k-patience+1 .. k`` all failed to improve.
    """
    if not 0 <= min_improvement < 1:
        raise ParameterError(f"min_improvement={min_improvement!r} must be in [0, 1)")
    check_positive_int("patience", patience)
    ref, waited = math.nan, 0
    for k, fd in enumerate(fds):
        fd = float(fd)
        first = math.isnan(ref)
        if math.isfinite(fd) and (first or fd < (1.0 - min_improvement) * ref):
            ref, waited = fd, 0
        else:
            waited += 1
            if waited >= patience:
                return k
    return None


class PlateauStop(Callback):
    """The loss benchmark's early stop as a training callback: it keeps the run's FD curve, times its segments, and
    stops the run when :func:`early_stop_at` fires on the curve or a budget says no further segment may start.

    A *segment* is the ``eval_every`` steps between two evaluations (the trainer's ``eval_every``; checkpoint every
    ``eval_every`` steps too, so a resume starts at a segment boundary). Each evaluation appends
    ``{"step", "d_updates" (= step x n_critic), "train_s" (cumulative), **scores}`` to :attr:`curve`; an
    evaluation at a step the curve already ends with (a resumed run re-scoring its checkpoint) is not added twice.
    ``should_stop`` fires when the rule fires on the curve's ``metric`` values; otherwise, at a segment boundary
    after the first one this process trains, it asks ``may_continue()`` and stops (:attr:`interrupted`) on False
    (the caller asks before starting the trainer).

    Timing, measured here: :attr:`train_s` sums, over the steps, the time from ``should_stop`` to ``on_step_end``
    (the training step and its logging: no evaluation, checkpoint, sample grid or set-up); :attr:`wall_s` and
    :attr:`cpu_s` sum wall-clock and process CPU time between consecutive hooks (and :meth:`elapsed`), so they cover
    the trainer's loop from the first step this process asks about, evaluations and checkpoints included, model
    construction and data loading not. All of it, with the curve and :attr:`segments` (segments started), is the
    callback's state: it is saved in ``last.pt`` and continues on resume.

    Parameters
    ----------
    min_improvement : float in [0, 1)
    patience : int > 0
        The rule's settings (:func:`early_stop_at`).
    metric : str
        The score the rule watches.
    may_continue : callable, optional
        ``may_continue() -> bool``, asked before each later segment.
    log : callable, optional
        Receives each new curve point.
    """

    def __init__(self, *, min_improvement: float, patience: int, metric: str = "fd",
                 may_continue: Callable[[], bool] | None = None,
                 log: Callable[[dict[str, float]], None] | None = None) -> None:
        early_stop_at([], min_improvement=min_improvement, patience=patience)  # the rule's own checks
        self.min_improvement, self.patience, self.metric = float(min_improvement), int(patience), str(metric)
        self.may_continue, self.log = may_continue, log
        self.curve: list[dict[str, float]] = []
        self.train_s = self.wall_s = self.cpu_s = 0.0
        self.segments = 0
        self.interrupted = False
        self._first, self._boundary = True, False
        self._marks: tuple[float, float] | None = None
        self._step_t0 = 0.0

    @property
    def fired(self) -> bool:
        """Whether the rule fires on the curve so far."""
        fds = [p.get(self.metric, math.nan) for p in self.curve]
        return bool(fds) and early_stop_at(fds, min_improvement=self.min_improvement,
                                           patience=self.patience) is not None

    def elapsed(self) -> dict[str, float]:
        """``{"train_s", "wall_s", "cpu_s"}`` so far, the time since the last hook included."""
        self._tick()
        return {"train_s": self.train_s, "wall_s": self.wall_s, "cpu_s": self.cpu_s}

    def _tick(self) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._marks is not None:
            self.wall_s += now[0] - self._marks[0]
            self.cpu_s += now[1] - self._marks[1]
        self._marks = now

    def should_stop(self, trainer: Any, step: int) -> bool:
        self._tick()
        first, self._first = self._first, False
        boundary, self._boundary = self._boundary or first, False
        if self.fired:
            return True
        if boundary:
            if not first and self.may_continue is not None and not self.may_continue():
                self.interrupted = True
                return True
            self.segments += 1
        self._step_t0 = time.perf_counter()
        return False

    def on_step_end(self, trainer: Any, step: int, logs: Mapping[str, float]) -> None:
        self.train_s += time.perf_counter() - self._step_t0
        self._tick()

    def on_evaluation(self, trainer: Any, step: int, scores: Mapping[str, float]) -> None:
        self._tick()
        if self.curve and self.curve[-1]["step"] == step:
            return
        point = {"step": step, "d_updates": step * int(trainer.cfg["n_critic"]), "train_s": self.train_s,
                 **scores}
        self.curve.append(point)
        self._boundary = True
        if self.log is not None:
            self.log(dict(point))

    def state_dict(self) -> dict[str, Any]:
        self._tick()
        return {"curve": [dict(p) for p in self.curve], "train_s": self.train_s, "wall_s": self.wall_s,
                "cpu_s": self.cpu_s, "segments": self.segments}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.curve = [dict(p) for p in state["curve"]]
        self.train_s, self.wall_s, self.cpu_s = float(state["train_s"]), float(state["wall_s"]), float(state["cpu_s"])
        self.segments = int(state["segments"])
