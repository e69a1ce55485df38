"""How smoothly the sound changes along latent paths: an audio analogue of perceptual path length.

For a path kind and a step ``eps`` (in anchor units: 1 = the distance between two independent random latents, see
:mod:`gan_plugins.latent.walks`),
points ``s0, s0 + eps, s0 + 2 eps, ...`` of several random paths are decoded to loops; the
change between consecutive loops is measured on

- a **descriptor vector**: the six per-loop descriptors of :data:`gan_plugins.metrics.audio.LOOP_DESCRIPTORS`,
  each divided by its standard deviation over independent random loops (so 1 = the typical spread of the model),
  Euclidean distance;
- each descriptor alone (loudness, centroid, ...), in the same units;
- the **log-mel spectrogram** (:func:`gan_plugins.metrics.audio.logmel_features`: 64 bands, hop 256, floored
  40 dB below the loudest bin of the set): RMS difference in dB.

The *rate* is the mean change divided by ``eps`` (change per anchor unit). The baseline "random jumps" replaces
every step by a jump to an independent latent (a playlist of unrelated random loops), so its change per step does
not shrink with ``eps``; a continuous generator along a continuous path gives changes proportional to ``eps``. The
reported ratios at one ``eps`` are ``rate(kind) / rate(jumps)`` (how much of a random jump each step is; lower =
smoother) and ``rate(kind) / rate(lerp)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_plugins.io.model import DEFAULT_BATCH, Model
from gan_plugins.latent.render import render_latents
from gan_plugins.latent.walks import make_walk
from gan_plugins.metrics.audio import LOOP_DESCRIPTORS, logmel_features, loop_descriptors
from specrep.errors import ParameterError, check_positive_int

__all__ = ["SMOOTH_KINDS", "measure_smoothness", "plot_smoothness", "smoothness_table"]

SMOOTH_KINDS = ("spline", "ou", "loop", "lerp")
_NAMES = [name for name, _ in LOOP_DESCRIPTORS]


def _changes(loops: np.ndarray, sample_rate: int, scale: np.ndarray) -> dict[str, np.ndarray]:
    """Consecutive-loop changes of ``loops (P, J, samples)`` (P paths of J points): name -> (P * (J - 1),)."""
    p, j, n = loops.shape
    flat = loops.reshape(p * j, n)
    desc = loop_descriptors(flat, sample_rate)
    vec = np.stack([desc[k] for k in _NAMES], -1).reshape(p, j, -1) / scale
    diff = np.diff(vec, axis=1).reshape(-1, len(_NAMES))
    out = {"descriptors": np.linalg.norm(diff, axis=-1)}
    out.update({k: np.abs(diff[:, i]) for i, k in enumerate(_NAMES)})
    mel = logmel_features(flat, sample_rate, n_mels=64, frames=None, range_db=40.0).reshape(p, j, -1)
    out["log_mel_db"] = np.sqrt((np.diff(mel, axis=1) ** 2).mean(-1)).reshape(-1)
    return out


def measure_smoothness(model: Model, *,
                       kinds: Sequence[str] = SMOOTH_KINDS, eps: Sequence[float] = (0.0625, 0.125, 0.25),
                       n_paths: int = 4, steps: int = 12, n_ref: int = 64, seed: int = 0, batch: int = DEFAULT_BATCH,
                       progress: bool = True) -> dict[str, Any]:
    """Change of the sound per step along each path kind, and the random-jump baseline.

    Parameters
    ----------
    model : Model
        An audio model (:func:`gan_plugins.io.model.load_model`); loops are decoded as a walk decodes them
        (:func:`gan_plugins.latent.render.render_latents`: no per-loop rescaling).
    kinds : names of :data:`gan_plugins.latent.walks.KINDS` (not ``"jumps"``)
    eps : step sizes in anchor units, each in (0, 1]
    n_paths, steps : int
        Random paths per kind and steps along each (``steps + 1`` loops decoded per path and step size).
    n_ref : int >= 2
        Independent random loops that set each descriptor's scale (their standard deviation); they are also the
        random-jump baseline (consecutive pairs).
    seed : int
    batch : int
        Loops decoded per batch.

    Returns
    -------
    dict with ``eps``, ``kinds``, ``scale`` (descriptor name -> std), ``jumps`` (measure -> mean change per jump)
    and ``change`` (kind -> measure -> list of mean change per step, one per ``eps``), plus the settings.

    Raises
    ------
    NotAnAudioModel
        If ``model`` is not an audio model.
    """
    check_positive_int("n_paths", n_paths)
    check_positive_int("steps", steps)
    check_positive_int("n_ref", n_ref)
    if n_ref < 2:
        raise ParameterError(f"n_ref={n_ref} must be >= 2")
    eps = [float(e) for e in eps]
    if not eps or any(not 0 < e <= 1 for e in eps):
        raise ParameterError(f"eps={eps} must be step sizes in (0, 1] anchor units")
    for kind in kinds:
        if kind == "jumps" or kind not in SMOOTH_KINDS:
            raise ParameterError(f"kind {kind!r} is not one of {', '.join(SMOOTH_KINDS)}")
    model.require_audio("the smoothness measure")
    sr, z_dim = model.sample_rate, model.z_dim
    rng = np.random.default_rng(seed)
    total = n_ref + len(kinds) * len(eps) * n_paths * (steps + 1)
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="smoothness", unit="loop", disable=not progress, leave=False) as bar:
        ref_z = torch.randn(n_ref, z_dim, generator=torch.Generator().manual_seed(seed + 10_000))
        ref = render_latents(model, ref_z, batch=batch, progress=bar.update)
        desc = loop_descriptors(ref, sr)
        scale = np.array([max(float(np.std(desc[k])), 1e-12) for k in _NAMES])
        jumps = {k: float(v.mean()) for k, v in _changes(ref[None], sr, scale).items()}
        change: dict[str, dict[str, list[float]]] = {}
        for kind in kinds:
            per: dict[str, list[float]] = {}
            for e in eps:
                latents = []
                for p in range(n_paths):
                    walk = make_walk(kind, z_dim, speed=60.0, seed=seed + 1 + p)  # 1 anchor per second
                    start = float(rng.uniform(0.0, 4.0))
                    latents.append(walk(start + e * np.arange(steps + 1)))
                loops = render_latents(model, torch.cat(latents), batch=batch, progress=bar.update)
                for k, v in _changes(loops.reshape(n_paths, steps + 1, -1), sr, scale).items():
                    per.setdefault(k, []).append(float(v.mean()))
            change[kind] = per
    return {"eps": eps, "kinds": list(kinds), "scale": dict(zip(_NAMES, scale.tolist(), strict=True)),
            "jumps": jumps, "change": change, "n_paths": n_paths, "steps": steps, "n_ref": n_ref, "seed": seed}


def ratios(result: Mapping[str, Any], eps: float, measure: str) -> dict[str, dict[str, float]]:
    """``kind -> {"vs_jumps": ..., "vs_lerp": ...}`` for one measure at step ``eps`` (one of ``result["eps"]``)."""
    i = result["eps"].index(eps)
    lerp = result["change"].get("lerp", {}).get(measure, [None] * len(result["eps"]))[i]
    out = {}
    for kind, per in result["change"].items():
        value = per[measure][i]
        out[kind] = {"vs_jumps": value / result["jumps"][measure],
                     "vs_lerp": value / lerp if lerp else float("nan")}
    return out


def smoothness_table(results: Mapping[str, Mapping[str, Any]], eps: float) -> str:
    """Markdown table of ratios at step ``eps`` for several models (``label -> measure_smoothness result``)."""
    measures = ("descriptors", "loudness", "centroid", "log_mel_db")
    head = ("| model | path | " + " | ".join(f"{m} vs jumps" for m in measures) + " | "
            + " | ".join(f"{m} vs lerp" for m in measures) + " |")
    lines = [head, "|" + "---|" * 2 + "---:|" * (2 * len(measures))]
    for label, res in results.items():
        r = {m: ratios(res, eps, m) for m in measures}
        for kind in res["change"]:
            cells = [f"{r[m][kind]['vs_jumps']:.3f}" for m in measures]
            cells += [f"{r[m][kind]['vs_lerp']:.2f}" for m in measures]
            lines.append(f"| {label} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_smoothness(results: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """One row per model: change per step against the step size (log-log) for the descriptor vector and the
    log-mel spectrogram, every path kind and the random-jump baseline."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    measures = (("descriptors", "descriptor vector change per step\n(model std units)"),
                ("loudness", "loudness change per step\n(model std units)"),
                ("centroid", "centroid change per step\n(model std units)"),
                ("log_mel_db", "log-mel change per step (RMS dB)"))
    fig = Figure(figsize=(3.8 * len(measures), 3.4 * len(results)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(results), len(measures), squeeze=False)
    for row, (label, res) in enumerate(results.items()):
        eps = np.asarray(res["eps"])
        for col, (m, ylabel) in enumerate(measures):
            ax = axes[row][col]
            for i, (kind, per) in enumerate(res["change"].items()):
                ax.plot(eps, per[m], "o-", color=f"C{i}", label=kind)
            ax.plot(eps, [res["jumps"][m]] * len(eps), "k--", label="random jumps")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(eps, [f"1/{round(1 / e)}" if e < 1 else "1" for e in eps])
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(FormatStrFormatter(""))
            ax.set_xlabel("step eps (anchor units)")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title(label, fontsize=9)
            ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Sound change between consecutive points of a path (mean). Smooth paths: change shrinks with the "
                 "step; random jumps: it does not", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path
