"""Adversarial losses: values on known logits, gradient behaviour, penalty and clipping, registry errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gan_plugins.losses import available_losses, clip_weights_, get_loss, gradient_penalty
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
