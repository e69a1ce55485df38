"""The class-sorted sample grid: rows hold the first samples of each predicted class, shares by hand, real digits
land in their own rows."""

from __future__ import annotations

import numpy as np
import pytest

from gan_plugins.metrics.class_grid import class_rows, class_shares, save_class_grid
from specrep.errors import ParameterError


def _coded(n, h=3, w=2):
    """Sample i is a constant image whose pixel value encodes i (distinct uint8 values after scaling)."""
    values = np.linspace(-0.9, 0.9, n)
    return np.broadcast_to(values[:, None, None, None], (n, 1, h, w)).copy()


def _cell(grid, row, col, h=3, w=2, pad=2):
    top, left = pad + row * (h + pad), pad + col * (w + pad)
    return grid[top: top + h, left: left + w]


def test_rows_hold_the_first_samples_of_each_class_in_sampling_order():
    # predicted classes of samples 0..6: 2, 0, 2, 2, 0, 1, 2 ; sample 6 is the MOST confident 2 but comes last
    pred = [2, 0, 2, 2, 0, 1, 2]
    conf = [0.5, 0.9, 0.6, 0.55, 0.8, 0.7, 0.99]
    probs = np.full((7, 3), 0.0)
    for i, (c, q) in enumerate(zip(pred, conf, strict=True)):
        probs[i] = (1 - q) / 2
        probs[i, c] = q
    images = _coded(7)
    pixel = np.round((images[:, 0, 0, 0] + 1) * 127.5).astype(np.uint8)
    grid = class_rows(images, probs, per_class=2)
    assert grid.shape == (3 * 5 + 2, 2 * 4 + 2) and grid.dtype == np.uint8
    expected = {0: [1, 4], 1: [5, None], 2: [0, 2]}
    for row, members in expected.items():
        for col, i in enumerate(members):
            want = 32 if i is None else pixel[i]
            assert np.all(_cell(grid, row, col) == want), (row, col)
    assert grid[0].max() == 0 and grid[:, 0].max() == 0  # black padding
    np.testing.assert_allclose(class_shares(probs), [2 / 7, 1 / 7, 4 / 7])


@pytest.mark.slow  # ~2 s
def test_real_digits_fill_their_own_rows(tmp_path):
    from gan_plugins.data.mnist.digits import MnistDataset
    from gan_plugins.metrics.mnist import MnistEvaluator

    test = MnistDataset("mnist", split="test")
    images = test.images[:300].float()
    probs = MnistEvaluator().classify(images)
    labels = np.asarray(test.labels[:300])
    assert (probs.argmax(axis=1) == labels).mean() > 0.95
    shares = class_shares(probs)
    np.testing.assert_allclose(shares, np.bincount(labels, minlength=10) / 300, atol=0.03)
    path = save_class_grid(images.numpy(), probs, tmp_path / "g.png", per_class=5)
    assert path.is_file() and path.stat().st_size > 2000


def test_bad_shapes_are_refused():
    with pytest.raises(ParameterError):
        class_rows(np.zeros((4, 1, 3, 3)), np.zeros((5, 10)))
    with pytest.raises(ParameterError):
        class_rows(np.zeros((4, 1, 3, 3)), np.full((4, 10), 0.1), per_class=0)
    with pytest.raises(ParameterError):
        class_shares(np.zeros((0, 10)))
