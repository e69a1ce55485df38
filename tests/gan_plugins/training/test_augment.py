"""DiffAugment translation: shifts by hand, gradient, offset range, and where the trainer applies it (every
discriminator input, real and fake, in both updates; nothing when off), with exact resume."""

from __future__ import annotations

import pytest
import torch

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.training.augment import random_offsets, translate
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


def _recording_trainer(tmp_path, augment):
    plug = get_plugin("dcgan")
    cfg = resolve_config(plug, loss="hinge", data="mnist", overrides={**TINY, "augment": augment})
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


def test_augmented_training_resumes_exactly_and_settings_are_validated(tmp_path):
    over = {**TINY, "augment": "translation"}
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
