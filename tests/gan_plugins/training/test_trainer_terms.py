"""The trainer's critic objective term by term, on a tiny inline plugin whose every number can be recomputed by hand:
the logged critic loss is ``d_loss + drift * mean(D(real)^2)``, the gradient penalty is taken at interpolates of the
very real and fake batches the critic saw, R1 at the (augmented) real images it scored with the lazy and heuristic
weights, ADA's probability follows the sign of the critic's outputs on reals, and a NaN that reaches the weights is
never checkpointed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_plugins.config import resolve_config
from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.training import losses as losses_mod
from gan_plugins.training.trainer import Trainer

Z_DIM, N_DATA = 3, 64


class _Recorder(nn.Module):
    """A linear critic on flattened (B, 1, 2, 2) features that records every input batch it is given."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.lin(x.flatten(1)).squeeze(1)


class _Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(Z_DIM, 4)

    def forward(self, z):
        return self.lin(z).reshape(-1, 1, 2, 2)


class _Data(torch.utils.data.Dataset):
    def __init__(self):
        self.images = 2.0 * torch.randn(N_DATA, 1, 2, 2, generator=torch.Generator().manual_seed(5))

    def __len__(self):
        return N_DATA

    def __getitem__(self, i):
        return self.images[i]


class TinyPlugin:
    """The GanPlugin protocol with 4-pixel features: G = linear map of z, D = linear map of the pixels."""

    name = "tiny"
    output_kind = "image"

    def default_config(self):
        return {"z_dim": Z_DIM}

    def build(self, config):
        return _Gen(), _Recorder()

    def prepare(self, data, config):
        return {}

    def dataset(self, data, config, *, split):
        return _Data()

    def features(self, batch, config, schedule_state):
        return batch

    def latent(self, n, config, *, device="cpu", generator=None):
        return torch.randn(n, config["z_dim"], device=device, generator=generator)

    def schedule(self, config):
        return None

    def apply_schedule(self, generator, discriminator, state):
        return None

    def save_samples(self, samples, out_dir, *, fmt, config):
        return []

    def save_grid(self, samples, path, config):
        return Path(path)


def _trainer(tmp_path, loss, **overrides):
    base = {"batch_size": 8, "n_critic": 1, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 2,
            "amp": False}
    plugin = TinyPlugin()
    cfg = resolve_config(plugin, loss=loss, data="tiny", overrides={**base, **overrides})
    return Trainer(plugin, cfg, tmp_path, progress=False).setup()


def _critic_by_hand(weight, bias, x):
    return x.flatten(1).double() @ weight.double().reshape(4) + bias.double().item()


@pytest.mark.parametrize("drift", [0.0, 0.25])
def test_logged_critic_loss_is_hinge_plus_drift_on_real_logits(tmp_path, drift):
    trainer = _trainer(tmp_path, "hinge", drift=drift)
    for _ in range(3):  # a few steps, so the critic has moved off its initialisation
        w, b = trainer.discriminator.lin.weight.detach().clone(), trainer.discriminator.lin.bias.detach().clone()
        trainer.discriminator.seen.clear()
        row = trainer.train_step()
        real, fake = trainer.discriminator.seen[0], trainer.discriminator.seen[1]  # D(real), D(fake), then D(G(z))
        r, f = _critic_by_hand(w, b, real), _critic_by_hand(w, b, fake)
        hinge = torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean()
        want = hinge + drift * (r**2).mean()
        assert row["loss_d"] == pytest.approx(want.item(), rel=1e-5, abs=1e-6)
        assert row["d_real"] == pytest.approx(r.mean().item(), rel=1e-5, abs=1e-6)
        assert row["d_fake"] == pytest.approx(f.mean().item(), rel=1e-5, abs=1e-6)
        # the generator's hinge loss -mean D(G(z)), scored by the critic after its update
        w2, b2 = trainer.discriminator.lin.weight.detach(), trainer.discriminator.lin.bias.detach()
        assert not torch.equal(w2, w)
        g = _critic_by_hand(w2, b2, trainer.discriminator.seen[2])
        assert row["loss_g"] == pytest.approx(-g.mean().item(), rel=1e-5, abs=1e-6)


def test_drift_adds_exactly_weight_times_mean_square_of_real_logits(tmp_path):
    # same seed, same first batch and weights: the first step's critic losses differ by w * mean(D(real)^2) only
    w_drift = 0.5
    rows, seen, params = {}, {}, {}
    for drift in (0.0, w_drift):
        trainer = _trainer(tmp_path / str(drift), "wgan", drift=drift, clip=0.0)
        params[drift] = [p.detach().clone() for p in trainer.discriminator.lin.parameters()]
        rows[drift] = trainer.train_step()
        seen[drift] = trainer.discriminator.seen[0]
    torch.testing.assert_close(seen[0.0], seen[w_drift], rtol=0, atol=0)
    r = _critic_by_hand(*params[0.0], seen[0.0])
    assert (r**2).mean().item() > 0.05  # the term is not negligible here
    assert rows[w_drift]["loss_d"] - rows[0.0]["loss_d"] == pytest.approx(w_drift * (r**2).mean().item(), rel=1e-4)


def test_gradient_penalty_is_taken_between_the_real_and_fake_rows_the_critic_saw(tmp_path, monkeypatch):
    calls = []
    real_gp = losses_mod.gradient_penalty

    def spy(critic, real, fake, **kwargs):
        n_before = len(critic.seen)
        out = real_gp(critic, real, fake, **kwargs)
        calls.append({"real": real.detach().clone(), "fake": fake.detach().clone(), "kw": kwargs,
                      "critic_saw": critic.seen[n_before:], "value": out.item(),
                      "w": critic.lin.weight.detach().clone()})
        return out

    monkeypatch.setitem(losses_mod._PENALTIES, "gp", dataclasses.replace(losses_mod._PENALTIES["gp"], fn=spy))
    trainer = _trainer(tmp_path, "wgan-gp", n_critic=2)
    for step in range(2):
        trainer.discriminator.seen.clear()
        row = trainer.train_step()
        seen = trainer.discriminator.seen
        # per critic update: D(real), D(fake), then D(x_hat) inside the penalty; then D(G(z)) for the generator
        assert len(seen) == 2 * 3 + 1
        for i in range(2):
            call = calls[2 * step + i]
            real, fake, mixed = seen[3 * i], seen[3 * i + 1], seen[3 * i + 2]
            torch.testing.assert_close(call["real"], real, rtol=0, atol=0)  # the batch the critic scored
            torch.testing.assert_close(call["fake"], fake, rtol=0, atol=0)
            assert len(call["critic_saw"]) == 1
            torch.testing.assert_close(call["critic_saw"][0], mixed, rtol=0, atol=0)
            # x_hat_j = a_j real_j + (1 - a_j) fake_j, with a_j in [0, 1], one per row
            d, m = (real - fake).flatten(1).double(), (mixed - fake).flatten(1).double()
            a = (d * m).sum(1) / (d * d).sum(1)
            torch.testing.assert_close(m, a[:, None] * d, rtol=0, atol=1e-5)
            assert ((a > -1e-6) & (a < 1 + 1e-6)).all() and a.std() > 0.05
            if call["kw"].get("alpha") is not None:
                torch.testing.assert_close(a, call["kw"]["alpha"].double(), rtol=0, atol=1e-5)
            # linear critic: the gradient is its weight everywhere, so the penalty is 10 (||w|| - 1)^2
            assert call["kw"]["weight"] == 10.0
            assert call["value"] == pytest.approx(10.0 * (call["w"].norm().item() - 1) ** 2, rel=1e-5)
        assert row["penalty"] == pytest.approx(calls[2 * step + 1]["value"], rel=1e-6)


class _NanGrad(torch.autograd.Function):
    """Identity forward, NaN gradient: a finite loss whose update poisons the weights."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


def _floats(state):
    for key in ("generator", "discriminator", "ema"):
        for name, value in state[key].items():
            if value.is_floating_point():
                yield f"{key}.{name}", value


def test_nan_weights_under_a_finite_loss_are_never_checkpointed(tmp_path, monkeypatch):
    from gan_plugins.training.losses import AdversarialLoss, get_loss

    base = get_loss("hinge")
    calls = {"n": 0}

    def poisoned_g(d_fake):
        calls["n"] += 1
        return base.g_loss(_NanGrad.apply(d_fake) if calls["n"] == 4 else d_fake)

    monkeypatch.setitem(losses_mod._LOSSES, "poisoned",
                        AdversarialLoss("poisoned", base.d_loss, poisoned_g, dict(base.defaults)))
    trainer = _trainer(tmp_path, "poisoned", ckpt_every=2, steps=8)
    result = trainer.run()
    # step 4's losses are finite (the generator update comes last), but that update wrote NaN into G and its EMA;
    # step 5 then diverges. The checkpoint left must be step 2's.
    state = load_checkpoint(tmp_path / "last.pt")
    bad = [name for name, v in _floats(state) if not torch.isfinite(v).all()]
    assert not bad, f"checkpoint of step {state['step']} holds non-finite {bad} (diverged: {result.diverged!r})"
    assert state["step"] == 2


# --------------------------------------------------------------------------------------------------- R1 and ADA
@pytest.mark.parametrize("loss", ["non-saturating", "hinge"])
@pytest.mark.parametrize("gamma", [0.5, None])
def test_r1_is_taken_at_the_augmented_reals_the_critic_scored_lazily_with_gp_every_times_gamma(tmp_path, loss, gamma):
    trainer = _trainer(tmp_path, loss, penalty="r1", r1_gamma=gamma, gp_every=2, augment="audio", augment_p=1.0)
    # None: StyleGAN2-ADA's 0.0002 * H * W / batch for the 2 x 2 features and batch 8
    want_gamma = 0.5 if gamma is not None else 0.0002 * 2 * 2 / 8
    for step in range(4):
        w = trainer.discriminator.lin.weight.detach().clone()
        trainer.discriminator.seen.clear()
        row = trainer.train_step()
        seen = trainer.discriminator.seen
        if step % 2 == 0:  # critic updates 0 and 2 are penalised: D(real), D(fake), D(real) in R1, D(G(z))
            assert len(seen) == 4
            torch.testing.assert_close(seen[2], seen[0], rtol=0, atol=0)
            # linear critic: grad_x D = w for every image -> gamma * gp_every / 2 * ||w||^2
            assert row["penalty"] == pytest.approx(want_gamma * 2 / 2 * w.pow(2).sum().item(), rel=1e-5)
        else:
            assert len(seen) == 3 and row["penalty"] == 0.0
        assert row["penalty"] >= 0 and "augment_p" not in row  # fixed p: no column


def test_r1_gradient_reaches_the_critic_update(tmp_path):
    # Adam's first step is -lr * sign(gradient) per weight: a large R1 (gradient gamma * w) makes it -lr * sign(w),
    # the update that shrinks the weights most; without R1's gradient in the backward the two runs would be equal
    moves, w0 = {}, None
    for gamma in (0.0, 50.0):
        trainer = _trainer(tmp_path / str(gamma), "non-saturating", penalty="r1", r1_gamma=gamma)
        w0 = trainer.discriminator.lin.weight.detach().clone()
        trainer.train_step()
        moves[gamma] = trainer.discriminator.lin.weight.detach() - w0
    lr = 2e-4
    torch.testing.assert_close(moves[50.0], -lr * torch.sign(w0), rtol=1e-3, atol=1e-7)
    assert not torch.equal(moves[0.0], moves[50.0])


def _forced_critic(trainer, bias):
    """Make the linear critic's raw outputs on every image the sign of ``bias`` (|bias| >> |w . x|)."""
    with torch.no_grad():
        trainer.discriminator.lin.bias.fill_(bias)


@pytest.mark.parametrize(("bias", "p0", "want"), [(50.0, 0.0, [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0]),
                                                  (-50.0, 1.0, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0])])
def test_ada_probability_rises_when_the_critic_calls_reals_real_and_falls_otherwise(tmp_path, monkeypatch, bias,
                                                                                    p0, want):
    from gan_plugins.training import trainer as train_mod

    drawn_p = []
    real_draw = train_mod.draw_audio_augment

    def spy(*args, **kwargs):
        drawn_p.append(kwargs["p"])
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(train_mod, "draw_audio_augment", spy)
    # batch 8, one critic update a step, adjusted every 4 updates by 4 * 8 / ada_images = 0.5, clamped to [0, 1]
    trainer = _trainer(tmp_path, "hinge", augment="audio", augment_p=p0, ada_target=0.6, ada_images=64)
    _forced_critic(trainer, bias)
    ps = [trainer.train_step()["augment_p"] for _ in range(9)]
    assert ps == pytest.approx(want, abs=1e-12)
    assert trainer.augment_p == want[-1]
    # the augmentation uses the adapted p: the critic update's two draws the p before the step, the generator
    # update's the p after it (adjusted right after the critic update)
    before = [p0, *ps[:-1]]
    assert drawn_p == [p for b, a in zip(before, ps, strict=True) for p in (b, b, a)]


def test_ada_state_is_checkpointed_and_older_checkpoints_start_from_augment_p(tmp_path):
    trainer = _trainer(tmp_path / "a", "hinge", augment="audio", augment_p=0.25, ada_target=0.6, ada_images=64)
    _forced_critic(trainer, 50.0)
    for _ in range(6):  # adjusted after update 3: p = 0.75, then updates 4, 5 summed
        trainer.train_step()
    state = trainer.state_dict()
    assert state["ada"] == {"p": 0.75, "signs": 16.0, "images": 16.0}
    fresh = _trainer(tmp_path / "b", "hinge", augment="audio", augment_p=0.25, ada_target=0.6, ada_images=64)
    fresh.load_state_dict(state)
    assert fresh.augment_p == 0.75 and fresh._ada_sums.tolist() == [16.0, 16.0]
    old = {k: v for k, v in state.items() if k != "ada"}  # a checkpoint from before ADA
    older = _trainer(tmp_path / "c", "hinge", augment="audio", augment_p=0.25, ada_target=0.6, ada_images=64)
    older.augment_p = 0.9
    older._ada_sums += 3.0
    older.load_state_dict(old)
    assert older.augment_p == 0.25 and older._ada_sums.tolist() == [0.0, 0.0]
