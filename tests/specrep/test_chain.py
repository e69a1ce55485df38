import pytest
import torch

import specrep
from specrep import metrics
from specrep.errors import ParameterError


def rel_rms(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_available_chains():
    assert specrep.available_chains() == ["mag-gl", "mag-if", "mel-gl", "mel-if", "gansynth"]


@pytest.mark.parametrize("name", ["guitar_chord1", "voice", "chord_metronome1"])
def test_mag_if_round_trip_float32_and_float64(recordings, name):
    wave = recordings[name]
    chain = specrep.chain("mag-if", sample_rate=16000, n_fft=1024, hop_length=256)
    back = chain.inverse(chain(wave), length=wave.shape[-1])
    assert back.dtype == torch.float32
    assert rel_rms(back, wave) <= 1e-4  # whole signal: no edge trimming
    w64 = wave.double()
    back64 = chain.double().inverse(chain.double()(w64), length=w64.shape[-1])
    assert rel_rms(back64, w64) <= 1e-8


def test_feature_shapes_and_channel0_is_log_magnitude(guitar):
    shapes = {"mag-gl": (1, 513), "mag-if": (2, 513), "mel-gl": (1, 128), "mel-if": (2, 128)}
    for name, (c, f) in shapes.items():
        chain = specrep.chain(name)
        feats = chain(guitar)
        assert feats.shape == (c, f, 1 + guitar.shape[-1] // 256)
        assert chain.feature_shape(guitar.shape[-1]) == tuple(feats.shape)
        assert chain.n_channels == c
    lin = specrep.chain("mag-if")(guitar)[0]
    mag = specrep.functional.stft(guitar, specrep.STFTParams()).abs()
    assert torch.allclose(lin, torch.log(mag + 1e-6), atol=1e-5)


def test_gansynth_preset_layout_and_range():
    chain = specrep.chain("gansynth")
    torch.manual_seed(0)
    wave = 0.3 * torch.randn(2, 64000)
    feats = chain(wave)
    assert feats.shape == (2, 2, 1024, 128)
    assert feats.abs().max() <= 1.0


@pytest.mark.parametrize("name", ["mag-gl", "mag-if", "mel-gl", "mel-if", "gansynth"])
def test_batch_consistency(recordings, name):
    length = 16000
    batch = torch.stack([w[:length] for w in recordings.values()])
    chain = specrep.chain(name, n_iter=4) if name.endswith("gl") else specrep.chain(name)
    feats = chain(batch)
    for i in range(batch.shape[0]):
        assert torch.allclose(feats[i], chain(batch[i]), atol=1e-4)
    waves = chain.inverse(feats, length=length)
    assert waves.shape == batch.shape
    for i in range(batch.shape[0]):
        assert torch.allclose(waves[i], chain.inverse(feats[i], length=length), atol=1e-4)


def test_leading_dimensions_are_preserved():
    chain = specrep.chain("mag-if", n_fft=256, hop_length=64)
    x = torch.randn(2, 3, 4000)
    feats = chain(x)
    assert feats.shape == (2, 3, 2, 129, 63)
    assert chain.inverse(feats, length=4000).shape == x.shape


def test_mel_if_and_gansynth_inverse_quality(guitar):
    # Mel projection loses detail; the round trip is measured, not exact.
    for name, bound in (("mel-if", -5.0), ("gansynth", -10.0)):
        chain = specrep.chain(name)
        wave = torch.nn.functional.pad(guitar, (0, 64000 - guitar.shape[-1])) if name == "gansynth" else guitar
        back = chain.inverse(chain(wave), length=wave.shape[-1])
        sc = metrics.spectral_convergence_db(wave, back, specrep.STFTParams(16000, 1024, 256)).item()
        assert sc < bound, (name, sc)


def test_normalize_fit_and_exact_inverse(guitar):
    base = specrep.chain("mag-if")
    feats = base(guitar)
    norm = specrep.Normalize.fit(feats, margin=0.8)
    y = norm(feats)
    assert y.amin(dim=(-2, -1)).tolist() == pytest.approx([-0.8, -0.8], abs=1e-5)
    assert y.amax(dim=(-2, -1)).tolist() == pytest.approx([0.8, 0.8], abs=1e-5)
    assert torch.allclose(norm.inverse(y), feats, atol=1e-4)
    chain = base.append(norm)
    assert rel_rms(chain.inverse(chain(guitar), length=guitar.shape[-1]), guitar) <= 1e-4
    state = chain.state_dict()
    assert "blocks.4.scale" in state  # fitted stats travel with checkpoints


def test_custom_chain_composition(guitar):
    p = specrep.STFTParams(16000, 512, 128)
    chain = specrep.Chain(specrep.STFT(p), specrep.Polar(), specrep.LogMagnitude(), specrep.InstantaneousFrequency())
    assert rel_rms(chain.inverse(chain(guitar), length=guitar.shape[-1]), guitar) <= 1e-4


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"n_fft": 1000}, "n_fft=1000 must be a power of two"),
        ({"hop_length": 0}, "hop_length=0 must be a positive integer"),
        ({"hop_length": 2048}, "hop_length=2048 must be <= win_length"),
        ({"window": "kaiser"}, "window='kaiser' is not one of"),
        ({"n_iter": -1}, "n_iter=-1"),
        ({"momentum": 1.5}, "momentum=1.5"),
        ({"init": "magic"}, "init='magic'"),
        ({"sample_rate": 0}, "sample_rate=0"),
    ],
)
def test_parameter_errors_name_the_value(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        specrep.chain("mag-gl", **kwargs)


def test_unknown_chain_and_unused_override():
    with pytest.raises(ParameterError, match="is not one of"):
        specrep.chain("wavelet")
    with pytest.raises(ParameterError, match="does not take n_mels"):
        specrep.chain("mag-if", n_mels=64)
    with pytest.raises(ParameterError, match="f_max"):
        specrep.chain("mel-if", f_max=9000.0)
    assert issubclass(ParameterError, ValueError)


def test_inverse_is_stateless(guitar):
    chain = specrep.chain("mag-if")
    feats = chain(guitar)
    fresh = specrep.chain("mag-if")  # never ran forward
    assert torch.allclose(fresh.inverse(feats, length=guitar.shape[-1]), guitar, atol=1e-4)
