"""The adversarial-loss benchmark on MNIST: every loss x several seeds, same DCGAN, same number of generator steps.

Each run is an ordinary :func:`gan_plugins.train.train` run with a :class:`MnistEvaluator` hooked in. Per-run results
are appended to ``runs.jsonl`` as they finish (a restarted benchmark skips runs already there), then aggregated into
``summary.json`` / ``summary.md`` with a Fréchet-distance-over-steps plot and the final sample grid per loss.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gan_plugins.api import get_plugin
from gan_plugins.losses import available_losses, get_loss
from gan_plugins.metrics.mnist import MnistEvaluator
from gan_plugins.metrics.stability import run_stability
from gan_plugins.train import resolve_config, train
from specrep.errors import check_positive_int

__all__ = ["aggregate", "run_loss_benchmark", "write_report"]


def run_loss_benchmark(out: str | Path, *, losses: Sequence[str] | None = None, seeds: int = 3, steps: int = 1500,
                       plugin: str = "dcgan", data: str = "mnist", evals: int = 10,
                       overrides: Mapping[str, Any] | None = None, progress: bool = True) -> dict[str, Any]:
    """Train ``plugin`` with every loss for ``seeds`` seeds and ``steps`` generator steps; score and aggregate.

    Parameters
    ----------
    out : path
        Benchmark folder (``runs/<loss>/seed<k>/``, ``runs.jsonl``, ``summary.*``, PNGs).
    losses : sequence of str, optional
        Default: every registered loss.
    seeds, steps, evals : int > 0
        Seeds per loss, generator steps per run, Fréchet-distance evaluations per run (evenly spaced).
    overrides : mapping, optional
        Extra settings for every run (e.g. ``{"width": 16}``); each loss keeps its own literature defaults.

    Returns
    -------
    dict
        The aggregate written to ``summary.json``.
    """
    check_positive_int("seeds", seeds)
    check_positive_int("steps", steps)
    check_positive_int("evals", evals)
    losses = list(losses or available_losses())
    for name in losses:
        get_loss(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plug = get_plugin(plugin)
    log = out / "runs.jsonl"
    done = {(r["loss"], r["seed"]) for r in _read_runs(log)}
    evaluator = None
    for seed in range(seeds):
        for name in losses:
            if (name, seed) in done:
                continue
            run_dir = out / "runs" / name / f"seed{seed}"
            if run_dir.exists():
                shutil.rmtree(run_dir)  # an interrupted run: start it again from scratch
            cfg_over = {"seed": seed, "eval_every": max(steps // evals, 1), "sample_every": 0, "ckpt_every": 0,
                        "log_every": max(steps // 200, 1), **dict(overrides or {})}
            cfg = resolve_config(plug, loss=name, data=data, overrides=cfg_over)
            if evaluator is None:
                evaluator = MnistEvaluator(lambda n, g, cfg=cfg: plug.latent(n, cfg, generator=g), data=data)
            res = train(plugin, data=data, loss=name, out=run_dir, steps=steps, overrides=cfg_over,
                        evaluator=evaluator, progress=progress, raise_on_diverge=False)
            train_s = max(res.seconds - res.eval_seconds, 1e-9)
            row = {"loss": name, "seed": seed, "steps": res.step, "steps_per_s": res.step / train_s,
                   "seconds": res.seconds, "floor": evaluator.floor, "ceiling": evaluator.ceiling,
                   "n_critic": cfg["n_critic"], "diverged": res.diverged, "fd_curve": [(e["step"], e["fd"])
                                                                                       for e in res.evals],
                   **run_stability(res.history, res.evals, ceiling=evaluator.ceiling, diverged=res.diverged)}
            with open(log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    summary = aggregate(_read_runs(log), losses)
    summary["config"] = {"plugin": plugin, "data": data, "seeds": seeds, "steps": steps,
                         "overrides": dict(overrides or {})}
    write_report(out, summary, _read_runs(log))
    return summary


def _read_runs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def aggregate(runs: Sequence[Mapping[str, Any]], losses: Sequence[str]) -> dict[str, Any]:
    """Per-loss mean/std of the run statistics; counts of NaN-stopped, collapsed and failed runs."""
    per_loss = {}
    for name in losses:
        rs = [r for r in runs if r["loss"] == name]
        if not rs:
            continue

        def ms(key, rs=rs):
            v = np.array([r[key] for r in rs], dtype=np.float64)
            v = v[np.isfinite(v)]
            return (float(v.mean()), float(v.std())) if len(v) else (float("nan"), float("nan"))

        per_loss[name] = {
            "runs": len(rs),
            "fd": ms("final_fd"), "best_fd": ms("best_fd"), "coverage": ms("final_coverage"),
            "steps_per_s": ms("steps_per_s"), "loss_g_oscillation": ms("loss_g_oscillation"),
            "grad_norm_d": ms("grad_norm_d"), "grad_norm_g": ms("grad_norm_g"),
            "nan_stops": int(sum(r["nan_stop"] for r in rs)), "collapsed": int(sum(r["collapsed"] for r in rs)),
            "failed": int(sum(r["failed"] for r in rs)), "n_critic": rs[0]["n_critic"],
        }
    first = runs[0] if runs else {}
    return {"floor": first.get("floor"), "ceiling": first.get("ceiling"), "losses": per_loss}


def write_report(out: Path, summary: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> None:
    """Write ``summary.json``, ``summary.md``, ``fd_over_steps.png`` and ``grid_<loss>.png`` into ``out``."""
    from specrep.plotting import subplots

    out = Path(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"FD floor (held-out real vs train real): {summary['floor']:.2f}; "
             f"ceiling (uniform noise vs train real): {summary['ceiling']:.1f}", "",
             "| loss | n_critic | runs | final FD mean ± std | best FD | class coverage | NaN stops | collapsed "
             "| failed | G-loss oscillation | median grad-norm D / G | steps/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in summary["losses"].items():
        lines.append(
            f"| {name} | {s['n_critic']} | {s['runs']} | {s['fd'][0]:.2f} ± {s['fd'][1]:.2f} | {s['best_fd'][0]:.2f} "
            f"| {s['coverage'][0]:.1f} | {s['nan_stops']} | {s['collapsed']} | {s['failed']} "
            f"| {s['loss_g_oscillation'][0]:.3f} | {s['grad_norm_d'][0]:.2f} / {s['grad_norm_g'][0]:.2f} "
            f"| {s['steps_per_s'][0]:.1f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")

    names = list(summary["losses"])
    fig, axes = subplots(2, (len(names) + 1) // 2, figsize=(4 * ((len(names) + 1) // 2), 6.5), sharey=True,
                             squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for r in (r for r in runs if r["loss"] == name):
            if r["fd_curve"]:
                st, fd = zip(*r["fd_curve"], strict=True)
                ax.plot(st, fd, marker=".", label=f"seed {r['seed']}")
        ax.axhline(summary["floor"], color="k", ls="--", lw=0.8, label="floor (real vs real)")
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("generator step")
    for ax in axes[:, 0]:
        ax.set_ylabel("Fréchet distance (classifier features)")
    axes.flat[0].legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "fd_over_steps.png", dpi=110)
    for name in names:
        grids = sorted((out / "runs" / name / "seed0" / "samples").glob("step_*.png"))
        if grids:
            shutil.copyfile(grids[-1], out / f"grid_{name}.png")
