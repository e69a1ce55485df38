"""Rhythm and transient measures on the degradation ladder: real < mild < strong < noise where each is meant to."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.metrics.degrade import degrade
from gan_plugins.metrics.rhythm import (
    RhythmReference,
    attack_times_ms,
    modulation_excess_db,
    modulation_spectrum,
    onset_peakiness,
    pair_alternation,
    rhythm_judge,
)
from specrep.errors import ParameterError

SR = 16000
RUNGS = (0.33, 0.66, 1.0)


@pytest.fixture(scope="module")
def sets():
    real = synthesize_loops(16, seconds=2.0, sample_rate=SR, seed=1)[0]
    other = synthesize_loops(16, seconds=2.0, sample_rate=SR, seed=2)[0]
    return real, other


def _sharpness(x):
    return float(np.median(np.where(np.isnan(v := attack_times_ms(x, SR)), math.inf, v)))


def test_real_against_real_is_near_zero(sets):
    real, other = sets
    scores = rhythm_judge(real, other, SR)
    assert abs(scores["artefact_index"]) < 5.0  # percentage points; 16 + 16 loops
    assert 0 < scores["artefact_alternation_real"] < 0.1 and 0 < scores["artefact_alternation"] < 0.1
    assert scores["artefact_index"] == pytest.approx(
        100 * (scores["artefact_alternation"] - scores["artefact_alternation_real"]), abs=1e-9)
    assert abs(scores["artefact_modulation_db"]) < 1.0
    assert abs(scores["onset_sharpness_ms"] - scores["onset_sharpness_real_ms"]) < 5.0  # 3.5 ms measured
    assert 8.0 < scores["onset_sharpness_real_ms"] < 20.0
    assert {"beat_strength", "clear_beat", "profile_corr", "onset_peakiness", "artefact_alternation"} <= set(scores)


def test_artefact_index_rises_with_pair_duplication(sets):
    real, other = sets
    floor = abs(pair_alternation(real, SR).mean())
    index = [100 * (abs(pair_alternation(degrade(other, "pairs", s, sample_rate=SR), SR).mean()) - floor)
             for s in (0.0,) + RUNGS]
    strongest = rhythm_judge(real, degrade(other, "pairs", 1.0, sample_rate=SR), SR)
    assert strongest["artefact_index"] == pytest.approx(index[3], abs=1e-9)
    assert abs(index[0]) < 5.0
    assert index[1] > index[0] + 2.0 and index[2] > index[1] + 8.0 and index[3] > index[2] + 8.0
    assert index[3] > 25.0


def test_artefact_alternation_ignores_the_other_degradations(sets):
    _, other = sets
    for kind in ("blur", "shuffle", "noise"):
        assert abs(pair_alternation(degrade(other, kind, 1.0, sample_rate=SR), SR).mean()) < 0.05


def test_sharpness_worsens_with_blur_and_noise_is_softest(sets):
    _, other = sets
    ladder = [_sharpness(other)] + [_sharpness(degrade(other, "blur", s, sample_rate=SR)) for s in RUNGS]
    assert ladder[0] < 20.0
    assert ladder[1] > ladder[0] + 8.0 and ladder[2] > ladder[1] + 8.0 and ladder[3] > ladder[2] + 8.0
    assert _sharpness(degrade(other, "noise", 1.0, sample_rate=SR)) == math.inf  # no onset in white noise


def test_peakiness_falls_with_blur_and_is_lowest_for_noise(sets):
    _, other = sets
    ladder = [np.median(onset_peakiness(degrade(other, "blur", s, sample_rate=SR), SR)) for s in (0.0,) + RUNGS]
    assert ladder[0] > 4.0 and ladder[0] > 1.3 * ladder[1] > 1.3 ** 2 * ladder[2] > 1.3 ** 2 * 1.1 * ladder[3]
    noise = np.median(onset_peakiness(degrade(other, "noise", 1.0, sample_rate=SR), SR))
    assert noise < 1.5 and noise < ladder[3]


def test_modulation_spectrum_rows_are_shares_and_see_a_tremolo():
    t = np.arange(2 * SR) / SR
    rng = np.random.default_rng(0)
    carrier = rng.standard_normal((4, t.size)).astype(np.float32)
    plain = carrier * 0.5
    tremolo = carrier * (0.5 + 0.45 * np.sign(np.sin(2 * np.pi * 16.0 * t))).astype(np.float32)
    power, freqs = modulation_spectrum(np.concatenate([plain, tremolo]), SR)
    np.testing.assert_allclose(power.sum(-1), 1.0, rtol=1e-9)
    assert freqs[0] == 0 and freqs[-1] == pytest.approx(SR / 64 / 2, rel=0.01)
    assert modulation_excess_db(power[:4], power[4:], freqs) > 2.5  # 3.7 dB measured
    assert modulation_excess_db(power[:2], power[2:4], freqs) == pytest.approx(0.0, abs=1.0)


def test_bad_arguments_refused(sets):
    real, other = sets
    with pytest.raises(ParameterError, match="sample_rate="):
        attack_times_ms(real, 0)
    with pytest.raises(ParameterError, match="hop="):
        pair_alternation(real, SR, hop=0)
    with pytest.raises(ParameterError, match="hop="):
        pair_alternation(real, SR, hop=40000)
    with pytest.raises(ParameterError, match="waves"):
        onset_peakiness(np.zeros(4096), SR)
    with pytest.raises(ParameterError, match="fake"):
        rhythm_judge(real, other[:1], SR)
    with pytest.raises(ParameterError, match="same length"):
        rhythm_judge(real, other[:, :16000], SR)
    power, freqs = modulation_spectrum(real[:2], SR)
    with pytest.raises(ParameterError, match="band_hz="):
        modulation_excess_db(power, power, freqs, band_hz=(40.0, 8.0))
    with pytest.raises(ParameterError, match="bins"):
        modulation_excess_db(power, power[:, :10], freqs)


def test_a_reference_measured_once_holds_the_real_loops_own_measures(sets):
    real, other = sets
    fake = degrade(other, "pairs", 0.66, sample_rate=SR)
    ref = RhythmReference.of(real, SR)
    scores = rhythm_judge(ref, fake, SR)
    assert scores["onset_sharpness_real_ms"] == pytest.approx(np.median(attack_times_ms(real, SR)))
    assert scores["onset_peakiness_real"] == pytest.approx(np.median(onset_peakiness(real, SR)))
    assert scores["artefact_alternation_real"] == pytest.approx(abs(pair_alternation(real, SR).mean()))
    assert scores["artefact_index"] == pytest.approx(
        100 * (abs(pair_alternation(fake, SR).mean()) - abs(pair_alternation(real, SR).mean())))
    assert scores == rhythm_judge(real, fake, SR)  # the same as measuring the real loops in the call
    for other_ref in (RhythmReference.of(real, SR, hop=256), RhythmReference.of(real[:, :16000], SR)):
        with pytest.raises(ParameterError):
            rhythm_judge(other_ref, fake, SR)
