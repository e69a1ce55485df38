"""Training callbacks: the hooks' order and arguments, stopping, state in the checkpoint across a resume, and a
constructor without side effects (setup is the explicit step)."""

from __future__ import annotations

import csv

import pytest
import torch

from gan_plugins.config import resolve_config
from gan_plugins.errors import GanError
from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.training.callbacks import Callback, CallbackList
from gan_plugins.training.trainer import Trainer, train
from specrep.errors import ParameterError

TINY = {"width": 4, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}


def _steps(run):
    with open(run / "log.csv", newline="") as fh:
        return [int(float(r["step"])) for r in csv.DictReader(fh)]


class StopAt(Callback):
    """Stops once ``at`` steps are done; records what it is asked and told."""

    def __init__(self, at):
        self.at, self.asked, self.ended = at, [], []

    def should_stop(self, trainer, step):
        self.asked.append(step)
        return step >= self.at

    def on_step_end(self, trainer, step, logs):
        self.ended.append((step, int(logs["step"])))


class Counter(Callback):
    """Counts the steps it saw; the count is its checkpointed state."""

    def __init__(self):
        self.count = 0

    def on_step_end(self, trainer, step, logs):
        self.count += 1

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


class Scores(Callback):
    def __init__(self):
        self.seen = []

    def on_evaluation(self, trainer, step, scores):
        self.seen.append((step, dict(scores)))


def test_should_stop_ends_the_run_at_the_step_and_as_a_finished_one(tmp_path):
    stop = StopAt(3)
    res = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "a", steps=10,
                overrides={**TINY, "log_every": 4}, progress=False, callbacks=[stop])
    assert res.step == 3 and res.stopped
    assert stop.asked == [0, 1, 2, 3]  # before every step, the first one included
    assert stop.ended == [(1, 1), (2, 2), (3, 3)]
    assert load_checkpoint(tmp_path / "a" / "last.pt")["step"] == 3
    assert _steps(tmp_path / "a") == [3]  # the last step is logged although 3 is no multiple of log_every
    # stopping changes nothing about the steps trained: the weights of a plain 3-step run
    plain = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=3,
                  overrides={**TINY, "log_every": 4}, progress=False)
    assert not plain.stopped
    sa, sb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for key in ("generator", "discriminator", "ema"):
        for name, value in sb[key].items():
            torch.testing.assert_close(sa[key][name], value, rtol=0, atol=0, msg=f"{key}.{name}")
    assert "callbacks" not in sb  # the checkpoint of a run without callbacks keeps its format
    # a resumed run that has already met its rule trains nothing
    again = StopAt(3)
    res = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "a", steps=10, resume=True, progress=False,
                callbacks=[again])
    assert res.step == 3 and again.asked == [3] and again.ended == [] and _steps(tmp_path / "a") == [3]


def test_callback_state_survives_a_resume(tmp_path):
    first = Counter()
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=3, overrides=TINY, progress=False,
          callbacks=[first])
    assert first.count == 3
    assert load_checkpoint(tmp_path / "last.pt")["callbacks"] == {"Counter": {"count": 3}}
    second = Counter()
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=5, resume=True, progress=False,
          callbacks=[second])
    assert second.count == 5  # 3 restored + 2 seen
    # a resume without the callback keeps its state for later; a later resume with it continues the count
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=6, resume=True, progress=False)
    assert load_checkpoint(tmp_path / "last.pt")["callbacks"] == {"Counter": {"count": 5}}
    third = Counter()
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=7, resume=True, progress=False,
          callbacks=[third])
    assert third.count == 6


def test_on_evaluation_receives_the_scores_once_per_evaluated_step(tmp_path):
    def evaluator(generator, step):
        return {"fd": 2.0 * step, "coverage": torch.tensor(7.0)}

    seen = Scores()
    res = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "a", steps=4, evaluator=evaluator,
                overrides={**TINY, "eval_every": 2}, progress=False, callbacks=[seen])
    assert seen.seen == [(2, {"fd": 4.0, "coverage": 7.0}), (4, {"fd": 8.0, "coverage": 7.0})]
    assert [e["step"] for e in res.evals] == [2, 4]
    # stopped right after an evaluation: that step is not evaluated a second time at the end
    seen, stop = Scores(), StopAt(2)
    res = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=6, evaluator=evaluator,
                overrides={**TINY, "eval_every": 2}, progress=False, callbacks=[seen, stop])
    assert res.step == 2 and seen.seen == [(2, {"fd": 4.0, "coverage": 7.0})] and len(res.evals) == 1


def test_callback_list_refuses_incomplete_callbacks_and_shared_keys():
    class NoState:
        def on_step_end(self, trainer, step, logs): ...

        def on_evaluation(self, trainer, step, scores): ...

        def should_stop(self, trainer, step):
            return False

    with pytest.raises(ParameterError, match="lacks state_dict, load_state_dict"):
        CallbackList([NoState()])
    with pytest.raises(ParameterError, match="share the state_key Counter"):
        CallbackList([Counter(), Counter()])
    class Later(StopAt):  # another state_key
        pass

    votes = CallbackList([StopAt(1), Later(5)])
    assert votes.should_stop(None, 1) and [cb.asked for cb in votes.items] == [[1], [1]]  # every one is asked


def test_constructor_has_no_side_effects_and_setup_is_explicit(tmp_path):
    from gan_plugins.models.dcgan import DCGANPlugin

    calls = []

    class Watched(DCGANPlugin):
        def prepare(self, data, config):
            calls.append("prepare")
            return super().prepare(data, config)

        def dataset(self, data, config, *, split):
            calls.append("dataset")
            return super().dataset(data, config, split=split)

    plugin = Watched()
    cfg = resolve_config(plugin, loss="hinge", data="mnist", overrides=TINY)
    rng = torch.get_rng_state()
    trainer = Trainer(plugin, cfg, tmp_path / "run", progress=False)
    assert calls == [] and torch.equal(torch.get_rng_state(), rng) and not (tmp_path / "run").exists()
    with pytest.raises(GanError, match="setup"):
        trainer.train_step()
    assert trainer.setup() is trainer and calls == ["prepare", "dataset"]
    trainer.setup()  # once only
    assert calls == ["prepare", "dataset"]
    trainer.train_step()
    assert trainer.step == 1
    with pytest.raises(ParameterError, match="config lacks"):
        Trainer(plugin, {"loss": "hinge"}, tmp_path)
    with pytest.raises(ParameterError, match="evaluator must be callable"):
        Trainer(plugin, cfg, tmp_path, evaluator=3)


class _Clock:
    """A fake process clock: each reading advances by ``tick`` CPU seconds."""

    def __init__(self, tick):
        self.now, self.tick = 0.0, tick

    def __call__(self):
        self.now += self.tick
        return self.now


def test_cpu_budget_stops_on_cpu_time_summed_over_resumes(tmp_path, monkeypatch):
    import gan_plugins.training.callbacks as cbs

    # every clock reading advances 1 CPU second: a step (should_stop, then on_step_end) costs 1 s, and the gap
    # to the next should_stop 1 s: 2 s a step. A budget of 5 s stops after 3 steps (2, 4, 6 >= 5).
    monkeypatch.setattr(cbs.time, "process_time", _Clock(1.0))
    budget = cbs.CPUBudget(5.0)
    res = train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=10, overrides=TINY, progress=False,
                callbacks=[budget])
    assert res.stopped and res.step == 3 and budget.used == pytest.approx(6.0)
    assert load_checkpoint(tmp_path / "last.pt")["callbacks"] == {"CPUBudget": {"used": 6.0}}
    # a resume with a larger budget continues the count; the time between the two sessions is not counted
    monkeypatch.setattr(cbs.time, "process_time", _Clock(1.0))
    more = cbs.CPUBudget(9.0)
    res = train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=10, resume=True, progress=False,
                callbacks=[more])
    assert res.step == 5 and more.used == pytest.approx(10.0)
    with pytest.raises(ParameterError, match="must be a number > 0"):
        cbs.CPUBudget(0)
