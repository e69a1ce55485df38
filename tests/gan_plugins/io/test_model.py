"""``load_model`` and :class:`Model`: one handle from a latent to features and audio. Loads bundled models and a
tiny trained run folder; decoding does not depend on the batch size; ``rescale`` is the caller's choice; latents
are reproducible; image models, network settings and malformed latents are refused with one clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_plugins.api import get_plugin
from gan_plugins.io.checkpoint import CheckpointError
from gan_plugins.io.model import Model, NotAnAudioModel, load_model, resolve_checkpoint
from gan_plugins.training.trainer import train
from specrep.errors import ParameterError


@pytest.fixture(scope="module")
def mel_if() -> Model:
    return load_model("gansynth-mel-if")


@pytest.fixture(scope="module")
def mnist() -> Model:
    return load_model("dcgan-mnist")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A gansynth run folder trained for 1 step at the plugin's smoke-test size (a few seconds)."""
    folder = tmp_path_factory.mktemp("model")
    data, tiny = get_plugin("gansynth").smoke_config(folder / "data")
    train("gansynth", data=data, loss="non-saturating", out=folder / "run", steps=1,
          overrides={"batch_size": 4, "sample_every": 0, "ckpt_every": 0, "grid_size": 4, **tiny}, progress=False)
    return folder / "run"


# ----------------------------------------------------------------------------------------------------- loading
def test_a_bundled_model_loads_with_its_read_outs(mel_if):
    assert mel_if.name == "gansynth-mel-if" and mel_if.path == resolve_checkpoint("gansynth-mel-if")
    assert mel_if.plugin is get_plugin("gansynth") and mel_if.config["representation"] == "mel-if"
    assert mel_if.is_audio and mel_if.require_audio("a test") is mel_if
    assert (mel_if.z_dim, mel_if.sample_rate, mel_if.loop_samples) == (256, 16000, 32000)
    assert mel_if.device == torch.device("cpu") and mel_if.step > 0
    assert not mel_if.generator.training
    assert not any(p.requires_grad for p in mel_if.generator.parameters())


@pytest.mark.slow  # trains (module fixture): ~5 s
def test_a_run_folder_and_its_checkpoint_load(run):
    model = load_model(run)
    assert model.name == "run" and model.path == run / "last.pt" and model.step == 1
    assert model.plugin is get_plugin("gansynth") and model.z_dim == 8 and model.loop_samples == 1600
    assert model.config["norm_scale"] is not None  # the stats fitted at training time, from the checkpoint
    same = load_model(run / "last.pt")
    assert same.name == "last" and same.step == 1
    z = model.latent(3, seed=4)
    torch.testing.assert_close(same.generate(z), model.generate(z), rtol=0, atol=0)
    loops = model.decode(z, rescale=True)
    assert loops.shape == (3, 1600) and loops.dtype == np.float32 and np.isfinite(loops).all()


def test_an_unknown_reference_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="gansynth-mel-if"):  # the message lists the bundled names
        load_model(tmp_path / "nothing-here")


# -------------------------------------------------------------------------------------------------- decoding
@pytest.mark.slow  # ~5 s on a shared 2-core CPU
def test_decode_is_render_of_generate_whatever_the_batch(mel_if):
    z = mel_if.latent(9, seed=0)
    loops, sizes = {}, []
    for batch in (1, 7, 16):
        loops[batch] = mel_if.decode(z, rescale=False, batch=batch, progress=sizes.append)
        assert loops[batch].shape == (9, 32000) and loops[batch].dtype == np.float32
    assert sizes == [1] * 9 + [7, 2] + [9]  # progress sees each batch's size
    # in batches of 7 (7 + 2 latents) decode is exactly render of generate, run on the same batches
    parts = mel_if.render(mel_if.generate(z, batch=7), rescale=False).numpy()
    np.testing.assert_allclose(loops[7], parts, rtol=0, atol=1e-5)
    # across batch sizes the generator's float32 arithmetic differs in the last bits (its kernels depend on the
    # batch size): the features agree to ~1e-5 ...
    feats = {batch: mel_if.generate(z, batch=batch) for batch in (1, 7, 16)}
    assert feats[1].shape[:2] == (9, 2) and feats[1].dtype == torch.float32 and feats[1].device.type == "cpu"
    for batch in (7, 16):
        torch.testing.assert_close(feats[batch], feats[1], rtol=0, atol=2e-5)
        # ... and the integration of instantaneous frequency carries that to ~2e-4 of a full-scale wave
        np.testing.assert_allclose(loops[batch], loops[1], rtol=0, atol=1e-3)
        assert np.sqrt(np.mean((loops[batch] - loops[1]) ** 2) / np.mean(loops[1] ** 2)) < 1e-3


def test_rescale_true_bounds_every_loop_and_false_keeps_the_synthesised_level(mel_if):
    z = mel_if.latent(6, seed=0)
    raw = mel_if.decode(z, rescale=False)
    scaled = mel_if.decode(z, rescale=True)
    peak = np.abs(raw).max(-1)
    assert (peak > 1.05).any() and (peak < 0.95).any()  # the bundled model synthesises loops above full scale
    assert np.abs(scaled).max() <= 1.0 + 1e-6
    # loops above full scale are scaled down by their own peak; the others are left as they are
    np.testing.assert_allclose(scaled, raw / np.maximum(peak, 1.0)[:, None], rtol=0, atol=1e-5)
    quiet = peak <= 1.0
    np.testing.assert_array_equal(scaled[quiet], raw[quiet])


def test_latents_are_reproducible_and_from_the_prior(mel_if):
    a, b = mel_if.latent(5, seed=3), mel_if.latent(5, seed=3)
    assert a.shape == (5, 256) and a.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, mel_if.latent(5, seed=4))
    torch.testing.assert_close(a, torch.randn(5, 256, generator=torch.Generator().manual_seed(3)), rtol=0, atol=0)
    gen = torch.Generator().manual_seed(3)
    first, second = mel_if.latent(5, generator=gen), mel_if.latent(5, generator=gen)
    torch.testing.assert_close(first, a, rtol=0, atol=0)
    assert not torch.equal(first, second)  # a given generator advances
    with pytest.raises(ParameterError, match="not both"):
        mel_if.latent(2, seed=1, generator=torch.Generator())
    for bad in (0, -1, 2.5):
        with pytest.raises(ParameterError):
            mel_if.latent(bad, seed=0)


# ------------------------------------------------------------------------------------------------- refusals
def test_an_image_model_generates_but_refuses_audio(mnist):
    assert not mnist.is_audio
    assert mnist.generate(mnist.latent(3, seed=0)).shape == (3, 1, 28, 28)
    with pytest.raises(NotAnAudioModel, match=r"^dcgan-mnist is a dcgan model \(image\); the studio needs an audio"):
        mnist.require_audio("the studio")
    for call in (lambda: mnist.decode(mnist.latent(1, seed=0), rescale=True),
                 lambda: mnist.render(torch.zeros(1, 1, 28, 28), rescale=True),
                 lambda: mnist.sample_rate, lambda: mnist.loop_samples):
        with pytest.raises(NotAnAudioModel, match="dcgan-mnist"):
            call()


@pytest.mark.slow  # ~6.5 s on a shared 2-core CPU
def test_with_settings_changes_rendering_only():
    gl = load_model("gansynth-mel-gl")
    assert gl.with_settings({}) is gl
    fast = gl.with_settings({"gl_n_iter": 0})
    assert fast.config["gl_n_iter"] == 0 and gl.config["gl_n_iter"] == 32  # the original is left as it is
    assert fast.generator is gl.generator and fast.name == gl.name and fast.step == gl.step
    z = gl.latent(1, seed=2)
    torch.testing.assert_close(fast.generate(z), gl.generate(z), rtol=0, atol=0)
    plain, iterated = fast.decode(z, rescale=False), gl.decode(z, rescale=False)
    assert np.sqrt(np.mean((plain - iterated) ** 2)) > 1e-3  # the setting reaches the phase reconstruction
    for key, value in (("z_dim", 8), ("width_max", 16), ("representation", "mel-if")):
        with pytest.raises(ParameterError, match=f"--set {key}: only rendering settings .*gl_n_iter"):
            gl.with_settings({key: value})
    with pytest.raises(ParameterError, match="widht"):
        gl.with_settings({"widht": 4})


@pytest.mark.parametrize("bad", [torch.zeros(256), torch.zeros(2, 255), torch.zeros(2, 256, 1), torch.zeros(0, 256),
                                 torch.zeros(2, 256, dtype=torch.long), np.zeros((2, 256), np.float32)],
                         ids=["1-d", "wrong-z_dim", "3-d", "empty", "integer", "numpy"])
def test_bad_latents_are_refused(mel_if, bad):
    for call in (mel_if.generate, lambda z: mel_if.decode(z, rescale=True)):
        with pytest.raises(ParameterError, match="latents of"):
            call(bad)


def test_bad_batch_and_features_are_refused(mel_if):
    z = mel_if.latent(2, seed=0)
    for batch in (0, -3):
        with pytest.raises(ParameterError, match="batch"):
            mel_if.generate(z, batch=batch)
    with pytest.raises(ParameterError, match=r"expected \(N, C, H, W\)"):
        mel_if.render(torch.zeros(2, 128, 64), rescale=True)
