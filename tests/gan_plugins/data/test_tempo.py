"""Downbeat estimation against a known downbeat: hand-built envelopes (exact), synthetic loops whose chords change on
the one (beat index exact, time within 20 ms), and procedural loops with a bar-wise chord progression added."""

import numpy as np
import pytest

from gan_plugins.data.loops.tempo import beat_grid, estimate_downbeat, refine_tempo
from gan_plugins.data.procedural.generator import synthesize_loops

#: Three-note chords (Hz), one per bar, cycling: every bar line is a spectral change, no beat inside a bar is.
CHORDS = [(220.0, 277.2, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7), (146.8, 185.0, 220.0)]
#: What estimate_downbeat adds back for the flux peaking before the onset (frames).
LEAD_FRAMES = 0.75


def _envelopes(frames: int, phase: int, period: int, down_beat: int, beats_per_bar: int, seed: int = 0):
    """Onset impulses on every beat ``phase + k * period``; log bands constant within each bar, a new random
    spectrum from each bar line (beat ``down_beat`` of the grid, then every ``beats_per_bar`` beats)."""
    onset = np.zeros(frames)
    onset[phase::period] = 1.0
    first_line = phase + down_beat * period
    bar = (np.arange(frames) - first_line) // (beats_per_bar * period)   # -1 before the first bar line
    table = np.random.default_rng(seed).normal(size=(int(bar.max()) + 2, 12))
    return onset, table[bar + 1].T


@pytest.mark.parametrize("beats_per_bar", [3, 4])
@pytest.mark.parametrize("phase", [0, 7, 29])
def test_downbeat_of_hand_built_envelopes_is_exact(phase, beats_per_bar):
    fps, period = 62.5, 30                     # 16 kHz, hop 256; 125 BPM = 30 frames a beat
    bpm = 60.0 * fps / period
    for down_beat in range(beats_per_bar):
        onset, logbands = _envelopes(40 * period, phase, period, down_beat, beats_per_bar, seed=down_beat)
        got = estimate_downbeat(onset, logbands, fps, bpm, beats_per_bar=beats_per_bar)
        want = ((phase + down_beat * period + LEAD_FRAMES) % (beats_per_bar * period)) / fps
        assert got == pytest.approx(want, abs=1e-9), (phase, down_beat)


def test_short_loops_fall_back_to_beat_changes_and_beat_0_has_no_past():
    # 7 beats: no candidate has a bar on both sides of a bar line, so the beat-to-beat change decides. Grid beat 0
    # is the bar line (a change of 1 at beat 4; beat 0 has no previous beat), beat 2 a weaker change of 0.8 at beats
    # 2 and 6: beat 0 must win, 1 > 0.8. Counting beat 0's missing past as a change of 0 would average it to 1/2.
    fps, period = 62.5, 30
    per_beat = np.array([0.0, 0.0, 0.8, 0.8, 1.8, 1.8, 2.6])
    onset = np.zeros(7 * period + 1)
    onset[::period] = 1.0
    logbands = np.repeat(np.r_[per_beat, per_beat[-1]], [period] * 7 + [1])[None].repeat(5, 0)
    got = estimate_downbeat(onset, logbands, fps, 60.0 * fps / period)
    assert got == pytest.approx(LEAD_FRAMES / fps, abs=1e-9)


@pytest.mark.parametrize("down_beat", range(4))
def test_a_grid_locked_to_the_off_beat_still_finds_the_bar_line(down_beat):
    # Off-beat hats stronger than the beats: the onset grid locks to the off-beat (phase = half a beat), but the
    # bars change on a beat. The half-beat candidates must put the downbeat back on the beat of the bar line.
    fps, period = 62.5, 30
    frames = 48 * period
    onset = np.zeros(frames)
    onset[0::period] = 0.5
    onset[period // 2::period] = 1.0
    first_line = down_beat * period
    bar = (np.arange(frames) - first_line) // (4 * period)
    logbands = np.random.default_rng(down_beat).normal(size=(int(bar.max()) + 2, 12))[bar + 1].T
    got = estimate_downbeat(onset, logbands, fps, 60.0 * fps / period)
    assert got == pytest.approx((first_line + LEAD_FRAMES) / fps, abs=1e-9)


def test_a_tempo_estimated_at_half_still_cuts_on_bar_lines():
    # The song's bar is 4 beats of 20 frames and its parts change every bar; the grid is given at half the tempo (a
    # "beat" of 40 frames), so every other song beat is between grid beats. The downbeat must be a song bar line.
    fps, period = 62.5, 20
    frames = 64 * period
    onset = np.zeros(frames)
    onset[::period] = 1.0
    first_line = 3 * period
    bar = (np.arange(frames) - first_line) // (4 * period)
    logbands = np.random.default_rng(5).normal(size=(int(bar.max()) + 2, 12))[bar + 1].T
    got = estimate_downbeat(onset, logbands, fps, 60.0 * fps / (2 * period))
    frame = got * fps - LEAD_FRAMES
    assert (frame - first_line) % (4 * period) == pytest.approx(0.0, abs=1e-6)


def test_refined_tempo_keeps_the_last_bars_of_a_long_track_on_the_grid():
    # A click every beat at 143.37 BPM for 200 s (478 beats). The comb lands within its 0.1 % grid; cutting bars
    # on that tempo would drift by up to 0.1 % * 200 s = 0.2 s at the end. The refined tempo is within 0.01 % and
    # its grid phase on the first click (phase step 0.25 frame).
    fps, bpm, seconds = 62.5, 143.37, 200.0
    period = 60.0 * fps / bpm
    onset = np.zeros(int(seconds * fps))
    for k in np.arange(0.0, onset.size - 1, period):
        i = int(k)
        onset[i] += 1.0 - (k - i)
        onset[i + 1] += k - i
    got_bpm, phase = refine_tempo(onset, fps, bpm * 1.003)
    assert got_bpm == pytest.approx(bpm, rel=1e-4)
    last_beat = phase + period * (int((onset.size - 2 - phase) / (60.0 * fps / got_bpm)))
    beats = int(round((last_beat - phase) / period))
    assert abs(phase + beats * 60.0 * fps / got_bpm - beats * period) < 0.02 * fps   # within 20 ms at the end
    assert phase == pytest.approx(0.0, abs=0.26)


def _chord_loop(bpm: float, sr: int, start_beat: int, lead_s: float, bars: int = 5) -> np.ndarray:
    """A kick on every beat and a held chord changing every bar, cut to start ``lead_s`` after beat
    ``start_beat`` of the first bar: its first downbeat is at ``(4 - start_beat) % 4`` beats minus ``lead_s``."""
    beat = 60.0 / bpm
    n = int(round(bars * 4 * beat * sr))
    t = np.arange(n) / sr
    x = np.zeros(n)
    for b in range(bars * 4):
        i = int(round(b * beat * sr))
        tt = np.arange(min(int(0.15 * sr), n - i)) / sr
        x[i:i + tt.size] += 0.8 * np.exp(-tt / 0.04) * np.sin(2 * np.pi * (50 + 100 * np.exp(-tt / 0.01)) * tt)
    for bar in range(bars):
        i, j = int(round(bar * 4 * beat * sr)), int(round((bar + 1) * 4 * beat * sr))
        for f in CHORDS[bar % 4]:
            x[i:j] += 0.1 * np.sin(2 * np.pi * f * t[i:j])
    return x[int(round((start_beat * beat + lead_s) * sr)):].astype(np.float32)


def _error_s(est: float, truth: float, bar: float) -> float:
    """Signed circular difference of two times in a bar."""
    return (est - truth + bar / 2) % bar - bar / 2


@pytest.mark.parametrize("sr, bpm", [(16000, 100.0), (16000, 174.0), (22050, 128.0)])
def test_beat_grid_finds_the_bar_line_of_a_chord_loop_at_every_rotation(sr, bpm):
    beat = 60.0 / bpm
    for start_beat in range(4):
        for lead in (0.0, 0.1 * beat):          # on a beat, and a tenth of a beat into it
            grid = beat_grid(_chord_loop(bpm, sr, start_beat, lead), sr)
            assert grid.bpm == pytest.approx(bpm, rel=0.005) and grid.beats_per_bar == 4
            truth = (((4 - start_beat) % 4) * beat - lead) % grid.bar_s
            assert 0.0 <= grid.downbeat_s < grid.bar_s
            # the right beat of the bar, and on it within 20 ms (measured: 1-17 ms early, the kick's flux)
            assert abs(_error_s(grid.downbeat_s, truth, grid.bar_s)) < 0.020, (start_beat, lead, grid)


@pytest.mark.slow  # 12 procedural loops of 8 s: ~6 s on a shared 2-core CPU
def test_downbeat_of_procedural_loops_with_a_chord_progression():
    # Procedural loops of 4 bars (120 BPM, first bar line at sample 0), a pad changing chord every bar added, each
    # rotated by a known number of beats. Their drums, bass and stabs also change spectrum inside the bar (the
    # estimator's known weakness, docs/results/real-music.md): measured right on 9 of 12; a wrong beat of the bar
    # drawn at random would be right on 3.
    sr = 16000
    audio, labels = synthesize_loops(12, seconds=8.0, sample_rate=sr, seed=3,
                                     styles=["house", "techno", "breakbeat", "electro"])
    t = np.arange(audio.shape[1]) / sr
    right = 0
    for i, (wave, label) in enumerate(zip(audio, labels, strict=True)):
        assert label["bpm"] == 120.0 and label["whole_bars"]
        beat = 60.0 / label["bpm"]
        pad = np.zeros_like(t)
        for bar in range(4):
            a, b = int(round(bar * 4 * beat * sr)), int(round((bar + 1) * 4 * beat * sr))
            pad[a:b] = sum(0.08 * np.sin(2 * np.pi * f * t[a:b]) for f in CHORDS[bar])
        rotate = i % 4
        grid = beat_grid(np.roll(wave + pad, -int(round(rotate * beat * sr))).astype(np.float32), sr)
        truth = ((4 - rotate) % 4) * beat
        right += abs(_error_s(grid.downbeat_s, truth, grid.bar_s)) < 0.020
    assert right >= 8, f"downbeat right on {right}/12 procedural loops"
