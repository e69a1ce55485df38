"""Rendering a latent walk as audio: one latent per loop, decoded by the plugin, joined on the loop grid.

Loop ``i`` of the walk is decoded from ``walk(i * loop_seconds)`` and occupies bar ``i`` of the output exactly
(``[i * L, (i + 1) * L)`` samples, ``L`` the model's loop length), so the beat never drifts. Two measured facts of
the decoded loops shape the joins:

- A generated loop starts at full level at its first sample (the kick sits on the frame centred at sample 0; on the
  bundled models the first sample is near full scale) and ends quietly, so butting loops together steps from ~0 to
  ~1 in one sample: a click larger than any step inside a loop. Each loop therefore gets a short raised-cosine
  fade-in and fade-out (``declick`` samples, 4 ms by default) at its wrap point.
- The waveforms of neighbouring loops of a walk are nearly uncorrelated (phase reconstruction and IF integration
  do not keep phase coherence between nearby latents), so an *equal-power* crossfade (``g_out**2 + g_in**2 = 1``)
  keeps the level constant through a join, where an equal-gain one would dip by 3 dB.

The crossfade between loop ``i`` and ``i + 1`` covers the last ``crossfade`` samples of bar ``i``: both loops play
those same bar positions, one fading out, the other in; at the bar line the new loop simply continues from its own
start, as it would when looped. Where both loops have a transient at the same instant their sum can step further
than either loop ever does; a 4 ms gain dip there (:func:`limit_steps`) keeps every step at a join within the
largest step inside the two loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from gan_plugins.io.model import DEFAULT_BATCH, Model
from gan_plugins.latent.walks import Walk
from specrep.errors import ParameterError, check_positive_int

__all__ = ["WalkRender", "declick", "equal_power_gains", "join_loops", "join_steps", "limit_steps", "render_latents",
           "render_walk", "smooth_gain"]


def equal_power_gains(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power crossfade of ``n`` samples: ``(g_out, g_in)``, each ``(n,)``, with ``g_out**2 + g_in**2 = 1``,
    ``g_out`` falling from ~1 to ~0 as ``cos`` and ``g_in`` rising as ``sin`` (sampled at sample centres)."""
    check_positive_int("n", n)
    phase = (np.arange(n, dtype=np.float64) + 0.5) / n * (np.pi / 2.0)
    return np.cos(phase), np.sin(phase)


def declick(loops: np.ndarray, ramp: int) -> np.ndarray:
    """Raised-cosine fade-in over the first and fade-out over the last ``ramp`` samples of each loop
    ``(N, L) -> (N, L)``; ``ramp=0`` returns a copy."""
    out = np.array(loops, dtype=np.float32, copy=True)
    if ramp <= 0:
        return out
    if 2 * ramp > out.shape[-1]:
        raise ParameterError(f"declick={ramp} samples must be at most half a loop ({out.shape[-1]} samples)")
    fade = (0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)).astype(np.float32)  # 0 ... just below 1
    out[..., :ramp] *= fade
    out[..., -ramp:] *= fade[::-1]
    return out


def join_loops(loops: np.ndarray, crossfade: int, *, compensate: bool = True, limit=None) -> np.ndarray:
    """Join loops ``(N, L)`` on their grid into one wave ``(N * L,)``: loop ``i`` fills ``[i L, (i + 1) L)``; over
    the last ``crossfade`` samples of each bar but the last, loop ``i`` fades out and loop ``i + 1`` (the same bar
    positions of it) fades in with :func:`equal_power_gains`.

    Parameters
    ----------
    loops : np.ndarray, shape (N, L)
    crossfade : int
        Samples, ``0 < crossfade <= L``.
    compensate : bool
        Scale both gains by ``1 / sqrt(1 + 2 rho g_out g_in)``, ``rho`` the correlation of the two overlapping
        segments (clamped to [-0.5, 1]), so the expected power stays constant for correlated segments too; at
        ``rho = 0`` the gains are exactly equal-power, for identical segments the join is seamless.
    limit : sequence of float, optional
        Per join (``N - 1`` values), the largest sample-to-sample step allowed around it (see :func:`limit_steps`).
    """
    loops = np.asarray(loops, dtype=np.float32)
    if loops.ndim != 2 or loops.shape[0] < 1:
        raise ParameterError(f"loops of shape {loops.shape} must be (N >= 1, samples)")
    n, length = loops.shape
    if not 0 < crossfade <= length:
        raise ParameterError(f"crossfade={crossfade} samples must be in (0, {length}] (one loop)")
    out = loops.reshape(-1).copy()
    g_out, g_in = equal_power_gains(crossfade)
    for i in range(n - 1):
        a, b = loops[i, -crossfade:].astype(np.float64), loops[i + 1, -crossfade:].astype(np.float64)
        k = 1.0 / np.sqrt(1.0 + 2.0 * _correlation(a, b) * g_out * g_in) if compensate else 1.0
        end = (i + 1) * length
        out[end - crossfade: end] = (k * (g_out * a + g_in * b)).astype(np.float32)
        if limit is not None:
            lo, hi = max(0, end - crossfade - 256), min(out.shape[0], end + 256)
            out[lo:hi] = limit_steps(out[lo:hi], float(limit[i]))
    return out


def limit_steps(x: np.ndarray, limit: float, *, width: int = 32, max_iter: int = 16) -> np.ndarray:
    """Keep every sample-to-sample step of ``x`` ``(T,)`` at most ``limit`` with short gain dips.

    Where two loops' transients coincide in a crossfade, their sum can step further than either loop ever does; a
    Hann-shaped gain dip ``2 * width + 1`` samples wide (4 ms at 16 kHz), just deep enough, is applied around each
    such step, repeated until none is left. Returns a new array; ``x`` is returned unchanged when no step exceeds.
    """
    x = np.asarray(x, dtype=np.float32)
    shape = np.hanning(2 * width + 3)[1:-1]
    for _ in range(max_iter):
        step = np.abs(np.diff(x))
        over = np.nonzero(step > limit)[0]
        if over.size == 0:
            return x
        gain = np.ones(x.shape[0])
        for j in over:
            depth = 1.0 - 0.98 * limit / step[j]
            lo, hi = max(0, j - width), min(x.shape[0], j + width + 1)
            dip = 1.0 - depth * shape[lo - (j - width): hi - (j - width)]
            gain[lo:hi] = np.minimum(gain[lo:hi], dip)
        x = (x * gain).astype(np.float32)
    return x


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two segments (no mean removal: audio is zero-mean), clamped to [-0.5, 1]."""
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.clip(np.dot(a, b) / den, -0.5, 1.0)) if den > 0 else 0.0


def join_steps(wave: np.ndarray, loops: np.ndarray, crossfade: int, *, margin: int = 256) -> list[dict[str, float]]:
    """At each join of :func:`join_loops`, the largest sample-to-sample step around it (from ``crossfade +
    margin`` before the bar line to ``margin`` after) against the largest step inside each adjoining loop.

    Returns one dict per join: ``{"join": step, "inside": max of the two loops' largest steps}``.
    """
    length = loops.shape[-1]
    inside = np.abs(np.diff(loops, axis=-1)).max(-1)
    rows = []
    for i in range(loops.shape[0] - 1):
        end = (i + 1) * length
        lo, hi = max(0, end - crossfade - margin), min(wave.shape[-1], end + margin)
        rows.append({"join": float(np.abs(np.diff(wave[lo:hi])).max()),
                     "inside": float(max(inside[i], inside[i + 1]))})
    return rows


def render_latents(model: Model, latents: torch.Tensor, *, batch: int = DEFAULT_BATCH, progress=None) -> np.ndarray:
    """Decode latents ``(N, z_dim)`` to loops ``(N, loop_samples)`` float32 for a walk: :meth:`Model.decode` in
    batches of ``batch``, ``progress`` (optional) advanced by each batch's size, always with ``rescale=False``.

    Each loop is kept as synthesised, without the per-loop peak rescaling of ``render``: that gain jumps between
    neighbouring latents (by 0.47 dB of loudness between latents 1/256 anchor apart on gansynth-mel-gl, 9x the
    change without it; benchmarks/bench_walks.py), so walks apply :func:`smooth_gain` instead.

    Raises
    ------
    NotAnAudioModel
        If ``model`` is not an audio model.
    """
    return model.decode(latents, rescale=False, batch=batch, progress=progress)


def smooth_gain(loops: np.ndarray, *, headroom: float = 0.98) -> np.ndarray:
    """One slowly varying gain for a sequence of loops ``(N, L)``: per-sample gains ``(N, L)``.

    Loop ``i`` needs ``g_i = min(1, headroom / peak_i)`` to stay below full scale. The gain takes, at each loop's
    centre, the smallest need of the loop and its two neighbours, and moves linearly from centre to centre, so it
    never exceeds what the loop under it needs and changes by at most one neighbour's step per loop (no
    per-loop jumps, as rescaling each loop by its own peak would make).
    """
    loops = np.asarray(loops)
    if loops.ndim != 2:
        raise ParameterError(f"loops of shape {loops.shape}; expected (N, loop_samples)")
    n, length = loops.shape
    peak = np.abs(loops).max(-1) if length else np.zeros(n)
    need = np.minimum(1.0, headroom / np.maximum(peak, 1e-12))
    padded = np.concatenate([need[:1], need, need[-1:]])
    at_centre = np.minimum(np.minimum(padded[:-2], padded[1:-1]), padded[2:])
    centres = (np.arange(n) + 0.5) * length
    return np.interp(np.arange(n * length, dtype=np.float64), centres, at_centre).reshape(n, length)


@dataclass
class WalkRender:
    """A rendered walk.

    Attributes
    ----------
    wave : np.ndarray, shape (n_loops * loop_samples,)
    sample_rate : int
    loops : np.ndarray, shape (n_loops, loop_samples)
        The decoded loops with the walk's :func:`smooth_gain`, before declicking and crossfades.
    latents : np.ndarray, shape (n_loops, z_dim)
        ``walk(times)``.
    times : np.ndarray, shape (n_loops,)
        Start of each loop (seconds).
    crossfade, declick : int
        Samples.
    walk : dict
        The walk's settings.
    gain : np.ndarray, shape (n_loops,)
        The smooth gain at each loop's centre (:func:`smooth_gain`; 1 = as synthesised).
    """

    wave: np.ndarray
    sample_rate: int
    loops: np.ndarray
    latents: np.ndarray
    times: np.ndarray
    crossfade: int
    declick: int
    walk: dict = field(default_factory=dict)
    gain: np.ndarray | None = None

    @property
    def loop_seconds(self) -> float:
        return self.loops.shape[-1] / self.sample_rate

    @property
    def seconds(self) -> float:
        return self.wave.shape[-1] / self.sample_rate

    def join_report(self) -> list[dict[str, float]]:
        """:func:`join_steps` of this render."""
        return join_steps(self.wave, self.loops, self.crossfade)

    def join_levels_db(self) -> np.ndarray:
        """Per join, the level of the crossfade window against the mean power of the two loops over the same bar
        positions (dB; 0 = constant loudness through the join). ``(n_loops - 1,)``"""
        src = declick(self.loops, self.declick)[:, -self.crossfade:].astype(np.float64)
        length, out = self.loops.shape[-1], []
        for i in range(src.shape[0] - 1):
            mix = self.wave[(i + 1) * length - self.crossfade: (i + 1) * length].astype(np.float64)
            ref = 0.5 * (np.mean(src[i] ** 2) + np.mean(src[i + 1] ** 2))
            out.append(10.0 * np.log10(max(np.mean(mix**2), 1e-20) / max(ref, 1e-20)))
        return np.asarray(out)


def render_walk(model: Model, walk: Walk, seconds: float, *,
                crossfade: float | None = None, declick_s: float = 0.004, batch: int = DEFAULT_BATCH,
                progress: bool = True, desc: str = "walk") -> WalkRender:
    """Render ``seconds`` of ``walk`` (at least that long, a whole number of loops).

    Parameters
    ----------
    model : Model
        An audio model (:func:`gan_plugins.io.model.load_model`).
    walk : Walk
        Its ``z_dim`` must be the model's.
    seconds : float > 0
    crossfade : float, optional
        Crossfade at each join in seconds, ``0 < crossfade <= loop`` (default a quarter of a loop: one beat of a
        one-bar loop).
    declick_s : float >= 0
        Fade at each loop's wrap point, seconds.
    batch : int
        Loops decoded per batch.
    progress : bool
        tqdm progress bar (on stderr).

    Raises
    ------
    NotAnAudioModel
        If ``model`` is not an audio model.
    ParameterError
        For a bad ``seconds``, ``crossfade`` or ``declick_s``, or a walk of another ``z_dim``.
    """
    model.require_audio("a walk")
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise ParameterError(f"seconds={seconds!r} must be a number") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ParameterError(f"seconds={seconds!r} must be > 0")
    if walk.z_dim != model.z_dim:
        raise ParameterError(f"walk z_dim={walk.z_dim} but the model's is {model.z_dim}")
    sr, length = model.sample_rate, model.loop_samples
    loop_s = length / sr
    fade = int(round((loop_s / 4 if crossfade is None else float(crossfade)) * sr))
    if not 0 < fade <= length:
        raise ParameterError(f"crossfade={crossfade!r} s must be > 0 and at most one loop ({loop_s:g} s)")
    if not (isinstance(declick_s, (int, float)) and math.isfinite(declick_s) and 0 <= declick_s <= loop_s / 2):
        raise ParameterError(f"declick_s={declick_s!r} s must be >= 0 and at most half a loop ({loop_s / 2:g} s)")
    ramp = int(round(declick_s * sr))
    n = max(1, math.ceil(seconds / loop_s - 1e-9))
    times = np.arange(n) * loop_s
    latents = walk(times)
    from tqdm.auto import tqdm

    with tqdm(total=n, desc=desc, unit="loop", disable=not progress, leave=False) as bar:
        loops = render_latents(model, latents, batch=batch, progress=bar.update)
    gain = smooth_gain(loops)
    loops = (loops * gain).astype(np.float32)
    inside = np.abs(np.diff(loops, axis=-1)).max(-1)
    wave = join_loops(declick(loops, ramp), fade, limit=np.maximum(inside[:-1], inside[1:]))
    wave = wave / max(1.0, float(np.abs(wave).max()) / 0.99)  # a crossfade of two peaks: never clip
    return WalkRender(wave=wave, sample_rate=sr, loops=loops, latents=latents.numpy(), times=times, crossfade=fade,
                      declick=ramp, walk=walk.settings(), gain=gain[:, length // 2])
