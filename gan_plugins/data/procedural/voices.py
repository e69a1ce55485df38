"""Synthesised drum one-shots: kick, snare, clap, closed and open hats, ride, toms, cowbell, rim shot.

Each function renders one hit as a float64 array of shape (samples,) — ``length`` seconds rounded up to the next
FFT-friendly size — peak-normalised to 1 and faded out over its last quarter, from explicit parameters (seconds,
Hz) and a ``numpy.random.Generator`` for its noise. The recipes are the classic analogue-drum-machine ones:

- **kick**: a sine whose frequency falls exponentially from ``f_start`` to ``f_end`` (the "pitch envelope"), an
  exponential amplitude decay, a short band-passed noise click for the beater, and tanh drive;
- **snare**: two detuned partials of a drum body plus band-passed noise with its own, longer decay;
- **clap**: band-passed noise gated by a few 10 ms bursts (several hands) and a diffuse tail;
- **hats**: six square waves at inharmonic ratios (the TR-808 metal) plus white noise, high-passed, with a short
  (closed) or long (open) decay;
- **tom**: a sine with a small downward pitch glide and a touch of noise;
- **cowbell**: the TR-808 pair of square waves at 540 and 800 Hz, band-passed, fast-then-slow decay;
- **rim**: two short high partials and a noise click, saturated.

A ride cymbal is :func:`hat` with more metal, a lower edge and a long decay.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import next_fast_len

from specrep.errors import check_positive_float, check_positive_int

from .filters import shape_spectrum

#: Frequencies (Hz) of the six square oscillators of the TR-808 cymbal/hat circuit.
METAL_HZ = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0])


def _time(sample_rate: int, seconds: float) -> np.ndarray:
    """Sample times of a hit: ``seconds`` rounded up to a length with small prime factors (fast FFTs)."""
    check_positive_int("sample_rate", sample_rate)
    check_positive_float("seconds", seconds)
    return np.arange(next_fast_len(int(round(seconds * sample_rate)), real=True)) / sample_rate


def _attack(t: np.ndarray, seconds: float) -> np.ndarray:
    return np.minimum(t / seconds, 1.0)


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = np.max(np.abs(x))
    return x / peak if peak > 0 else x


def _finish(x: np.ndarray) -> np.ndarray:
    """Peak-normalise and fade the last quarter out (half cosine) so a truncated tail never clicks."""
    n = x.size // 4
    if n:
        x = x.copy()
        x[-n:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    return _normalise(x)


def kick(sample_rate: int, rng: np.random.Generator, *, length: float = 0.5, f_start: float = 150.0,
         f_end: float = 50.0, pitch_decay: float = 0.035, amp_decay: float = 0.22, click: float = 0.25,
         drive: float = 1.5) -> np.ndarray:
    """Kick drum: pitch-swept sine, amplitude decay, beater click, saturation.

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
        Source of the click noise.
    length : float > 0
        Rendered duration in seconds.
    f_start, f_end : float > 0
        Start and resting frequency of the pitch envelope (Hz); 40–60 Hz is a house/techno kick fundamental.
    pitch_decay : float > 0
        Time constant of the pitch fall in seconds (20–60 ms).
    amp_decay : float > 0
        Time constant of the amplitude decay in seconds (0.15 s punchy, 0.5 s a boomy 808).
    click : float >= 0
        Level of the beater click relative to the body.
    drive : float > 0
        tanh saturation amount (1 is gentle, 4 is a distorted techno kick).

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    for name, value in (("f_start", f_start), ("f_end", f_end), ("pitch_decay", pitch_decay),
                        ("amp_decay", amp_decay), ("drive", drive)):
        check_positive_float(name, value)
    t = _time(sample_rate, length)
    phase = 2 * np.pi * (f_end * t + (f_start - f_end) * pitch_decay * (1.0 - np.exp(-t / pitch_decay)))
    body = np.sin(phase) * np.exp(-t / amp_decay) * _attack(t, 0.0015)
    noise = shape_spectrum(rng.standard_normal(t.size), sample_rate, low=1200.0, high=0.4 * sample_rate)
    beater = _normalise(noise) * np.exp(-t / 0.004)
    return _finish(np.tanh(drive * (body + click * beater)))


def snare(sample_rate: int, rng: np.random.Generator, *, length: float = 0.35, tone: float = 190.0,
          tone_decay: float = 0.06, noise_decay: float = 0.13, noise_mix: float = 0.65,
          brightness: float = 6000.0) -> np.ndarray:
    """Snare drum: two body partials (``tone`` and 1.6 × ``tone``) plus band-passed noise (the wires).

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
    length : float > 0
        Seconds.
    tone : float > 0
        Body frequency in Hz (160–240).
    tone_decay, noise_decay : float > 0
        Decay time constants of body and wires in seconds.
    noise_mix : float in [0, 1]
        Share of the wires in the mix.
    brightness : float > 0
        Low-pass edge of the wires in Hz.

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    check_positive_float("tone", tone)
    t = _time(sample_rate, length)
    glide = tone * (1.0 + 0.25 * np.exp(-t / 0.01))
    phase = 2 * np.pi * np.cumsum(glide) / sample_rate
    body = (np.sin(phase) + 0.5 * np.sin(1.6 * phase)) * np.exp(-t / tone_decay)
    wires = shape_spectrum(rng.standard_normal(t.size), sample_rate, low=900.0,
                           high=min(brightness, 0.45 * sample_rate), peak=3000.0, peak_q=1.0, peak_gain=0.5)
    wires = _normalise(wires) * np.exp(-t / noise_decay)
    mix = (1.0 - noise_mix) * _normalise(body) + noise_mix * wires
    return _finish(np.tanh(1.5 * mix * _attack(t, 0.001)))


def clap(sample_rate: int, rng: np.random.Generator, *, length: float = 0.4, bursts: int = 3,
         spacing: float = 0.011, tail: float = 0.11, centre: float = 1300.0) -> np.ndarray:
    """Hand clap: band-passed noise gated by ``bursts`` short bursts then a diffuse tail.

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
    length : float > 0
        Seconds.
    bursts : int > 0
        Number of pre-echo bursts (several hands), ``spacing`` seconds apart.
    spacing : float > 0
        Seconds between bursts (8–15 ms).
    tail : float > 0
        Decay time constant of the tail in seconds.
    centre : float > 0
        Centre of the noise band in Hz (900–2000).

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    check_positive_int("bursts", bursts)
    check_positive_float("spacing", spacing)
    t = _time(sample_rate, length)
    noise = shape_spectrum(rng.standard_normal(t.size), sample_rate, low=0.6 * centre,
                           high=min(4.0 * centre, 0.45 * sample_rate), peak=centre, peak_q=1.5, peak_gain=1.0)
    env = np.zeros_like(t)
    for k in range(bursts):
        dt = t - k * spacing
        env = np.maximum(env, np.where(dt >= 0, np.exp(-np.maximum(dt, 0) / 0.003), 0.0))
    dt = t - bursts * spacing
    env = np.maximum(env, np.where(dt >= 0, 0.8 * np.exp(-np.maximum(dt, 0) / tail), 0.0))
    return _finish(_normalise(noise) * env)


def hat(sample_rate: int, rng: np.random.Generator, *, length: float = 0.12, decay: float = 0.035,
        metal: float = 0.5, tune: float = 1.0, cutoff: float = 6000.0) -> np.ndarray:
    """Closed or open hi-hat: TR-808 metal squares plus noise, high-passed, exponential decay.

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
    length : float > 0
        Seconds (0.12 closed, 0.6 open).
    decay : float > 0
        Decay time constant in seconds (20–60 ms closed, 0.15–0.35 s open).
    metal : float in [0, 1]
        Share of the metallic squares (the rest is white noise).
    tune : float > 0
        Multiplier of :data:`METAL_HZ`.
    cutoff : float > 0
        High-pass edge in Hz; clipped to 0.4 × sample rate.

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    check_positive_float("tune", tune)
    t = _time(sample_rate, length)
    phases = rng.random(METAL_HZ.size)
    cycles = np.mod(tune * METAL_HZ[:, None] * t[None, :] + phases[:, None], 1.0)
    squares = np.where(cycles < 0.5, 1.0, -1.0).sum(axis=0)
    source = metal * squares / METAL_HZ.size + (1.0 - metal) * rng.standard_normal(t.size)
    edge = min(cutoff, 0.4 * sample_rate)
    bright = shape_spectrum(source, sample_rate, low=edge, order=3, peak=min(1.25 * edge, 0.45 * sample_rate),
                            peak_q=2.0, peak_gain=0.6)
    return _finish(bright * np.exp(-t / decay) * _attack(t, 0.0005))


def tom(sample_rate: int, rng: np.random.Generator, *, length: float = 0.45, freq: float = 120.0,
        decay: float = 0.2) -> np.ndarray:
    """Tom: sine gliding down to ``freq`` (from 1.4 ×) plus a little noise.

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
    length : float > 0
        Seconds.
    freq : float > 0
        Resting pitch in Hz (80–250: floor to high tom).
    decay : float > 0
        Decay time constant in seconds.

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    check_positive_float("freq", freq)
    t = _time(sample_rate, length)
    glide = freq * (1.0 + 0.4 * np.exp(-t / 0.04))
    body = np.sin(2 * np.pi * np.cumsum(glide) / sample_rate)
    noise = shape_spectrum(rng.standard_normal(t.size), sample_rate, low=2.0 * freq, high=8.0 * freq)
    mix = body + 0.15 * _normalise(noise) * np.exp(-t / 0.02)
    return _finish(np.tanh(1.2 * mix * np.exp(-t / decay) * _attack(t, 0.001)))


def cowbell(sample_rate: int, rng: np.random.Generator, *, length: float = 0.3, tune: float = 1.0,
            decay: float = 0.06) -> np.ndarray:
    """TR-808 cowbell: two square waves (540 and 800 Hz × ``tune``) band-passed, with a fast then slow decay.

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
        Draws the oscillators' phases.
    length : float > 0
        Seconds.
    tune : float > 0
        Frequency multiplier (0.8–1.3).
    decay : float > 0
        Time constant of the slow part of the decay, seconds.

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    check_positive_float("tune", tune)
    check_positive_float("decay", decay)
    t = _time(sample_rate, length)
    cycles = np.mod(tune * np.array([540.0, 800.0])[:, None] * t[None, :] + rng.random(2)[:, None], 1.0)
    squares = np.where(cycles < 0.5, 1.0, -1.0).sum(axis=0)
    body = shape_spectrum(squares, sample_rate, low=500.0 * tune, high=min(2600.0 * tune, 0.45 * sample_rate),
                          order=2, peak=800.0 * tune, peak_q=3.0, peak_gain=1.5)
    env = 0.6 * np.exp(-t / 0.008) + 0.4 * np.exp(-t / decay)
    return _finish(body * env * _attack(t, 0.0005))


def rim(sample_rate: int, rng: np.random.Generator, *, length: float = 0.08, tone: float = 1700.0,
        decay: float = 0.012) -> np.ndarray:
    """Rim shot: a short high partial pair (``tone`` and 0.6 × ``tone``) plus a noise click.

    Parameters
    ----------
    sample_rate : int > 0
    rng : numpy.random.Generator
    length : float > 0
        Seconds.
    tone : float > 0
        Main partial in Hz (1200–2200).
    decay : float > 0
        Decay time constant in seconds (8–20 ms).

    Returns
    -------
    np.ndarray, shape (about length * sample_rate,), peak 1.
    """
    check_positive_float("tone", tone)
    check_positive_float("decay", decay)
    t = _time(sample_rate, length)
    partials = np.sin(2 * np.pi * tone * t) + 0.7 * np.sin(2 * np.pi * 0.6 * tone * t + rng.random() * 2 * np.pi)
    click = shape_spectrum(rng.standard_normal(t.size), sample_rate, low=2000.0, high=0.45 * sample_rate)
    mix = partials * np.exp(-t / decay) + 0.5 * _normalise(click) * np.exp(-t / 0.002)
    return _finish(np.tanh(2.0 * mix))
