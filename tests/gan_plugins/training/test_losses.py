"""Adversarial losses: values on known logits, gradient behaviour, penalties (WGAN-GP, R1) and clipping,
registry errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gan_plugins.training.losses import (
    available_losses,
    available_penalties,
    clip_weights_,
    get_loss,
    get_penalty,
    gradient_penalty,
    r1_gamma_heuristic,
    r1_penalty,
)
from specrep.errors import ParameterError

SP = math.log1p(math.exp(-1.0))  # softplus(-1)
SP2 = math.log1p(math.exp(-2.0))  # softplus(-2)

# (d_real, d_fake) = (2, -1): expected (loss_d, loss_g) worked out by hand.
EXPECTED = {
    "minimax": (SP2 + SP, -SP),
    "non-saturating": (SP2 + SP, 1.0 + SP),  # softplus(1) = 1 + softplus(-1)
    "lsgan": (0.5 * 1.0 + 0.5 * 1.0, 0.5 * 4.0),
    "hinge": (0.0 + 0.0, 1.0),
    "wgan": (-1.0 - 2.0, 1.0),
    "wgan-gp": (-1.0 - 2.0, 1.0),
}


def test_registry_holds_the_six_losses():
    assert available_losses() == ["minimax", "non-saturating", "lsgan", "hinge", "wgan", "wgan-gp"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_values_on_known_logits(name):
    loss_d, loss_g = get_loss(name)(torch.tensor([2.0, 2.0]), torch.tensor([-1.0, -1.0]))
    assert loss_d.item() == pytest.approx(EXPECTED[name][0], abs=1e-6)
    assert loss_g.item() == pytest.approx(EXPECTED[name][1], abs=1e-6)


@pytest.mark.parametrize("name", ["minimax", "non-saturating"])
def test_zero_logits_give_log2(name):
    loss_d, loss_g = get_loss(name)(torch.zeros(4), torch.zeros(4))
    assert loss_d.item() == pytest.approx(2 * math.log(2), abs=1e-6)
    assert abs(loss_g.item()) == pytest.approx(math.log(2), abs=1e-6)


def test_minimax_saturates_where_non_saturating_does_not():
    grads = {}
    for name in ("minimax", "non-saturating"):
        d_fake = torch.tensor([-8.0], requires_grad=True)  # D confidently rejects the fake
        get_loss(name).g_loss(d_fake).backward()
        grads[name] = d_fake.grad.abs().item()
    assert grads["minimax"] < 1e-3
    assert grads["non-saturating"] == pytest.approx(1.0, abs=1e-3)


def test_losses_are_stable_for_extreme_logits():
    for name in available_losses():
        loss_d, loss_g = get_loss(name)(torch.tensor([1e4, -1e4]), torch.tensor([-1e4, 1e4]))
        assert torch.isfinite(loss_d) and torch.isfinite(loss_g), name


def test_gradient_penalty_of_a_linear_critic_is_exact():
    critic = nn.Linear(6, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0, 0.0, 0.0]]))  # ||w|| = 5 everywhere
    real, fake = torch.randn(8, 6), torch.randn(8, 6)
    gp = gradient_penalty(critic, real, fake, weight=10.0)
    assert gp.item() == pytest.approx(10.0 * (5.0 - 1.0) ** 2, rel=1e-5)
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_gradient_penalty_rejects_mismatched_shapes():
    with pytest.raises(ParameterError, match="must match"):
        gradient_penalty(nn.Linear(4, 1), torch.zeros(2, 4), torch.zeros(3, 4))


def test_clip_weights_clamps_every_parameter():
    m = nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 1))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(100)
    clip_weights_(m, 0.01)
    assert max(p.abs().max().item() for p in m.parameters()) == pytest.approx(0.01)
    with pytest.raises(ParameterError):
        clip_weights_(m, 0.0)


def test_literature_defaults():
    wgan, gp, ns = get_loss("wgan").defaults, get_loss("wgan-gp").defaults, get_loss("non-saturating").defaults
    assert (wgan["optimizer"], wgan["lr_d"], wgan["n_critic"], wgan["clip"]) == ("rmsprop", 5e-5, 5, 0.01)
    assert (gp["gp_weight"], gp["n_critic"], gp["d_norm"], gp["clip"]) == (10.0, 5, "none", 0.0)
    assert (ns["optimizer"], ns["lr_g"], tuple(ns["betas"]), ns["n_critic"]) == ("adam", 2e-4, (0.5, 0.999), 1)
    with pytest.raises(TypeError):
        wgan["clip"] = 1.0  # read-only


def test_unknown_loss_names_the_choices():
    with pytest.raises(ParameterError, match="not one of minimax, non-saturating, lsgan, hinge, wgan, wgan-gp"):
        get_loss("vanilla")


# ------------------------------------------------------------------------------ hand-computed values and slopes
# Logits on both sides of every margin: hinge's 1 (real) and -1 (fake), LSGAN's targets 1 (real) and 0 (fake).
R = [-2.0, 0.5, 1.0, 3.0]
F_ = [-3.0, -1.0, -0.5, 2.0]


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _mean(values):
    values = list(values)
    return sum(values) / len(values)


# name -> (loss_d, loss_g) at (R, F_), written out from each paper's formula
HAND = {
    # D maximises log D(x) + log(1 - D(G(z))): loss_d = -mean log sigmoid(r) - mean log(1 - sigmoid(f));
    # the saturating G minimises mean log(1 - sigmoid(f)).
    "minimax": (-_mean(math.log(_sigmoid(r)) for r in R) - _mean(math.log(1 - _sigmoid(f)) for f in F_),
                _mean(math.log(1 - _sigmoid(f)) for f in F_)),
    # the -log D trick: G minimises -mean log sigmoid(f)
    "non-saturating": (-_mean(math.log(_sigmoid(r)) for r in R) - _mean(math.log(1 - _sigmoid(f)) for f in F_),
                       -_mean(math.log(_sigmoid(f)) for f in F_)),
    # 0-1-1 coding with the 1/2 factors: 1/2 mean (r - 1)^2 + 1/2 mean f^2; G: 1/2 mean (f - 1)^2
    "lsgan": (0.5 * (9 + 0.25 + 0 + 4) / 4 + 0.5 * (9 + 1 + 0.25 + 4) / 4, 0.5 * (16 + 4 + 2.25 + 1) / 4),
    # relu(1 - r) = 3, 0.5, 0, 0 and relu(1 + f) = 0, 0, 0.5, 3; G: -mean f
    "hinge": ((3 + 0.5 + 0 + 0) / 4 + (0 + 0 + 0.5 + 3) / 4, -(-3 - 1 - 0.5 + 2) / 4),
    "wgan": ((-3 - 1 - 0.5 + 2) / 4 - (-2 + 0.5 + 1 + 3) / 4, -(-3 - 1 - 0.5 + 2) / 4),
    "wgan-gp": ((-3 - 1 - 0.5 + 2) / 4 - (-2 + 0.5 + 1 + 3) / 4, -(-3 - 1 - 0.5 + 2) / 4),
}

# name -> (d loss_d / d r_i, d loss_d / d f_i, d loss_g / d f_i), each times the batch size 4
HAND_GRADS = {
    "minimax": ([-(1 - _sigmoid(r)) for r in R], [_sigmoid(f) for f in F_], [-_sigmoid(f) for f in F_]),
    "non-saturating": ([-(1 - _sigmoid(r)) for r in R], [_sigmoid(f) for f in F_],
                       [-(1 - _sigmoid(f)) for f in F_]),
    "lsgan": ([r - 1 for r in R], list(F_), [f - 1 for f in F_]),
    # margins: slope -1 where r < 1, 0 beyond (torch's relu'(0) = 0 at r = 1); +1 where f > -1
    "hinge": ([-1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [-1.0] * 4),
    "wgan": ([-1.0] * 4, [1.0] * 4, [-1.0] * 4),
    "wgan-gp": ([-1.0] * 4, [1.0] * 4, [-1.0] * 4),
}


@pytest.mark.parametrize("name", list(HAND))
def test_values_inside_and_outside_the_margins(name):
    loss = get_loss(name)
    d_real, d_fake = torch.tensor(R, dtype=torch.float64), torch.tensor(F_, dtype=torch.float64)
    assert loss.d_loss(d_real, d_fake).item() == pytest.approx(HAND[name][0], abs=1e-12)
    assert loss.g_loss(d_fake).item() == pytest.approx(HAND[name][1], abs=1e-12)
    # the same through the callable form, and for (B, 1) logits
    loss_d, loss_g = loss(d_real[:, None], d_fake[:, None])
    assert (loss_d.item(), loss_g.item()) == pytest.approx(HAND[name], abs=1e-12)


@pytest.mark.parametrize("name", list(HAND_GRADS))
def test_gradients_with_respect_to_the_logits(name):
    loss = get_loss(name)
    d_real = torch.tensor(R, dtype=torch.float64, requires_grad=True)
    d_fake = torch.tensor(F_, dtype=torch.float64, requires_grad=True)
    loss.d_loss(d_real, d_fake).backward()
    want_r, want_f, want_g = (torch.tensor(v, dtype=torch.float64) / 4 for v in HAND_GRADS[name])
    torch.testing.assert_close(d_real.grad, want_r, rtol=0, atol=1e-12)
    torch.testing.assert_close(d_fake.grad, want_f, rtol=0, atol=1e-12)
    d_fake2 = torch.tensor(F_, dtype=torch.float64, requires_grad=True)
    loss.g_loss(d_fake2).backward()
    torch.testing.assert_close(d_fake2.grad, want_g, rtol=0, atol=1e-12)


def test_hinge_margin_is_one_on_both_sides():
    d_loss = get_loss("hinge").d_loss
    # just inside / just outside each margin, one side at a time (the other far outside its margin)
    far_real, far_fake = torch.tensor([10.0]), torch.tensor([-10.0])
    for r, want in ((0.9, 0.1), (1.1, 0.0), (-0.5, 1.5)):
        assert d_loss(torch.tensor([r]), far_fake).item() == pytest.approx(want, abs=1e-6)
    for f, want in ((-0.9, 0.1), (-1.1, 0.0), (0.5, 1.5)):
        assert d_loss(far_real, torch.tensor([f])).item() == pytest.approx(want, abs=1e-6)


def test_lsgan_minimum_is_at_its_targets():
    loss = get_loss("lsgan")
    assert loss.d_loss(torch.ones(3), torch.zeros(3)).item() == 0.0  # real -> 1, fake -> 0
    assert loss.g_loss(torch.ones(3)).item() == 0.0  # the generator wants its fakes called 1
    assert loss.d_loss(torch.zeros(3), torch.ones(3)).item() == pytest.approx(0.5 + 0.5)
    assert loss.g_loss(torch.full((3,), 3.0)).item() == pytest.approx(0.5 * 4.0)


# ------------------------------------------------------------------------------------------- drift penalty
def test_drift_penalty_is_weight_times_mean_square_of_real_logits():
    from gan_plugins.training.losses import drift_penalty

    d_real = torch.tensor(R)
    assert drift_penalty(d_real, 0.001).item() == pytest.approx(0.001 * (4 + 0.25 + 1 + 9) / 4, rel=1e-6)
    assert drift_penalty(d_real, 2.0).item() == pytest.approx(2.0 * 14.25 / 4, rel=1e-6)
    assert drift_penalty(d_real[:, None], 1.0).item() == pytest.approx(14.25 / 4, rel=1e-6)
    assert drift_penalty(d_real, 0.0).item() == 0.0
    x = torch.tensor(R, requires_grad=True)
    drift_penalty(x, 0.5).backward()
    torch.testing.assert_close(x.grad, 0.5 * 2 * torch.tensor(R) / 4)  # d/dr w mean(r^2) = 2 w r / B
    with pytest.raises(ParameterError):
        drift_penalty(d_real, -1.0)


# ---------------------------------------------------------------------------------------- gradient penalty
class _HalfSquare(nn.Module):
    """critic(x) = 0.5 * s * sum(x^2) per sample: its input gradient is s * x, norm s * ||x|| (varies with x).
    Records every input it sees."""

    def __init__(self, s=1.0):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(float(s), dtype=torch.float64))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * self.s * x.pow(2).flatten(1).sum(1)


# 4 samples of shape (1, 1, 2); with alpha = [1, 0, 0.5, 0.25] the interpolates alpha r + (1 - alpha) f are
# (3, 4), (0.3, 0.4), (1, 1), (0, 2): norms 5, 0.5 (below 1: penalised too), sqrt 2 and 2.
GP_REAL = torch.tensor([[3.0, 4.0], [0.0, 0.0], [2.0, 0.0], [0.0, 8.0]], dtype=torch.float64).reshape(4, 1, 1, 2)
GP_FAKE = torch.tensor([[0.0, 0.0], [0.3, 0.4], [0.0, 2.0], [0.0, 0.0]], dtype=torch.float64).reshape(4, 1, 1, 2)
GP_ALPHA = torch.tensor([1.0, 0.0, 0.5, 0.25], dtype=torch.float64)
GP_MIXED = torch.tensor([[3.0, 4.0], [0.3, 0.4], [1.0, 1.0], [0.0, 2.0]], dtype=torch.float64).reshape(4, 1, 1, 2)
GP_NORMS = [5.0, 0.5, math.sqrt(2.0), 2.0]


def test_gradient_penalty_is_evaluated_at_the_interpolates():
    critic = _HalfSquare()
    gp = gradient_penalty(critic, GP_REAL, GP_FAKE, weight=10.0, alpha=GP_ALPHA)
    assert len(critic.seen) == 1
    torch.testing.assert_close(critic.seen[0], GP_MIXED, rtol=0, atol=1e-12)
    want = 10.0 * _mean((n - 1.0) ** 2 for n in GP_NORMS)  # two-sided, mean over the batch
    assert gp.item() == pytest.approx(want, rel=1e-12)


def test_gradient_penalty_is_two_sided_weighted_and_batch_averaged():
    critic = _HalfSquare()
    # a gradient norm below the centre is penalised like one above it: ||x|| = 0.5 -> (0.5 - 1)^2
    one = gradient_penalty(critic, GP_REAL[1:2], GP_FAKE[1:2], weight=1.0, alpha=GP_ALPHA[1:2])
    assert one.item() == pytest.approx(0.25, rel=1e-12)
    # per-sample values 16, 0.25, (sqrt2 - 1)^2, 1: the batch mean, not the sum
    each = [gradient_penalty(critic, GP_REAL[i:i + 1], GP_FAKE[i:i + 1], weight=1.0, alpha=GP_ALPHA[i:i + 1]).item()
            for i in range(4)]
    assert each == pytest.approx([16.0, 0.25, (math.sqrt(2) - 1) ** 2, 1.0], rel=1e-12)
    both = gradient_penalty(critic, GP_REAL, GP_FAKE, weight=1.0, alpha=GP_ALPHA).item()
    assert both == pytest.approx(sum(each) / 4, rel=1e-12)
    # the weight multiplies; the centre is the target norm
    assert gradient_penalty(critic, GP_REAL, GP_FAKE, weight=3.0, alpha=GP_ALPHA).item() == pytest.approx(
        3.0 * both, rel=1e-12)
    centred0 = gradient_penalty(critic, GP_REAL, GP_FAKE, weight=2.0, center=0.0, alpha=GP_ALPHA).item()
    assert centred0 == pytest.approx(2.0 * _mean(n**2 for n in GP_NORMS), rel=1e-12)
    assert gradient_penalty(critic, GP_REAL, GP_FAKE, weight=0.0, alpha=GP_ALPHA).item() == 0.0


def test_gradient_penalty_is_differentiable_in_the_critic_parameters():
    # critic = 0.5 s ||x||^2: grad norm s n_i; penalty w mean((s n_i - 1)^2); d/ds = w mean(2 (s n_i - 1) n_i)
    critic = _HalfSquare(s=1.5)
    gp = gradient_penalty(critic, GP_REAL, GP_FAKE, weight=10.0, alpha=GP_ALPHA)
    assert gp.item() == pytest.approx(10.0 * _mean((1.5 * n - 1) ** 2 for n in GP_NORMS), rel=1e-12)
    gp.backward()
    want = 10.0 * _mean(2 * (1.5 * n - 1) * n for n in GP_NORMS)
    assert critic.s.grad.item() == pytest.approx(want, rel=1e-12)


def test_gradient_penalty_random_alpha_lies_on_the_segments_and_follows_the_generator():
    torch.manual_seed(0)
    real, fake = torch.randn(16, 3, 2, 2, dtype=torch.float64), torch.randn(16, 3, 2, 2, dtype=torch.float64)
    critic = _HalfSquare()
    gp = gradient_penalty(critic, real, fake, weight=1.0, generator=torch.Generator().manual_seed(3))
    mixed = critic.seen[0]
    # solve mixed_i = a_i real_i + (1 - a_i) fake_i for a_i, then check the residual and 0 <= a_i <= 1
    d, m = (real - fake).flatten(1), (mixed - fake).flatten(1)
    a = (d * m).sum(1) / (d * d).sum(1)
    torch.testing.assert_close(m, a[:, None] * d, rtol=0, atol=1e-12)
    assert ((a >= 0) & (a <= 1)).all() and a.std() > 0.1  # one coefficient per sample, spread over [0, 1]
    assert gp.item() == pytest.approx(_mean((n - 1) ** 2 for n in mixed.flatten(1).norm(dim=1).tolist()), rel=1e-9)
    again = gradient_penalty(critic, real, fake, weight=1.0, generator=torch.Generator().manual_seed(3))
    assert again.item() == gp.item()
    with pytest.raises(ParameterError, match="alpha shape"):
        gradient_penalty(critic, real, fake, alpha=torch.rand(16, 1))


def test_clip_weights_clamps_values_exactly_and_leaves_buffers():
    m = nn.BatchNorm1d(5)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([-0.5, -0.005, 0.0, 0.007, 2.0]))
        m.running_mean.fill_(3.0)
    clip_weights_(m, 0.01)
    torch.testing.assert_close(m.weight.detach(), torch.tensor([-0.01, -0.005, 0.0, 0.007, 0.01]), rtol=0, atol=0)
    assert torch.equal(m.running_mean, torch.full((5,), 3.0))  # buffers are not parameters


# ---------------------------------------------------------------------------------------------------------- R1
def test_penalty_registry_holds_gp_and_r1():
    assert available_penalties() == ["gp", "r1"]
    gp, r1 = get_penalty("gp"), get_penalty("r1")
    assert (gp.fn, gp.interpolates, gp.weight_setting) == (gradient_penalty, True, "gp_weight")
    assert (r1.fn, r1.interpolates, r1.weight_setting) == (r1_penalty, False, "r1_gamma")
    with pytest.raises(ParameterError, match="penalty='r2' is not one of gp, r1"):
        get_penalty("r2")
    x = torch.randn(3, 4)
    with pytest.raises(ParameterError, match="real batch alone"):
        r1(nn.Linear(4, 1), x, x, weight=1.0)
    with pytest.raises(ParameterError, match="fake batch"):
        gp(nn.Linear(4, 1), x, weight=1.0)


@pytest.mark.parametrize("via_registry", [False, True])
def test_r1_on_a_linear_critic_is_half_gamma_times_squared_weight_norm_with_double_backward(via_registry):
    # D(x) = <w, x> + b: grad_x D = w for every image, so R1 = gamma / 2 * ||w||^2, and d/dw of it = gamma * w
    torch.manual_seed(0)
    critic = nn.Linear(12, 1)
    real = torch.randn(5, 1, 3, 4)
    gamma, every = 0.3, 4   # the trainer's lazy weight: gamma * gp_every

    def d(x):
        return critic(x.flatten(1)).squeeze(1)

    fn = get_penalty("r1") if via_registry else r1_penalty
    pen = fn(d, real, weight=gamma * every)
    w = critic.weight.detach()
    assert pen.item() == pytest.approx(gamma * every / 2 * w.pow(2).sum().item(), rel=1e-6)
    pen.backward()
    torch.testing.assert_close(critic.weight.grad, gamma * every * w, rtol=1e-6, atol=1e-7)
    assert critic.bias.grad is None or critic.bias.grad.abs().max() == 0  # the bias moves no input gradient
    assert real.grad is None  # the penalty differentiates a detached copy of the batch


def test_r1_is_the_mean_over_images_of_their_squared_gradient_norms():
    real = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    # D(x) = sum(x^2): grad = 2x, ||grad||^2 = 4 ||x||^2 = 20 and 40; mean 30; weight 0.5 -> 0.25 * 30 = 7.5
    assert r1_penalty(lambda x: x.pow(2).sum(1), real, weight=0.5).item() == pytest.approx(7.5)


def test_r1_gamma_heuristic_of_stylegan2_ada():
    assert r1_gamma_heuristic(128, 64, 16) == pytest.approx(0.1024)      # 0.0002 * 8192 / 16
    assert r1_gamma_heuristic(32, 32, 64) == pytest.approx(0.0032)
    assert r1_gamma_heuristic(1024, 1024, 32) == pytest.approx(6.5536)   # StyleGAN2-ADA's FFHQ-1024, 8 GPUs x 4
    with pytest.raises(ParameterError, match="batch_size"):
        r1_gamma_heuristic(32, 32, 0)
