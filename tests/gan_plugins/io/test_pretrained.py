"""The bundled ``dcgan-mnist`` generator: addressable by name; its digits are read with confidence, all 10 classes.

Two readers: the shipped CNN (trained on real digits only, never on generator output) and, as a second opinion
that shares nothing with the project's models, a k-nearest-neighbour classifier on raw pixels of the real digits.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_plugins.data.mnist.digits import MnistDataset
from gan_plugins.metrics.classifier import load_classifier
from gan_plugins.pretrained import available_pretrained, pretrained_info
from loopgan_cli import loopgan


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("dcgan-mnist")
    assert loopgan.main(["sample", "dcgan-mnist", "-n", "1000", "-o", str(out), "--format", "npy"]) == 0
    return np.load(out / "samples.npy")


def test_bundled_and_documented():
    assert "dcgan-mnist" in available_pretrained()
    info = pretrained_info("dcgan-mnist")
    assert info["command"].startswith("loopgan") and f"--steps {info['steps']}" in info["command"]
    assert info["scores"]["confidence"] > 0.9 and min(info["scores"]["class_share"]) >= 0.06


def test_cnn_reads_all_ten_classes_with_high_confidence(samples):
    assert samples.shape == (1000, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    with torch.no_grad():
        probs = torch.softmax(load_classifier()(torch.from_numpy(samples) * 2 - 1), dim=1).numpy()
    pred, conf = probs.argmax(1), probs.max(1)
    counts = np.bincount(pred, minlength=10)
    # Thresholds sit a little under what the shipped model measures (docs/results/mnist-losses.md: counts 77-114,
    # mean 0.932, median 0.996, per-class medians >= 0.984); the model it replaced (mean 0.855, the digit 2 at 59 of
    # 1,000) fails them. For scale, the same CNN on the 1,000 held-out *real* digits gives mean confidence 0.970.
    assert counts.min() >= 60, counts  # issue 14's goal: no class under 6 % (uniform would be 100)
    assert conf.mean() > 0.9
    assert np.median(conf) > 0.98
    for c in range(10):  # confident within every class, not just on average
        assert np.median(conf[pred == c]) > 0.93, (c, np.median(conf[pred == c]))


@pytest.mark.slow  # ~4.5 s on a shared 2-core CPU
def test_independent_pixel_knn_agrees(samples):
    neighbors = pytest.importorskip("sklearn.neighbors")
    real = MnistDataset(split="all")
    knn = neighbors.KNeighborsClassifier(n_neighbors=5).fit(real.images.flatten(1).numpy(), real.labels.numpy())
    knn_pred = knn.predict(samples.reshape(len(samples), -1) * 2 - 1)
    with torch.no_grad():
        cnn_pred = load_classifier()(torch.from_numpy(samples) * 2 - 1).argmax(1).numpy()
    assert (knn_pred == cnn_pred).mean() > 0.8  # shipped: 0.865 (the model it replaced: 0.716)
    assert len(np.unique(knn_pred)) == 10
