import math

import numpy as np
import pytest
import torch

import specrep
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


def _wrap_unit(x):
    """Map to [-1, 1) (a phase in units of pi)."""
    return (x + 1.0) % 2.0 - 1.0


@pytest.mark.parametrize("n_fft,hop,freq", [
    (64, 1, 1234.5),  # hop 1: no wrapping, IF = f / (sr / 2) itself
    (64, 1, 7000.0),
    (512, 128, 21 * 16000 / 512),  # bin-centred, bin 21: 10.5 half-turns per hop -> 0.5
    (512, 128, 23 * 16000 / 512),  # bin 23: 11.5 -> -0.5
    (512, 128, 1060.0),  # off-bin: 2 f hop / sr = 16.96 -> 0.96
    (1024, 256, 3333.3),  # 106.6656 -> 0.6656
])
@pytest.mark.parametrize("via", ["function", "chain"])
def test_if_of_a_pure_sinusoid_is_its_frequency_over_nyquist(n_fft, hop, freq, via):
    # A sinusoid of f Hz advances its phase by 2 pi f hop / sr per hop in every bin it dominates; GANSynth's IF is
    # that advance, wrapped, over pi: (f / (sr / 2)) * hop, wrapped to [-1, 1).
    sr = 16000
    t = torch.arange(6000, dtype=torch.float64) / sr
    wave = 0.8 * torch.cos(2 * math.pi * freq * t + 0.3)
    if via == "function":
        p = STFTParams(sr, n_fft, hop)
        ifreq = Fn.phase_to_if(torch.angle(Fn.stft(wave, p)))
    else:
        chain = specrep.chain("mag-if", sample_rate=sr, n_fft=n_fft, hop_length=hop).double()
        ifreq = chain(wave)[1]
    expected = _wrap_unit(freq / (sr / 2) * hop)
    if hop == 1:
        assert expected == pytest.approx(freq / 8000.0)
    peak = round(freq * n_fft / sr)
    edge = n_fft // (2 * hop) + 1  # frames that see the reflect padding are not the pure tone
    region = ifreq[peak - 1: peak + 2, edge: ifreq.shape[-1] - edge]
    assert region.numel() >= 3 * 10
    got = _wrap_unit(region - expected) + expected  # compare on the circle (0.999 vs -0.999 near the wrap)
    torch.testing.assert_close(got, torch.full_like(region, expected), rtol=0, atol=1e-4)
    assert ifreq.min() >= -1.0 and ifreq.max() <= 1.0
    assert ifreq[:, 1:].min() >= -1.0 and ifreq[:, 1:].max() < 1.0  # wrapped steps: [-1, 1)


def test_if_values_lie_in_minus_one_one():
    torch.manual_seed(0)
    wave = torch.randn(8000, dtype=torch.float64)
    for n_fft, hop in ((256, 64), (512, 512), (64, 1)):
        ifreq = Fn.phase_to_if(torch.angle(Fn.stft(wave, STFTParams(16000, n_fft, hop))))
        # frame 0 holds the phase itself / pi (angle in (-pi, pi]); later frames the wrapped step, in [-1, 1)
        assert ifreq.min().item() >= -1.0 and ifreq.max().item() <= 1.0
        assert ifreq[:, 1:].min().item() >= -1.0 and ifreq[:, 1:].max().item() < 1.0
        # and the steps really are spread over the range (not squeezed: / pi, not / 2 pi)
        assert ifreq[:, 1:].abs().max().item() > 0.95
    # hand cases: a step of 3 pi / 2 wraps to -pi / 2 -> -0.5; a step of -pi wraps to -pi -> -1
    phase = torch.tensor([[0.0, 1.5 * math.pi, 0.5 * math.pi]], dtype=torch.float64)
    torch.testing.assert_close(Fn.phase_to_if(phase), torch.tensor([[0.0, -0.5, -1.0]], dtype=torch.float64))


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
        lin = Fn.mel_unproject(Fn.mel_project(mag, fb), fb, inv, nnls_iter=mp.nnls_iter if method == "nnls" else 0)
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
