"""GANSynth plugin: shapes derived from the features, every representation at tiny capacity end to end."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings

import numpy as np
import pytest
import torch

import specrep
from gan_plugins.data.loops.storage import read_sidecar, sidecar_path
from gan_plugins.data.procedural.synth_dataset import write_synth_dataset
from gan_plugins.io.model import load_model
from gan_plugins.models.features import AudioFeatures, fit_normalization
from gan_plugins.models.gansynth import GANSynthDiscriminator, GANSynthGenerator, plugin, seed_grid, widths
from gan_plugins.training.trainer import train
from specrep.errors import ParameterError

TINY = {
    "mel-if": {"n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32},
    "mel-gl": {"n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32, "gl_n_iter": 2},
    "mag-if": {"n_fft": 64, "hop_length": 32, "frames": 64},
    "mag-gl": {"n_fft": 64, "hop_length": 32, "frames": 64, "gl_n_iter": 2},
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
    model = load_model(tmp_path / "run")
    cfg = model.config
    assert cfg["norm_scale"] is not None and cfg["loop_samples"] == 1600
    assert read_sidecar(loops)["stats"] is None  # fitted stats live in the run, never in the dataset
    feats = model.generate(model.latent(3, seed=0))
    paths = model.plugin.save_samples(feats, tmp_path / "out", fmt="wav", config=cfg)
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
    assert (mel.params.inverse, mel.params.nnls_iter) == ("nnls", n_iter)  # default per representation
    assert AudioFeatures(base).mel_nnls_iter == n_iter
    custom = AudioFeatures({**base, "mel_inverse": "transpose", "mel_nnls_iter": 0, "gl_init": "random",
                            "gl_n_iter": 3})
    mel = [b for b in custom.chain.blocks if isinstance(b, specrep.blocks._MelBase)][0]
    assert (mel.params.inverse, mel.params.nnls_iter) == ("transpose", 0)
    if rep.endswith("gl"):
        mag = [b for b in custom.chain.blocks if isinstance(b, specrep.Magnitude)][0]
        assert (mag.reconstruction.init, mag.reconstruction.n_iter) == ("random", 3)


def test_config_key_separates_every_setting_that_changes_encoding_or_decoding():
    base = {"representation": "mel-if", "sample_rate": 16000, "n_fft": 256, "hop_length": 64, "n_mels": 32,
            "frames": 32, "norm_scale": [0.1, 0.2], "norm_shift": [0.0, 0.0], "width_max": 8}
    key = AudioFeatures.config_key(base)
    assert AudioFeatures.config_key({**base, "width_max": 64, "seed": 3}) == key  # model settings: same features
    for name, value in [("n_mels", 64), ("mel_nnls_iter", 5), ("norm_scale", [0.1, 0.3]), ("gl_init", "random")]:
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


def _digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_training_never_writes_into_the_dataset(tmp_path):
    # a writable dataset is left byte-identical (no stats cached in its sidecar) ...
    data = write_synth_dataset(tmp_path / "ro" / "loops.npy", n=12, seconds=0.1, seed=1, progress=False)
    files = [data, sidecar_path(data)]
    before = _digest(files)
    overrides = {**TRAINER, **TINY["mel-gl"], "representation": "mel-gl"}
    train("gansynth", data=str(data), loss="wgan-gp", out=tmp_path / "run", steps=1, overrides=overrides,
          progress=False)
    assert _digest(files) == before
    # ... and one on a read-only share serves a second run and a resume
    for f in files:
        os.chmod(f, stat.S_IRUSR | stat.S_IRGRP)
    os.chmod(data.parent, stat.S_IRUSR | stat.S_IXUSR)
    try:
        train("gansynth", data=str(data), loss="wgan-gp", out=tmp_path / "run2", steps=1, overrides=overrides,
              progress=False)
        train("gansynth", data=str(data), loss="wgan-gp", out=tmp_path / "run", steps=2, resume=True, progress=False)
    finally:
        os.chmod(data.parent, stat.S_IRWXU)
        for f in files:
            os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
    assert _digest(files) == before
    assert sorted(p.name for p in data.parent.iterdir()) == ["loops.json", "loops.npy"]
    cfg = load_model(tmp_path / "run").config
    assert cfg["norm_scale"] is not None and cfg["loop_samples"] == 1600


def test_prepare_is_pure_and_fits_stats_on_the_training_split_only(tmp_path):
    data = write_synth_dataset(tmp_path / "loops.npy", n=40, seconds=0.1, seed=2, progress=False)
    cfg = {**plugin.default_config(), **TINY["mel-gl"], "representation": "mel-gl", "test_fraction": 0.25}
    frozen = dict(cfg)
    got = plugin.prepare(str(data), cfg)
    assert cfg == frozen  # the passed config is not mutated
    assert got["loop_samples"] == 1600 and set(got) == {"loop_samples", "norm_scale", "norm_shift"}
    train_rows = plugin.dataset(str(data), cfg, split="train")
    test_rows = plugin.dataset(str(data), cfg, split="test")
    assert len(test_rows) == 10 and len(train_rows) == 30
    assert cfg == frozen
    # expected: the stats of the training loops alone (all 30 of them, fewer than the 256 it samples)
    feats = AudioFeatures({**cfg, "loop_samples": 1600})
    train_waves = np.stack([train_rows[i].numpy() for i in range(len(train_rows))])
    expected = fit_normalization(feats, train_waves)
    np.testing.assert_allclose(got["norm_scale"], expected["norm_scale"], rtol=1e-6)
    np.testing.assert_allclose(got["norm_shift"], expected["norm_shift"], rtol=1e-6, atol=1e-7)
    # and not the stats of all loops (the test split would leak into the model's normalisation)
    all_waves = np.stack([train_rows[i].numpy() for i in range(len(train_rows))]
                         + [test_rows[i].numpy() for i in range(len(test_rows))])
    leaked = fit_normalization(feats, all_waves)
    assert not np.allclose(got["norm_scale"], leaked["norm_scale"], rtol=1e-4)
    # already-resolved settings are not re-fitted (resume keeps the run's stats)
    assert plugin.prepare(str(data), {**cfg, **got}) == {}


def test_feature_cache_is_bounded_and_per_instance():
    from gan_plugins.models.gansynth import GANSynthPlugin

    a, b = GANSynthPlugin(), GANSynthPlugin()
    base = {"representation": "mel-gl", "sample_rate": 16000, "n_fft": 256, "hop_length": 64, "n_mels": 32,
            "frames": 32}
    for i in range(a.max_cached_features + 5):
        a.audio_features({**base, "gl_n_iter": i})
    assert len(a._features) == a.max_cached_features
    assert len(b._features) == 0
    first = a.audio_features({**base, "gl_n_iter": 100})
    assert a.audio_features({**base, "gl_n_iter": 100}) is first  # a hit returns the cached map


def test_audio_features_keep_one_module_per_device(loops):
    # nn.Module.to moves in place: a cache of chain.to(device) per device held one module that followed the last
    # device asked for, so encode on A, then B, then A failed ("input and window must be on the same device")
    cfg = {"representation": "mel-if", "sample_rate": 16000, "n_fft": 256, "hop_length": 64, "n_mels": 32,
           "frames": 32, "norm_scale": [1.0, 1.0], "norm_shift": [0.0, 0.0]}
    af = AudioFeatures(cfg)
    wave = torch.randn(2, 1600, generator=torch.Generator().manual_seed(0))
    ref = af.encode(wave)
    chain_meta, norm_meta = af._modules(torch.device("meta"), torch.float32)  # a second device
    assert all(b.device.type == "meta" for b in chain_meta.buffers())
    assert all(b.device.type == "cpu" for b in af._modules("cpu", torch.float32)[0].buffers())
    assert all(b.device.type == "cpu" for b in af.chain.buffers())  # the original stays where it was built
    torch.testing.assert_close(af.encode(wave), ref, rtol=0, atol=0)
    torch.testing.assert_close(af.decode(ref), af.decode(ref), rtol=0, atol=0)
