import math

import pytest
import torch

import specrep
from specrep import metrics


def test_snr_known_value():
    ref = torch.ones(2, 1000)
    est = ref + 0.1
    assert metrics.snr_db(ref, est).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)


def test_spectral_convergence_and_lsd(guitar):
    p = specrep.STFTParams(16000, 1024, 256)
    assert metrics.spectral_convergence_db(guitar, 0.9 * guitar, p).item() == pytest.approx(20 * math.log10(0.1),
                                                                                           abs=1e-3)
    assert metrics.log_spectral_distance(guitar, guitar, p).item() == pytest.approx(0.0, abs=1e-6)
    assert metrics.log_spectral_distance(guitar, 0.5 * guitar, p).item() == pytest.approx(6.02, abs=0.02)


def test_spectral_consistency_separates_real_from_scrambled(guitar):
    chain = specrep.chain("mag-if")
    feats = chain(guitar)
    real = metrics.spectral_consistency_db(chain, feats, length=guitar.shape[-1]).item()
    scrambled = feats.clone()
    scrambled[1] = torch.rand_like(scrambled[1]) * 2 - 1
    noisy = metrics.spectral_consistency_db(chain, scrambled, length=guitar.shape[-1]).item()
    assert real < -60.0
    assert noisy > -15.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(specrep.ParameterError, match="shapes differ"):
        metrics.snr_db(torch.zeros(10), torch.zeros(11))
