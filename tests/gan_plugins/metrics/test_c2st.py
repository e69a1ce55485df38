"""The classifier two-sample test: chance on one loop set split in two, ~1 against noise, deaf to gain, ranking
the degradation ladder, deterministic, and consistent between its numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.metrics.c2st import MIN_PER_FOLD, c2st
from gan_plugins.metrics.degrade import degrade
from specrep.errors import ParameterError

SR = 16000
N = 40  # loops per set: 8 per fold, a held-out interval of about +-0.1
# 30 epochs at N = 40: the network fits its training folds (so a held-out score is not a training score)
EPOCHS = 30


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the sizes here are too small to gain from more, and timings stay those measured."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def halves():
    loops, _ = synthesize_loops(2 * N, seconds=1.0, sample_rate=SR, seed=3)
    return loops[:N], loops[N:]


def _check_numbers(r):
    """The accuracy, interval and AUC agree with the held-out scores they summarise."""
    np.testing.assert_array_equal(r.labels, np.repeat([0, 1], r.n))
    predicted = r.scores > 0.5
    assert r.accuracy == pytest.approx(np.mean(predicted == r.labels), abs=1e-12)
    assert r.low <= r.accuracy <= r.high
    assert r.auc == pytest.approx(roc_auc_score(r.labels, r.scores), abs=1e-12)
    # The ROC curve passes through the operating point (FPR, TPR) of the 0.5 threshold and is monotone, so its
    # area lies between TPR * TNR and 1 - FPR * FNR.
    tpr, tnr = predicted[r.labels == 1].mean(), 1 - predicted[r.labels == 0].mean()
    assert tpr * tnr - 1e-12 <= r.auc <= 1 - (1 - tnr) * (1 - tpr) + 1e-12


@pytest.mark.slow  # ~4-6 s: five trainings
def test_halves_of_one_loop_set_are_indistinguishable(halves):
    r = c2st(*halves, SR, epochs=EPOCHS)
    assert r.low <= 0.5 <= r.high
    assert abs(r.accuracy - 0.5) <= 0.15 and abs(r.auc - 0.5) <= 0.15
    _check_numbers(r)


@pytest.mark.slow  # ~4-6 s: five trainings
def test_loops_against_noise_at_their_level_are_told_apart(halves):
    a, b = halves
    rng = np.random.default_rng(0)
    rms = np.sqrt(np.mean(b.astype(np.float64) ** 2, axis=1, keepdims=True))
    noise = (rng.standard_normal(b.shape) * rms).astype(np.float32)
    r = c2st(a, noise, SR, epochs=EPOCHS)
    assert r.accuracy >= 0.95 and r.low >= 0.9 and r.auc >= 0.99
    _check_numbers(r)


@pytest.mark.slow  # ~4-6 s: five trainings
def test_a_gain_change_is_not_detected(halves):
    a, b = halves
    r = c2st(a, 0.05 * b, SR, epochs=EPOCHS)  # -26 dB: trivial to see without level normalisation
    assert r.low <= 0.5 <= r.high and abs(r.accuracy - 0.5) <= 0.15


@pytest.mark.slow  # ~10 s each: three C2STs on 40 + 40 loops
@pytest.mark.parametrize(("kind", "mild", "strong"), [("blur", 0.3, 1.0), ("shuffle", 0.3, 1.0),
                                                      ("noise", 0.003, 0.03)])
def test_the_ladder_ranks_mild_below_strong(halves, kind, mild, strong):
    a, b = halves
    real = c2st(a, b, SR, epochs=EPOCHS).accuracy
    acc = [c2st(a, degrade(b, kind, s, sample_rate=SR), SR, epochs=EPOCHS).accuracy for s in (mild, strong)]
    assert real < acc[0] < acc[1]
    assert acc[1] - real >= 0.2


@pytest.mark.slow  # ~4 s: three C2STs
def test_same_seed_same_result_other_seed_other_folds(halves):
    a, b = halves[0][:10], degrade(halves[1][:10], "blur", 1.0, sample_rate=SR)
    torch_state = torch.random.get_rng_state()
    first = c2st(a, b, SR, epochs=2, n_boot=200)
    again = c2st(a, b, SR, epochs=2, n_boot=200)
    other = c2st(a, b, SR, epochs=2, n_boot=200, seed=1)
    np.testing.assert_array_equal(first.scores, again.scores)
    assert (first.accuracy, first.low, first.high, first.auc) == (again.accuracy, again.low, again.high, again.auc)
    assert not np.array_equal(first.scores, other.scores)
    assert torch.equal(torch.random.get_rng_state(), torch_state)  # the global RNG neither used nor advanced
    _check_numbers(first)
    assert f"{first.accuracy:.3f}" in str(first) and first.interval == (first.low, first.high)


@pytest.mark.parametrize(("a_shape", "b_shape", "kw", "match"), [
    ((10, 8000), (10, 4000), {}, "one length"),
    ((10, 8000), (12, 8000), {}, "equal counts"),
    ((9, 8000), (9, 8000), {}, f"at least {5 * MIN_PER_FOLD} loops"),
    ((8000,), (8000,), {}, r"must be \(N, samples\)"),
    ((10, 512), (10, 512), {}, "shorter than one STFT frame"),
    ((10, 8000), (10, 8000), {"folds": 1}, "folds=1"),
    ((10, 8000), (10, 8000), {"confidence": 1.0}, "confidence"),
    ((10, 8000), (10, 8000), {"epochs": 0}, "epochs"),
    ((10, 8000), (10, 8000), {"lr": -1.0}, "lr"),
])
def test_bad_arguments_raise_one_line(a_shape, b_shape, kw, match):
    with pytest.raises(ParameterError, match=match) as err:
        c2st(np.zeros(a_shape, np.float32), np.zeros(b_shape, np.float32), SR, **kw)
    assert "\n" not in str(err.value)


def test_non_finite_loops_are_refused():
    a = np.zeros((10, 8000), np.float32)
    b = a.copy()
    b[3, 5] = np.nan
    with pytest.raises(ParameterError, match="b holds NaN"):
        c2st(a, b, SR)
