"""Subtractive synth voice for basslines, chord stabs and pads, rendered from a list of notes over one loop.

The voice is the classic oscillators → filter → amplifier chain: band-limited saws or squares (several detuned
copies per note, optionally a sub-oscillator an octave down) through a resonant low-pass whose cutoff jumps up at
each note and decays back (the filter envelope), then an attack–decay–sustain–release amplifier.

Rendering is vectorised over the whole loop: every sample looks up the note sounding at it (the last onset at or
before it, wrapping around the loop end), so envelopes are closed-form functions of "time since onset". A new note
retriggers the voice like a monophonic synth (chords retrigger all their notes together); a 2 ms smoothing of the
amplifier removes the clicks of retriggering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specrep.errors import ParameterError, check_positive_float, check_positive_int

from .filters import sweep_lowpass
from .oscillators import WAVEFORMS, midi_to_hz, oscillator


@dataclass(frozen=True)
class Patch:
    """Sound of a synth voice (all times in seconds, frequencies in Hz).

    Attributes
    ----------
    waveform : {"saw", "square", "sine"}
    unison : int > 0
        Oscillators per note, spread over ``±detune`` cents (2–3 with 8–20 cents = the "supersaw"/reese thickness).
    detune : float >= 0
        Spread in cents.
    sub : float >= 0
        Level of a sine one octave under the lowest note.
    attack, decay, release : float > 0
        Amplifier envelope time constants.
    sustain : float in [0, 1]
        Amplifier level held after the decay while the note is on.
    cutoff : float > 0
        Resting filter cutoff.
    env_octaves : float >= 0
        How far the cutoff jumps at a full-velocity note onset, in octaves.
    filter_decay : float > 0
        Time constant of the filter envelope.
    resonance : float >= 0.5
        Filter Q (0.7 flat, 4 squelchy "acid").
    glide : float >= 0
        Portamento time constant (0 = none).
    """

    waveform: str = "saw"
    unison: int = 1
    detune: float = 0.0
    sub: float = 0.0
    attack: float = 0.003
    decay: float = 0.15
    sustain: float = 0.6
    release: float = 0.04
    cutoff: float = 300.0
    env_octaves: float = 2.0
    filter_decay: float = 0.12
    resonance: float = 1.2
    glide: float = 0.0

    def __post_init__(self):
        if self.waveform not in WAVEFORMS:
            raise ParameterError(f"waveform={self.waveform!r} is not one of {', '.join(WAVEFORMS)}")
        check_positive_int("unison", self.unison)
        for name in ("attack", "decay", "release", "cutoff", "filter_decay", "resonance"):
            check_positive_float(name, getattr(self, name))
        for name in ("detune", "sub", "env_octaves", "glide"):
            check_positive_float(name, getattr(self, name), strict=False)
        if not 0.0 <= self.sustain <= 1.0:
            raise ParameterError(f"sustain={self.sustain} must lie in [0, 1]")


def _smooth(x: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """One-pole low-pass of a looped control signal (the loop's end warms the filter up)."""
    a = np.exp(-1.0 / (seconds * sample_rate))
    warm = min(x.size, int(8 * seconds * sample_rate) + 1)
    from scipy.signal import lfilter  # imported on use: 1-2 s that `loopgan --help` need not pay

    y = lfilter([1.0 - a], [1.0, -a], np.concatenate([x[-warm:], x]))
    return y[warm:]


def render_notes(onsets: np.ndarray, lengths: np.ndarray, pitches: np.ndarray, velocities: np.ndarray,
                 total: int, sample_rate: int, patch: Patch, rng: np.random.Generator) -> np.ndarray:
    """Render a monophonic line or a chord sequence over one loop.

    Parameters
    ----------
    onsets : np.ndarray of int, shape (notes,)
        Start of each note in samples, ascending, in [0, total).
    lengths : np.ndarray, shape (notes,)
        Gate length of each note in samples (> 0); the release rings after it until the next onset.
    pitches : np.ndarray, shape (notes,) or (notes, voices)
        MIDI note numbers; a row of several is a chord.
    velocities : np.ndarray, shape (notes,)
        In (0, 1]; scales level and filter envelope.
    total : int > 0
        Loop length in samples.
    sample_rate : int > 0
    patch : Patch
    rng : numpy.random.Generator
        Draws the oscillators' start phases.

    Returns
    -------
    np.ndarray, shape (total,), float64; silent (zeros) when there are no notes; otherwise peak 1.
    """
    check_positive_int("total", total)
    check_positive_int("sample_rate", sample_rate)
    onsets = np.asarray(onsets, dtype=np.int64)
    pitches = np.asarray(pitches, dtype=np.float64)
    pitches = pitches[:, None] if pitches.ndim == 1 else pitches
    if onsets.size == 0:
        return np.zeros(total)
    if np.any(np.diff(onsets) <= 0) or onsets[0] < 0 or onsets[-1] >= total:
        raise ParameterError("onsets must be strictly ascending sample indices in [0, total)")
    if not (len(lengths) == len(velocities) == pitches.shape[0] == onsets.size):
        raise ParameterError("onsets, lengths, pitches and velocities must describe the same number of notes")
    sr = float(sample_rate)
    n = np.arange(total)
    idx = np.searchsorted(onsets, n, side="right") - 1  # -1 = before the first onset: the last note, wrapped
    since = np.mod(n - onsets[idx], total) / sr
    gate = np.asarray(lengths, dtype=np.float64)[idx] / sr
    vel = np.asarray(velocities, dtype=np.float64)[idx]

    p = patch
    held = np.minimum(since, gate)
    level = np.minimum(held / p.attack, 1.0) * (p.sustain + (1.0 - p.sustain) * np.exp(-held / p.decay))
    amp = vel * level * np.exp(-np.maximum(since - gate, 0.0) / p.release)
    amp = _smooth(amp, sample_rate, 0.002)

    mix = np.zeros(total)
    spread = np.linspace(-p.detune, p.detune, p.unison) if p.unison > 1 else np.zeros(1)
    note_hz = midi_to_hz(pitches)  # (notes, voices)
    for voice in range(pitches.shape[1]):
        if p.glide > 0:  # portamento: glide in log-frequency, per sample
            base = 2.0 ** _smooth(np.log2(note_hz[idx, voice]), sample_rate, p.glide)
        else:
            base = note_hz[idx, voice]
        for cents in spread:
            freq = np.minimum(base * 2.0 ** (cents / 1200.0), 0.45 * sr)
            mix += oscillator(freq, sample_rate, waveform=p.waveform, start=rng.random())
    if p.sub > 0:
        low = note_hz.min(axis=1)[idx] / 2.0
        if p.glide > 0:
            low = 2.0 ** _smooth(np.log2(low), sample_rate, p.glide)
        mix += p.sub * p.unison * oscillator(low, sample_rate, waveform="sine", start=rng.random())
    cutoff = p.cutoff * 2.0 ** (p.env_octaves * vel * np.exp(-since / p.filter_decay))
    out = sweep_lowpass(mix, sample_rate, cutoff, resonance=p.resonance) * amp
    peak = np.max(np.abs(out))
    return out / peak if peak > 0 else out
