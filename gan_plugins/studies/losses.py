"""The adversarial-loss benchmark on MNIST: loss x hyper-parameter neighbourhood x seed, each run trained until its
Fréchet distance stops improving, resumable across processes and sessions.

- The plan (:mod:`gan_plugins.studies.loss_plan`) lists every run. Processes started on one folder share it as a
  queue: each trains the next run of the plan that is neither finished nor held by another process (a lock on the run
  folder's ``.claim`` file, released by the operating system when its holder ends), so one process per core keeps
  every core busy until the plan is done. ``shard=(i, n)`` restricts a process to every n-th run.
- Each run (:mod:`gan_plugins.studies.loss_runs`) is one training, evaluated every ``eval_every`` generator steps (a
  segment), until early stop (the :class:`gan_plugins.studies.early_stop.PlateauStop` callback), ``cap`` steps or
  divergence, and then appends one JSON line to ``runs.jsonl`` (FD curve against generator steps, discriminator
  updates and training seconds). A restarted benchmark skips the runs in ``runs.jsonl`` and resumes an interrupted
  run from its folder's ``last.pt``.
- :func:`aggregate` and :func:`gan_plugins.studies.loss_report.write_report` turn ``runs.jsonl`` (every shard's
  runs) into ``summary.json``, ``summary.md``, ``fd_curves.png`` and ``grid_<loss>.png``.

Folder layout: ``OUT/plan.json`` (the settings; a restart with other settings is refused), ``OUT/runs.jsonl``,
``OUT/runs/<loss>/<point>/seed<k>/`` (trainer run folder; its ``last.pt`` holds the early stop's state), the report
files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.metrics.stability import fd_distribution
from gan_plugins.studies.curves import common_budgets, curve_at
from gan_plugins.studies.loss_plan import DEFAULT_POINT, build_plan, shard_plan
from gan_plugins.studies.loss_report import write_report
from gan_plugins.studies.loss_runs import train_planned_run
from gan_plugins.training.losses import available_losses, get_loss
from specrep.errors import ParameterError, check_positive_int

__all__ = ["BENCHMARK_DEFAULTS", "aggregate", "benchmark_command", "read_runs", "rewrite_report", "run_loss_benchmark",
           "write_report"]

#: Defaults of :func:`run_loss_benchmark` (and of ``loopgan benchmark losses``).
BENCHMARK_DEFAULTS: dict[str, Any] = {
    "seeds": 3,
    "neighbourhood": True,
    "neighbourhood_seeds": 1,  # seeds per neighbourhood point (Lucic et al.: one run per hyper-parameter setting)
    "cap": 30000,            # generator steps: a generous cap, early stopping normally ends a run first
    "eval_every": 1000,      # generator steps per segment = between two FD evaluations
    "patience": 4,           # evaluations without an improvement that stop a run
    "min_improvement": 0.05,  # an evaluation improves when its FD is 5 % below the last improving one
}


def run_loss_benchmark(out: str | Path, *, losses: Sequence[str] | None = None,
                       seeds: int = BENCHMARK_DEFAULTS["seeds"],
                       neighbourhood: bool = BENCHMARK_DEFAULTS["neighbourhood"],
                       neighbourhood_seeds: int = BENCHMARK_DEFAULTS["neighbourhood_seeds"],
                       cap: int = BENCHMARK_DEFAULTS["cap"], eval_every: int = BENCHMARK_DEFAULTS["eval_every"],
                       patience: int = BENCHMARK_DEFAULTS["patience"],
                       min_improvement: float = BENCHMARK_DEFAULTS["min_improvement"], width: int | None = None,
                       plugin: str = "dcgan", data: str = "mnist", overrides: Mapping[str, Any] | None = None,
                       shard: tuple[int, int] = (0, 1), budget_s: float | None = None,
                       max_segments: int | None = None, evaluator: Any = None,
                       progress: bool = True) -> dict[str, Any]:
    """Run (or continue) this shard's part of the plan, then aggregate every finished run into the report.

    Parameters
    ----------
    out : path
        Benchmark folder (module docstring).
    losses : sequence of str, optional
        Default: every registered loss.
    seeds : int > 0
        Seeds of each loss's default point.
    neighbourhood : bool
        Also train the neighbourhood points (:data:`gan_plugins.studies.loss_plan.NEIGHBOURHOOD`).
    neighbourhood_seeds : int > 0
        Seeds of each neighbourhood point.
    cap, eval_every : int > 0
        Maximum generator steps per run; generator steps between evaluations (a segment).
    patience, min_improvement : int > 0, float in [0, 1)
        Early stop: ``patience`` evaluations in a row without an FD ``min_improvement`` below the last improving one.
    width : int > 0, optional
        The plugin's ``width`` (same as ``overrides={"width": ...}``).
    overrides : mapping, optional
        Settings for every run; each loss keeps its literature defaults unless its point moves one.
    shard : (int, int)
        ``(i, n)``: train only runs ``i, i+n, ...`` of the plan.
    budget_s, max_segments : optional
        Stop this process (leaving the current run resumable) before a segment would start after ``budget_s``
        seconds or after ``max_segments`` segments; the report is still written.
    evaluator : optional
        ``evaluator(generator, step) -> {"fd", "coverage", ...}`` with ``floor``/``ceiling`` attributes; default
        :class:`gan_plugins.metrics.mnist.MnistEvaluator` (built once per process).
    progress : bool
        Print one line per segment on stderr.

    Returns
    -------
    dict
        The aggregate written to ``summary.json`` (:func:`aggregate` plus ``config``, ``plan_runs``, ``command``).
    """
    check_positive_int("seeds", seeds)
    check_positive_int("neighbourhood_seeds", neighbourhood_seeds)
    check_positive_int("cap", cap)
    check_positive_int("eval_every", eval_every)
    check_positive_int("patience", patience)
    if not 0 <= float(min_improvement) < 1:
        raise ParameterError(f"min_improvement={min_improvement!r} must be in [0, 1)")
    if budget_s is not None and not budget_s > 0:
        raise ParameterError(f"budget_s={budget_s!r} must be > 0")
    if max_segments is not None:
        check_positive_int("max_segments", max_segments)
    losses = list(losses or available_losses())
    for name in losses:
        get_loss(name)
    over = dict(overrides or {})
    if width is not None:
        check_positive_int("width", width)
        over["width"] = int(width)
    plan = build_plan(losses, seeds=seeds, neighbourhood=neighbourhood, neighbourhood_seeds=neighbourhood_seeds)
    mine = shard_plan(plan, shard)
    settings = {"plugin": plugin, "data": data, "losses": losses, "seeds": seeds, "neighbourhood": bool(neighbourhood),
                "neighbourhood_seeds": int(neighbourhood_seeds),
                "cap": int(cap), "eval_every": int(eval_every), "patience": int(patience),
                "min_improvement": float(min_improvement), "overrides": over}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_plan_file(out / "plan.json", settings)
    log_path = out / "runs.jsonl"
    done = {r["run_id"] for r in read_runs(log_path)}

    t0, segments = time.perf_counter(), [0]

    def may_continue() -> bool:
        if max_segments is not None and segments[0] >= max_segments:
            return False
        if budget_s is not None and time.perf_counter() - t0 >= budget_s:
            return False
        segments[0] += 1
        return True

    def say(line: str) -> None:
        if progress:
            who = f"shard {shard[0]}/{shard[1]}" if shard[1] > 1 else f"pid {os.getpid()}"
            print(f"[{who}] {line}", file=sys.stderr, flush=True)

    todo = [run for run in mine if run.run_id not in done]
    if todo and evaluator is None:
        evaluator = _mnist_evaluator(plugin, data, todo[0].loss, over)
    for run in todo:
        run_dir = out / "runs" / run.run_id
        with _claim(run_dir) as mine_now:
            if not mine_now:  # another process of this benchmark is training it
                continue
            if run.run_id in {r["run_id"] for r in read_runs(log_path)}:  # finished since this process started
                continue
            record = train_planned_run(run, run_dir, settings, evaluator, may_continue=may_continue, log=say)
            if record is None:
                say(f"stopped by the budget; {run.run_id} resumes from its last.pt next time")
                break
            _append_locked(log_path, record)
    return _report(out, settings, len(plan))


def rewrite_report(out: str | Path) -> dict[str, Any]:
    """Rewrite a benchmark folder's report from its ``plan.json`` and ``runs.jsonl``, training nothing.

    For a report while other processes train, or after the report's code changed (a running process writes the
    report with the code it started with). Returns the aggregate written to ``summary.json``.
    """
    out = Path(out)
    if not (out / "plan.json").is_file():
        raise ParameterError(f"{out} holds no loss benchmark (no plan.json)")
    settings = json.loads((out / "plan.json").read_text())
    plan = build_plan(settings["losses"], seeds=settings["seeds"], neighbourhood=settings["neighbourhood"],
                      neighbourhood_seeds=settings["neighbourhood_seeds"])
    return _report(out, settings, len(plan))


def _report(out: Path, settings: Mapping[str, Any], plan_runs: int) -> dict[str, Any]:
    runs = read_runs(out / "runs.jsonl")
    summary = aggregate(runs, settings["losses"])
    summary.update({"config": dict(settings), "plan_runs": plan_runs, "command": benchmark_command(settings, out)})
    write_report(out, summary, runs)
    return summary


def _mnist_evaluator(plugin: str, data: str, loss: str, overrides: Mapping[str, Any]):
    """The benchmark's default evaluator: :class:`MnistEvaluator` with the plugin's latent (built once)."""
    from gan_plugins.metrics.mnist import MnistEvaluator

    plug = get_plugin(plugin)
    cfg = resolve_config(plug, loss=loss, data=data, overrides=overrides)
    return MnistEvaluator(lambda n, g: plug.latent(n, cfg, generator=g), data=data)


def _check_plan_file(path: Path, settings: Mapping[str, Any]) -> None:
    """Write ``plan.json`` or check that it holds the same settings (shards and restarts must agree)."""
    current = json.loads(json.dumps(settings))
    if path.exists():
        stored = json.loads(path.read_text())
        diff = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
        if diff:
            raise ParameterError(f"{path} was written with other settings ({', '.join(diff)}: "
                                 f"{[stored.get(k) for k in diff]} vs {[current.get(k) for k in diff]}); "
                                 "use another --out or the same options")
        return
    path.write_text(json.dumps(current, indent=2) + "\n")


@contextlib.contextmanager
def _claim(run_dir: Path) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock on ``run_dir/.claim`` while a run trains; yield False if another process
    holds it. The operating system drops the lock when its process ends, killed or not, so no claim outlives it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".claim", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _append_locked(path: Path, record: Mapping[str, Any]) -> None:
    """Append one JSON line under an exclusive lock (several shards share ``runs.jsonl``)."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_runs(path: str | Path) -> list[dict[str, Any]]:
    """The records of ``runs.jsonl`` (empty when absent); one record per run id (the first one written)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path) as fh:  # shared lock: another shard may be appending
        fcntl.flock(fh, fcntl.LOCK_SH)
        try:
            text = fh.read()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    seen, runs = set(), []
    for line in text.splitlines():
        if line.strip():
            r = json.loads(line)
            if r["run_id"] not in seen:
                seen.add(r["run_id"])
                runs.append(r)
    return runs


def benchmark_command(settings: Mapping[str, Any], out: str | Path) -> str:
    """The ``loopgan benchmark losses`` command line that trains the plan of ``settings`` into ``out`` (one
    process; add ``--shard i/n`` to split it)."""
    if settings.get("plugin", "dcgan") != "dcgan" or settings.get("data", "mnist") != "mnist":
        return f"run_loss_benchmark(plugin={settings['plugin']!r}, data={settings['data']!r}, ...) (no CLI form)"
    parts = ["loopgan", "--threads", "1", "benchmark", "losses"]
    if list(settings["losses"]) != available_losses():
        parts += ["--losses", ",".join(settings["losses"])]
    parts += ["--seeds", str(settings["seeds"]), "--neighbourhood", "on" if settings["neighbourhood"] else "off"]
    if settings["neighbourhood"]:
        parts += ["--neighbourhood-seeds", str(settings.get("neighbourhood_seeds", settings["seeds"]))]
    parts += ["--cap", str(settings["cap"]), "--eval-every", str(settings["eval_every"]),
              "--patience", str(settings["patience"]), "--min-improvement", f"{settings['min_improvement']:g}"]
    over = dict(settings["overrides"])
    if "width" in over:
        parts += ["--width", str(over.pop("width"))]
    for k, v in over.items():
        parts += ["--set", f"{k}={json.dumps(v)}"]
    return "OMP_NUM_THREADS=1 " + shlex.join([*parts, "--out", str(out)])


def _median(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else float("nan")


def _at_budgets(rs: Sequence[Mapping[str, Any]], axis: str, budgets: np.ndarray) -> list[dict[str, float]]:
    """Per budget: median, min and max over ``rs`` of FD, and median coverage, interpolated on ``axis``."""
    rows = []
    curves = [r["curve"] for r in rs if r["curve"]]
    for b in budgets:
        fd = [float(curve_at([p[axis] for p in c], [p["fd"] for p in c], b)) for c in curves]
        cov = [float(curve_at([p[axis] for p in c], [p["coverage"] for p in c], b)) for c in curves]
        ok = [v for v in fd if np.isfinite(v)]
        rows.append({"budget": float(b), "fd_median": _median(fd), "fd_min": min(ok) if ok else float("nan"),
                     "fd_max": max(ok) if ok else float("nan"), "coverage_median": _median(cov), "runs": len(ok)})
    return rows


def _best_fd(rs: Sequence[Mapping[str, Any]]) -> float:
    fds = [r["best_fd"] for r in rs if np.isfinite(r["best_fd"])]
    return float(min(fds)) if fds else float("nan")


def aggregate(runs: Sequence[Mapping[str, Any]], losses: Sequence[str], *, n_budgets: int = 4) -> dict[str, Any]:
    """Per-loss statistics of finished runs.

    Parameters
    ----------
    runs : sequence of dict
        ``runs.jsonl`` records (:func:`gan_plugins.studies.loss_runs.train_planned_run`).
    losses : sequence of str
        Report order; losses without runs are left out.
    n_budgets : int > 0
        Common budgets per axis (:func:`gan_plugins.studies.curves.common_budgets` over the default-point runs
        of every loss), shared by all losses.

    Returns
    -------
    dict
        ``floor``, ``noise_fd``, ``best_fd_all`` (best final FD over every run), ``budgets`` (``d_updates``,
        ``train_s``), ``cpu_s_total``, ``train_s_total``, ``runs_done`` and ``losses``: per loss ``n_critic``,
        ``seeds`` (:func:`fd_distribution` of the final FD of the default point's runs), ``neighbourhood``
        (the same over every run of the loss, near = within 2x the loss's best), ``share_within_2x_all`` (within 2x
        ``best_fd_all``), ``best_fd`` (best FD of any evaluation of any run of the loss), ``final`` (default
        point: ``best_fd`` = best FD of any evaluation of its runs, median coverage, steps, D updates, training seconds,
        stop counts, ``confidence`` = the classifier's mean top probability at the last evaluation, NaN where the
        evaluator gave none, ``cpu_s_per_kstep`` = CPU seconds per 1,000 generator steps),
        ``stopped`` (counts of ``early``/``cap``/``diverged`` over every run of the loss),
        ``nan_stops``, ``collapsed``, ``failed``,
        ``points`` (per point: final FDs, median, min, max, median coverage, overrides) and ``at_d_updates`` /
        ``at_train_s`` (per budget: FD median/min/max and median coverage over the default point's seeds).
    """
    check_positive_int("n_budgets", n_budgets)
    finals = [r["final_fd"] for r in runs if np.isfinite(r["final_fd"])]
    best_all = min(finals) if finals else float("nan")
    default = [r for r in runs if r["point"] == DEFAULT_POINT]
    budgets = {axis: common_budgets([[p[axis] for p in r["curve"]] for r in default], n_budgets)
               for axis in ("d_updates", "train_s")}
    per_loss: dict[str, Any] = {}
    for name in losses:
        rs = [r for r in runs if r["loss"] == name]
        if not rs:
            continue
        ds = [r for r in rs if r["point"] == DEFAULT_POINT]
        points: dict[str, Any] = {}
        for r in rs:
            p = points.setdefault(r["point"], {"overrides": r["overrides"], "fds": [], "coverage": []})
            p["fds"].append(r["final_fd"])
            p["coverage"].append(r["final_coverage"])
        for p in points.values():
            ok = [v for v in p["fds"] if np.isfinite(v)]
            p.update({"median": _median(p["fds"]), "min": min(ok) if ok else float("nan"),
                      "max": max(ok) if ok else float("nan"), "coverage_median": _median(p.pop("coverage"))})
        per_loss[name] = {
            "n_critic": rs[0]["n_critic"], "runs": len(rs),
            "seeds": fd_distribution([r["final_fd"] for r in ds]) if ds else None,
            "neighbourhood": fd_distribution([r["final_fd"] for r in rs]),
            "share_within_2x_all": fd_distribution([r["final_fd"] for r in rs], best=best_all)["share_within"],
            "best_fd": _best_fd(rs),
            "final": {"best_fd": _best_fd(ds), "coverage": _median([r["final_coverage"] for r in ds]),
                      "steps": _median([r["steps"] for r in ds]), "d_updates": _median([r["d_updates"] for r in ds]),
                      "train_s": _median([r["train_s"] for r in ds]),
                      "confidence": _median([r["curve"][-1].get("confidence", np.nan) if r["curve"] else np.nan
                                             for r in ds]),
                      "cpu_s_per_kstep": _median([1000.0 * r["cpu_s"] / r["steps"] if r["steps"] else np.nan
                                                  for r in ds]),
                      "stopped": {k: sum(r["stopped"] == k for r in ds) for k in ("early", "cap", "diverged")}},
            "stopped": {k: sum(r["stopped"] == k for r in rs) for k in ("early", "cap", "diverged")},
            "nan_stops": int(sum(r["nan_stop"] for r in rs)), "collapsed": int(sum(r["collapsed"] for r in rs)),
            "failed": int(sum(r["failed"] for r in rs)), "points": points,
            "at_d_updates": _at_budgets(ds, "d_updates", budgets["d_updates"]),
            "at_train_s": _at_budgets(ds, "train_s", budgets["train_s"]),
        }
    first = runs[0] if runs else {}
    return {"floor": first.get("floor"), "noise_fd": first.get("noise_fd"), "best_fd_all": best_all,
            "budgets": {k: v.tolist() for k, v in budgets.items()}, "runs_done": len(runs),
            "cpu_s_total": float(sum(r["cpu_s"] for r in runs)),
            "train_s_total": float(sum(r["train_s"] for r in runs)), "losses": per_loss}
