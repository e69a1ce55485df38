"""Descriptors against audioflux's implementations on the same spectrogram of real recordings."""

import numpy as np
import pytest
import torch

import specrep
from specrep import descriptors as D
from specrep import functional as Fn

af = pytest.importorskip("audioflux")


@pytest.fixture(scope="module", params=["guitar_chord1", "voice", "chord_metronome1"])
def spectrum(request, recordings):
    p = specrep.STFTParams(16000, 1024, 256)
    mag = Fn.stft(recordings[request.param].double(), p).abs()
    freqs = np.asarray(p.frequencies())
    spectral = af.Spectral(num=mag.shape[0], fre_band_arr=freqs.astype(np.float32))
    spectral.set_time_length(mag.shape[1])
    m = mag.numpy().astype(np.float32)
    active = m.sum(0) > 1e-2
    return mag, freqs, spectral, m, active


def close(ours, theirs, active, rtol):
    np.testing.assert_allclose(ours.numpy()[active], theirs[active], rtol=rtol)


def test_centroid_spread_flatness(spectrum):
    mag, freqs, spectral, m, active = spectrum
    close(D.spectral_centroid(mag, freqs), spectral.centroid(m), active, 1e-4)
    close(D.spectral_bandwidth(mag, freqs), spectral.spread(m), active, 1e-4)
    close(D.spectral_flatness(mag), spectral.flatness(m), active, 1e-4)


def test_rolloff(spectrum):
    mag, freqs, spectral, m, active = spectrum
    # Ours interpolates between bins (differentiable); audioflux returns a bin frequency: within one bin.
    diff = np.abs(D.spectral_rolloff(mag, freqs, threshold=0.95).numpy() - spectral.rolloff(m, 0.95))[active]
    assert diff.max() <= 16000 / 1024 + 1e-3


def test_onset_strength_is_positive_log_flux(spectrum):
    mag, freqs, spectral, m, active = spectrum
    ref = spectral.flux(np.log(m + 1e-5).astype(np.float32), step=1, p=1, is_positive=True) / m.shape[0]
    np.testing.assert_allclose(D.onset_strength(mag).numpy()[1:], ref[1:], rtol=1e-3, atol=1e-5)


def test_loudness_tracks_level_and_weighting():
    sr = 16000
    t = torch.arange(sr) / sr
    sine = torch.sin(2 * torch.pi * 1000 * t)
    full = D.describe(sine, sr)["loudness"][5:-5].mean().item()
    half = D.describe(0.5 * sine, sr)["loudness"][5:-5].mean().item()
    assert full == pytest.approx(0.0, abs=1.0)  # full-scale 1 kHz sine reads ~0 dB
    assert full - half == pytest.approx(6.02, abs=0.05)
    low = D.describe(torch.sin(2 * torch.pi * 100 * t), sr)["loudness"][5:-5].mean().item()
    assert full - low == pytest.approx(19.1, abs=1.0)  # A-weighting at 100 Hz is -19.1 dB
    np.testing.assert_allclose(D.a_weighting_db(torch.tensor([1000.0, 100.0])).numpy(), [0.0, -19.1], atol=0.1)


def test_describe_shapes_and_gradients(recordings):
    wave = recordings["voice"][:8000].clone().requires_grad_(True)
    out = D.describe(wave, 16000)
    assert set(out) == set(D.DESCRIPTORS)
    for name, value in out.items():
        assert value.shape == (1 + 8000 // 256,), name
        assert torch.isfinite(value).all(), name
    total = sum(v.mean() for v in out.values())
    total.backward()
    assert torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0
