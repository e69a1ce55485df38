"""EMA of generator weights: the warm-up decay, closed-form averages of known trajectories, and its use by the
trainer (the EMA after n real training steps equals the closed form over the generator's successive weights)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch import nn

from gan_plugins.training.ema import ema_decay, update_ema_
from specrep.errors import ParameterError


def _warmup(decay, t):
    """min(decay, (1 + t) / (10 + t)), exact."""
    return min(Fraction(decay), Fraction(1 + t, 10 + t))


def _closed_form(e0, thetas, decay):
    """e_k = (prod_t d_t) e0 + sum_t (1 - d_t) theta_t prod_{s > t} d_s, for updates t = 0..k-1 (not a loop over the
    recursion: each term's weight is written out)."""
    k = len(thetas)
    d = [_warmup(decay, t) for t in range(k)]

    def prod(ts):
        out = Fraction(1)
        for t in ts:
            out *= d[t]
        return out

    weights = [(1 - d[t]) * prod(range(t + 1, k)) for t in range(k)]
    return prod(range(k)) * e0 + sum(w * th for w, th in zip(weights, thetas, strict=True)), weights


def test_effective_decay_warms_up_then_caps():
    assert ema_decay(0.999, 0) == pytest.approx(1 / 10)
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 90) == pytest.approx(91 / 100)
    assert ema_decay(0.999, 100_000) == pytest.approx(0.999)  # (1 + t) / (10 + t) > 0.999 from t = 8,992
    assert ema_decay(0.999, 8990) == pytest.approx(8991 / 9000)
    assert ema_decay(0.5, 7) == pytest.approx(8 / 17)
    assert ema_decay(0.5, 8) == pytest.approx(0.5)
    assert ema_decay(0.5, 50) == pytest.approx(0.5)
    assert ema_decay(0.0, 0) == 0.0  # decay 0: the EMA is the model


@pytest.mark.parametrize("decay", [1.0, 1.5, -0.1])
def test_invalid_decay_is_refused(decay):
    with pytest.raises(ParameterError, match="decay"):
        ema_decay(decay, 0)
    with pytest.raises(ParameterError, match="decay"):
        update_ema_(nn.Linear(1, 1), nn.Linear(1, 1), decay, 0)


def test_negative_step_is_refused():
    with pytest.raises(ParameterError, match="step"):
        ema_decay(0.9, -1)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(3, dtype=torch.float64))
        self.b = nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))
        self.bn = nn.BatchNorm1d(2).double()


@pytest.mark.parametrize("decay", [0.999, 0.3])
def test_ema_of_a_known_trajectory_equals_the_closed_form(decay):
    # parameters a = t + [0, 1, 2] and b = -2 t at update t; the EMA starts at a = 5, b = 7
    model, ema = _Net(), _Net()
    with torch.no_grad():
        ema.a.fill_(5.0)
        ema.b.fill_(7.0)
    k = 12
    used = []
    for t in range(k):
        with torch.no_grad():
            model.a.copy_(torch.tensor([t, t + 1.0, t + 2.0], dtype=torch.float64))
            model.b.fill_(-2.0 * t)
            model.bn.running_mean.fill_(10.0 + t)
            model.bn.running_var.fill_(1.0 + t)
            model.bn.num_batches_tracked.fill_(t)
        used.append(update_ema_(ema, model, decay, t))
    assert used == pytest.approx([float(_warmup(decay, t)) for t in range(k)])
    for offset, value in zip(range(3), ema.a.tolist(), strict=True):
        want, weights = _closed_form(Fraction(5), [Fraction(t + offset) for t in range(k)], decay)
        assert value == pytest.approx(float(want), rel=1e-12)
    want_b, _ = _closed_form(Fraction(7), [Fraction(-2 * t) for t in range(k)], decay)
    torch.testing.assert_close(ema.b.detach(), torch.full((2, 2), float(want_b), dtype=torch.float64))
    # buffers: copied from the model, not averaged
    assert torch.equal(ema.bn.running_mean, torch.full((2,), 10.0 + k - 1, dtype=torch.float64))
    assert torch.equal(ema.bn.running_var, torch.full((2,), 1.0 + k - 1, dtype=torch.float64))
    assert int(ema.bn.num_batches_tracked) == k - 1
    # the model is untouched
    assert model.a.tolist() == [k - 1, k, k + 1]


def test_first_update_keeps_a_tenth_of_the_initialisation():
    # with the warm-up the first average is 0.1 init + 0.9 model, whatever the target decay
    model, ema = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        for p in ema.parameters():
            p.fill_(10.0)
        for p in model.parameters():
            p.fill_(0.0)
    update_ema_(ema, model, 0.999, 0)
    assert [p.detach().flatten().tolist() for p in ema.parameters()] == [pytest.approx([1.0, 1.0]),
                                                                        pytest.approx([1.0])]


def test_trainer_keeps_the_closed_form_ema_of_the_generator(tmp_path, monkeypatch):
    from gan_plugins.api import get_plugin
    from gan_plugins.config import resolve_config
    from gan_plugins.training import trainer as train_mod
    from gan_plugins.training.trainer import Trainer

    calls = []
    real_update = train_mod.update_ema_

    def spy(ema, model, decay, step):
        calls.append((decay, step))
        return real_update(ema, model, decay, step)

    monkeypatch.setattr(train_mod, "update_ema_", spy)
    # a large generator learning rate, so the weights move far enough that each average weight matters
    tiny = {"width": 4, "z_dim": 8, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0,
            "grid_size": 4, "lr_g": 0.05}
    plugin = get_plugin("dcgan")
    # decay 0.25: updates 0 and 1 use the warm-up 1/10 and 2/11, updates 2.. the cap 0.25 (= 3/12, then below)
    decay, steps = 0.25, 5
    cfg = resolve_config(plugin, loss="hinge", data="mnist", overrides={**tiny, "ema_decay": decay})
    trainer = Trainer(plugin, cfg, tmp_path, progress=False).setup()
    names = [n for n, _ in trainer.generator.named_parameters()]
    init = {n: p.detach().double().clone() for n, p in trainer.generator.named_parameters()}
    ema0 = {n: p.detach().double().clone() for n, p in trainer.ema.named_parameters()}
    for n in names:
        torch.testing.assert_close(ema0[n], init[n], rtol=0, atol=0)  # the EMA starts at the initial weights
    trajectory = []
    for _ in range(steps):
        trainer.train_step()
        trajectory.append({n: p.detach().double().clone() for n, p in trainer.generator.named_parameters()})
    assert trainer.step == steps
    assert calls == [(decay, t) for t in range(steps)]  # once per generator step, after it, 0-based
    _, weights = _closed_form(Fraction(0), [Fraction(0)] * steps, decay)
    w_init = 1.0 - float(sum(weights))  # = prod d_t
    ema = dict(trainer.ema.named_parameters())
    moved = 0.0
    for n in names:
        want = w_init * init[n] + sum(float(w) * th[n] for w, th in zip(weights, trajectory, strict=True))
        torch.testing.assert_close(ema[n].detach().double(), want, rtol=1e-5, atol=1e-6, msg=n)
        moved = max(moved, (trajectory[-1][n] - trajectory[0][n]).abs().max().item())
    assert moved > 0.05  # the trajectory is far from flat: a wrong weight anywhere would show
    for (n, be), bg in zip(trainer.ema.named_buffers(), trainer.generator.buffers(), strict=True):
        assert torch.equal(be, bg), n  # batch-norm statistics copied
    # the shipped EMA is frozen and never trained directly
    assert not any(p.requires_grad for p in trainer.ema.parameters())
