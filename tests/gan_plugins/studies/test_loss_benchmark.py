"""Loss benchmark: plan and neighbourhood, early stopping, resume across processes, curves at common budgets,
stability statistics and the report. Training runs are TINY (width 4, batch 8, a few steps) with a scripted
evaluator, so the FD curve is known exactly."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.metrics.stability import fd_distribution
from gan_plugins.studies import loss_runs
from gan_plugins.studies.curves import common_budgets, curve_at, seed_band
from gan_plugins.studies.early_stop import early_stop_at
from gan_plugins.studies.loss_plan import build_plan, neighbourhood_points, parse_shard, shard_plan
from gan_plugins.studies.loss_report import sensitivity_figure
from gan_plugins.studies.losses import aggregate, benchmark_command, read_runs, rewrite_report, run_loss_benchmark
from gan_plugins.training.trainer import train as real_train
from specrep.errors import ParameterError

TINY = {"batch_size": 8, "log_every": 1, "grid_size": 4}


class ScriptedEvaluator:
    """FD as a function of the generator step; coverage 10."""

    floor, ceiling = 1.8, 1600.0

    def __init__(self, fd_of_step):
        self.fd_of_step = fd_of_step

    def __call__(self, generator, step=0):
        return {"fd": float(self.fd_of_step(step)), "coverage": 10.0}


def _recording_train(monkeypatch):
    calls = []

    def wrapped(plugin, **kw):
        res = real_train(plugin, **kw)
        calls.append({"run": str(kw["out"]).split("runs/", 1)[1], "resume": kw["resume"], "steps": kw["steps"],
                      "trained": [int(r["step"]) for r in res.history]})
        return res

    monkeypatch.setattr(loss_runs, "train", wrapped)
    return calls


def _bench(tmp_path, evaluator, **kw):
    args = {"losses": ["hinge"], "seeds": 1, "neighbourhood": False, "cap": 4, "eval_every": 2, "patience": 3,
            "min_improvement": 0.0, "width": 4, "overrides": TINY, "evaluator": evaluator, "progress": False}
    args.update(kw)
    return run_loss_benchmark(tmp_path, **args)


def _log_steps(run_dir):
    with open(run_dir / "log.csv", newline="") as fh:
        return [int(float(r["step"])) for r in csv.DictReader(fh)]


# ---------------------------------------------------------------------------------------------------------- plan
def test_plan_neighbourhood_values_order_and_shards():
    plan = build_plan(["hinge", "wgan", "wgan-gp"], seeds=3)
    assert len(plan) == 3 * 3 + 5 * 3 + 5 * 3
    # whole (loss, default) seed sets first, loss by loss
    assert [(r.loss, r.point, r.seed) for r in plan[:9]] == [
        (n, "default", s) for n in ("hinge", "wgan", "wgan-gp") for s in range(3)]
    assert [r.index for r in plan] == list(range(len(plan)))
    pts = {(r.loss, r.point): dict(r.overrides) for r in plan}
    assert pts[("hinge", "default")] == {}
    assert pts[("hinge", "lr_x0.25")] == pytest.approx({"lr_g": 5e-5, "lr_d": 5e-5})
    assert pts[("hinge", "lr_x4")] == pytest.approx({"lr_g": 8e-4, "lr_d": 8e-4})
    assert pts[("wgan", "lr_x0.25")] == pytest.approx({"lr_g": 1.25e-5, "lr_d": 1.25e-5})
    assert pts[("wgan", "lr_x4")] == pytest.approx({"lr_g": 2e-4, "lr_d": 2e-4})
    assert pts[("wgan", "clip_x0.25")] == pytest.approx({"clip": 0.0025})
    assert pts[("wgan", "clip_x4")] == pytest.approx({"clip": 0.04})
    assert pts[("wgan-gp", "lr_x0.25")] == pytest.approx({"lr_g": 2.5e-5, "lr_d": 2.5e-5})
    assert pts[("wgan-gp", "gp_weight_x0.1")] == pytest.approx({"gp_weight": 1.0})
    assert pts[("wgan-gp", "gp_weight_x10")] == pytest.approx({"gp_weight": 100.0})
    assert sorted(p for n, p in pts if n == "wgan") == ["clip_x0.25", "clip_x4", "default", "lr_x0.25", "lr_x4"]
    # each point's seeds are consecutive after the defaults
    assert [(r.loss, r.point, r.seed) for r in plan[9:12]] == [("hinge", "lr_x0.25", s) for s in range(3)]
    assert [p for p, _ in neighbourhood_points("lsgan", neighbourhood=False)] == ["default"]
    assert len(build_plan(["hinge", "wgan"], seeds=2, neighbourhood=False)) == 4

    a, b = shard_plan(plan, parse_shard("0/2")), shard_plan(plan, parse_shard("1/2"))
    assert [r.index for r in a] == list(range(0, len(plan), 2)) and [r.index for r in b] == list(range(1, len(plan), 2))
    for bad in ("2/2", "1", "a/b", "-1/2"):
        with pytest.raises(ParameterError):
            parse_shard(bad)
    with pytest.raises(ParameterError):
        build_plan(["hinge", "hinge"], seeds=1)
    with pytest.raises(ParameterError):
        build_plan(["hinge"], seeds=0)


def test_plan_with_one_seed_per_neighbourhood_point():
    plan = build_plan(["hinge", "wgan"], seeds=3, neighbourhood_seeds=1)
    assert len(plan) == 2 * 3 + (2 + 4) * 1
    assert [(r.loss, r.point, r.seed) for r in plan[:6]] == [(n, "default", s) for n in ("hinge", "wgan")
                                                             for s in range(3)]
    assert [(r.loss, r.point, r.seed) for r in plan[6:]] == [
        ("hinge", "lr_x0.25", 0), ("hinge", "lr_x4", 0), ("wgan", "lr_x0.25", 0), ("wgan", "lr_x4", 0),
        ("wgan", "clip_x0.25", 0), ("wgan", "clip_x4", 0)]
    assert len(build_plan(["hinge"], seeds=2, neighbourhood_seeds=3)) == 2 + 2 * 3
    assert build_plan(["hinge"], seeds=2) == build_plan(["hinge"], seeds=2, neighbourhood_seeds=2)
    with pytest.raises(ParameterError):
        build_plan(["hinge"], seeds=1, neighbourhood_seeds=0)


# ---------------------------------------------------------------------------------------------------- early stop
def test_early_stop_rule_on_synthetic_curves():
    # 5 % / patience 3: 100 and 80 improve, 79 and 78.5 do not, 70 improves (< 0.95 * 80), then three that do not
    fds = [100, 80, 79, 78.5, 70, 69.9, 69.8, 69.7]
    assert early_stop_at(fds, min_improvement=0.05, patience=3) == 7
    assert early_stop_at(fds[:7], min_improvement=0.05, patience=3) is None
    # the reference is the last *improving* value: a slow steady decline adds up to an improvement (94 < 95)
    assert early_stop_at([100, 98, 96, 94, 92, 90], min_improvement=0.05, patience=3) is None
    # a spike does not become the reference: 95 is not an improvement on 90
    assert early_stop_at([100, 90, 200, 95, 94], min_improvement=0.05, patience=3) == 4
    assert early_stop_at([100, math.nan, math.nan, math.nan], min_improvement=0.05, patience=3) == 3
    assert early_stop_at([100, 99, 98], min_improvement=0.0, patience=1) is None
    with pytest.raises(ParameterError):
        early_stop_at(fds, min_improvement=1.0, patience=3)
    with pytest.raises(ParameterError):
        early_stop_at(fds, min_improvement=0.05, patience=0)


@pytest.mark.slow  # ~1.5 s: trains
def test_run_stops_at_the_right_evaluation(tmp_path):
    fd = {1: 100.0, 2: 50.0, 3: 49.0, 4: 48.5, 5: 10.0, 6: 5.0}
    _bench(tmp_path, ScriptedEvaluator(fd.get), cap=6, eval_every=1, patience=2, min_improvement=0.05)
    (rec,) = read_runs(tmp_path / "runs.jsonl")
    assert rec["stopped"] == "early" and rec["steps"] == 4 and rec["segments"] == 4
    assert [p["fd"] for p in rec["curve"]] == [100.0, 50.0, 49.0, 48.5]
    assert [p["step"] for p in rec["curve"]] == [1, 2, 3, 4] and rec["final_fd"] == 48.5 and rec["best_fd"] == 48.5
    # a curve that keeps improving runs to the cap
    _bench(tmp_path / "cap", ScriptedEvaluator(lambda s: 100.0 / s), cap=3, eval_every=2, patience=2,
           min_improvement=0.05)
    (rec,) = read_runs(tmp_path / "cap" / "runs.jsonl")
    assert rec["stopped"] == "cap" and rec["steps"] == 3 and [p["step"] for p in rec["curve"]] == [2, 3]


# -------------------------------------------------------------------------------------------------------- resume
@pytest.mark.slow  # ~2 s: trains
def test_interrupted_benchmark_resumes_without_training_anything_twice(tmp_path, monkeypatch):
    calls = _recording_train(monkeypatch)
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    _bench(tmp_path, ev, seeds=2, max_segments=3)  # seed0: 2 segments (done), seed1: 1 of 2 (interrupted)
    first = read_runs(tmp_path / "runs.jsonl")
    assert [r["run_id"] for r in first] == ["hinge/default/seed0"]
    ckpt1 = load_checkpoint(tmp_path / "runs/hinge/default/seed1/last.pt")
    state1 = ckpt1["callbacks"]["PlateauStop"]  # the early stop's state travels in the checkpoint
    assert ckpt1["step"] == 2 and len(state1["curve"]) == 1 and state1["segments"] == 1
    # one train() call per run: the trainer evaluates every eval_every steps itself
    assert [(c["run"], c["resume"], c["steps"], c["trained"]) for c in calls] == [
        ("hinge/default/seed0", False, 4, [1, 2, 3, 4]), ("hinge/default/seed1", False, 4, [1, 2])]

    calls.clear()
    summary = _bench(tmp_path, ev, seeds=2)
    assert [(c["run"], c["resume"], c["steps"], c["trained"]) for c in calls] == [
        ("hinge/default/seed1", True, 4, [3, 4])]  # only the rest of the interrupted run, from its checkpoint
    runs = read_runs(tmp_path / "runs.jsonl")
    assert [r["run_id"] for r in runs] == ["hinge/default/seed0", "hinge/default/seed1"]
    rec = runs[1]
    assert rec["curve"][0] == state1["curve"][0]  # the evaluation made before the interruption is kept
    assert [p["step"] for p in rec["curve"]] == [2, 4] and rec["segments"] == 2
    assert _log_steps(tmp_path / "runs/hinge/default/seed1") == [1, 2, 3, 4]
    assert summary["runs_done"] == 2
    calls.clear()
    _bench(tmp_path, ev, seeds=2)  # everything done: nothing trains, the report is rewritten
    assert calls == [] and len((tmp_path / "runs.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow  # ~2.5 s: trains
def test_kill_after_the_final_checkpoint_re_evaluates_it_once(tmp_path, monkeypatch):
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    _bench(tmp_path, ev)
    run = tmp_path / "runs/hinge/default/seed0"
    (before,) = read_runs(tmp_path / "runs.jsonl")
    (tmp_path / "runs.jsonl").unlink()  # as if killed after last.pt (step 4) was written, before the record
    calls = _recording_train(monkeypatch)
    _bench(tmp_path, ev)
    assert [(c["resume"], c["steps"], c["trained"]) for c in calls] == [(True, 4, [])]  # nothing trained again
    (rec,) = read_runs(tmp_path / "runs.jsonl")
    assert rec["curve"] == before["curve"] and [p["step"] for p in rec["curve"]] == [2, 4]  # not added twice
    assert rec["stopped"] == "cap" and rec["segments"] == 2
    assert _log_steps(run) == [1, 2, 3, 4]
    # stopped early at an evaluated step inside the run: that evaluation is in last.pt, the resumed process
    # re-scores the checkpoint, trains nothing, and the curve still holds the step once
    flat = ScriptedEvaluator(lambda s: 50.0)
    _bench(tmp_path / "early", flat, cap=8, patience=1, min_improvement=0.05)
    (before,) = read_runs(tmp_path / "early" / "runs.jsonl")
    assert before["stopped"] == "early" and [p["step"] for p in before["curve"]] == [2, 4]
    (tmp_path / "early" / "runs.jsonl").unlink()
    calls.clear()
    _bench(tmp_path / "early", flat, cap=8, patience=1, min_improvement=0.05)
    assert [(c["resume"], c["trained"]) for c in calls] == [(True, [])]
    (rec,) = read_runs(tmp_path / "early" / "runs.jsonl")
    assert rec["curve"] == before["curve"] and rec["stopped"] == "early" and rec["segments"] == 2


def test_segment_times_come_from_the_callback_not_the_log(tmp_path):
    # log_every beyond the run: log.csv holds the last step only, the curve is still timed per segment
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    _bench(tmp_path, ev, cap=6, overrides={**TINY, "log_every": 1000})
    (rec,) = read_runs(tmp_path / "runs.jsonl")
    assert _log_steps(tmp_path / "runs/hinge/default/seed0") == [6]
    times = [p["train_s"] for p in rec["curve"]]
    assert [p["step"] for p in rec["curve"]] == [2, 4, 6] and 0 < times[0] < times[1] < times[2]
    assert rec["train_s"] == pytest.approx(times[-1])
    # the loop's wall clock holds the training steps and more (evaluations, checkpoints)
    assert rec["train_s"] < rec["wall_s"] and rec["cpu_s"] > 0


def test_settings_of_a_benchmark_folder_cannot_change(tmp_path):
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    _bench(tmp_path, ev, max_segments=1)
    with pytest.raises(ParameterError, match="cap"):
        _bench(tmp_path, ev, cap=8)


def test_report_only_trains_nothing_and_reports_the_finished_runs(tmp_path, monkeypatch):
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    _bench(tmp_path, ev, losses=["hinge", "lsgan"], max_segments=2)  # hinge finished (cap 4), lsgan not started
    (tmp_path / "summary.md").unlink()
    calls = _recording_train(monkeypatch)
    summary = rewrite_report(tmp_path)
    assert calls == [] and summary["runs_done"] == 1 and summary["plan_runs"] == 2
    assert set(summary["losses"]) == {"hinge"} and "| hinge | 1 | 1 |" in (tmp_path / "summary.md").read_text()
    assert "--losses hinge,lsgan" in summary["command"] and "--width 4" in summary["command"]
    assert not list((tmp_path / "runs").glob("lsgan/*/*/last.pt"))
    with pytest.raises(ParameterError, match="no plan.json"):
        rewrite_report(tmp_path / "nothing")


@pytest.mark.slow  # ~2 s: trains
def test_shards_share_one_folder(tmp_path):
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    _bench(tmp_path, ev, seeds=2, cap=2, shard=(1, 2))
    assert [r["run_id"] for r in read_runs(tmp_path / "runs.jsonl")] == ["hinge/default/seed1"]
    summary = _bench(tmp_path, ev, seeds=2, cap=2, shard=(0, 2))
    assert sorted(r["run_id"] for r in read_runs(tmp_path / "runs.jsonl")) == [
        "hinge/default/seed0", "hinge/default/seed1"]
    assert summary["runs_done"] == 2 and summary["plan_runs"] == 2


@pytest.mark.slow  # ~1.5 s: trains
def test_a_run_held_by_another_process_is_skipped_and_taken_once_released(tmp_path):
    import fcntl

    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    held = tmp_path / "runs" / "hinge" / "default" / "seed0"
    held.mkdir(parents=True)
    with open(held / ".claim", "a") as fh:  # another process training seed 0
        fcntl.flock(fh, fcntl.LOCK_EX)
        _bench(tmp_path, ev, seeds=2, cap=2)
        assert [r["run_id"] for r in read_runs(tmp_path / "runs.jsonl")] == ["hinge/default/seed1"]
        assert not (held / "last.pt").exists()
    _bench(tmp_path, ev, seeds=2, cap=2)  # released (its holder ended): the next process takes it
    assert sorted(r["run_id"] for r in read_runs(tmp_path / "runs.jsonl")) == [
        "hinge/default/seed0", "hinge/default/seed1"]


def test_a_run_finished_by_another_process_meanwhile_is_not_trained_again(tmp_path, monkeypatch):
    from gan_plugins.studies import losses as bench

    trained = []
    real = bench.train_planned_run

    def finishing_the_other_one(run, run_dir, *a, **kw):
        trained.append(run.run_id)
        record = real(run, run_dir, *a, **kw)
        if run.seed == 0:  # meanwhile another process finishes seed 1
            other = dict(record, run_id="hinge/default/seed1", seed=1, index=1)
            with open(tmp_path / "runs.jsonl", "a") as fh:
                fh.write(json.dumps(other) + "\n")
        return record

    monkeypatch.setattr(bench, "train_planned_run", finishing_the_other_one)
    _bench(tmp_path, ScriptedEvaluator(lambda s: 100.0 / s), seeds=2, cap=2)
    assert trained == ["hinge/default/seed0"]
    assert not (tmp_path / "runs" / "hinge" / "default" / "seed1" / "last.pt").exists()
    assert len(read_runs(tmp_path / "runs.jsonl")) == 2


# -------------------------------------------------------------------------------------------------------- curves
def test_curve_at_interpolates_holds_and_is_undefined_before_the_first_evaluation():
    x, y = [10, 20, 40], [100, 50, 30]
    np.testing.assert_allclose(curve_at(x, y, [5, 10, 15, 30, 40, 50]), [np.nan, 100, 75, 40, 30, 30])
    np.testing.assert_allclose(common_budgets([[10, 20, 40], [5, 30]], 3), [10, 20, 40])
    band = seed_band([([10, 20], [100, 50]), ([10, 30], [80, 20]), ([20, 30], [60, 60])], [10, 20, 30])
    np.testing.assert_allclose(band["median"], [90, 50, 50])
    np.testing.assert_allclose(band["lo"], [80, 50, 20])
    np.testing.assert_allclose(band["hi"], [100, 60, 60])
    np.testing.assert_array_equal(band["n"], [2, 3, 3])
    with pytest.raises(ParameterError):
        curve_at([2, 1], [0, 0], 1)


def _rec(loss, point, seed, final_fd, *, curve=None, n_critic=1, coverage=10.0, stopped="early", nan_stop=0.0):
    curve = curve or [{"step": 1, "d_updates": n_critic, "train_s": 1.0, "fd": final_fd, "coverage": coverage}]
    return {"run_id": f"{loss}/{point}/seed{seed}", "loss": loss, "point": point, "seed": seed, "overrides": {},
            "n_critic": n_critic, "final_fd": final_fd, "best_fd": final_fd, "final_coverage": coverage,
            "steps": curve[-1]["step"], "d_updates": curve[-1]["d_updates"], "train_s": curve[-1]["train_s"],
            "cpu_s": 2.0, "stopped": stopped, "nan_stop": nan_stop, "collapsed": nan_stop, "failed": nan_stop,
            "curve": curve, "floor": 1.8, "noise_fd": 1600.0}


def test_equal_discriminator_updates_and_wall_clock():
    def curve(nc, secs, fds, cov):
        return [{"step": s, "d_updates": s * nc, "train_s": t, "fd": f, "coverage": c}
                for s, t, f, c in zip((1000, 2000), secs, fds, cov, strict=True)]

    runs = [_rec("hinge", "default", 0, 50.0, curve=curve(1, (10.0, 20.0), (100.0, 50.0), (8.0, 10.0))),
            _rec("wgan", "default", 0, 40.0, n_critic=5, curve=curve(5, (50.0, 100.0), (80.0, 40.0), (6.0, 9.0)))]
    s = aggregate(runs, ["hinge", "wgan"], n_budgets=3)
    # D-update budgets from 5,000 (wgan's first evaluation) to 10,000; hinge stopped at 2,000 and is held there
    np.testing.assert_allclose(s["budgets"]["d_updates"], [5000, 5000 * 2**0.5, 10000])
    np.testing.assert_allclose([r["fd_median"] for r in s["losses"]["hinge"]["at_d_updates"]], [50, 50, 50])
    np.testing.assert_allclose([r["fd_median"] for r in s["losses"]["wgan"]["at_d_updates"]],
                               [80, 80 - 40 * (5000 * 2**0.5 - 5000) / 5000, 40])
    np.testing.assert_allclose([r["coverage_median"] for r in s["losses"]["wgan"]["at_d_updates"]],
                               [6, 6 + 3 * (5000 * 2**0.5 - 5000) / 5000, 9])
    np.testing.assert_allclose(s["budgets"]["train_s"], [50, 50 * 2**0.5, 100])
    np.testing.assert_allclose([r["fd_median"] for r in s["losses"]["wgan"]["at_train_s"]],
                               [80, 80 - 40 * (50 * 2**0.5 - 50) / 50, 40])
    np.testing.assert_allclose([r["fd_median"] for r in s["losses"]["hinge"]["at_train_s"]], [50, 50, 50])


# ----------------------------------------------------------------------------------------------------- stability
def test_fd_distribution_by_hand():
    d = fd_distribution([10, 20, 40])
    assert (d["median"], d["q25"], d["q75"], d["iqr"]) == (20, 15, 30, 15)
    assert d["share_within"] == pytest.approx(2 / 3) and d["best"] == 10
    d = fd_distribution([10, 20, 40, 15, 100, math.nan])
    assert (d["n"], d["n_finite"], d["median"], d["q25"], d["q75"]) == (6, 5, 20, 15, 40)
    assert d["share_within"] == pytest.approx(3 / 6)
    assert fd_distribution([10, 20, 40], best=5)["share_within"] == pytest.approx(1 / 3)
    with pytest.raises(ParameterError):
        fd_distribution([])
    with pytest.raises(ParameterError):
        fd_distribution([1.0], within=1.0)


def test_aggregate_over_seeds_and_neighbourhood_by_hand():
    runs = [_rec("hinge", "default", s, v) for s, v in enumerate((10.0, 20.0, 40.0))]
    for r, conf, cpu, steps in zip(runs, (0.8, 0.9, 0.7), (30.0, 60.0, 90.0), (1000, 2000, 1000), strict=True):
        r["curve"][-1]["confidence"], r["cpu_s"], r["steps"] = conf, cpu, steps  # CPU s per 1,000 steps: 30, 30, 90
    runs += [_rec("hinge", "lr_x4", s, v) for s, v in enumerate((15.0, 100.0))]
    runs += [_rec("hinge", "lr_x0.25", 0, math.nan, stopped="diverged", nan_stop=1.0)]
    runs += [_rec("lsgan", "default", 0, 5.0, coverage=7.0, stopped="cap")]
    s = aggregate(runs, ["hinge", "lsgan", "wgan"])
    h = s["losses"]["hinge"]
    assert set(s["losses"]) == {"hinge", "lsgan"} and s["best_fd_all"] == 5.0 and s["runs_done"] == 7
    assert (h["seeds"]["median"], h["seeds"]["iqr"], h["seeds"]["share_within"]) == (20, 15, pytest.approx(2 / 3))
    nb = h["neighbourhood"]
    assert (nb["n"], nb["median"], nb["q25"], nb["q75"]) == (6, 20, 15, 40)
    assert nb["share_within"] == pytest.approx(0.5) and h["share_within_2x_all"] == pytest.approx(1 / 6)
    assert h["stopped"] == {"early": 5, "cap": 0, "diverged": 1} and h["nan_stops"] == 1
    assert h["points"]["lr_x4"]["median"] == 57.5 and h["points"]["lr_x4"]["min"] == 15
    assert h["runs"] == 6 and s["cpu_s_total"] == 188.0
    runs[3]["best_fd"] = 8.0  # a neighbourhood run's best evaluation: the loss's best, not its default point's
    s = aggregate(runs, ["hinge", "lsgan"])
    assert s["losses"]["hinge"]["best_fd"] == 8.0 and s["losses"]["hinge"]["final"]["best_fd"] == 10.0
    assert h["final"]["confidence"] == pytest.approx(0.8) and h["final"]["cpu_s_per_kstep"] == pytest.approx(30.0)
    assert s["losses"]["lsgan"]["final"]["coverage"] == 7.0
    assert math.isnan(s["losses"]["lsgan"]["final"]["confidence"])  # the evaluator gave no confidence


# -------------------------------------------------------------------------------------------------------- report
def test_sensitivity_figure_plots_every_finite_run_in_point_order():
    runs = [_rec("wgan", "clip_x4", 0, 60.0), _rec("wgan", "lr_x4", 0, 30.0), _rec("wgan", "default", 0, 40.0),
            _rec("wgan", "default", 1, 50.0), _rec("wgan", "default", 2, 120.0), _rec("wgan", "lr_x0.25", 0, 90.0),
            _rec("wgan", "clip_x0.25", 0, 80.0),
            _rec("wgan", "lr_x0.25", 1, math.nan, stopped="diverged", nan_stop=1.0), _rec("hinge", "default", 0, 20.0)]
    s = aggregate(runs, ["hinge", "wgan"])
    fig = sensitivity_figure(s)
    ax_h, ax_w = fig.axes
    assert [t.get_text() for t in ax_w.get_xticklabels()] == ["lr ×0.25", "default", "lr ×4", "clip ×0.25",
                                                              "clip ×4"]
    dots = np.concatenate([c.get_offsets() for c in ax_w.collections])
    by_x = {round(float(x)): sorted(float(y) for xx, y in dots if round(float(xx)) == round(float(x)))
            for x, _ in dots}
    assert by_x == {0: [90.0], 1: [40.0, 50.0, 120.0], 2: [30.0], 3: [80.0], 4: [60.0]}  # the NaN run is left out
    medians = [line.get_ydata()[0] for line in ax_w.get_lines() if line.get_linestyle() == "-"]
    assert medians == [90.0, 50.0, 30.0, 80.0, 60.0]
    assert [float(y) for _, y in np.concatenate([c.get_offsets() for c in ax_h.collections])] == [20.0]
    thresholds = sorted(line.get_ydata()[0] for line in ax_h.get_lines() if line.get_linestyle() in ("--", ":"))
    assert thresholds == [20.0, 40.0] and ax_w.get_yscale() == "log"


@pytest.mark.slow  # ~1.5 s: trains
def test_report_files_and_command(tmp_path):
    ev = ScriptedEvaluator(lambda s: 100.0 / s)
    summary = _bench(tmp_path, ev, losses=["hinge", "wgan"])
    md = (tmp_path / "summary.md").read_text()
    assert "| hinge | 1 | 1 |" in md and "| wgan | 5 | 1 |" in md and "not an upper bound" in md
    assert summary["command"] in md and "--width 4" in summary["command"]
    assert (tmp_path / "fd_curves.png").is_file() and (tmp_path / "grid_hinge.png").is_file()
    assert (tmp_path / "sensitivity.png").is_file()
    wgan = [r for r in read_runs(tmp_path / "runs.jsonl") if r["loss"] == "wgan"][0]
    assert [(p["step"], p["d_updates"]) for p in wgan["curve"]] == [(2, 10), (4, 20)] and wgan["d_updates"] == 20
    assert summary["losses"]["wgan"]["final"]["d_updates"] == 20
    cmd = benchmark_command({"losses": ["hinge"], "seeds": 3, "neighbourhood": True, "neighbourhood_seeds": 1,
                             "cap": 100, "eval_every": 10, "patience": 2, "min_improvement": 0.05,
                             "overrides": {"width": 32, "batch_size": 64},
                             "plugin": "dcgan", "data": "mnist"}, "runs/x")
    assert cmd == ("OMP_NUM_THREADS=1 loopgan --threads 1 benchmark losses --losses hinge --seeds 3 "
                   "--neighbourhood on --neighbourhood-seeds 1 --cap 100 --eval-every 10 --patience 2 "
                   "--min-improvement 0.05 --width 32 "
                   "--set batch_size=64 --out runs/x")
