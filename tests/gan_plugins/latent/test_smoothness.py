"""Descriptors along a walk and the smoothness measure: right values on known signals, and on a bundled model a
smooth walk changes the sound far less per step than random jumps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_plugins.io.model import Model
from gan_plugins.latent.analysis import path_pca
from gan_plugins.latent.smoothness import measure_smoothness, ratios
from gan_plugins.metrics.audio import loop_descriptors, onset_frames
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
    from gan_plugins.io.model import load_model

    return measure_smoothness(load_model("gansynth-mel-if"), kinds=("spline", "lerp"), eps=(1 / 32, 1 / 4),
                              n_paths=2, steps=4, n_ref=16, seed=0, progress=False)


@pytest.mark.slow  # the smoothness measurement (module fixture): ~9 s
def test_smooth_walk_changes_the_sound_less_than_random_jumps(smoothness):
    # measured with these settings: at 1/32 anchor the spline's ratios are ~0.1-0.3
    for measure in ("loudness", "centroid", "descriptors", "log_mel_db"):
        assert ratios(smoothness, 1 / 32, measure)["spline"]["vs_jumps"] < 0.6, measure
    assert ratios(smoothness, 1 / 4, "log_mel_db")["spline"]["vs_jumps"] < 1.0


@pytest.mark.slow  # the same smoothness measurement
def test_change_grows_with_the_step(smoothness):
    for kind in ("spline", "lerp"):
        small, big = smoothness["change"][kind]["log_mel_db"]
        assert big > 1.5 * small  # a continuous path: 8x the step, clearly more change
    assert smoothness["jumps"]["log_mel_db"] > smoothness["change"]["spline"]["log_mel_db"][-1]


class _Recorder(nn.Module):
    """A "generator" that keeps every latent it is given and passes it on as a ``(N, 1, 1, z_dim)`` feature map."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # a parameter, so the model has a device
        self.seen: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.seen.append(z.detach().double().clone())
        return z[:, None, None, :]


class _LevelTone:
    """An audio "plugin": a 1 kHz tone whose level in dB is ``DB_PER_UNIT`` times the latent's coordinate ``p =
    z . u`` along a fixed unit vector ``u``; so a loop's loudness is ``DB_PER_UNIT * p`` plus a constant, exactly."""

    name, output_kind = "level-tone", "audio"
    DB_PER_UNIT = 3.0

    def __init__(self, z_dim: int) -> None:
        u = torch.randn(z_dim, generator=torch.Generator().manual_seed(123))
        self.u = u / u.norm()

    def latent(self, n, config, *, generator=None):
        return torch.randn(n, int(config["z_dim"]), generator=generator)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return z.double() @ self.u.double()

    def render(self, feats, config, *, rescale=True):
        t = torch.arange(int(config["loop_samples"]), dtype=torch.float64) / SR
        amp = 0.1 * 10.0 ** (self.DB_PER_UNIT * self.project(feats[:, 0, 0]) / 20.0)
        return (amp[:, None] * torch.sin(2 * math.pi * 1000.0 * t)).float()


def _probe(z_dim=2048):
    return Model(_LevelTone(z_dim), _Recorder(), {"z_dim": z_dim, "sample_rate": SR, "loop_samples": 4096},
                 name="probe")


def test_path_steps_are_eps_anchor_units_and_the_change_is_measured_per_step():
    """On a lerp path one anchor unit is the distance between two independent random latents, ``sqrt(2 z_dim)``
    (they are nearly orthogonal on the shell of radius ``sqrt(z_dim)``): a step of ``eps`` moves the latent
    ``eps * sqrt(2 z_dim)``, twice that at ``2 eps``; and the loudness change the study reports is the mean change
    between consecutive loops in units of the random loops' spread."""
    model, eps, n_paths, steps, n_ref = _probe(), (1 / 32, 1 / 16), 3, 6, 8
    result = measure_smoothness(model, kinds=("lerp",), eps=eps, n_paths=n_paths, steps=steps, n_ref=n_ref,
                                progress=False)
    seen = torch.cat(model.generator.seen)
    assert seen.shape == (n_ref + len(eps) * n_paths * (steps + 1), model.z_dim)
    ref, paths = seen[:n_ref], seen[n_ref:].reshape(len(eps), n_paths, steps + 1, model.z_dim)
    unit = math.sqrt(2 * model.z_dim)
    step = (paths[:, :, 1:] - paths[:, :, :-1]).norm(dim=-1)  # (eps, paths, steps)
    per_step = step.flatten(1).median(dim=1).values / unit  # a step over an anchor is a little shorter: median
    np.testing.assert_allclose(per_step.numpy(), eps, rtol=0.05)
    assert float(per_step[1] / per_step[0]) == pytest.approx(2.0, rel=0.05)
    # the loudness change, from the latents it decoded: |DB_PER_UNIT * delta p| / std(DB_PER_UNIT * p over ref)
    project = model.plugin.project
    scale = float(np.std(project(ref).numpy()))
    assert result["scale"]["loudness"] == pytest.approx(_LevelTone.DB_PER_UNIT * scale, rel=1e-3)
    expect = [float(np.abs(np.diff(project(p).numpy(), axis=-1)).mean()) / scale for p in paths]
    np.testing.assert_allclose(result["change"]["lerp"]["loudness"], expect, rtol=1e-3)
    assert result["jumps"]["loudness"] == pytest.approx(np.abs(np.diff(project(ref).numpy())).mean() / scale,
                                                        rel=1e-3)


def test_measure_refuses_bad_settings():
    with pytest.raises(ParameterError, match="eps"):
        measure_smoothness(_probe(4), eps=(0.0,))
    with pytest.raises(ParameterError, match="jumps"):
        measure_smoothness(_probe(4), kinds=("jumps",))


def test_measure_refuses_an_image_model():
    from gan_plugins.io.model import NotAnAudioModel, load_model

    with pytest.raises(NotAnAudioModel, match="dcgan-mnist .*the smoothness measure needs an audio model"):
        measure_smoothness(load_model("dcgan-mnist"), progress=False)
