"""Descriptors along a walk and the smoothness measure: right values on known signals, and on a bundled model a
smooth walk changes the sound far less per step than random jumps."""

from __future__ import annotations

import numpy as np
import pytest

from gan_plugins.latent.analysis import loop_descriptors, onset_frames, path_pca
from gan_plugins.latent.smoothness import measure_smoothness, ratios
from specrep.errors import ParameterError

SR = 16000


def _clicks(rate_hz, seconds=2.0):
    x = np.random.default_rng(0).standard_normal(int(seconds * SR)).astype(np.float32) * 1e-3
    for t in np.arange(0.05, seconds - 0.05, 1.0 / rate_hz):
        n = int(t * SR)
        x[n: n + 400] += np.exp(-np.arange(400) / 60.0).astype(np.float32) * 0.8
    return x


def test_onset_rate_counts_clicks():
    rates = loop_descriptors(np.stack([_clicks(2.0), _clicks(4.0), _clicks(8.0)]), SR)["onset_rate"]
    # 2 s loops: 4, 8 and 16 clicks (first at 50 ms)
    np.testing.assert_allclose(rates, [2.0, 4.0, 8.0], atol=0.51)


def test_loop_descriptors_of_sines():
    t = np.arange(2 * SR) / SR
    loops = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.05 * np.sin(2 * np.pi * 1000 * t),
                      0.5 * np.sin(2 * np.pi * 3000 * t)]).astype(np.float32)
    d = loop_descriptors(loops, SR)
    assert d["loudness"][0] - d["loudness"][1] == pytest.approx(20.0, abs=0.2)  # 10x amplitude = 20 dB
    assert d["centroid"][0] == pytest.approx(1000.0, rel=0.05)
    assert d["centroid"][2] == pytest.approx(3000.0, rel=0.05)
    assert d["flatness"][0] < 0.05
    noise = np.random.default_rng(1).standard_normal((1, 2 * SR)).astype(np.float32) * 0.1
    assert loop_descriptors(noise, SR)["flatness"][0] > 0.5


def test_onset_frames_need_a_peak_above_the_floor():
    flux = np.zeros(100)
    flux[[10, 50, 52, 90]] = [1.0, 1.0, 0.5, 1.0]
    np.testing.assert_array_equal(onset_frames(flux), [10, 50, 90])  # 52 is within 3 frames of a larger peak


def test_path_pca_of_a_circle():
    a = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    x = np.zeros((100, 10))
    x[:, 3], x[:, 7] = np.cos(a) * 5, np.sin(a) * 5
    coords, var = path_pca(x)
    np.testing.assert_allclose(var, [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(coords, axis=1), 5.0, rtol=1e-6)


@pytest.fixture(scope="module")
def smoothness():
    from gan_plugins.io.model import load_generator

    plugin, generator, cfg = load_generator("gansynth-mel-if")
    return measure_smoothness(plugin, generator, cfg, kinds=("spline", "lerp"), eps=(1 / 32, 1 / 4), n_paths=2,
                              steps=4, n_ref=16, seed=0, progress=False)


def test_smooth_walk_changes_the_sound_less_than_random_jumps(smoothness):
    # measured with these settings: at 1/32 anchor the spline's ratios are ~0.1-0.3
    for measure in ("loudness", "centroid", "descriptors", "log_mel_db"):
        assert ratios(smoothness, 1 / 32, measure)["spline"]["vs_jumps"] < 0.6, measure
    assert ratios(smoothness, 1 / 4, "log_mel_db")["spline"]["vs_jumps"] < 1.0


def test_change_grows_with_the_step(smoothness):
    for kind in ("spline", "lerp"):
        small, big = smoothness["change"][kind]["log_mel_db"]
        assert big > 1.5 * small  # a continuous path: 8x the step, clearly more change
    assert smoothness["jumps"]["log_mel_db"] > smoothness["change"]["spline"]["log_mel_db"][-1]


def test_measure_refuses_bad_settings():
    with pytest.raises(ParameterError):
        measure_smoothness(None, None, {"sample_rate": SR, "z_dim": 4}, eps=(0.0,))
    with pytest.raises(ParameterError):
        measure_smoothness(None, None, {"sample_rate": SR, "z_dim": 4}, kinds=("jumps",))
