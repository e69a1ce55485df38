"""Building a dataset from a folder: mixed formats/rates/channels, bad files named, loops cut and resampled."""

import json

import numpy as np
import pytest
import soundfile as sf

from gan_plugins.data.loops.prepare import NoUsableAudioError, classify, prepare_folder, segment
from gan_plugins.data.loops.storage import open_loops, sidecar_path
from gan_plugins.data.procedural.generator import synthesize_loops
from loopgan_cli.loopgan import main
from specrep.errors import AudioFileError, ParameterError
from specrep.io import load

SR = 16000


def _loop(seconds, sample_rate, seed, stereo=False):
    audio, _ = synthesize_loops(2 if stereo else 1, seconds=seconds, sample_rate=sample_rate, seed=seed)
    return audio.T if stereo else audio[0]  # soundfile wants (frames, channels)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare") / "drums"
    (root / "sub" / "deeper").mkdir(parents=True)
    good = {
        "a.wav": (_loop(2.5, 44100, 1, stereo=True), 44100, {}),
        "sub/b.flac": (_loop(3.0, 48000, 2), 48000, {}),
        "sub/deeper/c.ogg": (_loop(2.0, 22050, 3, stereo=True), 22050, {"format": "OGG", "subtype": "VORBIS"}),
        "d.aiff": (_loop(1.2, 44100, 4), 44100, {}),
    }
    for name, (data, rate, kw) in good.items():
        sf.write(root / name, data, rate, **kw)
    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    (root / "sub" / "empty.flac").write_bytes(b"")
    nan = _loop(1.5, SR, 5)
    nan[100] = np.nan
    sf.write(root / "nan.wav", nan, SR, subtype="FLOAT")
    sf.write(root / "short.wav", _loop(1.0, SR, 6)[:3200], SR)  # 0.2 s
    sf.write(root / "silence.wav", np.zeros(2 * SR, np.float32), SR)
    (root / "notes.txt").write_text("kick on one, snare on two\n")
    expected_skips = {"corrupt.wav": "corrupt", "sub/empty.flac": "empty", "nan.wav": "nan/inf",
                      "short.wav": "too short", "silence.wav": "silent", "notes.txt": "not audio"}
    return root, list(good), expected_skips


def test_every_good_file_kept_every_bad_one_named(folder, tmp_path):
    root, good, expected_skips = folder
    out = tmp_path / "loops.npy"
    report = prepare_folder(root, out, seconds=1.0, sample_rate=SR, workers=2, progress=False)
    assert report.files == 10 and report.used == 4
    assert {s.path: s.reason for s in report.skipped} == expected_skips
    # a: 2.5 s -> 2 + padded half; b: 3; c: 2; d: 1.2 s -> 1 (a 0.2 s tail is under min_fill and dropped)
    assert report.loops == 3 + 3 + 2 + 1
    data, info = open_loops(out)
    assert data.shape == (9, SR) and info.sample_rate == SR
    meta = info.meta
    sources = [meta["source_files"][i] for i in meta["item_source"]]
    assert sorted(set(sources)) == sorted(good)
    assert sources == sorted(sources, key=lambda s: sorted(good).index(s))  # in sorted file order
    assert meta["item_offset_s"][sources.index("sub/b.flac"):][:3] == [0.0, 1.0, 2.0]
    assert {d["path"] for d in meta["settings"]["skipped"]} == set(expected_skips)
    # content: the loops are the resampled mono mix, cut at whole seconds
    b, _ = load(root / "sub" / "b.flac", sample_rate=SR)
    first_b = sources.index("sub/b.flac")
    np.testing.assert_allclose(data[first_b + 1], b[SR:2 * SR], atol=1e-6)
    a = np.asarray(data[sources.index("a.wav") + 2])
    assert np.all(a[SR // 2 + 10:] == 0) and np.abs(a[: SR // 2]).max() > 0.05  # the padded tail


def test_drop_remainder_and_worker_count_do_not_change_content(folder, tmp_path):
    root, _, _ = folder
    one = tmp_path / "one.npy"
    report = prepare_folder(root, one, seconds=1.0, remainder="drop", workers=1, progress=False)
    assert report.loops == 2 + 3 + 2 + 1
    again = tmp_path / "two.npy"
    prepare_folder(root, again, seconds=1.0, remainder="drop", workers=2, progress=False)
    np.testing.assert_array_equal(open_loops(one)[0], open_loops(again)[0])


def test_nothing_usable_writes_nothing_and_names_files(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "x.txt").write_text("no audio here")
    (root / "y.wav").write_bytes(b"")
    out = tmp_path / "o.npy"
    with pytest.raises(NoUsableAudioError, match="none of 2 files") as exc_info:
        prepare_folder(root, out, seconds=1.0, workers=1, progress=False)
    assert {s.reason for s in exc_info.value.report.skipped} == {"not audio", "empty"}
    assert not out.exists() and not sidecar_path(out).exists() and not list(tmp_path.glob("o.*"))


def test_segment_pads_drops_and_skips_silence():
    wave = np.concatenate([np.full(100, 0.5), np.zeros(100), np.full(60, 0.5)]).astype(np.float32)
    loops, starts, silent = segment(wave, 100, remainder="pad", min_fill=0.5)
    assert loops.shape == (2, 100) and starts.tolist() == [0, 200] and silent == 1
    np.testing.assert_array_equal(loops[1, 60:], 0.0)
    loops, starts, _ = segment(wave, 100, remainder="drop")
    assert starts.tolist() == [0]
    loops, starts, _ = segment(wave, 100, remainder="pad", min_fill=0.7)  # 60 % tail: not worth a loop
    assert starts.tolist() == [0]
    with pytest.raises(ParameterError, match="remainder"):
        segment(wave, 100, remainder="loop")


def test_classify_tells_corrupt_from_not_audio(tmp_path):
    fake = tmp_path / "f.wav"
    fake.write_bytes(b"RIFF0000garbage")
    assert classify(fake, AudioFileError(f"{fake}: not a readable audio file (x)"))[0] == "corrupt"
    text = tmp_path / "t.wav"
    text.write_bytes(b"hello")
    reason, detail = classify(text, AudioFileError(f"{text}: not a readable audio file (Format not recognised)"))
    assert reason == "not audio" and detail.startswith("not a readable")


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="not a directory"):
        prepare_folder(tmp_path / "missing", tmp_path / "o.npy", seconds=1.0)
    with pytest.raises(ParameterError, match="remainder"):
        prepare_folder(tmp_path, tmp_path / "o.npy", seconds=1.0, remainder="wrap")


def test_cli_prepare_exit_0_and_summary_names_skipped_files(folder, tmp_path, capsys):
    root, _, expected_skips = folder
    out = tmp_path / "cli.npy"
    assert main(["data", "prepare", str(root), str(out), "--seconds", "1", "--sample-rate", "16000",
                 "--workers", "1", "--dtype", "int16", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "10 files: 4 used -> 9 loops" in text and "6 skipped" in text
    for path, reason in expected_skips.items():
        assert f"skipped {path}: {reason}" in text
    assert json.loads(sidecar_path(out).read_text())["dtype"] == "int16"


def test_cli_prepare_nothing_usable_is_a_one_line_error(tmp_path, capsys):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "x.txt").write_text("no audio here")
    assert main(["data", "prepare", str(root), str(tmp_path / "o.npy"), "--seconds", "1", "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "skipped x.txt: not audio" in captured.out
    assert len(captured.err.strip().splitlines()) == 1 and "none of 1 files" in captured.err


def test_real_recordings_in_mixed_formats(tmp_path):
    # Real recordings bundled with audioflux (32 kHz mono: guitar chords with a metronome, guitar, voice),
    # re-encoded at other rates, channel counts and formats, beside bad files.
    from specrep.io import example_path, resample

    root = tmp_path / "real"
    (root / "x").mkdir(parents=True)
    originals = {}
    for name, out, rate, stereo, kw in [
        ("chord_metronome2", "metronome.wav", 44100, True, {}),
        ("guitar_chord1", "x/guitar.flac", 48000, False, {}),
        ("voice", "x/voice.ogg", 22050, True, {"format": "OGG", "subtype": "VORBIS"}),
    ]:
        wave, sr = load(example_path(name))
        originals[out] = load(example_path(name), sample_rate=SR)[0]
        moved = resample(wave, sr, rate)
        data = np.stack([moved, 0.8 * moved], axis=1) if stereo else moved
        sf.write(root / out, data, rate, **kw)
    (root / "broken.flac").write_bytes(b"fLaC" + bytes(300))
    (root / "x" / "nothing.wav").write_bytes(b"")
    report = prepare_folder(root, tmp_path / "real.npy", seconds=2.0, workers=2, progress=False)
    assert {s.path: s.reason for s in report.skipped} == {"broken.flac": "corrupt", "x/nothing.wav": "empty"}
    # 9.84 s -> 4 loops + a 1.84 s tail padded; 2.6 s -> 1 (0.6 s tail dropped); 8.06 s -> 4
    assert report.used == 3 and report.loops == 5 + 1 + 4
    data, info = open_loops(tmp_path / "real.npy")
    sources = [info.meta["source_files"][i] for i in info.meta["item_source"]]
    first = sources.index("metronome.wav")
    expected = 0.9 * originals["metronome.wav"][2 * SR:4 * SR]  # stereo (1, 0.8) mixed to mono = 0.9 x
    got = np.asarray(data[first + 1])
    assert np.corrcoef(got, expected)[0, 1] > 0.99
    np.testing.assert_allclose(np.sqrt(np.mean(got ** 2)), np.sqrt(np.mean(expected ** 2)), rtol=0.02)


def test_normalize_peak_scales_each_file_to_full_scale(tmp_path):
    folder = tmp_path / "hot"
    folder.mkdir()
    loud = _loop(2.0, SR, 11)
    loud = 2.5 * loud / np.abs(loud).max()             # a float render that exceeds full scale
    quiet = 0.1 * _loop(2.0, SR, 12) / np.abs(_loop(2.0, SR, 12)).max()
    sf.write(folder / "loud.wav", loud, SR, subtype="FLOAT")
    sf.write(folder / "quiet.wav", quiet, SR, subtype="FLOAT")
    kept = prepare_folder(folder, tmp_path / "kept.npy", seconds=1.0, sample_rate=SR, workers=1, progress=False)
    data, _ = open_loops(kept.out)
    assert np.abs(data[:2]).max() == pytest.approx(2.5, rel=1e-3)  # default: levels as decoded
    norm = prepare_folder(folder, tmp_path / "norm.npy", seconds=1.0, sample_rate=SR, workers=1, progress=False,
                          normalize="peak")
    data, info = open_loops(norm.out)
    peaks = np.abs(data).max(axis=1)
    assert max(peaks[:2]) == pytest.approx(1.0, rel=1e-6) and max(peaks[2:]) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(data[:2], np.asarray(open_loops(kept.out)[0][:2]) / 2.5, rtol=1e-5, atol=1e-6)
    assert info.meta["settings"]["normalize"] == "peak"
    with pytest.raises(ParameterError, match="normalize"):
        prepare_folder(folder, tmp_path / "x.npy", seconds=1.0, normalize="rms", progress=False)
