"""Step sequencing: turn a style's rhythm templates into bars of hits, and steps into sample positions.

A pattern is a dict ``voice -> np.ndarray of shape (bars * 16,)`` holding the velocity of each sixteenth step
(0 = no hit). The first bar is drawn from the templates; later bars repeat it, and with probability ``variation``
re-draw its optional (probability < 1) steps, so a loop repeats like a real groove with small changes. A fill
(tom run or snare roll) may replace the end of the last bar. The open hat chokes the closed hat on the same step,
as on a drum machine.
"""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError, check_positive_float, check_positive_int

from .styles import STEPS_PER_BAR, VOICES, Style, parse_template


def realise(template: str, bars: int, rng: np.random.Generator, *, variation: float = 0.5,
            humanise: float = 0.08) -> np.ndarray:
    """Draw ``bars`` bars of one voice from a template.

    Parameters
    ----------
    template : str
        16-step template (see :mod:`gan_plugins.data.procedural.styles`).
    bars : int > 0
    rng : numpy.random.Generator
    variation : float in [0, 1]
        Probability that a later bar re-draws the optional steps instead of repeating bar 1.
    humanise : float >= 0
        Relative standard deviation of the velocity of each hit.

    Returns
    -------
    np.ndarray, shape (bars * 16,), velocities in [0, 1] (0 = no hit).
    """
    check_positive_int("bars", bars)
    prob, vel = parse_template(template)
    first = rng.random(STEPS_PER_BAR) < prob
    hits = np.tile(first, bars)
    optional = (prob > 0) & (prob < 1)
    for b in range(1, bars):
        if rng.random() < variation:
            bar = hits[b * STEPS_PER_BAR:(b + 1) * STEPS_PER_BAR]
            bar[optional] = rng.random(int(optional.sum())) < prob[optional]
    jitter = 1.0 + humanise * rng.standard_normal(hits.size)
    return np.where(hits, np.clip(np.tile(vel, bars) * jitter, 0.1, 1.0), 0.0)


def draw_pattern(style: Style, bars: int, rng: np.random.Generator, *, fill_probability: float = 0.35) -> dict:
    """Pattern of every voice of ``style`` over ``bars`` bars.

    Parameters
    ----------
    style : Style
    bars : int > 0
    rng : numpy.random.Generator
    fill_probability : float in [0, 1]
        Chance of a fill over the last four steps (toms if the style has them, otherwise a snare roll).

    Returns
    -------
    dict[str, np.ndarray]
        For each of :data:`~gan_plugins.data.procedural.styles.VOICES`, velocities of shape (bars * 16,).
    """
    check_positive_int("bars", bars)
    pattern = {}
    for voice in VOICES:
        templates = style.rhythms[voice]
        pattern[voice] = realise(templates[rng.integers(len(templates))], bars, rng)
    if rng.random() < fill_probability:
        end = slice(bars * STEPS_PER_BAR - 4, bars * STEPS_PER_BAR)
        has_toms = any("." * STEPS_PER_BAR != t for t in style.rhythms["tom"])
        roll = np.clip(np.array([0.5, 0.6, 0.75, 0.9]) + 0.05 * rng.standard_normal(4), 0.1, 1.0)
        if has_toms:
            pattern["tom"][end] = roll * (rng.random(4) < 0.8)
        else:
            pattern["snare"][end] = roll * (rng.random(4) < 0.7)
    pattern["chat"][pattern["ohat"] > 0] = 0.0
    return pattern


def step_positions(bars: int, bpm: float, sample_rate: int, *, swing: float = 0.0) -> np.ndarray:
    """Sample position of every sixteenth step.

    Parameters
    ----------
    bars : int > 0
    bpm : float > 0
        Quarter notes per minute; a sixteenth lasts ``15 / bpm`` seconds.
    sample_rate : int > 0
    swing : float in [0, 0.5)
        Delay of every odd (off-beat) sixteenth as a fraction of a sixteenth.

    Returns
    -------
    np.ndarray of float64, shape (bars * 16,), ascending.
    """
    check_positive_int("bars", bars)
    check_positive_float("bpm", bpm)
    if not 0.0 <= swing < 0.5:
        raise ParameterError(f"swing={swing} must lie in [0, 0.5)")
    steps = np.arange(bars * STEPS_PER_BAR, dtype=np.float64)
    steps[1::2] += swing
    return steps * (15.0 / bpm) * sample_rate
