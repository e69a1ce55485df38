"""Procedural electronic-music loops: the embedded default dataset (no download).

:func:`synthesize_loops` renders ``n`` loops of house, techno, breakbeat, electro or drum & bass: a drum kit
(:mod:`.voices`) sequenced from genre templates (:mod:`.patterns`), a bassline and
chord stabs or a pad (:mod:`.tonal`) in a key (:mod:`.harmony`), mixed
(:mod:`.mixing`) with per-voice levels, kick side-chain ducking of the tonal parts, a small-room
send reverb on snare, clap, hats, toms and chords, a 25 Hz high-pass, loudness normalisation and a tanh limiter
that keeps every sample strictly inside (-1, 1).

Item ``i`` is drawn from its own random stream ``numpy.random.default_rng([seed, i])``: the audio and label of an
item depend only on ``(seed, i)`` and the render settings, never on how many items are rendered together, so a
dataset can be written in chunks (``start=``) or in parallel and stay identical.

Tempo modes
-----------
``"bars"``
    The loop holds a whole number of bars. Among bar counts ``k = 1, 2, ...`` the tempos ``240 k / seconds`` that
    fall inside the style's range are candidates, and one is drawn (2 s or 4 s give 120 BPM for house, techno,
    breakbeat and electro). When no whole number of bars fits the range (drum & bass at 2 s: 1.42 bars at 170 BPM),
    the tempo is drawn from the range instead and the loop is an excerpt holding the bars that fit plus the start
    of the next one; its label says ``whole_bars: False`` and ``bars`` is the exact, fractional count.
``"normalized"``
    Tempo-normalised: one bar fills the loop, so the tempo is ``240 / seconds`` BPM for every style.
"""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError, check_choice, check_positive_float, check_positive_int

from . import voices
from .harmony import PROGRESSIONS, chord, degree_pitch, key_name
from .mixing import duck_envelope, master, reverb
from .patterns import draw_pattern, step_positions
from .styles import STEPS_PER_BAR, STYLES, Style
from .tonal import Patch, render_notes

TEMPO_MODES = ("bars", "normalized")
#: Lowest sample rate accepted: the hats live between 5 and 8 kHz.
MIN_SAMPLE_RATE = 8000
#: Mix level of each voice before the bus (drawn ×0.8–1.25 per loop).
LEVELS = {"kick": 1.0, "snare": 0.55, "clap": 0.5, "chat": 0.22, "ohat": 0.2, "ride": 0.12, "tom": 0.45,
          "perc": 0.25, "bass": 0.55, "chords": 0.28}
#: Share of each voice sent to the reverb (kick and bass stay dry, as in most dance mixes).
SENDS = {"kick": 0.0, "snare": 0.35, "clap": 0.45, "chat": 0.05, "ohat": 0.15, "ride": 0.1, "tom": 0.25,
         "perc": 0.3, "bass": 0.0, "chords": 0.5}


def synthesize_loops(n: int, *, seconds: float, sample_rate: int = 16000, seed: int, styles=None,
                     tempo_mode: str = "bars", start: int = 0) -> tuple[np.ndarray, list[dict]]:
    """Render ``n`` procedural electronic-music loops.

    Parameters
    ----------
    n : int > 0
        Number of loops.
    seconds : float > 0
        Duration of each loop (2 s = one bar at 120 BPM).
    sample_rate : int >= 8000
        In Hz.
    seed : int >= 0
        Seed of the whole dataset; item ``i`` depends only on ``(seed, i)``.
    styles : sequence of str, optional
        Subset of :data:`~gan_plugins.data.procedural.styles.STYLES` (``house``, ``techno``, ``breakbeat``, ``electro``,
        ``dnb``) drawn from uniformly; default all.
    tempo_mode : {"bars", "normalized"}
        See the module documentation.
    start : int >= 0
        Index of the first item (render items ``start ... start + n - 1`` of the dataset).

    Returns
    -------
    audio : np.ndarray, float32, shape (n, round(seconds * sample_rate)), values in (-1, 1)
    labels : list of dict
        One per loop: ``index``, ``style``, ``bpm``, ``bars`` (float), ``whole_bars``, ``tempo_mode``, ``swing``,
        ``key``, ``root_midi``, ``bass`` (patch name), ``chords`` (stab/pad/none). JSON-serialisable.
    """
    check_positive_int("n", n)
    styles = check_loop_settings(seconds=seconds, sample_rate=sample_rate, seed=seed, styles=styles,
                                 tempo_mode=tempo_mode)
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ParameterError(f"start={start!r} must be an integer >= 0")
    total = int(round(seconds * sample_rate))
    audio = np.empty((n, total), dtype=np.float32)
    labels = []
    for row in range(n):
        audio[row], label = render_loop(seed, start + row, seconds=seconds, sample_rate=sample_rate,
                                        styles=styles, tempo_mode=tempo_mode)
        labels.append(label)
    return audio, labels


def check_loop_settings(*, seconds, sample_rate, seed, styles, tempo_mode) -> tuple[str, ...]:
    """Validate the render settings; return the style names (all of them when ``styles`` is None)."""
    check_positive_float("seconds", seconds)
    check_positive_int("sample_rate", sample_rate)
    if sample_rate < MIN_SAMPLE_RATE:
        raise ParameterError(f"sample_rate={sample_rate} must be >= {MIN_SAMPLE_RATE} Hz")
    if int(round(seconds * sample_rate)) < 256:
        raise ParameterError(f"seconds={seconds} gives fewer than 256 samples at {sample_rate} Hz")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be an integer >= 0")
    check_choice("tempo_mode", tempo_mode, TEMPO_MODES)
    if styles is None:
        return tuple(STYLES)
    if isinstance(styles, str):
        styles = (styles,)
    styles = tuple(styles)
    if not styles:
        raise ParameterError("styles must name at least one style")
    for s in styles:
        check_choice("style", s, tuple(STYLES))
    return styles


def choose_tempo(style: Style, seconds: float, tempo_mode: str, rng: np.random.Generator) -> tuple[float, float]:
    """Tempo (BPM) and number of bars (float) of one loop; see the module documentation."""
    if tempo_mode == "normalized":
        return 240.0 / seconds, 1.0
    lo, hi = style.bpm
    ks = np.arange(max(1, int(np.ceil(seconds * lo / 240.0))), int(np.floor(seconds * hi / 240.0)) + 1)
    if ks.size:
        k = int(ks[rng.integers(ks.size)])
        return 240.0 * k / seconds, float(k)
    bpm = float(rng.uniform(lo, hi))
    return bpm, seconds * bpm / 240.0


def render_loop(seed: int, index: int, *, seconds: float, sample_rate: int, styles: tuple[str, ...],
                tempo_mode: str) -> tuple[np.ndarray, dict]:
    """Render item ``index`` of the dataset ``seed`` (settings already validated).

    Returns
    -------
    audio : np.ndarray, float32, shape (round(seconds * sample_rate),)
    label : dict
    """
    rng = np.random.default_rng([int(seed), int(index)])
    total = int(round(seconds * sample_rate))
    style = STYLES[styles[rng.integers(len(styles))]]
    bpm, bars = choose_tempo(style, seconds, tempo_mode, rng)
    pattern_bars = int(np.ceil(bars - 1e-9))
    swing = float(rng.uniform(*style.swing))
    pattern = draw_pattern(style, pattern_bars, rng)
    steps = step_positions(pattern_bars, bpm, sample_rate, swing=swing)
    steps = np.round(steps + rng.normal(0.0, 0.0004 * sample_rate, steps.size)).astype(np.int64)
    steps = np.clip(steps, 0, None)
    steps[0] = 0
    step_len = 15.0 / bpm * sample_rate

    parts = _drums(style, pattern, steps, total, sample_rate, rng)
    root = int(rng.integers(33, 45))  # A1 .. G#2: bass fundamentals 55-104 Hz
    mode = style.modes[rng.integers(len(style.modes))]
    progression = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    bass_name = style.bass_patches[rng.integers(len(style.bass_patches))]
    parts["bass"] = _bass(bass_name, pattern["bass"], steps, step_len, total, root, mode, progression,
                          sample_rate, rng)
    chord_kind = style.chord_kinds[rng.integers(len(style.chord_kinds))]
    parts["chords"] = _chords(chord_kind, pattern["chords"], steps, step_len, total, root, mode, progression,
                              sample_rate, rng)
    if not parts["chords"].any():
        chord_kind = "none"  # the drawn rhythm had no hit: say so in the label

    kick_steps = steps[(pattern["kick"] > 0) & (steps < total)]
    duck = duck_envelope(kick_steps, total, sample_rate, depth=rng.uniform(0.2, 0.6))
    mix, send = np.zeros(total), np.zeros(total)
    for name, part in parts.items():
        part = LEVELS[name] * rng.uniform(0.8, 1.25) * (part * duck if name in ("bass", "chords") else part)
        mix += part
        send += SENDS[name] * part
    mix += rng.uniform(0.15, 0.45) * reverb(send, sample_rate, rng, decay=rng.uniform(0.06, 0.16),
                                            predelay=rng.uniform(0.005, 0.025), damping=rng.uniform(3000, 7000))
    audio = master(mix, sample_rate, rms_db=rng.uniform(-15.0, -10.0))
    label = {
        "index": int(index), "style": style.name, "bpm": round(float(bpm), 4), "bars": round(float(bars), 4),
        "whole_bars": bool(abs(bars - round(bars)) < 1e-6), "tempo_mode": tempo_mode, "swing": round(swing, 4),
        "key": key_name(root, mode), "root_midi": root, "bass": bass_name, "chords": chord_kind,
    }
    return audio.astype(np.float32), label


def _place(shots: list[np.ndarray], velocities: np.ndarray, steps: np.ndarray, total: int,
           rng: np.random.Generator) -> np.ndarray:
    """Sum one-shots (a variant drawn per hit) at the hit steps; tails past the end wrap to the start."""
    longest = max(s.size for s in shots)
    periods = int(np.ceil((total + longest) / total))
    buf = np.zeros(periods * total)
    for step in np.flatnonzero((velocities > 0) & (steps < total)):
        shot = shots[rng.integers(len(shots))]
        buf[steps[step]:steps[step] + shot.size] += velocities[step] * shot
    return buf.reshape(periods, total).sum(axis=0)


def _drums(style: Style, pattern: dict, steps: np.ndarray, total: int, sr: int,
           rng: np.random.Generator) -> dict:
    """Draw this loop's kit (kick, 2 snares, clap, 3 closed hats, open hat, ride, 3 toms, rim or cowbell), place it.

    Returns ``voice -> np.ndarray of shape (total,)``, each voice at unit peak per hit times velocity.
    """
    u = rng.uniform
    decay = u(*style.kick_decay)
    kits = {
        "kick": [voices.kick(sr, rng, length=min(4 * decay + 0.05, 1.0), f_start=u(110, 200), f_end=u(42, 60),
                             pitch_decay=u(0.02, 0.05), amp_decay=decay, click=u(0.1, 0.5),
                             drive=u(*style.kick_drive))],
        "snare": [],
        "clap": [],
    }
    for _ in range(2):
        tone_decay, noise_decay = u(0.04, 0.09), u(0.06, 0.16)
        kits["snare"].append(voices.snare(sr, rng, length=5 * noise_decay + 0.03, tone=u(160, 240),
                                          tone_decay=tone_decay, noise_decay=noise_decay, noise_mix=u(0.5, 0.8),
                                          brightness=u(4500, 7500)))
    bursts, spacing, tail = int(rng.integers(2, 5)), u(0.008, 0.014), u(0.06, 0.15)
    kits["clap"].append(voices.clap(sr, rng, length=bursts * spacing + 5 * tail, bursts=bursts, spacing=spacing,
                                    tail=tail, centre=u(1000, 1800)))
    metal, tune, edge = u(0.3, 0.8), u(0.9, 1.6), u(5000, 6500)
    base_hat = u(0.02, 0.05)
    kits["chat"] = []
    for _ in range(3):
        decay = base_hat * u(0.8, 1.25)
        kits["chat"].append(voices.hat(sr, rng, length=6 * decay, decay=decay, metal=metal, tune=tune,
                                       cutoff=edge))
    decay = u(0.06, 0.15)
    kits["ohat"] = [voices.hat(sr, rng, length=5 * decay, decay=decay, metal=metal, tune=tune, cutoff=edge)]
    low_tom = u(90, 140)
    kits["tom"] = []
    for ratio in (1.0, 1.33, 1.78):
        decay = u(0.08, 0.18)
        kits["tom"].append(voices.tom(sr, rng, length=5 * decay, freq=low_tom * ratio, decay=decay))
    decay = u(0.12, 0.25)
    kits["ride"] = [voices.hat(sr, rng, length=4 * decay, decay=decay, metal=u(0.35, 0.6), tune=u(1.0, 1.8),
                               cutoff=u(4000, 5500))]
    sound = style.perc_sounds[rng.integers(len(style.perc_sounds))]
    if sound == "cowbell":
        kits["perc"] = [voices.cowbell(sr, rng, tune=u(0.85, 1.25), decay=u(0.04, 0.09))]
    else:
        kits["perc"] = [voices.rim(sr, rng, tone=u(1300, 2100), decay=u(0.008, 0.02))]
    return {name: _place(shots, pattern[name], steps, total, rng) for name, shots in kits.items()}


def _notes(velocities: np.ndarray, steps: np.ndarray, total: int):
    """Steps that sound, their onsets (samples) and the gap to the next onset around the loop (samples)."""
    on = np.flatnonzero((velocities > 0) & (steps < total))
    onsets = steps[on]
    if onsets.size == 0:
        return on, onsets, onsets
    keep = np.concatenate([[True], np.diff(onsets) > 0])  # jitter never merges steps, but be safe
    on, onsets = on[keep], onsets[keep]
    gaps = np.diff(np.append(onsets, onsets[0] + total))
    return on, onsets, gaps


_BASS_DEGREES = np.array([0, 7, 4, 2, 6])  # root, octave, fifth, third, seventh (relative scale degrees)
_BASS_WEIGHTS = {"pluck": [0.55, 0.2, 0.1, 0.08, 0.07], "acid": [0.45, 0.3, 0.1, 0.1, 0.05],
                 "square": [0.5, 0.25, 0.1, 0.1, 0.05], "sub": [0.7, 0.15, 0.15, 0.0, 0.0],
                 "reese": [0.8, 0.0, 0.2, 0.0, 0.0]}


def _bass_patch(name: str, rng: np.random.Generator) -> Patch:
    """Synth settings of a bass sound (one of :data:`.styles.BASS_PATCHES`), lightly randomised."""
    u = rng.uniform
    if name == "pluck":
        return Patch("saw", unison=2, detune=u(4, 10), sub=0.5, decay=u(0.08, 0.2), sustain=0.3, release=0.03,
                     cutoff=u(150, 400), env_octaves=u(2.0, 3.5), filter_decay=u(0.06, 0.15), resonance=u(1.0, 1.6))
    if name == "sub":
        return Patch("sine", sub=0.0, decay=0.3, sustain=0.9, release=0.05, cutoff=2000.0, env_octaves=0.0,
                     resonance=0.7, glide=u(0.0, 0.01))
    if name == "acid":
        return Patch("saw" if rng.random() < 0.6 else "square", decay=0.15, sustain=0.5, release=0.02,
                     cutoff=u(200, 500), env_octaves=u(2.5, 4.0), filter_decay=u(0.05, 0.12),
                     resonance=u(3.0, 6.0), glide=u(0.01, 0.03))
    if name == "square":
        return Patch("square", sub=0.6, decay=u(0.1, 0.25), sustain=0.5, release=0.03, cutoff=u(300, 800),
                     env_octaves=2.0, filter_decay=u(0.05, 0.15), resonance=u(1.0, 2.0))
    return Patch("saw", unison=3, detune=u(12, 25), sub=1.0, decay=0.5, sustain=1.0, release=0.08,
                 cutoff=u(200, 500), env_octaves=0.5, filter_decay=0.4, resonance=1.0, glide=u(0.02, 0.05))


def _bass(name, velocities, steps, step_len, total, root, mode, progression, sr, rng) -> np.ndarray:
    """Bassline over the loop: pitches follow each bar's chord root (plus octave/fifth/third/seventh moves)."""
    on, onsets, gaps = _notes(velocities, steps, total)
    if onsets.size == 0:
        return np.zeros(total)
    legato = name == "reese"
    bar = on // STEPS_PER_BAR
    rel = _BASS_DEGREES[rng.choice(_BASS_DEGREES.size, size=on.size, p=_BASS_WEIGHTS[name])]
    register = 12 if name in ("pluck", "acid", "square") and rng.random() < 0.5 else 0
    pitches = np.array([degree_pitch(root, mode, progression[b % 4] + r) for b, r in zip(bar, rel, strict=True)])
    gate = rng.uniform(0.92, 0.98) if legato else rng.uniform(0.4, 0.9)
    lengths = np.maximum(gaps * gate, 0.25 * step_len)
    return render_notes(onsets, lengths, pitches + register, velocities[on], total, sr, _bass_patch(name, rng), rng)


def _chords(kind, velocities, steps, step_len, total, root, mode, progression, sr, rng) -> np.ndarray:
    """Chord part: stabs on the template's steps, one held pad chord per bar, or silence."""
    if kind == "none":
        return np.zeros(total)
    if kind == "pad":
        on = np.flatnonzero((np.arange(velocities.size) % STEPS_PER_BAR == 0) & (steps < total))
        patch = Patch("saw", unison=3, detune=rng.uniform(10, 18), attack=rng.uniform(0.15, 0.4), decay=1.0,
                      sustain=0.8, release=0.3, cutoff=rng.uniform(700, 1500), env_octaves=0.5, filter_decay=0.8,
                      resonance=0.8)
        onsets = steps[on]
        lengths = np.maximum(np.diff(np.append(onsets, onsets[0] + total)) - 0.2 * sr, step_len)
        vels = np.full(on.size, 0.9)
    else:
        on, onsets, gaps = _notes(velocities, steps, total)
        if onsets.size == 0:
            return np.zeros(total)
        patch = Patch("saw", unison=2, detune=rng.uniform(6, 15), attack=0.002, decay=rng.uniform(0.1, 0.2),
                      sustain=0.3, release=0.08, cutoff=rng.uniform(600, 1500), env_octaves=rng.uniform(1.0, 2.5),
                      filter_decay=0.1, resonance=1.0)
        lengths = np.minimum(gaps, step_len * rng.uniform(0.5, 1.5))
        vels = velocities[on]
    size = int(rng.integers(3, 5))
    pitches = np.stack([chord(root + 24, mode, progression[b % 4], size=size) for b in on // STEPS_PER_BAR])
    return render_notes(onsets, lengths, pitches, vels, total, sr, patch, rng)
