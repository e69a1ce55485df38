"""Mix bus: ducking envelope, send reverb, mastering limiter; and the spectral filters they rely on."""

import numpy as np
import pytest

from gan_plugins.data.procedural.filters import shape_spectrum, sweep_lowpass
from gan_plugins.data.procedural.mixing import duck_envelope, master, reverb
from specrep.errors import ParameterError

SR = 16000


def test_duck_envelope_dips_at_onsets_and_wraps():
    env = duck_envelope(np.array([0, 8000]), 16000, SR, depth=0.5, release=0.05)
    assert env.min() == pytest.approx(0.5, abs=1e-6) and env.max() <= 1.0
    assert env[0] == pytest.approx(0.5, abs=1e-3) and env[8000] == pytest.approx(0.5, abs=1e-3)
    assert env[7999] > 0.99  # recovered after 10 release time constants
    with pytest.raises(ParameterError, match="depth"):
        duck_envelope(np.array([0]), 100, SR, depth=1.5)


def test_reverb_tail_decays_and_wraps_around_the_loop():
    x = np.zeros(SR)
    x[SR - 100] = 1.0  # an impulse just before the loop end
    wet = reverb(x, SR, np.random.default_rng(0), decay=0.1, predelay=0.0)
    assert np.sum(wet ** 2) == pytest.approx(1.0, rel=1e-6)  # unit-energy response
    head = np.sum(wet[:1600] ** 2)  # the tail comes back in at the start of the loop
    assert head > 0.5
    assert np.sum(wet[8000:SR - 200] ** 2) < 1e-3


def test_master_hits_the_level_and_never_the_ceiling():
    x = np.random.default_rng(1).standard_normal(SR) * 5.0
    y = master(x, SR, rms_db=-12.0)
    assert np.abs(y).max() < 0.98
    assert 20 * np.log10(np.sqrt(np.mean(y ** 2))) == pytest.approx(-12.0, abs=1.0)  # limiter shaves < 1 dB


def test_shape_spectrum_band_limits():
    x = np.random.default_rng(2).standard_normal(SR)
    y = shape_spectrum(x, SR, low=4000.0, order=4)
    spec = np.abs(np.fft.rfft(y)) ** 2
    assert spec[:1000].sum() < 1e-3 * spec[5000:].sum()  # below 1 kHz vs above 5 kHz


def test_sweep_lowpass_follows_the_cutoff():
    x = np.random.default_rng(3).standard_normal(SR)
    cutoff = np.where(np.arange(SR) < SR // 2, 300.0, 4000.0)
    y = sweep_lowpass(x, SR, cutoff, resonance=0.7)

    def high_share(seg):
        spec = np.abs(np.fft.rfft(seg)) ** 2
        return spec[1000:].sum() / spec.sum()  # 6000-sample segments: bin 1000 is 2.7 kHz

    assert high_share(y[1000:7000]) < 0.01 < 0.2 < high_share(y[9000:15000])
