"""gradcheck (float64, tiny sizes) through every invertible block, both directions."""

import pytest
import torch
from torch.autograd import gradcheck

import specrep

P = specrep.STFTParams(sample_rate=8000, n_fft=16, hop_length=4)
MEL = specrep.MelParams(P, n_mels=5, power=2.0, nnls_iter=3)


def _wave():
    torch.manual_seed(0)
    return torch.randn(2, 40, dtype=torch.float64, requires_grad=True)


def _polar_feats():
    torch.manual_seed(1)
    mag = torch.rand(2, 9, 11, dtype=torch.float64) + 0.5
    phase = (torch.rand(2, 9, 11, dtype=torch.float64) - 0.5) * 2.0  # away from the +-pi cut
    return torch.stack([mag, phase], dim=-3).requires_grad_(True)


def test_stft_forward_and_inverse():
    stft = specrep.STFT(P)
    assert gradcheck(lambda x: torch.view_as_real(stft(x)), (_wave(),))
    spec = stft(_wave()).detach().requires_grad_(True)
    assert gradcheck(lambda s: stft.inverse(s, length=40), (spec,))


def test_front_layout_inverse():
    p = specrep.STFTParams(sample_rate=8000, n_fft=16, hop_length=4, padding="front", drop_dc=True)
    stft = specrep.STFT(p)
    assert gradcheck(lambda x: torch.view_as_real(stft(x)), (_wave(),))
    spec = stft(_wave()).detach().requires_grad_(True)
    assert gradcheck(lambda s: stft.inverse(s, length=40), (spec,))


def test_polar_log_if():
    feats = _polar_feats()
    for block in (specrep.LogMagnitude(), specrep.InstantaneousFrequency()):
        assert gradcheck(block, (feats,))
        assert gradcheck(lambda y, b=block: b.inverse(y), (block(feats).detach().requires_grad_(True),))
    polar = specrep.Polar()
    assert gradcheck(lambda f: torch.view_as_real(polar.inverse(f)), (feats,))
    spec = polar.inverse(feats).detach().requires_grad_(True)
    assert gradcheck(polar, (spec,))


def test_mel_blocks():
    feats = _polar_feats()
    mel = specrep.MelScale(MEL).double()
    assert gradcheck(mel, (feats[..., :1, :, :].detach().requires_grad_(True),))
    assert gradcheck(lambda y: mel.inverse(y), (mel(feats[..., :1, :, :]).detach().requires_grad_(True),))
    melif = specrep.MelIF(MEL).double()
    assert gradcheck(melif, (feats,))
    assert gradcheck(lambda y: melif.inverse(y), (melif(feats).detach().requires_grad_(True),))


def test_normalize():
    norm = specrep.Normalize([0.5, 2.0], [0.1, -0.3])
    feats = _polar_feats()
    assert gradcheck(norm, (feats,))
    assert gradcheck(lambda y: norm.inverse(y), (feats,))


@pytest.mark.parametrize("init", ["zeros", "random"])  # PGHI's initial phase is a constant by design
def test_magnitude_inverse_griffin_lim(init):
    block = specrep.Magnitude(P, specrep.PhaseReconstruction(n_iter=2, init=init))
    mag = (specrep.STFT(P)(_wave()).abs().unsqueeze(-3) + 0.1).detach().requires_grad_(True)
    assert gradcheck(lambda m: torch.view_as_real(block.inverse(m, length=40)), (mag,), atol=1e-5)
