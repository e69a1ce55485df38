"""The bundled GANSynth generators (fixed-resolution and progressive, procedural and real-music data): addressable by
name, described by the command that made them, render valid 2 s loops with a steady beat.

The beat is read with the rhythm metric of the representation benchmark (onset-autocorrelation peak); for scale,
noise scores about 0.1 and the procedural training loops about 0.4 (docs/results/representations.md).
"""

from __future__ import annotations

import numpy as np
import pytest

import specrep
from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.io.model import resolve_checkpoint
from gan_plugins.metrics.audio import onset_autocorrelation, rhythm_scores
from gan_plugins.pretrained import available_pretrained, pretrained_info
from loopgan_cli import loopgan

# name -> (plugin, representation, training data, lowest accepted median beat strength); measured medians on these
# 32 loops are in the comments of test_loops_have_a_steady_beat
MODELS = {"gansynth-mel-gl": ("gansynth", "mel-gl", "runs/data/loops-2s.npy", 0.3),
          "gansynth-mel-if": ("gansynth", "mel-if", "runs/data/loops-2s.npy", 0.3),
          "progressive-mel-if": ("progressive", "mel-if", "runs/data/loops-2s.npy", 0.3),
          "gansynth-mel-gl-lmms": ("gansynth", "mel-gl", "runs/data/lmms-bars.npy", 0.3),
          "gansynth-mel-if-lmms": ("gansynth", "mel-if", "runs/data/lmms-bars.npy", 0.22)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request, tmp_path_factory):
    name = request.param
    out = tmp_path_factory.mktemp(name)
    assert loopgan.main(["sample", name, "-n", "32", "-o", str(out)]) == 0
    waves = [specrep.io.load(p) for p in sorted(out.glob("loop_*.wav"))]
    assert (out / "spectrograms.png").is_file()
    return name, waves


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bundled_and_documented(name):
    assert name in available_pretrained()
    info = pretrained_info(name)
    plugin, rep, data, _ = MODELS[name]
    assert "loopgan --threads 1 train" in info["command"] and info["plugin"] == plugin
    assert info["representation"] == rep and data in info["command"]
    step = load_checkpoint(resolve_checkpoint(name))["step"]
    assert info["steps"] == step >= 3000  # the description names the step the weights were taken at


@pytest.mark.slow  # renders loops of every bundled model (module fixture): 10-21 s each
def test_loops_are_valid_audio(model):
    _, loops = model
    assert len(loops) == 32
    for wave, sr in loops:
        assert sr == 16000 and wave.shape == (32000,)
        assert np.isfinite(wave).all() and np.abs(wave).max() <= 1.0 and np.abs(wave).max() > 0.05


@pytest.mark.slow  # the same rendered loops of every bundled model
def test_loops_have_a_steady_beat(model):
    name, loops = model
    waves = np.stack([w for w, _ in loops])
    noise = np.random.default_rng(0).standard_normal(waves.shape).astype(np.float32) * waves.std()
    ac, noise_ac = onset_autocorrelation(waves, 16000)[0], onset_autocorrelation(noise, 16000)[0]
    scores = rhythm_scores(noise_ac, ac)  # against noise: how many loops are more periodic than noise ever is
    # Measured on these 32 loops: gansynth-mel-gl median 0.42 (training loops 0.41, noise 0.11), all 32 above the
    # most periodic noise; gansynth-mel-if median 0.38 (its representation's round trip of real loops 0.38), all 32
    # above the most periodic noise; progressive-mel-if median 0.36, all 32 above the most periodic noise;
    # gansynth-mel-gl-lmms 0.36 and gansynth-mel-if-lmms 0.27 (held-out real LMMS bars 0.40, their round trips
    # through mel-GL / mel-IF 0.34 / 0.30), 30 of 32 above the most periodic noise
    assert scores["beat_strength"] > MODELS[name][3]
    assert (ac.max(-1) > noise_ac.max(-1).max()).mean() > 0.8
