"""One run of the loss benchmark: one :func:`gan_plugins.training.trainer.train` call, stopped by
:class:`gan_plugins.studies.early_stop.PlateauStop` when its FD stops improving, resumable across processes.

The trainer evaluates the EMA generator every ``eval_every`` generator steps (a *segment*) and writes ``last.pt``
right after, with the callback's state (the FD curve, the segment count and the timings) inside. The run ends at the
first of: early stop (:func:`gan_plugins.studies.early_stop.early_stop_at` on the curve), the step cap (``cap`` is
the trainer's ``steps``; it evaluates the last step), or divergence (the trainer keeps the last good checkpoint); then
the run's record is returned for ``runs.jsonl``.

Resume: a process stopped by the budget (``may_continue`` False at a segment boundary) or killed leaves ``last.pt``
at the end of the last finished segment, callback state included, so the next process repeats at most the
unfinished segment. One killed after the final checkpoint but before its record was appended resumes at the last
step, trains nothing, evaluates the checkpoint again (a curve point is never added twice) and returns the record.

Timing (measured by the callback, see :class:`~gan_plugins.studies.early_stop.PlateauStop`): ``train_s`` = the
training steps and their logging only, up to the last evaluation (no evaluation, checkpoint, sample grid or set-up;
a diverged segment's steps not); ``wall_s`` and ``cpu_s`` =
wall and process CPU time of the training loop, evaluations and checkpoints included (model construction and data
loading of each process not).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gan_plugins.io.checkpoint import LAST
from gan_plugins.metrics.stability import run_stability
from gan_plugins.studies.early_stop import PlateauStop
from gan_plugins.studies.loss_plan import PlannedRun
from gan_plugins.training.trainer import train

__all__ = ["train_planned_run"]


def _read_history(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / "log.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def train_planned_run(run: PlannedRun, run_dir: Path, settings: Mapping[str, Any],
                      evaluator: Callable[..., Mapping[str, float]], *,
                      may_continue: Callable[[], bool] = lambda: True,
                      log: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """Train ``run`` (module docstring) until a stopping rule fires.

    Parameters
    ----------
    run : PlannedRun
    run_dir : Path
        The run folder (created; ``last.pt`` there means resume).
    settings : mapping
        Shared by every run of the benchmark (validated by the caller): ``plugin``, ``data``, ``cap`` (generator
        steps), ``eval_every`` (generator steps per segment), ``min_improvement`` (fraction), ``patience``
        (evaluations), ``overrides`` (config values for every run).
    evaluator : callable
        ``evaluator(generator, step) -> {"fd": float, "coverage": float, ...}`` with attributes ``floor`` and
        ``ceiling`` (FD of held-out real digits and of uniform noise).
    may_continue : callable
        Asked before each segment (here before the first one this process trains, by the callback before the
        later ones); False stops the benchmark there, leaving the run resumable.
    log : callable, optional
        Receives one line per segment.

    Returns
    -------
    dict or None
        The run's record for ``runs.jsonl`` once it has stopped; None if ``may_continue`` interrupted it.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    if not may_continue():
        return None

    def say(point: Mapping[str, float]) -> None:
        if log is not None:
            log(f"{run.run_id}: step {point['step']} fd {point.get('fd', float('nan')):.2f} "
                f"train {point['train_s']:.0f}s")

    stop = PlateauStop(min_improvement=settings["min_improvement"], patience=settings["patience"],
                       may_continue=may_continue, log=say)
    every = int(settings["eval_every"])
    resume = (run_dir / LAST).exists()
    overrides = {**dict(settings["overrides"]), **dict(run.overrides), "seed": run.seed, "eval_every": every,
                 "sample_every": 0, "ckpt_every": every}
    res = train(settings["plugin"], data=settings["data"], loss=run.loss, out=run_dir, steps=int(settings["cap"]),
                overrides=None if resume else overrides, resume=resume, evaluator=evaluator, progress=False,
                raise_on_diverge=False, callbacks=[stop])
    times = stop.elapsed()
    times["train_s"] = float(stop.curve[-1]["train_s"]) if stop.curve else 0.0  # to the last evaluation
    if res.diverged:
        stopped = "diverged"
        if log is not None:
            log(f"{run.run_id}: step {res.step} DIVERGED")
    elif stop.fired:
        stopped = "early"
    elif res.step >= int(settings["cap"]):
        stopped = "cap"
    else:
        return None  # may_continue said no at a segment boundary
    n_critic = int(json.loads((run_dir / "config.json").read_text())["n_critic"])
    curve = stop.curve
    steps = int(curve[-1]["step"]) if curve else 0
    stats = run_stability(_read_history(run_dir), curve, noise_fd=float(evaluator.ceiling), diverged=res.diverged)
    return {"run_id": run.run_id, "index": run.index, "loss": run.loss, "point": run.point, "seed": run.seed,
            "overrides": dict(run.overrides), "n_critic": n_critic, "stopped": stopped,
            "steps": steps, "d_updates": steps * n_critic, **times,
            "segments": stop.segments, "diverged": res.diverged, "floor": float(evaluator.floor),
            "noise_fd": float(evaluator.ceiling), "curve": curve, **stats}
