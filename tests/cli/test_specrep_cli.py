import json

import numpy as np
import pytest
import soundfile as sf

from loopgan_cli.specrep_cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # ~4.5 s on a shared 2-core CPU
def test_roundtrip_json_real_file(tmp_path, capsys):
    wav, png = tmp_path / "back.wav", tmp_path / "rt.png"
    code, out, err = run(capsys, "roundtrip", "example:chord_metronome1", "--chain", "mag-if", "--sample-rate", "16000",
                         "-o", str(wav), "--plot", str(png), "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("chain", "sample_rate", "seconds", "snr_db", "spectral_convergence_db", "elapsed_s", "realtime_factor"):
        assert key in result
    assert result["chain"] == "mag-if" and result["sample_rate"] == 16000
    assert result["snr_db"] > 80.0
    assert wav.exists() and png.stat().st_size > 10_000
    assert sf.info(wav).samplerate == 16000


def test_roundtrip_magnitude_only_chain(capsys):
    code, out, _ = run(capsys, "roundtrip", "example:guitar_chord1", "--chain", "mag-gl", "--sample-rate", "16000",
                       "--n-iter", "16", "--json")
    assert code == 0
    assert json.loads(out)["spectral_convergence_db"] < -18.0


@pytest.mark.slow  # ~15 s on a shared 2-core CPU
def test_analyze_and_chains(tmp_path, capsys):
    png = tmp_path / "an.png"
    code, out, _ = run(capsys, "analyze", "example:voice", "--plot", str(png), "--json")
    assert code == 0 and png.exists()
    assert set(json.loads(out)["descriptors"]) >= {"loudness", "centroid", "flatness"}
    code, out, _ = run(capsys, "chains", "--json")
    assert [c["name"] for c in json.loads(out)["chains"]][:2] == ["mag-gl", "mag-if"]


def _bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio")
    sf.write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32), 16000, subtype="FLOAT")
    return {"missing": tmp_path / "missing.wav", "empty": tmp_path / "empty.wav", "corrupt": tmp_path / "text.wav",
            "nan": tmp_path / "nan.wav", "directory": tmp_path}


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "nan", "directory"])
def test_bad_files_one_line_nonzero(tmp_path, capsys, case):
    out_wav = tmp_path / "never.wav"
    code, out, err = run(capsys, "roundtrip", str(_bad_files(tmp_path)[case]), "-o", str(out_wav))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("specrep-cli: error:")
    assert "Traceback" not in err and not out_wav.exists()


@pytest.mark.parametrize("args,match", [(["--n-fft", "1000"], "power of two"), (["--chain", "nope"], "not one of"),
                                        (["--hop-length", "0"], "hop_length=0"), (["--n-iter", "-3"], "n_iter=-3")])
def test_bad_parameters_one_line(capsys, args, match):
    code, _, err = run(capsys, "roundtrip", "example:voice", *args)
    assert code == 2 and match in err and err.count("\n") == 1
