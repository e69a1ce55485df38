"""Bar-aligned preparation: tempo of drum loops at 22.05/44.1/48 kHz, loops of exactly the bar length, stretching."""

import json

import numpy as np
import pytest
import soundfile as sf

from gan_plugins.data.loops.bars import stretch_slice
from gan_plugins.data.loops.prepare import prepare_folder
from gan_plugins.data.loops.storage import open_loops
from gan_plugins.data.loops.tempo import BeatGrid, beat_grid, estimate_tempo, onset_envelopes
from gan_plugins.data.procedural.generator import synthesize_loops
from loopgan_cli.loopgan import main

#: (style, tempo) of the fixture's drum loops: four bars each, tempi spread over each style's range.
TRACKS = [("house", 118), ("house", 124), ("house", 127), ("techno", 121), ("techno", 126), ("techno", 131),
          ("breakbeat", 120), ("breakbeat", 129), ("breakbeat", 135), ("electro", 119), ("electro", 125),
          ("electro", 132), ("dnb", 162), ("dnb", 170), ("dnb", 178)]
RATES = (22050, 44100, 48000)


@pytest.fixture(scope="module")
def drum_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bars") / "loops"
    root.mkdir()
    truth = {}
    for i, (style, bpm) in enumerate(TRACKS):
        rate = RATES[i % 3]
        audio, labels = synthesize_loops(1, seconds=4 * 240.0 / bpm, sample_rate=rate, seed=40 + i, styles=[style])
        assert labels[0]["bpm"] == pytest.approx(bpm) and labels[0]["whole_bars"]
        name = f"{i:02d}-{style}-{bpm}bpm-{rate}.{'flac' if i % 2 else 'wav'}"
        sf.write(root / name, audio[0], rate)
        truth[name] = float(bpm)
    (root / "readme.txt").write_text("not audio")
    sf.write(root / "drone.wav", 0.3 * np.sin(2 * np.pi * 110 * np.arange(3 * 22050) / 22050), 22050)
    return root, truth


@pytest.mark.slow  # renders 15 drum loops (module fixture): ~22 s
def test_tempo_within_two_percent_on_most_loops(drum_folder):
    root, truth = drum_folder
    right = octave = 0
    for name, bpm in truth.items():
        wave, rate = sf.read(root / name, dtype="float32")
        est = beat_grid(wave, rate).bpm
        right += abs(est / bpm - 1) < 0.02
        octave += any(abs(est * f / bpm - 1) < 0.02 for f in (0.5, 2.0))
    assert right >= 0.85 * len(truth), f"{right}/{len(truth)} within 2 % ({octave} octave errors)"


@pytest.mark.slow  # the 15-loop fixture and a prepare run
def test_prepare_bars_every_loop_is_exactly_one_bar(drum_folder, tmp_path, capsys):
    root, truth = drum_folder
    out = tmp_path / "bars.npy"
    sr, seconds = 16000, 2.0
    rc = main(["data", "prepare", str(root), str(out), "--align", "bars", "--bars", "1", "--seconds", str(seconds),
               "--sample-rate", str(sr), "--workers", "1", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "skipped readme.txt: not audio" in printed
    data, info = open_loops(out)
    assert data.shape[1] == int(seconds * sr) and info.sample_rate == sr
    meta = info.meta
    assert meta["settings"]["align"] == "bars" and meta["settings"]["bars"] == 1
    sources = [meta["source_files"][i] for i in meta["item_source"]]
    assert set(sources) <= set(truth) and len(set(sources)) >= 0.85 * len(truth)
    per_file = {}
    for src, offset, label in zip(sources, meta["item_offset_s"], meta["labels"], strict=True):
        per_file.setdefault(src, []).append((offset, label))
    right = 0
    for src, items in per_file.items():
        offsets = np.array([o for o, _ in items])
        est = items[0][1]["source_bpm"]
        assert all(lab["source_bpm"] == est for _, lab in items)
        bar = 240.0 / est
        # consecutive slices are exactly one estimated bar apart, and the loops stretch bars of that length
        np.testing.assert_allclose(np.diff(offsets), bar, atol=1e-5)
        assert items[0][1]["stretch"] == pytest.approx(seconds / bar, rel=1e-4)
        assert offsets[0] >= 0 and offsets[-1] + bar <= 4 * 240.0 / truth[src] + 1e-6
        right += abs(est / truth[src] - 1) < 0.02
    assert right >= 0.85 * len(truth)
    assert all(lab["bpm"] == pytest.approx(120.0) and lab["bars"] == 1 for lab in meta["labels"])
    assert main(["data", "info", str(out)]) == 0
    estimates = [lab["source_bpm"] for lab in meta["labels"]]
    lo, hi = min(estimates), max(estimates)
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("source tempo (estimated): ")][0]
    est_lo, est_hi = (float(v) for v in line.split(": ")[1].split(" BPM")[0].split("-"))
    assert est_lo == pytest.approx(lo, abs=0.05) and est_hi == pytest.approx(hi, abs=0.05)


def test_prepare_bars_bad_input_one_line_no_traceback(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "drone.wav").write_bytes(b"")
    sf.write(folder / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 16000), 16000)
    rc = main(["data", "prepare", str(folder), str(tmp_path / "x.npy"), "--align", "bars", "--seconds", "2",
               "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 2 and "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "skipped tone.wav: no beat" in captured.out and "skipped drone.wav: empty" in captured.out
    assert not (tmp_path / "x.npy").exists()
    rc = main(["data", "prepare", str(folder), str(tmp_path / "x.npy"), "--align", "bars", "--bars", "0",
               "--seconds", "2", "--no-progress"])
    assert rc == 2 and "bars=0" in capsys.readouterr().err


def test_tempo_exact_on_a_click_track_and_octave_from_the_comb():
    sr = 22050
    for bpm in (96.0, 123.0, 140.0, 174.0):
        beat = 60.0 / bpm
        t = np.arange(int(16 * beat * sr)) / sr
        clicks = np.zeros_like(t)
        for k in range(16):
            i = int(round(k * beat * sr))
            n = min(400, clicks.size - i)
            clicks[i:i + n] += np.exp(-np.arange(n) / 60.0) * np.sin(2 * np.pi * 1000 * np.arange(n) / sr)
        onset, _, _ = onset_envelopes(clicks, sr)
        est, strength = estimate_tempo(onset, sr)
        assert est == pytest.approx(bpm, rel=0.005) and strength > 0.5


def test_stretch_slice_exact_length_and_timing():
    sr = 16000
    wave = np.zeros(3 * sr)
    marks = [int(0.5 * sr), int(1.0 * sr), int(1.4 * sr)]
    wave[marks] = 1.0
    out = stretch_slice(wave, 0.5 * sr, 1.0 * sr, 2 * sr)   # one second -> two: positions double
    assert out.shape == (2 * sr,) and out.dtype == np.float32
    peaks = np.sort(np.argsort(np.abs(out))[-3:])
    np.testing.assert_allclose(peaks, [0, sr, int(1.8 * sr)], atol=2)
    # fractional start and length still give exactly the requested samples
    assert stretch_slice(wave, 1234.56, 31999.3, 32000).shape == (32000,)


def test_bar_starts_whole_slices_only():
    grid = BeatGrid(bpm=120.0, downbeat_s=0.25)
    np.testing.assert_allclose(grid.bar_starts(8.3), [0.25, 2.25, 4.25, 6.25])
    np.testing.assert_allclose(grid.bar_starts(8.3, bars=2), [0.25, 4.25])
    assert grid.bar_starts(2.0).size == 0


@pytest.mark.slow  # the 15-loop fixture and a prepare run
def test_sidecar_round_trips_labels(drum_folder, tmp_path):
    root, _ = drum_folder
    out = tmp_path / "two.npy"
    report = prepare_folder(root, out, seconds=2.0, sample_rate=8000, align="bars", bars=2, workers=1,
                            progress=False)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert report.loops == meta["n"] and all(lab["bars"] == 2 for lab in meta["labels"])
    assert all(lab["bpm"] == pytest.approx(240.0) for lab in meta["labels"])
    src, off = np.array(meta["item_source"]), np.array(meta["item_offset_s"])
    for i in set(src.tolist()):
        rows = np.flatnonzero(src == i)
        bpm = meta["labels"][rows[0]]["source_bpm"]
        np.testing.assert_allclose(np.diff(off[rows]), 2 * 240.0 / bpm, atol=1e-5)   # two bars per loop
        assert meta["labels"][rows[0]]["stretch"] == pytest.approx(2.0 / (2 * 240.0 / bpm), rel=1e-4)
