"""Metrics: Fréchet distance, class statistics, the shipped classifier, floor/ceiling, stability summary."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_plugins.data.mnist.digits import MnistDataset
from gan_plugins.metrics.classifier import load_classifier
from gan_plugins.metrics.coverage import class_stats
from gan_plugins.metrics.frechet import frechet_distance, gaussian_stats
from gan_plugins.metrics.mnist import MnistEvaluator
from gan_plugins.metrics.stability import run_stability


def test_frechet_distance_closed_forms():
    mu, cov = np.zeros(3), np.eye(3)
    assert frechet_distance((mu, cov), (mu, cov)) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance((mu, cov), (mu + [3.0, 4.0, 0.0], cov)) == pytest.approx(25.0, abs=1e-8)
    # isotropic scales s1, s2: d * (s1 - s2)^2 with s = std
    assert frechet_distance((mu, 4 * cov), (mu, 9 * cov)) == pytest.approx(3 * (2 - 3) ** 2, abs=1e-6)
    f = np.random.default_rng(0).normal(size=(20000, 2))
    m, c = gaussian_stats(f)
    assert np.allclose(m, 0, atol=0.03) and np.allclose(c, np.eye(2), atol=0.03)


def test_class_stats():
    probs = np.eye(10)[np.r_[np.arange(10).repeat(10)]]
    s = class_stats(probs)
    assert s["coverage"] == 10 and s["kl_uniform"] == pytest.approx(0.0, abs=1e-12) and s["confidence"] == 1.0
    one = class_stats(np.eye(10)[np.zeros(50, dtype=int)])
    assert one["coverage"] == 1 and one["kl_uniform"] == pytest.approx(math.log(10))


def test_shipped_classifier_reads_held_out_digits():
    test = MnistDataset(split="test")
    with torch.no_grad():
        acc = (load_classifier()(test.images).argmax(1) == test.labels).float().mean().item()
    assert acc > 0.96
    assert sum(p.numel() for p in load_classifier().parameters()) * 4 < 1_000_000


@pytest.mark.slow  # ~2 s: classifier features of 5,000 digits
def test_floor_is_far_below_ceiling_and_real_digits_score_at_the_floor():
    ev = MnistEvaluator()
    assert 0 < ev.floor < 5 and ev.ceiling > 100 * ev.floor
    held = ev.score_images(MnistDataset(split="test").images)
    assert held["fd"] == pytest.approx(ev.floor, rel=1e-6)
    assert held["coverage"] == 10 and held["kl_uniform"] < 0.01


def test_stability_summary():
    hist = [{"loss_d": 1.0, "loss_g": (-1) ** i, "grad_norm_d": 2.0, "grad_norm_g": 3.0} for i in range(10)]
    evals = [{"step": 5, "fd": 50.0, "coverage": 10}, {"step": 10, "fd": 20.0, "coverage": 9}]
    s = run_stability(hist, evals, noise_fd=1000.0)
    assert s["final_fd"] == 20.0 and s["best_fd"] == 20.0 and s["loss_g_oscillation"] == pytest.approx(2.0)
    assert (s["nan_stop"], s["collapsed"], s["failed"], s["grad_norm_d"]) == (0.0, 0.0, 0.0, 2.0)
    bad = run_stability(hist, [{"step": 10, "fd": 900.0, "coverage": 2}], noise_fd=1000.0, diverged="nan")
    assert (bad["nan_stop"], bad["collapsed"], bad["failed"]) == (1.0, 1.0, 1.0)


def test_frechet_distance_of_non_commuting_covariances():
    # S_a = diag(1, 4) and S_b = [[2, 1], [1, 2]] do not commute: Tr (S_a S_b)^{1/2} is not Tr S_a^{1/2} S_b^{1/2}.
    # For 2 x 2 with M = S_a^{1/2} S_b S_a^{1/2} = [[2, 2], [2, 8]]: Tr M^{1/2} = sqrt(Tr M + 2 sqrt(det M))
    s_a, s_b = np.diag([1.0, 4.0]), np.array([[2.0, 1.0], [1.0, 2.0]])
    want = 5.0 + 4.0 - 2.0 * math.sqrt(10.0 + 2.0 * math.sqrt(12.0))           # 0.771223
    mu = np.array([1.0, -2.0])
    assert frechet_distance((mu, s_a), (mu, s_b)) == pytest.approx(want, abs=1e-9)
    assert frechet_distance((mu, s_b), (mu + [0.5, 1.5], s_a)) == pytest.approx(want + 2.5, abs=1e-9)
    # a singular covariance (a feature constant in one set) stays finite and exact: S_b = diag(1, 0)
    assert frechet_distance((mu, np.eye(2)), (mu, np.diag([1.0, 0.0]))) == pytest.approx(1.0, abs=3e-3)
