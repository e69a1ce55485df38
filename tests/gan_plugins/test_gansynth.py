"""GANSynth plugin: shapes derived from the features, every representation at tiny capacity end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import specrep
from gan_plugins.audio_features import AudioFeatures
from gan_plugins.data.loops import read_sidecar
from gan_plugins.data.synth_dataset import write_synth_dataset
from gan_plugins.gansynth import GANSynthDiscriminator, GANSynthGenerator, plugin, seed_grid, widths
from gan_plugins.pretrained import load_generator
from gan_plugins.train import train
from specrep.errors import ParameterError

TINY = {
    "mel-if": {"n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32},
    "mel-gl": {"n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32, "gl_iter": 2},
    "mag-if": {"n_fft": 64, "hop_length": 32, "frames": 64},
    "mag-gl": {"n_fft": 64, "hop_length": 32, "frames": 64, "gl_iter": 2},
}
TRAINER = {"batch_size": 4, "sample_every": 0, "ckpt_every": 0, "grid_size": 4, "width_max": 8, "width_base": 8,
           "z_dim": 8}


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "loops.npy"
    return write_synth_dataset(path, n=12, seconds=0.1, seed=0, progress=False)


def test_seed_grid_matches_gansynth_layout():
    assert seed_grid((2, 1024, 128)) == (6, 16, 2)  # 128 x 1024 -> 2 x 16 seed after 6 doublings
    assert seed_grid((2, 64, 64)) == (5, 2, 2)
    assert widths(6, 256, 4096) == [256, 256, 256, 256, 256, 128, 64]
    with pytest.raises(ParameterError, match="power of two"):
        seed_grid((2, 48, 64))


@pytest.mark.parametrize("shape", [(2, 64, 64), (1, 32, 128), (2, 1024, 128)])
def test_generator_and_discriminator_shapes(shape):
    small = shape[1] * shape[2] <= 8192
    g = GANSynthGenerator(z_dim=16, shape=shape, width_max=16 if small else 8, width_base=16 if small else 8)
    d = GANSynthDiscriminator(shape=shape, width_max=16 if small else 8, width_base=16 if small else 8)
    with torch.no_grad():
        x = g(torch.randn(3, 16))
        assert x.shape == (3, *shape) and x.abs().max() <= 1.0
        assert d(x).shape == (3,)


def test_audio_features_round_trip_mag_if(loops):
    cfg = {**plugin.default_config(), **TINY["mag-if"], "representation": "mag-if", "loop_samples": 1600}
    feats = AudioFeatures(cfg)
    waves = torch.from_numpy(np.load(loops)[:4].copy())  # float32 dataset
    x = feats.encode(waves, normalize=False)
    assert x.shape == (4, 2, 32, 64)
    back = AudioFeatures(cfg).chain.inverse(x, length=feats.model_samples)[..., :1600]
    # Only the dropped Nyquist row is lost: at n_fft 64 it spans 7.5-8 kHz (at n_fft 1024 it is negligible).
    assert ((back - waves).norm() / waves.norm()).item() < 2e-2


def test_too_few_frames_is_a_clear_error():
    cfg = {**plugin.default_config(), "loop_samples": 32000, "frames": 32}
    with pytest.raises(ParameterError, match="frames >= 64"):
        AudioFeatures(cfg)


@pytest.mark.parametrize("rep", list(TINY))
def test_every_representation_trains_samples_saves_loads(rep, loops, tmp_path):
    overrides = {**TRAINER, **TINY[rep], "representation": rep}
    res = train("gansynth", data=str(loops), loss="wgan-gp", out=tmp_path / "run", steps=1, overrides=overrides,
                progress=False)
    assert res.step == 1 and all(v == v for v in res.history[-1].values())
    plug, generator, cfg = load_generator(tmp_path / "run")
    assert cfg["norm_scale"] is not None and cfg["loop_samples"] == 1600
    stats = read_sidecar(loops)["stats"]
    assert any(k.startswith(rep) for k in stats)  # fitted once, cached beside the data
    with torch.no_grad():
        feats = generator(plug.latent(3, cfg, generator=torch.Generator().manual_seed(0)))
    paths = plug.save_samples(feats, tmp_path / "out", fmt="wav", config=cfg)
    wavs = [p for p in paths if p.suffix == ".wav"]
    assert len(wavs) == 3 and (tmp_path / "out" / "spectrograms.png").is_file()
    wave, sr = specrep.io.load(wavs[0])
    assert sr == 16000 and wave.shape == (1600,) and np.isfinite(wave).all() and np.abs(wave).max() <= 1.0


def test_wrong_sample_rate_is_reported(loops, tmp_path):
    with pytest.raises(ParameterError, match="set sample_rate=16000"):
        train("gansynth", data=str(loops), loss="wgan-gp", out=tmp_path / "run", steps=1,
              overrides={**TRAINER, **TINY["mel-if"], "sample_rate": 22050}, progress=False)


@pytest.mark.parametrize("rep, n_iter", [("mel-if", 0), ("mel-gl", 50)])
def test_decoding_settings_reach_the_chain(rep, n_iter):
    base = {"representation": rep, "sample_rate": 16000, "n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32}
    mel = [b for b in AudioFeatures(base).chain.blocks if isinstance(b, specrep.blocks._MelBase)][0]
    assert (mel.params.inverse, mel.params.n_iter) == ("nnls", n_iter)  # default per representation
    assert AudioFeatures(base).mel_n_iter == n_iter
    custom = AudioFeatures({**base, "mel_inverse": "transpose", "mel_n_iter": 0, "gl_init": "random", "gl_iter": 3})
    mel = [b for b in custom.chain.blocks if isinstance(b, specrep.blocks._MelBase)][0]
    assert (mel.params.inverse, mel.params.n_iter) == ("transpose", 0)
    if rep.endswith("gl"):
        mag = [b for b in custom.chain.blocks if isinstance(b, specrep.Magnitude)][0]
        assert (mag.reconstruction.init, mag.reconstruction.n_iter) == ("random", 3)


def test_config_key_separates_every_setting_that_changes_encoding_or_decoding():
    base = {"representation": "mel-if", "sample_rate": 16000, "n_fft": 256, "hop_length": 64, "n_mels": 32,
            "frames": 32, "norm_scale": [0.1, 0.2], "norm_shift": [0.0, 0.0], "width_max": 8}
    key = AudioFeatures.config_key(base)
    assert AudioFeatures.config_key({**base, "width_max": 64, "seed": 3}) == key  # model settings: same features
    for name, value in [("n_mels", 64), ("mel_n_iter", 5), ("norm_scale", [0.1, 0.3]), ("gl_init", "random")]:
        assert AudioFeatures.config_key({**base, name: value}) != key, name
    hash(key)


def test_decode_scales_loud_loops_down_instead_of_clipping():
    af = AudioFeatures({"representation": "mag-if", "sample_rate": 16000, "n_fft": 64, "hop_length": 32,
                        "frames": 64})
    t = torch.arange(af.model_samples) / 16000
    wave = torch.stack([0.5 * torch.sin(2 * torch.pi * 440 * t), 3.0 * torch.sin(2 * torch.pi * 440 * t)])
    feats = af.encode(wave, normalize=False)
    out = af.decode(feats)
    raw = af.chain.inverse(feats, length=af.model_samples)
    assert raw[1].abs().max() > 2.9 and out.abs().amax(-1).tolist() == pytest.approx([0.5, 1.0], abs=1e-3)
    torch.testing.assert_close(out[0], raw[0], atol=1e-6, rtol=0)  # the quiet loop is untouched
    # the loud loop keeps its waveform shape (scaled by its peak), no flattened peaks
    torch.testing.assert_close(out[1], raw[1] / raw[1].abs().max(), atol=1e-6, rtol=0)


def test_mel_if_warns_when_bass_bins_share_a_band():
    base = {"representation": "mel-if", "sample_rate": 16000, "n_fft": 1024, "hop_length": 512, "frames": 64}
    with pytest.warns(UserWarning, match="use n_mels >= 114"):
        AudioFeatures({**base, "n_mels": 64})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AudioFeatures({**base, "n_mels": 128})  # 13.8 Hz lowest band < 15.6 Hz bins: no warning
        AudioFeatures({**base, "representation": "mel-gl", "n_mels": 64})  # magnitude-only: no shared phase
