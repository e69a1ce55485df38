import math

import numpy as np
import pytest
import torch

from specrep import functional as Fn
from specrep.errors import ParameterError
from specrep.params import MelParams, STFTParams


@pytest.mark.parametrize("n_fft,hop", [(1024, 256), (512, 128), (2048, 512)])
def test_stft_round_trip_center(recordings, n_fft, hop):
    p = STFTParams(16000, n_fft, hop)
    for wave in recordings.values():
        back = Fn.istft(Fn.stft(wave, p), p, length=wave.shape[-1])
        assert (back - wave).abs().max().item() <= 1e-6


def test_stft_round_trip_front_layout_except_tail(guitar):
    p = STFTParams(16000, 1024, 256, padding="front")
    back = Fn.istft(Fn.stft(guitar, p), p, length=guitar.shape[-1])
    # The last hop is seen only by the near-zero tail of one window (GANSynth's documented edge effect).
    assert (back - guitar)[: -p.hop_length].abs().max().item() <= 1e-6


def test_gansynth_layout_shape():
    p = STFTParams(16000, 2048, 512, padding="front", drop_dc=True, n_frames=128)
    spec = Fn.stft(torch.zeros(3, 64000), p)
    assert spec.shape == (3, 1024, 128)
    assert p.front_pad(64000, 128) == 3072


def test_front_layout_matches_explicit_framing():
    torch.manual_seed(0)
    x = torch.randn(5000, dtype=torch.float64)
    p = STFTParams(16000, 256, 64, padding="front")
    spec = Fn.stft(x, p)
    n = spec.shape[-1]
    padded = torch.cat([torch.zeros(p.front_pad(5000, n), dtype=x.dtype), x])
    win = Fn.window(p, dtype=x.dtype)
    m = 7
    frame = padded[m * 64 : m * 64 + 256] * win
    assert torch.allclose(spec[:, m], torch.fft.rfft(frame), atol=1e-10)


def test_drop_dc_removes_only_the_first_row(guitar):
    full = Fn.stft(guitar, STFTParams(16000, 1024, 256))
    cut = Fn.stft(guitar, STFTParams(16000, 1024, 256, drop_dc=True))
    assert torch.equal(full[1:], cut)


def test_if_round_trip_float32_many_frames():
    torch.manual_seed(0)
    # Steady partials: the unwrapped phase grows to ~1e6 rad over 5,000 frames, as for real tones.
    frames = torch.arange(5000, dtype=torch.float64)
    rate = torch.linspace(0.1, 200.0, 64, dtype=torch.float64)[:, None]  # radians per frame
    phase = Fn.wrap(rate * frames + 0.01 * torch.randn(64, 5000, dtype=torch.float64)).float()
    ifreq = Fn.phase_to_if(phase)
    ours = Fn.wrap(Fn.if_to_phase(ifreq) - phase).abs().max().item()
    naive = Fn.wrap(torch.cumsum(ifreq * math.pi, dim=-1) - phase).abs().max().item()  # float32 accumulation
    # Left: only the float32 rounding of each stored IF value (<= ~1e-7 rad per frame).
    assert ours < 1e-3
    assert naive > 5 * ours
    short = (torch.rand(64, 1000) * 2 - 1) * math.pi
    assert Fn.wrap(Fn.if_to_phase(Fn.phase_to_if(short)) - short).abs().max().item() < 2e-5


def test_if_is_diff_of_unwrapped_phase_over_pi():
    rng = np.random.default_rng(1)
    phase = rng.uniform(-np.pi, np.pi, size=(4, 50))
    ours = Fn.phase_to_if(torch.from_numpy(phase)).numpy()
    ref = np.diff(np.unwrap(phase, axis=-1), axis=-1, prepend=0.0) / np.pi
    ref[:, 0] = phase[:, 0] / np.pi
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    np.testing.assert_allclose(Fn.unwrap(torch.from_numpy(phase)).numpy(), np.unwrap(phase, axis=-1), atol=1e-10)


def test_log_magnitude_exact_inverse():
    x = torch.rand(10, 10, dtype=torch.float64) * 3
    assert torch.allclose(Fn.inv_log_magnitude(Fn.log_magnitude(x)), x, atol=1e-12)


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_mel_filterbank_matches_librosa(scale):
    librosa = pytest.importorskip("librosa")
    p = MelParams(STFTParams(16000, 1024, 256), n_mels=64, scale=scale, norm="slaney" if scale == "slaney" else None)
    ours = Fn.mel_filterbank(p)
    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=64, htk=scale == "htk",
                              norm="slaney" if scale == "slaney" else None, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-8)


def test_mel_inverse_nnls_beats_pinv_and_transpose(guitar):
    p = STFTParams(16000, 1024, 256)
    mag = Fn.stft(guitar.double(), p).abs()
    errs = {}
    for method in ("transpose", "pinv", "nnls"):
        mp = MelParams(p, n_mels=128, power=1.0, inverse=method)
        fb = torch.from_numpy(Fn.mel_filterbank(mp))
        inv = torch.from_numpy(Fn.mel_inverse_matrix(mp))
        lin = Fn.mel_unproject(Fn.mel_project(mag, fb), fb, inv, n_iter=mp.n_iter if method == "nnls" else 0)
        errs[method] = 20 * math.log10((lin - mag).norm() / mag.norm())
    assert errs["nnls"] < errs["pinv"] < errs["transpose"]
    assert errs["nnls"] < -8.0


def test_stft_rejects_bad_input():
    p = STFTParams(16000, 1024, 256)
    with pytest.raises(ParameterError, match="real floating point"):
        Fn.stft(torch.zeros(100, dtype=torch.int16), p)
    with pytest.raises(ParameterError, match="too short"):
        Fn.stft(torch.zeros(100), p)
    with pytest.raises(ParameterError, match="n_freqs=513"):
        Fn.istft(torch.zeros(100, 10, dtype=torch.complex64), p)


def test_drop_nyquist_keeps_bass_exact(guitar):
    p = STFTParams(16000, 256, 64, drop_nyquist=True)
    spec = Fn.stft(guitar, p)
    assert spec.shape[0] == 128 and p.frequencies()[-1] == pytest.approx(8000 - 62.5)
    back = Fn.istft(spec, p, length=guitar.shape[-1])
    assert ((back - guitar).norm() / guitar.norm()).item() < 1e-3  # resampled audio has ~no energy at Nyquist
    with pytest.raises(ParameterError, match="exclusive"):
        STFTParams(drop_dc=True, drop_nyquist=True)
