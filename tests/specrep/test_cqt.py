import numpy as np
import pytest
import torch

import specrep


def test_cqt_finds_the_note_and_is_analysis_only(recordings):
    sr = 16000
    t = torch.arange(sr) / sr
    tone = torch.sin(2 * torch.pi * 440.0 * t)  # A4: 45 semitones above C1 (32.70 Hz)
    cqt = specrep.CQT(sample_rate=sr, hop_length=256, f_min=32.70, n_bins=84, bins_per_octave=12)
    out = cqt(torch.stack([tone, 0.5 * tone]))
    assert out.shape[:3] == (2, 1, 84)
    peak = out[0, 0].mean(-1).argmax().item()
    assert peak == 45
    assert torch.allclose(out[1], 0.5 * out[0], rtol=1e-3, atol=1e-4)  # linear in the signal
    real = cqt(recordings["guitar_chord1"])
    assert real.shape[-3] == 1 and torch.isfinite(real).all()
    with pytest.raises(specrep.SpecrepError, match="analysis-only"):
        cqt.inverse(out)
    chain = specrep.Chain(cqt)
    with pytest.raises(specrep.ParameterError, match="analysis-only"):
        chain.inverse(out)


def test_cqt_rejects_bins_above_nyquist():
    with pytest.raises(specrep.ParameterError, match="Nyquist"):
        specrep.CQT(sample_rate=8000, n_bins=120)
    assert np.isclose(32.70 * 2 ** (45 / 12), 440.0, rtol=1e-3)
