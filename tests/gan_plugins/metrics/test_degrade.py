"""The degradation ladder: identity at strength 0, level kept, deterministic, each kind does what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.metrics.degrade import DEGRADATIONS, N_FFT, PAIR_HOP, degrade
from gan_plugins.metrics.rhythm import attack_times_ms
from specrep.errors import ParameterError

SR = 16000


@pytest.fixture(scope="module")
def loops():
    return synthesize_loops(6, seconds=2.0, sample_rate=SR, seed=3)[0]


def _rms(x):
    return np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2, axis=-1))


def _magnitude(x, hop):
    window = torch.hann_window(N_FFT)
    return torch.stft(torch.from_numpy(x), N_FFT, hop, window=window, center=True, return_complex=True).abs().numpy()


def _pair_ratio(x):
    """Mean magnitude change inside the pairs (2k, 2k+1) over that across them (2k+1, 2k+2), at PAIR_HOP."""
    m = _magnitude(x, PAIR_HOP)
    n = m.shape[-1] // 2 * 2
    return np.abs(m[..., 0:n:2] - m[..., 1:n:2]).mean() / np.abs(m[..., 1:n - 1:2] - m[..., 2:n:2]).mean()


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_strength_zero_is_identity_and_small_strength_is_close(loops, kind):
    out = degrade(loops, kind, 0.0, sample_rate=SR)
    assert out.dtype == np.float32 and out.shape == loops.shape
    np.testing.assert_array_equal(out, loops)
    small = degrade(loops, kind, 0.01, sample_rate=SR)
    strong = degrade(loops, kind, 1.0, sample_rate=SR)
    change_small = np.abs(small - loops).mean() / np.abs(loops).mean()
    change_strong = np.abs(strong - loops).mean() / np.abs(loops).mean()
    assert change_small < 0.3 * change_strong


@pytest.mark.parametrize("kind", DEGRADATIONS)
@pytest.mark.parametrize("strength", [0.33, 1.0])
def test_level_kept_and_deterministic_per_seed(loops, kind, strength):
    out = degrade(loops, kind, strength, sample_rate=SR, seed=4)
    np.testing.assert_allclose(_rms(out), _rms(loops), rtol=1e-4)
    np.testing.assert_array_equal(out, degrade(loops, kind, strength, sample_rate=SR, seed=4))
    assert np.isfinite(out).all() and not np.array_equal(out, loops)


@pytest.mark.parametrize("kind", ["pairs", "shuffle", "noise"])
def test_seed_changes_the_random_draws(loops, kind):
    a = degrade(loops, kind, 0.5, sample_rate=SR, seed=1)
    b = degrade(loops, kind, 0.5, sample_rate=SR, seed=2)
    assert np.abs(a - b).mean() > 0.01 * np.abs(loops).mean()


def test_silent_loop_stays_silent():
    x = np.zeros((2, 4096), dtype=np.float32)
    x[1] = np.sin(np.arange(4096) * 0.05)
    for kind in DEGRADATIONS:
        out = degrade(x, kind, 0.7, sample_rate=SR)
        assert np.all(out[0] == 0) and _rms(out[1]) == pytest.approx(_rms(x[1]), rel=1e-4)


def test_pairs_make_consecutive_frames_equal_in_the_stft(loops):
    # after the overlap-add the copy is blurred (50 % overlap) but stays plain: within-pair change falls from
    # about the across-pair one (ratio ~1) to well under half of it, steadily with the share of pairs copied
    ratios = [_pair_ratio(degrade(loops, "pairs", s, sample_rate=SR)) for s in (0.0, 0.33, 0.66, 1.0)]
    assert 0.9 < ratios[0] < 1.15
    assert ratios[0] > ratios[1] + 0.08 > ratios[2] + 0.16 > ratios[3] + 0.24
    assert ratios[3] < 0.5
    # the other kinds leave no pair structure
    for kind in ("blur", "shuffle", "noise"):
        assert _pair_ratio(degrade(loops, kind, 1.0, sample_rate=SR)) > 0.85


def test_blur_smears_the_attacks_and_keeps_the_spectrum(loops):
    # the median 10-90 % attack time grows with the blur's width; the long-term spectrum stays
    attacks = [np.nanmedian(attack_times_ms(degrade(loops, "blur", s, sample_rate=SR), SR)) for s in (0, 0.33, 1)]
    assert attacks[0] < 16 and attacks[1] > attacks[0] + 8 and attacks[2] > attacks[1] + 5
    spectrum = _magnitude(loops, 256).mean(-1)
    blurred = _magnitude(degrade(loops, "blur", 1.0, sample_rate=SR), 256).mean(-1)
    assert np.abs(np.log(blurred + 1e-3) - np.log(spectrum + 1e-3)).mean() < 0.3


def test_shuffle_keeps_the_frames_and_loses_their_order(loops):
    out = degrade(loops, "shuffle", 1.0, sample_rate=SR)
    m, s = _magnitude(loops, PAIR_HOP), _magnitude(out, PAIR_HOP)
    # the same magnitude frames, in another order: sorted frame energies close, frame-by-frame far apart
    e_in, e_out = np.sort(m.sum(-2), -1), np.sort(s.sum(-2), -1)
    assert np.abs(e_in - e_out).mean() < 0.15 * e_in.mean()
    assert np.abs(m.sum(-2) - s.sum(-2)).mean() > 0.3 * e_in.mean()


def test_noise_sets_the_signal_to_noise_ratio(loops):
    for strength, snr_db in ((0.33, 10 * np.log10((1 - 0.33 ** 2) / 0.33 ** 2)), (0.8, 10 * np.log10(0.36 / 0.64))):
        out = degrade(loops, "noise", strength, sample_rate=SR, seed=0).astype(np.float64)
        clean = np.sqrt(1 - strength ** 2) * loops  # the mix before the level restore (gain ~1)
        residual = out - clean * (_rms(out) / _rms(loops))[:, None]
        measured = 10 * np.log10((_rms(clean) ** 2) / (_rms(residual) ** 2))
        np.testing.assert_allclose(measured, snr_db, atol=0.3)
    pure = degrade(loops, "noise", 1.0, sample_rate=SR)
    assert abs(np.corrcoef(pure[0], loops[0])[0, 1]) < 0.05


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "reverse"}, "kind="),
    ({"strength": 1.5}, "strength="),
    ({"strength": -0.1}, "strength="),
    ({"strength": float("nan")}, "strength="),
    ({"strength": "high"}, "strength="),
    ({"sample_rate": 0}, "sample_rate="),
    ({"seed": -1}, "seed="),
    ({"seed": 1.5}, "seed="),
])
def test_bad_arguments_refused(loops, kwargs, match):
    args = {"kind": "blur", "strength": 0.5, "sample_rate": SR, "seed": 0, **kwargs}
    with pytest.raises(ParameterError, match=match):
        degrade(loops, args.pop("kind"), args.pop("strength"), **args)


@pytest.mark.parametrize("waves", [np.zeros(4096), np.zeros((2, 100)), np.zeros((0, 4096)),
                                   np.full((1, 4096), np.nan), np.zeros((1, 4096), dtype=complex)])
def test_bad_waves_refused(waves):
    with pytest.raises(ParameterError, match="waves"):
        degrade(waves, "noise", 0.5, sample_rate=SR)
