"""Training callbacks: a small hook protocol (Lightning-like) through which code outside the trainer watches a run,
stops it, and keeps state that survives a resume.

A callback is any object with the five methods of :class:`Callback` (subclass it to inherit no-op defaults). The
trainer calls, in this order within each generator step ``s`` (``s`` = steps done after the step):

1. ``on_step_end(trainer, s, logs)`` on every rank, ``logs`` the step's scalars (``step``, losses, gradient norms,
   schedule values, ``seconds`` since the run's loop started);
2. ``on_evaluation(trainer, s, scores)`` on rank 0 after each evaluation (every ``eval_every`` steps and at the end),
   ``scores`` the evaluator's ``{name: float}``;
3. (the trainer's sample grid and checkpoint of step ``s``, with every callback's ``state_dict()``);
4. ``should_stop(trainer, s) -> bool`` before the next step, and once before the first step a run trains (so a
   resumed run that had already met its stopping rule trains nothing). Every callback is asked (none is skipped
   because an earlier one said stop); under ``torchrun`` the run stops when any callback on any rank says so.

A stopped run ends as one that reached its last step: its last step is logged, ``last.pt`` is written, rank 0 draws
the final sample grid and evaluates (unless that step was evaluated already).

State: ``state_dict()`` returns tensors and plain Python values only (the checkpoint loads with
``weights_only=True``); the trainer stores it in the checkpoint under ``"callbacks"`` → ``{state_key: state}`` (the
key is present only when the run has callbacks) and hands it back to ``load_state_dict`` on resume. ``state_key``
defaults to the class name; two callbacks of one run need distinct keys. Under ``torchrun`` rank 0's states are
checkpointed and every rank loads them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from specrep.errors import ParameterError

__all__ = ["HOOKS", "CPUBudget", "Callback", "CallbackList"]

#: the methods every callback has
HOOKS = ("on_step_end", "on_evaluation", "should_stop", "state_dict", "load_state_dict")


class Callback:
    """Base class of training callbacks: every hook does nothing, the state is empty (module docstring)."""

    @property
    def state_key(self) -> str:
        """Key of this callback's state in the checkpoint (default: the class name)."""
        return type(self).__qualname__

    def on_step_end(self, trainer: Any, step: int, logs: Mapping[str, float]) -> None:
        """After generator step ``step`` (steps done), every rank; ``logs`` are the step's scalars."""

    def on_evaluation(self, trainer: Any, step: int, scores: Mapping[str, float]) -> None:
        """After the evaluator scored the EMA generator at ``step`` (rank 0)."""

    def should_stop(self, trainer: Any, step: int) -> bool:
        """Before a step, with ``step`` steps done: True ends the run here."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """This callback's state for the checkpoint (tensors and plain values)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (a resumed run)."""


def _key(cb: object) -> str:
    return str(getattr(cb, "state_key", type(cb).__qualname__))


class CallbackList:
    """The callbacks of one run, called in order.

    Parameters
    ----------
    callbacks : iterable of callbacks
        Objects with every method of :data:`HOOKS`.

    Raises
    ------
    ParameterError
        If an item lacks a hook or two share a ``state_key``.
    """

    def __init__(self, callbacks: Iterable[object] = ()) -> None:
        self.items = list(callbacks)
        keys = []
        for cb in self.items:
            missing = [h for h in HOOKS if not callable(getattr(cb, h, None))]
            if missing:
                raise ParameterError(f"callback {cb!r} lacks {', '.join(missing)} (see gan_plugins.training."
                                     "callbacks.Callback)")
            keys.append(_key(cb))
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ParameterError(f"callbacks share the state_key {', '.join(dup)}; give each its own")
        #: states of callbacks a resumed checkpoint holds that this run does not have: carried over unchanged
        self._carried: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_state(self) -> bool:
        """Whether a checkpoint gets a ``"callbacks"`` entry: callbacks exist, or a resumed one carried states."""
        return bool(self.items or self._carried)

    def on_step_end(self, trainer: Any, step: int, logs: Mapping[str, float]) -> None:
        for cb in self.items:
            cb.on_step_end(trainer, step, logs)

    def on_evaluation(self, trainer: Any, step: int, scores: Mapping[str, float]) -> None:
        for cb in self.items:
            cb.on_evaluation(trainer, step, scores)

    def should_stop(self, trainer: Any, step: int) -> bool:
        """True when any callback says stop (every one is asked)."""
        votes = [bool(cb.should_stop(trainer, step)) for cb in self.items]
        return any(votes)

    def state_dict(self) -> dict[str, Any]:
        """``{state_key: state}`` of every callback, plus the carried-over states of absent ones."""
        return {**self._carried, **{_key(cb): cb.state_dict() for cb in self.items}}

    def load_state_dict(self, states: Mapping[str, Any]) -> None:
        """Hand each callback its stored state (one the checkpoint lacks keeps its fresh state); stored states of
        callbacks this run lacks are kept for the next checkpoint."""
        mine = {_key(cb): cb for cb in self.items}
        for key, state in states.items():
            if key in mine:
                mine[key].load_state_dict(state)
        self._carried = {k: v for k, v in states.items() if k not in mine}


class CPUBudget(Callback):
    """Stop a run once it has used ``seconds`` of CPU time (this process, all threads; :func:`time.process_time`).

    Equal-budget comparisons of recipes whose steps cost differently (a finer time grid, another loss or penalty)
    need a stop on compute, not on steps; CPU time, unlike wall time, does not grow when other jobs share the
    machine. Counted from the first step of each session of the run (setup and data loading excluded), summed over
    resumes through the checkpoint, and checked before each step, so a run overshoots by at most one step.

    Parameters
    ----------
    seconds : float > 0
    """

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ParameterError(f"CPU budget seconds={seconds!r} must be a number > 0")
        self.seconds = float(seconds)
        self.used = 0.0
        self._mark: float | None = None

    def _tick(self) -> None:
        now = time.process_time()
        if self._mark is not None:
            self.used += now - self._mark
        self._mark = now

    def on_step_end(self, trainer: Any, step: int, logs: Mapping[str, float]) -> None:
        self._tick()

    def should_stop(self, trainer: Any, step: int) -> bool:
        self._tick()
        return self.used >= self.seconds

    def state_dict(self) -> dict[str, Any]:
        return {"used": self.used}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.used = float(state.get("used", 0.0))
