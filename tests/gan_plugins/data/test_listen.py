"""``loopgan data wav``: the chosen rows, their exact samples, names that lead back to the song, clear errors."""

import numpy as np
import pytest
import soundfile as sf

from gan_plugins.data.loops.listen import parse_rows, write_loop_files
from gan_plugins.data.loops.storage import LoopWriter, open_loops
from loopgan_cli import loopgan
from specrep.errors import ParameterError


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    path = tmp_path_factory.mktemp("listen") / "tracks.npy"
    rng = np.random.default_rng(0)
    with LoopWriter(path, samples=800, sample_rate=8000, created_by="prepare") as w:
        w.append(rng.uniform(-0.5, 0.5, (3, 800)), sources=["songs/My Song!.wav"] * 3, offsets=[0.0, 2.5, 5.0])
        w.append(rng.uniform(-0.5, 0.5, (2, 800)))  # loops without a source
    return path


@pytest.mark.parametrize("spec, rows", [("0-2", [0, 1, 2]), ("4,1", [4, 1]), (" 3 , 0-1", [3, 0, 1]), ("2-2", [2])])
def test_rows_spec(spec, rows):
    assert parse_rows(spec, 5).tolist() == rows


@pytest.mark.parametrize("spec, match", [("5", "outside the dataset"), ("3-1", "runs backwards"),
                                         ("a", "is not a row"), ("1,,2", "is not a row"), ("-1", "is not a row")])
def test_bad_rows_spec(spec, match):
    with pytest.raises(ParameterError, match=match):
        parse_rows(spec, 5)


def test_files_hold_the_rows_samples_and_name_their_source(tracks, tmp_path):
    data, info = open_loops(tracks)
    paths = write_loop_files(data, info, np.array([1, 4]), tmp_path)
    assert [p.name for p in paths] == ["loop_000001_My_Song_2.50s.wav", "loop_000004.wav"]
    for path, row in zip(paths, (1, 4), strict=True):
        wave, sr = sf.read(path, dtype="float32")
        assert sr == 8000
        np.testing.assert_allclose(wave, data[row], atol=1.0 / 32767)  # 16-bit WAV


def test_raw_memmap_needs_a_sample_rate(tmp_path):
    raw = tmp_path / "loops.raw"
    np.zeros((2, 100), dtype=np.float32).tofile(raw)
    data, info = open_loops(raw, shape=(2, 100), dtype="float32")
    with pytest.raises(ParameterError, match="sample rate is unknown"):
        write_loop_files(data, info, np.array([0]), tmp_path / "out")


def test_cli_writes_files_and_refuses_bad_rows_in_one_line(tracks, tmp_path, capsys):
    assert loopgan.main(["data", "wav", str(tracks), str(tmp_path / "w"), "--rows", "0-1"]) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["loop_000000_My_Song_0.00s.wav",
                                                                  "loop_000001_My_Song_2.50s.wav"]
    capsys.readouterr()
    assert loopgan.main(["data", "wav", str(tracks), str(tmp_path / "x"), "--rows", "9"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outside the dataset" in err[0]
    assert not (tmp_path / "x").exists()  # nothing written for a refused request
