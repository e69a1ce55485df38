"""bf16 autocast without a GPU: ``amp="always"`` autocasts every critic and generator pass on CPU (the CUDA path is the
same code with another device type), a short run under it trains, and the double backward of the gradient penalty and
of R1 works under autocast, close to float32."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_plugins.api import get_plugin
from gan_plugins.config import AMP_MODES, amp_enabled, resolve_config
from gan_plugins.training.losses import gradient_penalty, r1_penalty
from gan_plugins.training.trainer import Trainer
from specrep.errors import ParameterError

TINY = {"width": 4, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4,
        "n_critic": 2}


def test_amp_modes_decide_per_device():
    assert AMP_MODES == (True, False, "always")
    assert [amp_enabled(m, "cuda") for m in AMP_MODES] == [True, False, True]
    assert [amp_enabled(m, "cpu") for m in AMP_MODES] == [False, False, True]  # amp=True on CPU: float32, as before
    plugin = get_plugin("dcgan")
    for bad in ("cpu", "bf16", 1, None):
        with pytest.raises(ParameterError, match=r"amp=.* must be true .*\"always\" .* or false"):
            resolve_config(plugin, loss="hinge", data="mnist", overrides={"amp": bad})


def _run(tmp_path, amp, penalty, steps=6):
    """``steps`` steps of a tiny WGAN-GP DCGAN on MNIST; returns the logged rows and the dtypes the critic output."""
    plugin = get_plugin("dcgan")
    cfg = resolve_config(plugin, loss="wgan-gp", data="mnist", overrides={**TINY, "amp": amp, "penalty": penalty})
    trainer = Trainer(plugin, cfg, tmp_path, progress=False).setup()
    dtypes = []
    trainer.discriminator.register_forward_hook(lambda mod, args, out: dtypes.append(out.dtype))
    start = [p.detach().clone() for p in trainer.generator.parameters()]
    rows = [trainer.train_step() for _ in range(steps)]
    moved = max((p.detach() - s).abs().max().item() for p, s in zip(trainer.generator.parameters(), start, strict=True))
    return rows, dtypes, moved


@pytest.mark.parametrize("penalty", ["gp", "r1"])
def test_short_cpu_run_under_bf16_trains(tmp_path, penalty):
    rows, dtypes, moved = _run(tmp_path, "always", penalty)
    # every critic pass ran under autocast: real, fake and the penalty's per critic update, then the generator's
    assert dtypes == [torch.bfloat16] * (len(rows) * (3 * TINY["n_critic"] + 1))
    for key in ("loss_d", "loss_g", "penalty", "grad_norm_d", "grad_norm_g"):
        assert all(torch.isfinite(torch.tensor(r[key])) for r in rows), key
    assert all(r["penalty"] > 0 for r in rows)  # the double backward produced a penalty on every update
    losses_d = [r["loss_d"] for r in rows]
    assert max(losses_d) - min(losses_d) > 1e-3 and moved > 1e-4  # it trains: the loss moves, so do the weights


def test_amp_true_on_cpu_stays_float32(tmp_path):
    rows, dtypes, _ = _run(tmp_path, True, "gp", steps=1)
    assert set(dtypes) == {torch.float32} and len(rows) == 1


class _Critic(nn.Module):
    """Conv + linear critic on (B, 1, 8, 8): both autocast to bf16 on CPU; softplus keeps the second derivative."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lin = nn.Linear(4 * 64, 1)
        self.out_dtypes = []

    def forward(self, x):
        out = self.lin(nn.functional.softplus(self.conv(x)).flatten(1)).squeeze(1)
        self.out_dtypes.append(out.dtype)
        return out


@pytest.mark.parametrize("name", ["gp", "r1"])
def test_penalty_double_backward_under_autocast_matches_float32(name):
    torch.manual_seed(0)
    critic = _Critic()
    real, fake = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    alpha = torch.rand(6)

    def penalty_and_grads(autocast: bool):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            if name == "gp":
                pen = gradient_penalty(critic, real, fake, weight=10.0, alpha=alpha)
            else:
                pen = r1_penalty(critic, real, weight=1.0)
        # through the input gradient: the double backward (the last bias does not reach an input gradient)
        grads = torch.autograd.grad(pen, [critic.conv.weight, critic.conv.bias, critic.lin.weight])
        return pen.detach(), torch.cat([g.flatten() for g in grads])

    pen32, grads32 = penalty_and_grads(False)
    assert critic.out_dtypes[-1] == torch.float32
    pen16, grads16 = penalty_and_grads(True)
    assert critic.out_dtypes[-1] == torch.bfloat16  # autocast was on for the critic's pass
    assert pen16.dtype == torch.float32 and torch.isfinite(pen16) and torch.isfinite(grads16).all()
    assert grads32.abs().max() > 1e-3
    # bf16 keeps 8 bits of mantissa: agreement to a few per cent, not to float32's precision
    assert torch.allclose(pen16, pen32, rtol=0.05)
    assert (grads16 - grads32).norm() <= 0.05 * grads32.norm()
