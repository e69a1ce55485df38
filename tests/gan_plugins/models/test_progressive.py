"""Progressive growing: schedule, fade-in blends, exact resume mid-fade, per-stage batch and lr, sampling at any
stage, the pitfalls of PGGAN ports, and GANSynth's networks and bundled models unchanged by the sharing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.io.model import load_model
from gan_plugins.models.gansynth import GANSynthDiscriminator, GANSynthGenerator
from gan_plugins.models.progressive import ProgressiveDiscriminator, ProgressiveGenerator, blend, fade_real
from gan_plugins.models.schedule import ProgressiveSchedule
from gan_plugins.nn.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDev
from gan_plugins.training import losses as losses_mod
from gan_plugins.training.losses import available_losses
from gan_plugins.training.trainer import Trainer, train
from specrep.errors import ParameterError

# 16 mel bands are too few for mel-if audio quality (the plugin warns); irrelevant at this size
pytestmark = pytest.mark.filterwarnings("ignore:mel-if with n_mels:UserWarning")

# features (2, 16, 8): levels 0, 1, 2 = (4, 2), (8, 4), (16, 8). With batch 2: stage 0 (level 0) steps 0-1, stage 1
# (fade in level 1) steps 2-5, stage 2 (level 1) steps 6-7, stage 3 (fade in level 2) steps 8-11, stage 4 from 12.
TINY = {"n_fft": 512, "hop_length": 256, "n_mels": 16, "frames": 8, "width_max": 8, "width_base": 8, "z_dim": 8,
        "batch_size": 2, "stage_images": 4, "fade_images": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0,
        "grid_size": 4}
SHAPES = {0: (4, 2), 1: (8, 4), 2: (16, 8)}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return get_plugin("progressive").smoke_config(tmp_path_factory.mktemp("data"))[0]


def _train(data, out, steps, loss="wgan-gp", **over):
    return train("progressive", data=data, loss=loss, out=out, steps=steps, overrides={**TINY, **over},
                 progress=False)


def _trainer(data, out, loss="wgan-gp", **over):
    plugin = get_plugin("progressive")
    cfg = resolve_config(plugin, loss=loss, data=data, overrides={**TINY, **over})
    return Trainer(plugin, cfg, out, progress=False).setup()


# ------------------------------------------------------------------------------------------------ schedule
def test_schedule_stages_alpha_images_batch_and_lr_by_hand():
    s = ProgressiveSchedule(levels=2, stage_images=8, fade_images=8, batch_sizes=[4, 2, 2], lr_g=1e-3, lr_d=2e-3,
                            lr_scales=[1.0, 0.5, 0.25])
    # stage 0: 8 images at batch 4 = steps 0-1; fade 1: steps 2-5 (batch 2); stable 1: 6-9; fade 2: 10-13; final 14+
    got = [(s.at(k)["stage"], s.at(k)["level"], s.at(k)["fade_alpha"], s.at(k)["images"]) for k in range(16)]
    assert got == [(0, 0, 1.0, 0), (0, 0, 1.0, 4),
                   (1, 1, 0.0, 8), (1, 1, 0.25, 10), (1, 1, 0.5, 12), (1, 1, 0.75, 14),
                   (2, 1, 1.0, 16), (2, 1, 1.0, 18), (2, 1, 1.0, 20), (2, 1, 1.0, 22),
                   (3, 2, 0.0, 24), (3, 2, 0.25, 26), (3, 2, 0.5, 28), (3, 2, 0.75, 30),
                   (4, 2, 1.0, 32), (4, 2, 1.0, 34)]
    assert [s.at(k)["batch_size"] for k in (0, 1, 2, 9, 10, 100)] == [4, 4, 2, 2, 2, 2]
    assert (s.at(0)["lr_g"], s.at(0)["lr_d"]) == (1e-3, 2e-3)
    assert (s.at(3)["lr_g"], s.at(12)["lr_d"]) == (5e-4, 5e-4)
    assert s.final_step == 14 and [b["start_step"] for b in s.boundaries()] == [0, 2, 6, 10, 14]
    assert s.at(10**6)["level"] == 2  # the last stable stage never ends
    # a critic step shows one batch of real images: n_critic 2 halves the steps of every stage
    assert ProgressiveSchedule(levels=1, stage_images=8, fade_images=8, batch_sizes=2, lr_g=1, lr_d=1,
                               n_critic=2).final_step == 4
    # start_level = final level: no growing (the fixed-resolution ablation of the same code)
    flat = ProgressiveSchedule(levels=2, stage_images=8, fade_images=8, batch_sizes=2, lr_g=1, lr_d=1, start_level=2)
    assert flat.at(0) == {**flat.at(50), "images": 0} and flat.at(0)["level"] == 2 and flat.at(0)["fade_alpha"] == 1


@pytest.mark.parametrize("kw, match", [
    ({"batch_sizes": [2, 2]}, "stage_batch_size"),
    ({"stage_images": 0}, "stage_images"),
    ({"fade_images": -1}, "fade_images"),
    ({"fade_images": 2.5}, "fade_images"),
    ({"lr_scales": [1.0, 0.0, 1.0]}, "stage_lr_scale"),
    ({"start_level": 3}, "start_level"),
    ({"n_critic": 0}, "n_critic"),
    ({"lr_g": float("nan")}, "lr_g"),
])
def test_schedule_validates_its_settings(kw, match):
    base = {"levels": 2, "stage_images": 8, "fade_images": 8, "batch_sizes": 2, "lr_g": 1e-3, "lr_d": 1e-3}
    with pytest.raises(ParameterError, match=match):
        ProgressiveSchedule(**{**base, **kw})


def test_bad_stage_settings_fail_at_build_not_mid_run(data, tmp_path):
    with pytest.raises(ParameterError, match="stage_batch_size"):
        _train(data, tmp_path, 1, stage_batch_size=[2, 2])


# ------------------------------------------------------------------------------------------------ blends
def test_real_feature_fade_by_hand():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # level 1 of 2: 2x2 means [[2.5, 4.5], [10.5, 12.5]]; its coarse version is their mean 7.5 everywhere
    torch.testing.assert_close(fade_real(x, 1, 1.0, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    torch.testing.assert_close(fade_real(x, 1, 0.25, 2), torch.tensor([[[[6.25, 6.75], [8.25, 8.75]]]]))
    torch.testing.assert_close(fade_real(x, 1, 0.0, 2), torch.full((1, 1, 2, 2), 7.5))
    # the final level: full vs 2x2 means repeated; first row of up(down(x)) is 2.5, 2.5, 4.5, 4.5
    torch.testing.assert_close(fade_real(x, 2, 0.5, 2)[0, 0, 0], torch.tensor([1.25, 1.75, 3.25, 3.75]))
    assert torch.equal(fade_real(x, 2, 1.0, 2), x)
    assert torch.equal(fade_real(x, 1, 0.25, 2, start_level=1), fade_real(x, 1, 1.0, 2))  # nothing to fade from
    torch.testing.assert_close(blend(torch.tensor([2.0]), torch.tensor([6.0]), 0.25), torch.tensor([3.0]))


class _Const(nn.Module):
    """Stands in for a 1x1 output layer: returns fixed pre-tanh values, whatever the hidden features."""

    def __init__(self, values):
        super().__init__()
        self.values = torch.atanh(torch.tensor(values))

    def forward(self, h):
        return self.values.expand(h.shape[0], 1, *self.values.shape[-2:])


def test_generator_output_fade_by_hand():
    g = ProgressiveGenerator(z_dim=4, shape=(1, 8, 4), width_max=8, width_base=8)  # levels 0, 1: 4 x 2, 8 x 4
    old = [[0.2, -0.2], [0.4, -0.4], [0.6, -0.6], [0.8, -0.8]]
    g.to_features_levels[0] = _Const(old)              # level 0 output after tanh
    g.to_features = _Const([[0.4] * 4] * 8)            # level 1 (final) output after tanh: 0.4 everywhere
    z = torch.randn(3, 4)
    g.set_stage(1, 0.25)
    out = g(z)
    # 0.75 * (each level-0 cell repeated over 2 x 2 cells) + 0.25 * 0.4
    expect = torch.tensor([[0.25, 0.25, -0.05, -0.05], [0.25, 0.25, -0.05, -0.05],
                           [0.40, 0.40, -0.20, -0.20], [0.40, 0.40, -0.20, -0.20],
                           [0.55, 0.55, -0.35, -0.35], [0.55, 0.55, -0.35, -0.35],
                           [0.70, 0.70, -0.50, -0.50], [0.70, 0.70, -0.50, -0.50]])
    assert out.shape == (3, 1, 8, 4)
    torch.testing.assert_close(out, expect.expand(3, 1, 8, 4))
    g.set_stage(1, 1.0)
    torch.testing.assert_close(g(z), torch.full((3, 1, 8, 4), 0.4))
    g.set_stage(0, 1.0)
    torch.testing.assert_close(g(z), torch.tensor(old).expand(3, 1, 4, 2))


def test_discriminator_fade_runs_the_lower_level_at_zero_and_the_new_block_at_one():
    torch.manual_seed(0)
    d = ProgressiveDiscriminator(shape=(2, 16, 8), width_max=8, width_base=8)
    x = torch.randn(4, 2, 8, 4)  # level 1
    d.set_stage(1, 1.0)
    new = d(x)
    d.set_stage(0, 1.0)
    old = d(F.avg_pool2d(x, 2))
    d.set_stage(1, 0.0)
    torch.testing.assert_close(d(x), old)
    d.set_stage(1, 0.3)
    mid = d(x)
    assert not torch.allclose(mid, old) and not torch.allclose(mid, new)
    with pytest.raises(ParameterError, match="fade_alpha"):
        d.set_stage(1, 1.5)
    with pytest.raises(ParameterError, match="level"):
        d.set_stage(3, 1.0)


# ------------------------------------------------------------------------------------------------ training
def test_trains_through_every_stage_with_alpha_rising_at_the_scheduled_steps(data, tmp_path, monkeypatch):
    seen = []  # (level, fade_alpha, shape of the real features) of every critic update
    plugin = get_plugin("progressive")
    features = type(plugin).features

    def spy(self, batch, config, state):
        out = features(self, batch, config, state)
        seen.append((state["level"], state["fade_alpha"], tuple(out.shape[-2:])))
        return out

    monkeypatch.setattr(type(plugin), "features", spy)
    res = _train(data, tmp_path, 14, loss="wgan-gp")
    assert res.step == 14
    levels = [r["level"] for r in res.history]
    alphas = [r["fade_alpha"] for r in res.history]
    assert levels == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]
    assert alphas == [1, 1, 0, 0.25, 0.5, 0.75, 1, 1, 0, 0.25, 0.5, 0.75, 1, 1]
    assert [r["stage"] for r in res.history] == [0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4]
    assert [r["images"] for r in res.history] == [2 * k for k in range(14)]
    # one critic update per step (GANSynth's n_critic), on real features of the step's level, faded with its alpha
    assert [s[:2] for s in seen] == list(zip(levels, alphas, strict=True))
    assert all(shape == SHAPES[lvl] for lvl, _, shape in seen)
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in res.history)


@pytest.mark.slow  # ~2 s: trains twice
def test_mid_fade_checkpoint_resumes_with_the_same_alpha_stage_step_and_parameters(data, tmp_path):
    straight = _train(data, tmp_path / "a", 13, loss="wgan-gp")
    _train(data, tmp_path / "b", 10, loss="wgan-gp")  # 10: inside the fade-in of level 2 (steps 8-11)
    mid = load_checkpoint(tmp_path / "b" / "last.pt")
    assert mid["step"] == 10 and mid["schedule"]["stage"] == 3 and mid["schedule"]["fade_alpha"] == 0.5
    # stage and alpha are not stored in the models: nothing in a checkpoint holds them but the step
    for key in ("generator", "discriminator", "ema"):  # weights and biases only, no stage/alpha buffer
        assert all(k.endswith((".weight", ".bias")) for k in mid[key])
    resumed_trainer = _trainer(data, tmp_path / "b")
    resumed_trainer.load_state_dict(mid)
    assert resumed_trainer.step == 10
    assert resumed_trainer.schedule.at(resumed_trainer.step) == mid["schedule"]
    resumed = train("progressive", data=data, loss="wgan-gp", out=tmp_path / "b", steps=13, resume=True,
                    progress=False)
    assert [r["fade_alpha"] for r in resumed.history] == [0.5, 0.75, 1.0]
    assert [r["stage"] for r in resumed.history] == [3, 3, 4]
    rows_a = {r["step"]: r for r in straight.history}
    for r in resumed.history:
        assert r["loss_d"] == pytest.approx(rows_a[r["step"]]["loss_d"], abs=1e-6)
    sa, sb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert sb["step"] == sa["step"] == 13 and sb["schedule"] == sa["schedule"]
    for key in ("generator", "discriminator", "ema"):
        for name, value in sa[key].items():
            torch.testing.assert_close(sb[key][name], value, rtol=0, atol=1e-6, msg=f"{key}.{name}")


@pytest.mark.slow  # ~2 s: trains twice
def test_resume_across_a_batch_and_lr_change_is_exact(data, tmp_path):
    # stages at batch 6, 4, 3 and lr x1, x0.5, x0.25 (steps 0 | 1-2 fade | 3 | 4-6 fade): stop at 2, inside the fade
    over = {"stage_batch_size": [6, 4, 3], "stage_lr_scale": [1.0, 0.5, 0.25]}
    _train(data, tmp_path / "a", 6, loss="hinge", **over)
    _train(data, tmp_path / "b", 2, loss="hinge", **over)
    train("progressive", data=data, loss="hinge", out=tmp_path / "b", steps=6, resume=True, progress=False)
    sa, sb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert sa["stream"] == sb["stream"] and sa["schedule"] == sb["schedule"]
    assert sb["opt_g"]["param_groups"][0]["lr"] == sa["opt_g"]["param_groups"][0]["lr"] == 0.25 * 8e-4
    for key in ("generator", "discriminator", "ema"):
        for name, value in sa[key].items():
            torch.testing.assert_close(sb[key][name], value, rtol=0, atol=1e-6, msg=f"{key}.{name}")


def test_per_stage_batch_size_reaches_the_minibatch_std_and_the_stream(data, tmp_path, monkeypatch):
    batches = []
    forward = MinibatchStdDev.forward

    def spy(self, x):
        batches.append(x.shape[0])
        return forward(self, x)

    monkeypatch.setattr(MinibatchStdDev, "forward", spy)
    # stage 0 at batch 6 (1 step), fade 1 at batch 4 (2 steps), stable 1 at batch 4 (1 step), fade 2 at batch 3 ...
    res = _train(data, tmp_path, 6, loss="hinge", stage_batch_size=[6, 4, 3])
    assert [r["batch_size"] for r in res.history] == [6, 4, 4, 4, 3, 3]
    # hinge: one critic update (real and fake: 2 forwards) and one generator forward per step
    assert batches == [b for r in res.history for b in [r["batch_size"]] * 3]
    # the stream follows: 11 training loops; batches 6, 4 (offset 10), 4 (new epoch: 4), 4 (8), 3 (11), 3 (epoch 2: 3)
    assert len(get_plugin("progressive").dataset(data, _trainer(data, tmp_path / "x").cfg, split="train")) == 11
    assert load_checkpoint(tmp_path / "last.pt")["stream"] == {"epoch": 2, "offset": 3}


def test_minibatch_std_groups_the_stage_batch_by_hand():
    torch.manual_seed(1)
    x = torch.randn(6, 2, 3, 2)
    out = MinibatchStdDev(4)(x)  # batch 6: groups of 3 (the largest divisor of 6 not above 4)
    assert out.shape == (6, 3, 3, 2)
    for m in range(2):  # group m holds examples m, m + 2, m + 4
        members = x[[m, m + 2, m + 4]]
        std = (members - members.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean()
        for i in (m, m + 2, m + 4):
            torch.testing.assert_close(out[i, 2], torch.full((3, 2), float(std)))
    # batch 3 (a stage batch below the group size): one group of all 3
    y = torch.randn(3, 1, 1, 1)
    std3 = float((y - y.mean(0)).pow(2).mean().add(1e-8).sqrt())
    torch.testing.assert_close(MinibatchStdDev(4)(y)[:, 1], torch.full((3, 1, 1), std3))


def test_per_stage_learning_rate_reaches_the_optimisers(data, tmp_path):
    t = _trainer(data, tmp_path, loss="hinge", lr_g=1e-3, lr_d=2e-3, stage_lr_scale=[1.0, 0.5, 0.25])
    lrs = []
    for _ in range(13):
        t.train_step()
        lrs.append((t.opt_g.param_groups[0]["lr"], t.opt_d.param_groups[0]["lr"]))
    assert lrs[0] == (1e-3, 2e-3) and lrs[2] == (5e-4, 1e-3) and lrs[12] == (2.5e-4, 5e-4)


def test_fade_alpha_and_gradient_penalty_alpha_never_share_a_variable(data, tmp_path, monkeypatch):
    real_gp = losses_mod.gradient_penalty

    def run(out, reseed_noise=None, **over):
        gp_alphas, fades = [], []

        def spy(critic, real, fake, **kw):
            gp_alphas.append(kw["alpha"].clone())
            fades.append(critic.fade_alpha)  # the critic's fade-in while the penalty interpolates
            return real_gp(critic, real, fake, **kw)

        monkeypatch.setitem(losses_mod._PENALTIES, "gp", dataclasses.replace(losses_mod._PENALTIES["gp"], fn=spy))
        t = _trainer(data, out, loss="wgan-gp", n_critic=1, **over)
        if reseed_noise is not None:
            t.noise.manual_seed(reseed_noise)
        for _ in range(6):
            t.train_step()
        return torch.stack(gp_alphas), fades

    base_gp, base_fade = run(tmp_path / "a")
    assert base_fade == [1.0, 1.0, 0.0, 0.25, 0.5, 0.75]
    # another fade length moves the fade-in alpha and leaves the penalty's coefficients alone
    gp, fade = run(tmp_path / "b", fade_images=4)
    assert fade == [1.0, 1.0, 0.0, 0.5, 1.0, 1.0] and torch.equal(gp, base_gp)
    # another draw of the trainer's noise moves the penalty's coefficients and leaves the fade-in alone
    gp, fade = run(tmp_path / "c", reseed_noise=12345)
    assert fade == base_fade and not torch.allclose(gp, base_gp)
    assert all(0.0 <= a <= 1.0 for a in base_gp.flatten().tolist())


@pytest.mark.parametrize("module", ["generator", "discriminator"])
def test_equalized_learning_rate_scale_is_applied_at_run_time(module):
    torch.manual_seed(0)
    model = (ProgressiveGenerator(z_dim=8, shape=(2, 16, 8), width_max=16, width_base=16) if module == "generator"
             else ProgressiveDiscriminator(shape=(2, 16, 8), width_max=16, width_base=16))
    plain = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert not plain  # every weight layer is equalised, the per-level 1x1 layers too
    layers = [m for m in model.modules() if isinstance(m, (EqualizedConv2d, EqualizedLinear))]
    n_levels = 3
    assert sum(isinstance(m, EqualizedConv2d) and m.weight.shape[-1] == 1 for m in layers) == n_levels
    # stored weights are N(0, 1) (not pre-scaled); the He constant multiplies them in every forward
    w = torch.cat([m.weight.detach().flatten() for m in layers])
    assert 0.9 < float(w.std()) < 1.1
    for m in layers:
        gain = m.scale * math.sqrt(m.weight[0].numel())  # He's constant: gain / sqrt(fan_in), PGGAN's gains
        assert any(gain == pytest.approx(g) for g in (math.sqrt(2.0), 1.0, math.sqrt(2.0) / 4))
        x = torch.randn(2, *m.weight.shape[1:2], *((5, 3) if m.weight.dim() == 4 else ()))
        with torch.no_grad():
            m.weight.mul_(2.0)  # a change of the stored weight reaches the output scaled at run time
        if isinstance(m, EqualizedConv2d):
            expect = F.conv2d(x, m.weight * m.scale, m.bias, padding=m.weight.shape[-1] // 2)
        else:
            expect = F.linear(x, m.weight * m.scale, m.bias)
        torch.testing.assert_close(m(x), expect)
        # and so does the gradient: d out / d weight carries the scale (the equalised step size)
        m.weight.grad = None
        m(x).sum().backward()
        w_eff = (m.weight * m.scale).detach().requires_grad_(True)
        ref = (F.conv2d(x, w_eff, m.bias, padding=m.weight.shape[-1] // 2) if isinstance(m, EqualizedConv2d)
               else F.linear(x, w_eff, m.bias))
        ref.sum().backward()
        torch.testing.assert_close(m.weight.grad, w_eff.grad * m.scale)


# ------------------------------------------------------------------------------------------------ sampling
def test_sampling_at_stage_zero_gives_loops_of_the_final_length(data, tmp_path):
    _train(data, tmp_path, 1, loss="hinge")
    model = load_model(tmp_path)
    plugin, g, cfg = model.plugin, model.generator, model.config
    assert (g.level, g.fade_alpha) == (0, 1.0)  # from the checkpoint's step (1: still stage 0)
    feats = model.generate(model.latent(3, seed=0))
    assert feats.shape == (3, 2, *SHAPES[0])
    waves = model.render(feats, rescale=True)
    assert waves.shape == (3, cfg["loop_samples"]) and torch.isfinite(waves).all()
    up = feats.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)  # nearest x4 by hand
    torch.testing.assert_close(waves, model.render(up, rescale=True))
    paths = plugin.save_samples(feats, tmp_path / "wav", fmt="wav", config=cfg)
    import specrep

    wave, sr = specrep.io.load(paths[0])
    assert sr == cfg["sample_rate"] and wave.shape == (cfg["loop_samples"],)


def test_sampling_mid_fade_uses_the_checkpoint_step(data, tmp_path):
    _train(data, tmp_path, 3, loss="hinge")  # next step 3: fade-in of level 1 at alpha 0.25
    g = load_model(tmp_path).generator
    assert (g.level, g.fade_alpha) == (1, 0.25)


# ------------------------------------------------------------------------------------------------ coverage
@pytest.mark.parametrize("rep", ["mag-gl", "mag-if", "mel-gl", "mel-if"])
def test_every_representation_grows(data, tmp_path, rep):
    over = {"n_fft": 64, "frames": 64, "hop_length": 32} if rep.startswith("mag") else {}
    # linear: 32 rows x 64 frames, levels 0..4 from 2 x 4; mel: 16 x 8, levels 0..2; a stage per 2 steps
    res = _train(data, tmp_path, 5, loss="hinge", representation=rep, fade_images=4, **over)
    assert [r["level"] for r in res.history][-1] >= 1 and all(math.isfinite(r["loss_d"]) for r in res.history)
    model = load_model(tmp_path)
    waves = model.decode(model.latent(2, seed=0), rescale=True)
    assert waves.shape == (2, model.loop_samples) and np.isfinite(waves).all()


@pytest.mark.parametrize("loss", available_losses())
def test_every_loss_runs_through_a_fade(data, tmp_path, loss):
    res = _train(data, tmp_path, 4, loss=loss, n_critic=1)
    assert [r["fade_alpha"] for r in res.history] == [1, 1, 0, 0.25]
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in res.history)


# ------------------------------------------------------------------------------------------------ sharing
def test_final_level_is_gansynth_with_its_weights():
    torch.manual_seed(0)
    kw = {"shape": (2, 16, 8), "width_max": 16, "width_base": 32}
    gs_g, gs_d = GANSynthGenerator(z_dim=8, **kw), GANSynthDiscriminator(**kw)
    pg_g, pg_d = ProgressiveGenerator(z_dim=8, **kw), ProgressiveDiscriminator(**kw)
    # every GANSynth parameter is one of the progressive model's (shared blocks, not copies of their code)
    pg_g.load_state_dict(gs_g.state_dict(), strict=False)
    pg_d.load_state_dict(gs_d.state_dict(), strict=False)
    assert set(gs_g.state_dict()) < set(pg_g.state_dict()) and set(gs_d.state_dict()) < set(pg_d.state_dict())
    z = torch.randn(4, 8)
    assert torch.equal(pg_g(z), gs_g(z))
    x = torch.randn(4, 2, 16, 8)
    assert torch.equal(pg_d(x), gs_d(x))


def _gansynth_reference_forward(g, d, z):
    """GANSynth's generator and discriminator written out layer by layer (their code before the refactor that
    split them into seed/grow and shrink/head for sharing)."""
    act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    x = g.norm(act(g.dense(g.norm(z))).view(z.shape[0], *g.seed_shape))
    x = g.norm(act(g.seed_conv(x)))
    for conv1, conv2 in g.blocks:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = g.norm(act(conv1(x)))
        x = g.norm(act(conv2(x)))
    feats = torch.tanh(g.to_features(x))
    h = act(d.from_features(feats))
    for conv1, conv2 in d.blocks:
        h = F.avg_pool2d(act(conv2(act(conv1(h)))), 2)
    h = act(d.final_conv(d.mbstd(h)))
    return feats, d.out(act(d.dense(h.flatten(1)))).squeeze(1)


@pytest.mark.parametrize("name", ["gansynth-mel-if", "gansynth-mel-gl"])
def test_bundled_gansynth_models_load_and_give_the_same_outputs(name):
    model = load_model(name)  # strict load of the bundled weights
    plugin, g, cfg = model.plugin, model.generator, model.config
    torch.manual_seed(0)
    _, d = plugin.build(cfg)
    z = plugin.latent(4, cfg, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        feats, logits = _gansynth_reference_forward(g, d, z)
        assert torch.equal(g(z), feats)
        assert torch.equal(d(feats), logits)
