"""One run of the loss benchmark, trained in segments until its FD stops improving, resumable across processes.

A run is a sequence of :func:`gan_plugins.training.trainer.train` calls on one run folder, each extending the run by
``eval_every`` generator steps (``resume=True`` after the first): the trainer evaluates the EMA generator at the end
of each call (``eval_every=0`` inside the trainer) and writes ``last.pt`` just before. After each segment the
benchmark appends the evaluation to the run's curve in ``bench_state.json`` (atomic write) and checks the stopping
rules: early stop (:func:`gan_plugins.studies.early_stop.early_stop_at`), the step cap, or divergence.

Resume: a killed process leaves ``last.pt`` at the end of the last finished segment (no checkpoint inside a segment),
so the next process repeats only the unfinished segment. If it was killed after ``last.pt`` was written but before
the state file was, the trainer finds nothing left to train, evaluates the checkpoint, and the segment's training time
is read from the trainer's ``log.csv`` (its row at the segment's last step) as in every other case.

Timing per segment: ``train_s`` = the trainer's own ``seconds`` at the segment's last logged step (training steps and
logging only: no evaluation, checkpoint, sample grid or model construction); ``wall_s`` and ``cpu_s`` = wall and
process CPU time of the whole ``train`` call (evaluation, checkpoint and set-up included).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gan_plugins.errors import GanError
from gan_plugins.metrics.stability import run_stability
from gan_plugins.studies.early_stop import early_stop_at
from gan_plugins.studies.loss_plan import PlannedRun
from gan_plugins.training.trainer import train

__all__ = ["STATE", "stop_reason", "train_planned_run"]

STATE = "bench_state.json"


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj) + "\n")
    os.replace(tmp, path)


def _segment_train_seconds(run_dir: Path, step: int) -> float:
    """The trainer's ``seconds`` at ``step`` in ``log.csv`` (the trainer always logs a call's last step)."""
    found = None
    with open(run_dir / "log.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if int(float(row["step"])) == step:
                found = float(row["seconds"])
    if found is None:
        raise GanError(f"{run_dir / 'log.csv'} has no row for step {step}: cannot time the segment")
    return found


def _read_history(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / "log.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def stop_reason(state: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """``""`` while the run must go on, else ``"diverged"``, ``"early"`` or ``"cap"``."""
    if state.get("diverged"):
        return "diverged"
    curve = state["curve"]
    if curve and early_stop_at([p["fd"] for p in curve], min_improvement=settings["min_improvement"],
                               patience=settings["patience"]) is not None:
        return "early"
    if state["step"] >= settings["cap"]:
        return "cap"
    return ""


def train_planned_run(run: PlannedRun, run_dir: Path, settings: Mapping[str, Any],
                      evaluator: Callable[..., Mapping[str, float]], *,
                      may_continue: Callable[[], bool] = lambda: True,
                      log: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """Train ``run`` segment by segment (module docstring) until a stopping rule fires.

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
        Asked before each segment; False stops the benchmark here, leaving the run resumable.
    log : callable, optional
        Receives one line per segment.

    Returns
    -------
    dict or None
        The run's record for ``runs.jsonl`` once it has stopped; None if ``may_continue`` interrupted it.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else {
        "run_id": run.run_id, "step": 0, "curve": [], "train_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0, "segments": 0,
        "diverged": "", "n_critic": None}
    if state["run_id"] != run.run_id:
        raise GanError(f"{state_path} belongs to run {state['run_id']!r}, not {run.run_id!r}")
    overrides = {**dict(settings["overrides"]), **dict(run.overrides), "seed": run.seed, "eval_every": 0,
                 "sample_every": 0, "ckpt_every": 0}
    while not stop_reason(state, settings):
        if not may_continue():
            return None
        target = min(state["step"] + int(settings["eval_every"]), int(settings["cap"]))
        resume = (run_dir / "last.pt").exists()
        w0, c0 = time.perf_counter(), time.process_time()
        res = train(settings["plugin"], data=settings["data"], loss=run.loss, out=run_dir, steps=target,
                    overrides=None if resume else overrides, resume=resume, evaluator=evaluator, progress=False,
                    raise_on_diverge=False)
        state["wall_s"] += time.perf_counter() - w0
        state["cpu_s"] += time.process_time() - c0
        state["segments"] += 1
        if state["n_critic"] is None:
            state["n_critic"] = int(json.loads((run_dir / "config.json").read_text())["n_critic"])
        if res.diverged:
            state["diverged"], state["diverged_at"] = res.diverged, res.step + 1
        else:
            state["train_s"] += _segment_train_seconds(run_dir, res.step)
            state["step"] = res.step
            ev = dict(res.evals[-1])
            ev.pop("step", None)
            state["curve"].append({"step": res.step, "d_updates": res.step * state["n_critic"],
                                   "train_s": state["train_s"], **ev})
        _write_json_atomic(state_path, state)
        if log is not None:
            last = state["curve"][-1] if state["curve"] else {}
            log(f"{run.run_id}: step {state['step']} fd {last.get('fd', float('nan')):.2f} "
                f"train {state['train_s']:.0f}s" + (" DIVERGED" if state["diverged"] else ""))
    curve = state["curve"]
    stats = run_stability(_read_history(run_dir), curve, noise_fd=float(evaluator.ceiling),
                          diverged=state["diverged"])
    return {"run_id": run.run_id, "index": run.index, "loss": run.loss, "point": run.point, "seed": run.seed,
            "overrides": dict(run.overrides), "n_critic": state["n_critic"], "stopped": stop_reason(state, settings),
            "steps": state["step"], "d_updates": state["step"] * (state["n_critic"] or 1),
            "train_s": state["train_s"], "wall_s": state["wall_s"], "cpu_s": state["cpu_s"],
            "segments": state["segments"], "diverged": state["diverged"], "floor": float(evaluator.floor),
            "noise_fd": float(evaluator.ceiling), "curve": curve, **stats}
