"""Progressive growing against fixed resolution: the representation benchmark's scores, plus images seen and training
wall-clock of every run, and training curves on both axes with the progressive runs' stage boundaries marked.

The scores (NDB/K, JSD, FDD, rhythm, each beside the representation's round trip) come from
:func:`gan_plugins.studies.representations.benchmark_representations`, through the public plugin protocol only.
What this module adds is the budget each checkpoint cost: images seen (the progressive schedule's count, or
``step * batch_size * n_critic`` for a fixed run) and training seconds read from the run's ``log.csv`` (cumulative
over resumed sittings: each sitting's clock restarts at 0), so runs can be compared at equal images and at equal
wall-clock.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gan_plugins.io.model import load_model
from gan_plugins.studies.representations import benchmark_representations, trailing_mean, write_report
from specrep.errors import ParameterError

__all__ = ["benchmark_progressive", "cumulative_seconds", "run_budget", "write_progressive_report"]


def cumulative_seconds(steps: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Training seconds since the run began at each logged step ``(n,)``.

    ``seconds`` is the trainer's per-sitting clock (``log.csv``), which restarts when a run is resumed: each drop
    starts a new sitting, whose times are offset by the last time logged before it. A sitting whose first logged
    time is not below the previous sitting's last one (a previous sitting shorter than one logging interval of the
    next) cannot be told from the clock and is counted as part of it: the total is then short by that sitting.
    """
    steps, seconds = np.asarray(steps, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    if steps.shape != seconds.shape or steps.ndim != 1:
        raise ParameterError(f"steps {steps.shape} and seconds {seconds.shape} must be equal 1-D shapes")
    out = seconds.copy()
    offset = 0.0
    for i in range(1, len(seconds)):
        if seconds[i] < seconds[i - 1]:  # a resumed sitting: its clock restarted
            offset = out[i - 1]
        out[i] = seconds[i] + offset
    return out


def _read_log(run: Path) -> dict[str, np.ndarray]:
    log = run / "log.csv"
    if not log.is_file():
        return {}
    with open(log) as fh:
        rows = list(csv.DictReader(fh))
    cols = {k: np.array([float(r[k]) if r.get(k) not in (None, "") else np.nan for r in rows]) for k in rows[0]}
    if "seconds" in cols:
        cols["wall"] = cumulative_seconds(cols["step"], cols["seconds"])
    return cols


def _images(plugin, cfg: Mapping[str, Any], steps: np.ndarray) -> np.ndarray:
    schedule = plugin.schedule(cfg)
    if schedule is not None:
        return np.array([schedule.at(int(s))["images"] for s in steps], dtype=np.float64)
    return np.asarray(steps, dtype=np.float64) * int(cfg["batch_size"]) * int(cfg["n_critic"])


def run_budget(run: str | Path) -> dict[str, Any]:
    """What a run's checkpoint cost: ``step``, ``images`` seen and training ``seconds`` (cumulative over sittings,
    at the last logged step not after the checkpoint; NaN without a log), plus the progressive ``boundaries``
    (``[]`` for a fixed-resolution run)."""
    model = load_model(run)
    plugin, cfg, step = model.plugin, model.config, model.step
    log = _read_log(model.path.parent)
    seconds = float("nan")
    if log and "wall" in log:
        done = log["step"] <= step
        if done.any():
            seconds = float(log["wall"][done][-1])
    schedule = plugin.schedule(cfg)
    return {"step": step, "images": float(_images(plugin, cfg, np.array([step]))[0]), "seconds": seconds,
            "boundaries": schedule.boundaries() if schedule is not None else [], "plugin": cfg["plugin"],
            "config": cfg, "log": log}


def benchmark_progressive(runs: Mapping[str, str | Path], data: str | Path, *, n: int = 500, n_real: int = 1000,
                          k: int = 50, seed: int = 0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Score progressive and fixed-resolution runs side by side, with what each cost.

    Parameters
    ----------
    runs : mapping label -> run folder or checkpoint
        Progressive runs (plugin ``progressive``) and fixed-resolution ones (e.g. ``gansynth``) of the same final
        feature size, each at the checkpoints to compare (e.g. the same run at two steps, copied).
    data, n, n_real, k, seed, out_dir :
        As :func:`~gan_plugins.studies.representations.benchmark_representations` (the loops they trained on,
        generated loops per run, real loops defining the NDB bins, bins, seed, figures folder).

    Returns
    -------
    dict
        The representation benchmark's result, each run's row extended with ``images``, ``seconds`` (training
        wall-clock) and ``progressive`` (bool), plus ``boundaries``: label -> the stage list of each progressive run.
    """
    if not runs:
        raise ParameterError("give at least one run to benchmark")
    budgets = {label: run_budget(path) for label, path in runs.items()}
    result = benchmark_representations(runs, data, n=n, n_real=n_real, k=k, seed=seed, out_dir=out_dir)
    result["boundaries"] = {}
    for label, b in budgets.items():
        row = result["runs"][label]
        row.update({"images": b["images"], "seconds": b["seconds"], "progressive": bool(b["boundaries"])})
        if b["boundaries"]:
            result["boundaries"][label] = b["boundaries"]
    if out_dir is not None:
        _plot_budget_curves(budgets, Path(out_dir) / "progressive-curves.png")
        result["settings"]["curves"] = str(Path(out_dir) / "progressive-curves.png")
    return result


def _plot_budget_curves(budgets: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Critic gap against images seen and against training wall-clock; progressive stage starts as dotted lines
    (fade-ins shaded)."""
    from specrep.plotting import subplots

    fig, axes = subplots(1, 2, figsize=(12, 3.8))
    for i, (label, b) in enumerate(budgets.items()):
        log = b["log"]
        if not log:
            continue
        colour = f"C{i}"
        images = _images_for_log(b, log["step"])
        gap = log["d_real"] - log["d_fake"]
        win = max(1, len(gap) // 50)
        smooth = trailing_mean(gap, win)
        axes[0].plot(images[win - 1:], smooth, color=colour, label=label)
        if "wall" in log:
            axes[1].plot(log["wall"][win - 1:] / 60.0, smooth, color=colour, label=label)
        stages = b["boundaries"]
        for j, stage in enumerate(stages[1:], start=1):
            x = float(stage["start_images"])
            axes[0].axvline(x, color=colour, ls=":", lw=0.8)
            if stage["fading"] and j + 1 < len(stages):  # shade the fade-in up to the next stage's start
                axes[0].axvspan(x, float(stages[j + 1]["start_images"]), color=colour, alpha=0.06)
    axes[0].set_xlabel("images seen")
    axes[1].set_xlabel("training wall-clock (min, this machine)")
    for ax in axes:
        ax.set_ylabel("critic gap D(real) - D(fake), smoothed")
        ax.legend(fontsize=8)
    fig.suptitle("progressive vs fixed resolution (dotted: progressive stage starts; shaded: fade-ins)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def _images_for_log(budget: Mapping[str, Any], steps: np.ndarray) -> np.ndarray:
    from gan_plugins.api import get_plugin

    return _images(get_plugin(budget["plugin"]), budget["config"], steps)


def write_progressive_report(result: Mapping[str, Any], path: str | Path, *, command: str) -> Path:
    """The representation report of ``result`` followed by the budget table (images, wall-clock) and the stage
    list of each progressive run."""
    path = write_report(result, path, command=command, title="Progressive growing vs fixed resolution")
    lines = ["", "## Budget of each checkpoint", "",
             "| model | progressive | steps | images seen | training wall-clock (min) |", "|---|---|---:|---:|---:|"]
    for label, r in result["runs"].items():
        minutes = "n/a" if math.isnan(r["seconds"]) else f"{r['seconds'] / 60:.1f}"
        lines.append(f"| {label} | {'yes' if r['progressive'] else 'no'} | {r['step']} | {r['images']:,.0f} | "
                     f"{minutes} |")
    for label, stages in result.get("boundaries", {}).items():
        lines += ["", f"Stages of {label}:", "", "| stage | level | kind | first step | images before |",
                  "|---:|---:|---|---:|---:|"]
        for s in stages:
            lines.append(f"| {s['stage']} | {s['level']} | {'fade-in' if s['fading'] else 'stable'} | "
                         f"{s['start_step']} | {s['start_images']:,} |")
    if result["settings"].get("curves"):
        lines += ["", f"Training curves against images and wall-clock: `{Path(result['settings']['curves']).name}` "
                  "in the figures folder."]
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")
    return Path(path)
