import numpy as np
import pytest
import soundfile as sf

from specrep import io
from specrep.errors import AudioFileError, ParameterError


@pytest.mark.parametrize("ext,rate,channels", [(".wav", 44100, 2), (".flac", 22050, 1), (".ogg", 48000, 2)])
def test_load_formats_mix_and_resample(tmp_path, ext, rate, channels):
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / f"x{ext}"
    sf.write(path, data, rate)
    wave, sr = io.load(path, sample_rate=16000)
    assert sr == 16000 and wave.dtype == np.float32 and wave.ndim == 1
    assert wave.shape[0] == 16000
    assert np.sqrt(np.mean(wave[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)
    multi, _ = io.load(path, mono=False)
    assert multi.shape == (channels, rate)


def test_bad_files_raise_one_line_errors(tmp_path):
    cases = {"missing.wav": None, "empty.wav": b"", "text.wav": b"not audio at all"}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(AudioFileError) as err:
            io.load(tmp_path / name)
        assert "\n" not in str(err.value) and name in str(err.value)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        io.load(nan)


def test_save_round_trip_and_refuses_nan(tmp_path):
    wave = (0.3 * np.sin(np.linspace(0, 100, 8000))).astype(np.float32)
    path = io.save(tmp_path / "out" / "a.wav", wave, 8000, subtype="FLOAT")
    back, sr = io.load(path)
    assert sr == 8000 and np.allclose(back, wave, atol=1e-7)
    assert not list((tmp_path / "out").glob("*.part"))
    with pytest.raises(ParameterError, match="NaN"):
        io.save(tmp_path / "b.wav", np.array([np.nan], dtype=np.float32), 8000)
    with pytest.raises(ParameterError, match="extension"):
        io.save(tmp_path / "b.xyz", wave, 8000)


def test_examples_resolve():
    assert io.resolve("example:voice").endswith("voice.wav")
    with pytest.raises(ParameterError, match="not one of"):
        io.resolve("example:nope")
