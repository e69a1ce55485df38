"""DiffAugment translation: shifts by hand, gradient, offset range, and where the trainer applies it (every
discriminator input, real and fake, in both updates; nothing when off), with exact resume. The ``audio``
augmentation: shifts on the bar's step grid, gain on channel 0 only, cutouts filled with silence, the probability
``p`` (0 = identity), its gradient, and its place in the trainer."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.training.augment import (
    AudioAugment,
    ada_adjust,
    audio_augment,
    draw_audio_augment,
    random_offsets,
    translate,
)
from gan_plugins.training.trainer import Trainer, train
from specrep.errors import ParameterError

TINY = {"width": 4, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}


def test_translate_moves_each_image_by_its_own_offset_circularly():
    x = torch.zeros(3, 2, 5, 7)
    x[:, 0, 1, 2] = 1.0   # channel 0: one bright pixel at (1, 2)
    x[:, 1, 4, 6] = 2.0   # channel 1: at the corner (4, 6)
    off = torch.tensor([[0, 0], [2, -3], [-2, 1]])
    y = translate(x, off)
    assert y.shape == x.shape
    for b, (dy, dx) in enumerate(off.tolist()):
        assert torch.nonzero(y[b, 0]).tolist() == [[(1 + dy) % 5, (2 + dx) % 7]]
        assert torch.nonzero(y[b, 1]).tolist() == [[(4 + dy) % 5, (6 + dx) % 7]]
        assert y[b, 1].max() == 2.0
    torch.testing.assert_close(y[0], x[0])
    torch.testing.assert_close(y[1], torch.roll(x[1], shifts=(2, -3), dims=(1, 2)))


def test_translate_gradient_is_the_inverse_shift():
    x = torch.randn(4, 1, 6, 6, requires_grad=True)
    off = torch.tensor([[1, 2], [-3, 0], [0, 5], [2, -1]])
    g = torch.randn(4, 1, 6, 6)
    (translate(x, off) * g).sum().backward()
    torch.testing.assert_close(x.grad, translate(g, -off))


def test_random_offsets_cover_the_range_and_follow_the_seed():
    gen = torch.Generator().manual_seed(3)
    off = random_offsets(4000, 28, 28, 0.125, gen)
    assert off.shape == (4000, 2) and off.dtype == torch.long
    for axis in range(2):  # round(0.125 * 28) = 4 (3.5 rounds to even: 4)
        assert sorted(off[:, axis].unique().tolist()) == list(range(-4, 5))
    again = random_offsets(4000, 28, 28, 0.125, torch.Generator().manual_seed(3))
    assert torch.equal(off, again)
    wide = random_offsets(2000, 8, 40, 0.25, torch.Generator().manual_seed(0))
    assert wide[:, 0].abs().max() == 2 and wide[:, 1].abs().max() == 10


def _shift_of(a, b, max_shift):
    """The offset (dy, dx) with translate(a) == b, or None."""
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            if torch.equal(torch.roll(a, shifts=(dy, dx), dims=(-2, -1)), b):
                return dy, dx
    return None


def _recording_trainer(tmp_path, augment, **extra):
    plug = get_plugin("dcgan")
    cfg = resolve_config(plug, loss="hinge", data="mnist", overrides={**TINY, "augment": augment, **extra})
    t = Trainer(plug, cfg, tmp_path / augment, progress=False).setup()
    seen = {"d": [], "g": []}
    d_forward, g_forward = t.discriminator.forward, t.generator.forward

    def d_spy(x):
        seen["d"].append(x.detach().clone())
        return d_forward(x)

    def g_spy(z):
        out = g_forward(z)
        seen["g"].append(out.detach().clone())
        return out

    t.discriminator.forward, t.generator.forward = d_spy, g_spy
    return t, seen


def test_trainer_shifts_every_discriminator_input_when_on_and_none_when_off(tmp_path):
    off, seen_off = _recording_trainer(tmp_path, "")
    on, seen_on = _recording_trainer(tmp_path, "translation")
    off.train_step()
    on.train_step()
    # one critic update (real, fake) + one generator update (fake) per step
    assert len(seen_off["d"]) == len(seen_on["d"]) == 3 and len(seen_on["g"]) == 2
    real, fake_d, fake_g = seen_off["d"]
    # off: the discriminator sees the generator's output itself
    assert torch.equal(fake_d, seen_off["g"][0]) and torch.equal(fake_g, seen_off["g"][1])
    # on: the same real batch and the same first fakes (drawn before any offset), each image shifted by <= 4 px
    on_real, on_fake_d, on_fake_g = seen_on["d"]
    assert torch.equal(seen_on["g"][0], seen_off["g"][0])
    for name, src, dst in (("real", real, on_real), ("fake, critic update", seen_on["g"][0], on_fake_d),
                           ("fake, generator update", seen_on["g"][1], on_fake_g)):
        shifts = [_shift_of(src[b], dst[b], 4) for b in range(len(src))]
        assert None not in shifts, f"{name}: a discriminator input is not a translation of its image"
        assert sum(s != (0, 0) for s in shifts) >= 5, f"{name}: not shifted"  # P(0, 0) = 1/81 per image


@pytest.mark.parametrize("augment", [{"augment": "translation"}, {"augment": "audio", "augment_p": 0.5}],
                         ids=["translation", "audio"])
def test_augmented_training_resumes_exactly_and_settings_are_validated(tmp_path, augment):
    over = {**TINY, **augment}
    straight = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "a", steps=4, overrides=over, progress=False)
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=2, overrides=over, progress=False)
    resumed = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "b", steps=4, resume=True, progress=False)
    torch.testing.assert_close(torch.tensor([[r["loss_d"], r["loss_g"]] for r in resumed.history]),
                               torch.tensor([[r["loss_d"], r["loss_g"]] for r in straight.history[2:]]),
                               rtol=0, atol=1e-6)
    plain = train("dcgan", data="mnist", loss="hinge", out=tmp_path / "c", steps=4, overrides=TINY, progress=False)
    assert plain.history[-1]["loss_d"] != straight.history[-1]["loss_d"]
    plug = get_plugin("dcgan")
    for bad in ({"augment": "flip"}, {"augment": "translation", "augment_shift": 0.0},
                {"augment": "translation", "augment_shift": 0.6}):
        with pytest.raises(ParameterError, match="augment"):
            resolve_config(plug, loss="hinge", data="mnist", overrides=bad)


# ---------------------------------------------------------------------------------------------------------- audio
def _index_image(b, c, rows, frames):
    """(b, c, rows, frames) images whose every pixel holds its own column (frame) index."""
    return torch.arange(frames, dtype=torch.float32).expand(b, c, rows, frames).clone()


def _draw(n, rows, frames, *, p=1.0, time_steps=16, gain=0.1, seed=0):
    return draw_audio_augment(n, rows, frames, p=p, time_steps=time_steps, gain=gain,
                              generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("frames", "grid"), [(32, 2), (24, 3), (64, 4), (4, 1)])
def test_audio_time_shifts_are_whole_steps_of_the_bar(frames, grid):
    # 16 steps a bar: 32 frames -> multiples of 2; 24 frames (gcd 8) -> eighths, 3 frames; 4 frames -> quarters
    aug = dataclasses.replace(_draw(3000, 8, frames), gain=torch.zeros(3000))
    aug = dataclasses.replace(aug, time_cut=torch.full((3000,), -1), freq_cut=torch.full((3000,), -1))
    x = _index_image(3000, 2, 8, frames)
    y = audio_augment(x, aug)
    shift = (x - y) % frames  # output frame j holds input frame j - shift: the same shift in every pixel of an image
    assert torch.equal(shift, shift[:, :1, :1, :1].expand_as(shift))
    shifts = shift[:, 0, 0, 0].long()
    torch.testing.assert_close(shifts, aug.shift, rtol=0, atol=0)
    assert sorted(shifts.unique().tolist()) == list(range(0, frames, grid))


def test_audio_gain_offsets_channel_0_only_within_the_range():
    x = torch.rand(500, 2, 8, 16) - 0.5
    aug = _draw(500, 8, 16, gain=0.2, seed=1)
    aug = dataclasses.replace(aug, shift=torch.zeros(500, dtype=torch.long), time_cut=torch.full((500,), -1),
                              freq_cut=torch.full((500,), -1))
    y = audio_augment(x, aug)
    torch.testing.assert_close(y[:, 1], x[:, 1], rtol=0, atol=0)
    offset = (y[:, 0] - x[:, 0]).flatten(1)
    torch.testing.assert_close(offset, aug.gain[:, None].expand_as(offset), rtol=0, atol=1e-6)
    assert aug.gain.abs().max() <= 0.2 and aug.gain.min() < -0.15 and aug.gain.max() > 0.15


def test_audio_cutouts_fill_silence_minus_one_on_channel_0_and_zero_elsewhere():
    x = torch.rand(2, 3, 16, 32) * 1.6 - 0.8   # away from the fill values
    aug = AudioAugment(shift=torch.zeros(2, dtype=torch.long), gain=torch.zeros(2), time_cut=torch.tensor([5, -1]),
                       freq_cut=torch.tensor([-1, 12]), time_width=4, freq_width=2)
    y = audio_augment(x, aug)
    fill = torch.tensor([-1.0, 0.0, 0.0])[:, None, None]
    torch.testing.assert_close(y[0, :, :, 5:9], fill.expand(3, 16, 4), rtol=0, atol=0)
    torch.testing.assert_close(y[1, :, 12:14, :], fill.expand(3, 2, 32), rtol=0, atol=0)
    keep0, keep1 = torch.ones(32, dtype=torch.bool), torch.ones(16, dtype=torch.bool)
    keep0[5:9], keep1[12:14] = False, False
    torch.testing.assert_close(y[0][:, :, keep0], x[0][:, :, keep0], rtol=0, atol=0)
    torch.testing.assert_close(y[1][:, keep1], x[1][:, keep1], rtol=0, atol=0)
    drawn = _draw(4000, 16, 32)  # bands of frames / 8 and rows / 8, inside the image
    assert (drawn.time_width, drawn.freq_width) == (4, 2)
    assert drawn.time_cut.min() == 0 and drawn.time_cut.max() == 32 - 4
    assert drawn.freq_cut.min() == 0 and drawn.freq_cut.max() == 16 - 2


def test_audio_probability_zero_is_the_identity_and_p_sets_the_rate_of_each_transform():
    x = torch.randn(64, 2, 8, 32)
    assert torch.equal(audio_augment(x, _draw(64, 8, 32, p=0.0)), x)
    aug = _draw(20000, 8, 32, p=0.3, seed=2)
    # the shift and the gain can draw 0 themselves (k = 0 in 1/16 of the draws): compare with p * P(nonzero)
    rates = torch.tensor([(aug.shift != 0).float().mean(), (aug.gain != 0).float().mean(),
                          (aug.time_cut >= 0).float().mean(), (aug.freq_cut >= 0).float().mean()])
    torch.testing.assert_close(rates, torch.tensor([0.3 * 15 / 16, 0.3, 0.3, 0.3]), rtol=0, atol=0.015)
    # the same numbers are drawn whatever p is: the generator ends in the same state
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    draw_audio_augment(50, 8, 32, p=0.0, time_steps=16, gain=0.1, generator=g1)
    draw_audio_augment(50, 8, 32, p=0.9, time_steps=16, gain=0.1, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_audio_gradient_is_the_inverse_transform_of_the_output_gradient():
    x = torch.randn(200, 2, 8, 32, requires_grad=True)
    aug = _draw(200, 8, 32, p=0.7, seed=3)
    g = torch.randn(200, 2, 8, 32)
    (audio_augment(x, aug) * g).sum().backward()
    want = torch.empty_like(g)
    for b in range(200):
        kept = g[b].clone()
        if aug.time_cut[b] >= 0:
            kept[:, :, aug.time_cut[b]: aug.time_cut[b] + aug.time_width] = 0.0
        if aug.freq_cut[b] >= 0:
            kept[:, aug.freq_cut[b]: aug.freq_cut[b] + aug.freq_width, :] = 0.0
        want[b] = torch.roll(kept, -int(aug.shift[b]), dims=-1)  # the gain adds a constant: no gradient factor
    torch.testing.assert_close(x.grad, want, rtol=0, atol=0)
    assert (aug.shift > 0).sum() > 50 and (aug.time_cut >= 0).sum() > 50


def test_trainer_passes_every_discriminator_input_through_the_audio_augmentation(tmp_path, monkeypatch):
    from gan_plugins.training import trainer as train_mod

    calls = []
    real_aug = train_mod.audio_augment

    def spy(x, aug):
        out = real_aug(x, aug)
        calls.append((x.detach().clone(), out.detach().clone()))
        return out

    monkeypatch.setattr(train_mod, "audio_augment", spy)
    t, seen = _recording_trainer(tmp_path, "audio", augment_p=0.8)
    t.train_step()
    # real, fake (critic update), fake (generator update): each is what the discriminator saw, augmented
    assert len(calls) == 3 == len(seen["d"])
    for (src, out), d_in in zip(calls, seen["d"], strict=True):
        assert torch.equal(out, d_in) and not torch.equal(src, out)
    assert torch.equal(calls[1][0], seen["g"][0]) and torch.equal(calls[2][0], seen["g"][1])


def test_ada_adjust_moves_p_by_the_sign_of_r_t_minus_target_and_clamps():
    kw = {"target": 0.6, "images": 32, "ada_images": 320}   # one step: 32 / 320 = 0.1
    assert ada_adjust(0.5, 1.0, **kw) == pytest.approx(0.6)     # the critic calls every real real: more augmentation
    assert ada_adjust(0.5, 0.61, **kw) == pytest.approx(0.6)    # only the sign counts
    assert ada_adjust(0.5, -1.0, **kw) == pytest.approx(0.4)
    assert ada_adjust(0.5, 0.59, **kw) == pytest.approx(0.4)
    assert ada_adjust(0.5, 0.6, **kw) == 0.5
    assert ada_adjust(0.95, 1.0, **kw) == 1.0 and ada_adjust(0.05, -1.0, **kw) == 0.0
    assert ada_adjust(0.0, 1.0, target=0.6, images=64, ada_images=20000) == pytest.approx(64 / 20000)
    p = 0.0
    for _ in range(10):  # 10 adjustments of 32 images each move p from 0 to 1 over ada_images = 320 images
        p = ada_adjust(p, 0.9, **kw)
    assert p == pytest.approx(1.0)


@pytest.mark.parametrize(("bad", "match"), [
    ({"augment": "audio"}, "augments nothing"),
    ({"augment": "audio", "augment_p": 1.5}, "augment_p=1.5"),
    ({"augment": "audio", "augment_p": -0.1}, "augment_p"),
    ({"augment": "audio", "augment_p": 0.5, "augment_time_step": 0}, "augment_time_step=0"),
    ({"augment": "audio", "augment_p": 0.5, "augment_gain": -1}, "augment_gain"),
    ({"augment": "audio", "ada_target": 1.0}, "ada_target=1.0"),
    ({"augment": "audio", "ada_target": 0.6, "ada_images": 0}, "ada_images=0"),
    ({"augment": "translation", "ada_target": 0.6}, "ada_target=0.6 adapts augment='audio'"),
])
def test_audio_and_ada_settings_are_validated(bad, match):
    with pytest.raises(ParameterError, match=match):
        resolve_config(get_plugin("dcgan"), loss="hinge", data="mnist", overrides=bad)
    ok = resolve_config(get_plugin("dcgan"), loss="hinge", data="mnist", overrides={"augment": "audio",
                                                                                     "ada_target": 0.6})
    assert (ok["augment_p"], ok["augment_time_step"], ok["ada_images"]) == (0.0, 16, 20000)
