"""Tempo and downbeat estimation on specrep's onset strength: the beat grid of a track.

The onset envelope is specrep's spectral flux (:func:`specrep.descriptors.onset_strength` on
:func:`specrep.descriptors.magnitude`, hop 256 as the rhythm metrics use). Three steps:

1. **Tempo** — a comb over the envelope's autocorrelation (the rhythm metrics'
   :func:`~gan_plugins.metrics.audio.envelope_autocorrelation`): each candidate tempo on a 0.1 % grid in 60-200 BPM
   sums the autocorrelation at its first 16 beat lags (interpolated,
   up to 4 bars), weighted by the rhythm metrics' log-normal tempo prior (centre 120 BPM, one octave wide, as
   librosa's). A tempo twice too slow misses the odd beats and one twice too fast
   pays for its off-beat lags, so several multiples settle the octave better than the single highest lag; lags of
   several bars pin the period to a fraction of a percent.
2. **Beat phase** — the phase that maximises the mean onset strength on the grid ``phase + k * beat``.
3. **Bar phase** — the beat of the bar (one of ``beats_per_bar``) at which the spectrum changes most from the
   previous beat, on average (mean log energies in 40 bands per beat: chord and bass changes land on the one).
   Weaker than the tempo: see docs/results/real-music.md for how often it is right.

Returns a :class:`BeatGrid`. Only whole-bar 4/4 (or ``beats_per_bar``) grids at one steady tempo are modelled: that
is what electronic loops and most dance tracks are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gan_plugins.metrics.audio import HOP, N_FFT, envelope_autocorrelation
from specrep import descriptors as D
from specrep.errors import ParameterError, check_positive_int

__all__ = ["BeatGrid", "onset_envelopes", "estimate_tempo", "estimate_downbeat", "beat_grid", "BANDS", "MIN_STRENGTH"]

#: Least onset periodicity taken for a beat: 8 s of white noise and of a steady tone gave at most 0.08 at any tempo
#: of 60-200 BPM, procedural drum loops 0.5-0.8.
MIN_STRENGTH = 0.2
#: Log-spaced bands of the beat spectra whose change marks bar lines.
BANDS = 40
#: Spectral flux peaks this many frames before the onset it marks (a centred 1024-point window starts rising
#: before the transient reaches its centre); measured on procedural loops whose first hit is at sample 0 (the
#: beat phase came out 0.75 frame early at 16 kHz, i.e. 12 ms) and added back.
_ONSET_LEAD_FRAMES = 0.75


@dataclass(frozen=True)
class BeatGrid:
    """A steady beat grid.

    Attributes
    ----------
    bpm : float
        Estimated tempo in beats per minute.
    downbeat_s : float
        Time of the first downbeat at or after 0, seconds.
    beats_per_bar : int
    strength : float
        Highest normalised onset autocorrelation among the beat lags (1 = perfectly periodic onsets, ~0 = no beat).
    """

    bpm: float
    downbeat_s: float
    beats_per_bar: int = 4
    strength: float = math.nan

    @property
    def bar_s(self) -> float:
        """Duration of one bar, seconds."""
        return 60.0 * self.beats_per_bar / self.bpm

    def bar_starts(self, duration_s: float, *, bars: int = 1) -> np.ndarray:
        """Start times (s) of every whole slice of ``bars`` bars from the first downbeat that ends by ``duration_s``."""
        check_positive_int("bars", bars)
        span = bars * self.bar_s
        count = int(math.floor((duration_s - self.downbeat_s) / span + 1e-9))
        return self.downbeat_s + span * np.arange(max(count, 0))


def onset_envelopes(wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Onset strength and log band energies of a mono wave (one STFT, hop 256, n_fft 1024).

    Returns
    -------
    onset : np.ndarray, shape (frames,)
        Spectral flux; frame ``m`` centred on sample ``m * 256``.
    logbands : np.ndarray, shape (bands, frames)
        Mean log-magnitude in :data:`BANDS` log-spaced bands.
    fps : float
        Frames per second (``sample_rate / 256``).
    """
    check_positive_int("sample_rate", sample_rate)
    x = torch.as_tensor(np.ascontiguousarray(wave, dtype=np.float32))
    if x.ndim != 1:
        raise ParameterError(f"wave of shape {tuple(x.shape)} must be mono (time,)")
    with torch.no_grad():
        mag, params = D.magnitude(x, sample_rate, n_fft=N_FFT, hop_length=HOP)
        onset = D.onset_strength(mag).numpy().astype(np.float64)
        logmag = torch.log(mag + 1e-5).numpy()
    edges = np.unique(np.geomspace(2, logmag.shape[0], BANDS + 1).astype(int))
    logbands = np.stack([logmag[a:b].mean(0) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return onset, logbands.astype(np.float64), sample_rate / HOP


def _interp(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.interp(positions, np.arange(values.size), values, right=0.0)


def _grid_mean(env: np.ndarray, phase: float, step: float) -> float:
    """Mean of ``env`` at ``phase + k * step`` (interpolated), skipping the first frames: spectral flux is 0 at frame 0
    by construction, which would bias against a grid that starts exactly on the first sample."""
    pos = np.arange(phase, env.size - 1, step)
    pos = pos[pos >= 2]
    return float(_interp(env, pos).mean()) if pos.size else -math.inf


def estimate_tempo(onset: np.ndarray, sample_rate: int, *, beats: int = 16, min_bpm: float = 60.0,
                   max_bpm: float = 200.0) -> tuple[float, float]:
    """Tempo (BPM) of an onset envelope (frames of hop 256 at ``sample_rate``) and its periodicity strength.

    Each candidate tempo on a 0.1 % grid scores the sum of the onset autocorrelation at its first ``beats`` beat
    lags (interpolated; lags beyond half the envelope are left out) times the log-normal tempo prior of the rhythm
    metrics (centre 120 BPM, one octave). Summing several beat multiples both settles the octave (a tempo twice too
    slow misses the odd beats, one twice too fast pays for its off-beat lags through the prior and the 200 BPM cap)
    and pins the period to a fraction of a percent (lags of several bars).

    Returns
    -------
    bpm : float
    strength : float
        Highest normalised autocorrelation among the chosen tempo's beat lags (1 = perfectly periodic onsets; a
        syncopated break can be weak at one beat and strong at the bar).
    """
    check_positive_int("beats", beats)
    env = torch.as_tensor(np.asarray(onset, dtype=np.float32))[None]
    if env.shape[-1] < 8 or float(env.std()) == 0.0:
        raise ParameterError("the onset envelope is flat or too short: no tempo to estimate")
    ac = envelope_autocorrelation(env, sample_rate)[0][0].numpy().astype(np.float64)
    fps = sample_rate / HOP
    tempos = min_bpm * np.exp(np.arange(0.0, math.log(max_bpm / min_bpm), 0.001))
    period = 60.0 * fps / tempos                                  # frames per beat, per candidate
    lags = period[:, None] * np.arange(1, beats + 1)[None, :]
    usable = lags < ac.size // 2                                   # reliable to half the envelope's length
    if not usable[:, 0].any():
        raise ParameterError("the onset envelope is shorter than two beats at the slowest tempo")
    prior = np.exp(-0.5 * np.log2(tempos / 120.0) ** 2)
    score = np.where(usable, _interp(ac, lags), 0.0).sum(-1) * prior
    best = int(np.argmax(np.where(usable[:, 0], score, -np.inf)))
    return float(tempos[best]), float(_interp(ac, lags[best, usable[best]]).max())


def _beat_spectra(logbands: np.ndarray, phase: float, period: float) -> np.ndarray:
    """Mean log band energies over each beat of the grid ``phase + k * period``: ``(beats, bands)``."""
    starts = np.arange(phase, logbands.shape[1] - period, period)
    return np.stack([logbands[:, int(round(s)):max(int(round(s + period)), int(round(s)) + 1)].mean(1)
                     for s in starts]) if starts.size else np.zeros((0, logbands.shape[0]))


def estimate_downbeat(onset: np.ndarray, logbands: np.ndarray, fps: float, bpm: float, *,
                      beats_per_bar: int = 4) -> float:
    """Time (s, in ``[0, bar)``) of the first downbeat of a steady grid at ``bpm``; see the module documentation.

    Parameters
    ----------
    onset : np.ndarray, shape (frames,)
        Broadband onset strength (:func:`onset_envelopes`).
    logbands : np.ndarray, shape (bands, frames)
        Log energies in a few bands (:func:`onset_envelopes`): the spectral change between consecutive beats.
    fps : float
        Frames per second.
    bpm : float
    beats_per_bar : int > 0
    """
    check_positive_int("beats_per_bar", beats_per_bar)
    period = 60.0 * fps / bpm
    phases = np.arange(0.0, period, 0.25)
    beat_phase = float(phases[int(np.argmax([_grid_mean(onset, p, period) for p in phases]))])
    spectra = _beat_spectra(logbands, beat_phase, period)
    novelty = np.r_[0.0, np.abs(np.diff(spectra, axis=0)).sum(1)] if len(spectra) else np.zeros(0)
    scores = [novelty[b::beats_per_bar][1 if b == 0 else 0:] for b in range(beats_per_bar)]  # beat 0 has no past
    scores = [float(v.mean()) if v.size else -math.inf for v in scores]
    best = beat_phase + int(np.argmax(scores)) * period + _ONSET_LEAD_FRAMES
    return float((best % (period * beats_per_bar)) / fps)


def beat_grid(wave: np.ndarray, sample_rate: int, *, beats_per_bar: int = 4,
              min_strength: float = MIN_STRENGTH) -> BeatGrid:
    """Tempo, downbeat and beat strength of a mono wave (one steady tempo assumed).

    Parameters
    ----------
    wave : np.ndarray, shape (time,)
    sample_rate : int > 0, Hz
    min_strength : float
        Least periodicity (normalised onset autocorrelation at the beat) accepted as a beat.

    Raises
    ------
    ParameterError
        The wave has no steady beat (silence, a drone, noise) or is shorter than two beats.
    """
    onset, logbands, fps = onset_envelopes(wave, sample_rate)
    bpm, strength = estimate_tempo(onset, sample_rate)
    if not strength >= min_strength:
        raise ParameterError(f"no steady beat (onset periodicity {strength:.2f} < {min_strength:g})")
    down = estimate_downbeat(onset, logbands, fps, bpm, beats_per_bar=beats_per_bar)
    return BeatGrid(bpm=bpm, downbeat_s=down, beats_per_bar=beats_per_bar, strength=strength)
