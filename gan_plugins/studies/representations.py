"""Compare trained audio GANs that differ in representation (GANSynth's table: IF vs magnitude + phase
reconstruction): NDB/K, Fréchet descriptor distance, spectral consistency, synthesis speed, training curves and
audio examples, with the floor (held-out real loops) and a noise reference beside every score.

The audio judge (:func:`gan_plugins.metrics.audio_eval.judge_scores`) scores every set as well: a classifier
two-sample test against the training loops and against the run's own round trip of those loops (what the decoder
loses is in both; what the generator misses only in the first), the learned-embedding distance, the frame-rate
artefact index at the run's own feature hop, the onset modulation excess and the attack time.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

import specrep
from gan_plugins.data.loops.plots import plot_spectrograms
from gan_plugins.io.model import Model, load_model
from gan_plugins.metrics.audio import (
    NDBReference,
    descriptor_features,
    frechet_descriptor_distance,
    onset_autocorrelation,
    rhythm_scores,
)
from gan_plugins.metrics.audio_eval import C2ST_LOOPS, FEATURE_HOP, judge_scores
from gan_plugins.metrics.c2st import MIN_PER_FOLD, c2st
from gan_plugins.metrics.embedding import MIN_SECONDS, embed
from gan_plugins.metrics.rhythm import RhythmReference
from gan_plugins.models.features import AudioFeatures
from gan_plugins.representation import Representation
from specrep.errors import ParameterError
from specrep.timing import time_calls

__all__ = ["benchmark_representations", "plot_judge", "write_report"]


def _generate(model: Model, n: int, seed: int, batch: int = 64) -> tuple[np.ndarray, torch.Tensor]:
    """``n`` loops of ``model`` from the latents of ``seed``: waves ``(n, loop_samples)`` (each rescaled into
    [-1, 1] by its own peak, as a sample is written) and their features ``(n, C, H, W)``, in batches of ``batch``."""
    feats = model.generate(model.latent(n, seed=seed), batch=batch)
    waves = [model.render(f, rescale=True) for f in feats.split(batch)]
    return torch.cat(waves).numpy(), feats


#: the representation label of a run whose features are the waveform itself (no specrep chain behind them)
WAVEFORM = "waveform"


def _representation(cfg: Mapping[str, Any]) -> str:
    """The run's representation name, :data:`WAVEFORM` for a plugin without one (e.g. WaveGAN)."""
    return str(cfg.get("representation") or WAVEFORM)


def _consistency(plugin, cfg, feats: torch.Tensor) -> float | None:
    """Mean spectral consistency (dB) of ``feats`` through the run's chain; None for a waveform model, whose
    features are audio already (nothing to be inconsistent)."""
    af = plugin.audio_features(cfg)
    if getattr(af, "chain", None) is None:
        return None
    feats = plugin.final_size(feats, cfg)  # a progressive model mid-growth makes smaller features
    x = af.norm.inverse(feats.clamp(-1, 1)) if af.norm is not None else feats
    return float(specrep.metrics.spectral_consistency_db(af.chain, x, length=af.model_samples).mean())


def _speed(model: Model, *, batch: int = 16, repeat: int = 3) -> dict[str, float]:
    """Seconds for one batch: ``synthesis`` (features -> audio, the representation's decoder) and ``total``
    (generator + synthesis), each the best of ``repeat`` runs."""
    z = model.latent(batch, seed=1)
    feats = model.generate(z, batch=batch)
    # one warm-up call each: compiles PGHI once, fills caches
    synthesis = time_calls(lambda: model.render(feats, rescale=True), repeat=repeat, warmup=1).best
    total = time_calls(lambda: model.decode(z, rescale=True, batch=batch), repeat=repeat, warmup=1).best
    return {"synthesis_s": synthesis, "total_s": total, "batch": batch}


def _decoders(cfg) -> dict[str, dict[str, Any]]:
    """The decoders timed for one run: its own, plus for magnitude-only runs the issue's baseline (32 plain
    Griffin-Lim iterations from random phase) and PGHI alone; a waveform model has no decoder but its output."""
    if _representation(cfg) == WAVEFORM:
        return {"the generator's waveform (no decoder)": {}}
    rep = Representation.of(cfg)
    own = (rep.synthesis if rep.is_if
           else f"{str(cfg.get('gl_init') or 'pghi').upper()} + {cfg['gl_n_iter']} fast Griffin-Lim iterations")
    found = {own: {}}
    if not rep.is_if:
        found["random phase + 32 fast Griffin-Lim iterations"] = {"gl_init": "random", "gl_n_iter": 32}
        found["PGHI only"] = {"gl_init": "pghi", "gl_n_iter": 0}
    return found


def _oracle(plugin, cfg, held_out: np.ndarray) -> np.ndarray:
    """Held-out real loops through the run's representation and decoder: what a perfect model could reach."""
    af = plugin.audio_features(cfg)
    x = torch.as_tensor(held_out, dtype=torch.float32)
    return torch.cat([af.decode(af.encode(chunk)) for chunk in x.split(64)]).numpy()


class _Judge:
    """The judge's references for one study: the training loops, their embeddings, a rhythm reference per feature
    hop, and the C2ST's draw of training loops (whose round trips the runs are also tested against)."""

    def __init__(self, real: np.ndarray, sr: int, *, seed: int, c2st_loops: int) -> None:
        self.real, self.sr, self.seed, self.c2st_loops = real, sr, seed, int(c2st_loops)
        self.embeddings = embed(real, sr) if real.shape[-1] >= MIN_SECONDS * sr else None
        self._rhythm: dict[int, RhythmReference] = {}
        n = min(self.c2st_loops, len(real))
        self.pick = np.sort(np.random.default_rng(seed).choice(len(real), n, replace=False))

    def rhythm(self, hop: int) -> RhythmReference:
        if hop not in self._rhythm:
            self._rhythm[hop] = RhythmReference.of(self.real, self.sr, hop=hop)
        return self._rhythm[hop]

    def score(self, waves: np.ndarray, *, hop: int, run_c2st: bool = True) -> dict[str, Any]:
        """:func:`judge_scores` of ``waves`` against the training loops (artefact index at ``hop``)."""
        return judge_scores(self.real, waves, self.sr, seed=self.seed, c2st_loops=self.c2st_loops if run_c2st else 0,
                            hop=hop, reference_embeddings=self.embeddings, reference_rhythm=self.rhythm(hop))

    def against_round_trip(self, round_trip: np.ndarray, waves: np.ndarray) -> dict[str, float | None]:
        """C2ST of ``waves`` against ``round_trip`` (the run's representation of the training loops :attr:`pick`)."""
        n = min(len(round_trip), len(waves))
        if n < 5 * MIN_PER_FOLD:  # as judge_scores: too few loops for 5 folds
            return dict.fromkeys(("c2st_accuracy", "c2st_low", "c2st_high", "c2st_auc"))
        b = waves[np.sort(np.random.default_rng(self.seed + 1).choice(len(waves), n, replace=False))]
        test = c2st(round_trip[:n], b, self.sr, seed=self.seed)
        return {"c2st_accuracy": test.accuracy, "c2st_low": test.low, "c2st_high": test.high, "c2st_auc": test.auc}


def _feature_hop(cfg: Mapping[str, Any], sr: int) -> int:
    """The run's feature hop in samples at ``sr`` (where its generator's frames sit); a waveform model has no
    frames, and its artefact index is read at the judge's default hop."""
    if cfg.get("hop_length") is None:
        return FEATURE_HOP
    return max(1, int(round(int(cfg["hop_length"]) * sr / int(cfg["sample_rate"]))))


def _features_key(cfg: Mapping[str, Any]) -> tuple:
    """Runs with equal keys share one round trip: the spectral settings, or for a waveform model its rate and
    length (its round trip is the loops themselves)."""
    if _representation(cfg) == WAVEFORM:
        return (WAVEFORM, cfg.get("sample_rate"), cfg.get("loop_samples"))
    return AudioFeatures.config_key(cfg)


def benchmark_representations(runs: Mapping[str, str | Path], data: str | Path, *, n: int = 500, n_real: int = 1000,
                              k: int = 50, seed: int = 0, out_dir: str | Path | None = None, judge: bool = True,
                              c2st_loops: int = C2ST_LOOPS) -> dict[str, Any]:
    """Score each run's EMA generator against the loops of ``data``.

    Parameters
    ----------
    runs : mapping label -> run folder or checkpoint
    data : the training dataset (``.npy`` + sidecar)
    n : generated loops per run; n_real : real loops that define the NDB bins; k : NDB bins
    out_dir : where audio examples, spectrogram sheets and plots go (None: nowhere)
    judge : also score every set with the audio judge (``judge`` in each entry; ``judge_round_trip`` in each run:
        the C2ST against the run's round trip of ``c2st_loops`` training loops)
    c2st_loops : loops a side of each C2ST (300: about 36 CPU s a test on one thread)

    Returns
    -------
    dict with ``floor``, ``noise`` (a reference, not a bound: NDB/K and JSD have no ceiling, a collapsed model can
    score worse than noise) and one entry per run (ndb_k, jsd, fdd, consistency_db, step, representation,
    synthesis, ``oracle``: the scores of held-out real loops passed through the run's representation and decoder,
    ``speed``: per decoder, seconds per batch of 16 for synthesis alone and generator + synthesis), plus
    ``settings``. Runs with the same feature map and decoder (e.g. one run at two steps) share one ``oracle``,
    computed once; ``oracle_of`` names the first run that has it.

    With ``out_dir``, also ``side-by-side.png``: spectrograms of 4 held-out real loops and of 4 loops of every run,
    one row each, all computed from the audio the same way whatever the representation; and with ``judge``,
    ``judge.png`` (:func:`plot_judge`).
    """
    if not runs:
        raise ParameterError("give at least one run to benchmark")
    loaded = {label: load_model(path).require_audio("the representation benchmark") for label, path in runs.items()}
    first = next(iter(loaded.values()))
    first_plugin, first_cfg, sr = first.plugin, first.config, first.sample_rate
    # the bins and the reference statistics come from training loops only; the floor from loops the model never saw
    train_rows = first_plugin.dataset(str(data), dict(first_cfg), split="train")
    held = first_plugin.dataset(str(data), dict(first_cfg), split="test")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(train_rows), size=min(n_real, len(train_rows)), replace=False))
    real = np.stack([train_rows[int(i)].numpy() for i in pick])
    held_out = np.stack([held[i].numpy() for i in range(len(held))])
    ref = NDBReference(real, sr, k=k, seed=seed)
    real_desc = descriptor_features(real, sr)
    noise = (rng.standard_normal(held_out.shape) * held_out.std()).astype(np.float32)
    profiles: dict[str, np.ndarray] = {}
    profiles["real (training)"], bpm = onset_autocorrelation(real, sr)

    def scores(name: str, waves: np.ndarray) -> dict[str, float]:
        profiles[name] = onset_autocorrelation(waves, sr)[0]
        return {**ref.score(waves), "fdd": frechet_descriptor_distance(real, waves, sr, real_features=real_desc),
                **rhythm_scores(profiles["real (training)"], profiles[name])}

    referee = _Judge(real, sr, seed=seed, c2st_loops=c2st_loops) if judge else None
    first_hop = _feature_hop(first_cfg, sr)
    result: dict[str, Any] = {
        "settings": {"data": str(data), "n": n, "n_real": len(real), "n_held_out": len(held_out), "k": k,
                     "seed": seed, "judge": bool(judge), "c2st_loops": int(c2st_loops)},
        "floor": scores("held-out real", held_out),
        "noise": scores("noise", noise),
        "runs": {},
    }
    if referee is not None:
        result["floor"]["judge"] = referee.score(held_out, hop=first_hop)
        result["noise"]["judge"] = referee.score(noise, hop=first_hop, run_c2st=False)  # noise is trivially told
    out = Path(out_dir) if out_dir else None
    result["settings"]["out_dir"] = str(out) if out is not None else None
    oracles: dict[tuple, str] = {}  # representation key -> first run label with it
    round_trips: dict[tuple, np.ndarray] = {}  # representation key -> its round trip of the C2ST's training loops
    side = {"held-out real": held_out[:4]}
    for label, model in loaded.items():
        plugin, cfg = model.plugin, model.config
        waves, feats = _generate(model, n, seed)
        side[label] = waves[:4]
        decoders = _decoders(cfg)
        key = _features_key(cfg)  # runs with one feature map and decoder share one round trip
        hop = _feature_hop(cfg, sr)
        if key not in oracles:
            oracles[key] = label
            oracle_waves = _oracle(plugin, cfg, held_out)
            oracle = scores(f"held-out real through {label}'s representation", oracle_waves)
            if referee is not None:
                oracle["judge"] = referee.score(oracle_waves, hop=hop)
                round_trips[key] = _oracle(plugin, cfg, real[referee.pick])
        else:
            oracle = result["runs"][oracles[key]]["oracle"]
        row = {"representation": _representation(cfg), "run": str(runs[label]), **scores(label, waves),
               "consistency_db": _consistency(plugin, cfg, feats[:64]),
               "synthesis": next(iter(decoders)),
               "oracle": oracle, "oracle_of": oracles[key],
               "speed": {name: _speed(model.with_settings(extra)) for name, extra in decoders.items()},
               "max_abs": float(np.abs(waves).max()), "finite": bool(np.isfinite(waves).all()),
               "threads": torch.get_num_threads()}
        row["step"] = model.step
        if referee is not None:
            row["judge"] = referee.score(waves, hop=hop)
            row["judge_round_trip"] = referee.against_round_trip(round_trips[key], waves)
        result["runs"][label] = row
        if out is not None:
            examples = out / label
            plugin.save_samples(feats[:8], examples, fmt="wav", config=cfg)
    if out is not None:
        _plot_curves(runs, out / "training-curves.png")
        _plot_rhythm(profiles, bpm, out / "rhythm.png")
        if referee is not None:
            plot_judge(result, out / "judge.png")
        plot_spectrograms([w for ws in side.values() for w in ws], sr, out / "side-by-side.png",
                          titles=[f"{name} #{i}" for name, ws in side.items() for i in range(len(ws))], columns=4)
    return result


def _plot_rhythm(profiles: Mapping[str, np.ndarray], bpm: np.ndarray, path: Path) -> None:
    """Mean onset-autocorrelation profile over tempo, and the spread of beat strength, for every set."""
    from specrep.plotting import subplots

    fig, axes = subplots(1, 2, figsize=(11, 3.5))
    for name, ac in profiles.items():
        if name.startswith("held-out real through") or ac.shape[-1] == 0:
            continue
        axes[0].plot(bpm, ac.mean(0), label=name, linewidth=1.5)
        axes[1].hist(ac.max(-1), bins=np.linspace(0.0, 1.0, 21), histtype="step", linewidth=1.5, label=name,
                     weights=np.full(len(ac), 1.0 / len(ac)))
    axes[0].set_xlabel("beat period as tempo (BPM)")
    axes[0].set_ylabel("mean onset autocorrelation")
    axes[0].set_title("rhythm profile: where the beats fall")
    axes[1].set_xlabel("beat strength: highest autocorrelation peak of a loop")
    axes[1].set_ylabel("share of loops")
    axes[1].set_title("steadiness of the beat")
    if axes[1].get_legend_handles_labels()[0]:
        axes[1].legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def trailing_mean(x: np.ndarray, win: int) -> np.ndarray:
    """Moving average over full trailing windows of ``win`` points: ``(n,)`` -> ``(n - win + 1,)`` (a centred one
    with zero padding dips at both ends of a training curve)."""
    return np.convolve(np.asarray(x, dtype=np.float64), np.ones(win) / win, mode="valid")


def _plot_curves(runs: Mapping[str, str | Path], path: Path) -> None:
    from specrep.plotting import subplots

    fig, axes = subplots(1, 2, figsize=(11, 3.5))
    for label, run in runs.items():
        log = Path(run) / "log.csv"
        if not log.is_file():
            continue
        with open(log) as f:
            rows = list(csv.DictReader(f))
        step = np.array([float(r["step"]) for r in rows])
        gap = np.array([float(r["d_real"]) - float(r["d_fake"]) for r in rows])
        loss_g = np.array([float(r["loss_g"]) for r in rows])
        win = max(1, len(step) // 50)
        axes[0].plot(step[win - 1:], trailing_mean(gap, win), label=label)
        axes[1].plot(step[win - 1:], trailing_mean(loss_g, win), label=label)
    axes[0].set_title("critic gap D(real) - D(fake) (Wasserstein estimate), smoothed")
    axes[1].set_title("generator loss, smoothed")
    for ax in axes:
        ax.set_xlabel("generator step")
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")


def _score_row(name: str, rep: str, step, r: Mapping[str, Any], consistency: float | None = None) -> str:
    cons = "" if consistency is None else f"{consistency:.1f}"
    rhythm = " | ".join("n/a" if math.isnan(r[k]) else f"{r[k]:.2f}"
                        for k in ("beat_strength", "clear_beat", "profile_corr"))
    return (f"| {name} | {rep} | {step} | {r['ndb_k']:.2f} | {r['jsd']:.3f} | {r['fdd']:.2f} | {cons} | "
            f"{rhythm} |")


def _speed_table(result: Mapping[str, Any]) -> list[str]:
    rows = [(label, r["representation"], name, t) for label, r in result["runs"].items()
            for name, t in r["speed"].items()]
    if not rows:
        return []
    threads = {r.get("threads") for r in result["runs"].values()}
    if_rows = [row for row in rows
               if row[1] != WAVEFORM and Representation.parse(row[1]).is_if
               and row[2] == result["runs"][row[0]]["synthesis"]]
    ref = if_rows[0] if if_rows else None
    lines = ["", f"Synthesis speed, batch of {rows[0][3]['batch']} loops, CPU, {'/'.join(map(str, threads))} "
             "thread(s), best of 3; 'synthesis' is features -> audio (the representation's decoder), 'total' adds the "
             "generator." + (f" Ratios are against {ref[0]}'s IF synthesis." if ref else ""), "",
             "| model | decoder | synthesis (ms) | loops/s | total (ms) | loops/s | synthesis time / IF's |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for label, _, name, t in rows:
        ratio = f"{t['synthesis_s'] / ref[3]['synthesis_s']:.1f}x" if ref else ""
        lines.append(f"| {label} | {name} | {t['synthesis_s'] * 1e3:.1f} | {t['batch'] / t['synthesis_s']:.1f} | "
                     f"{t['total_s'] * 1e3:.1f} | {t['batch'] / t['total_s']:.1f} | {ratio} |")
    return lines


def _c2st_cell(j: Mapping[str, Any] | None) -> str:
    if not j or j.get("c2st_accuracy") is None:
        return "–"
    return f"{j['c2st_accuracy']:.2f} [{j['c2st_low']:.2f}, {j['c2st_high']:.2f}]"


def _num(v, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _judge_table(result: Mapping[str, Any]) -> list[str]:
    """The judge's table: one row per set that has ``judge`` scores."""
    sets = [("floor (held-out real)", result["floor"], None)]
    for label, r in result["runs"].items():
        sets.append((label, r, r.get("judge_round_trip")))
        if r.get("oracle_of", label) == label:
            sets.append((f"held-out real through {label}'s representation", r["oracle"], None))
    sets.append(("noise (reference)", result["noise"], None))
    if not any(row.get("judge") for _, row, _ in sets):
        return []
    n = result["settings"].get("c2st_loops", "")
    lines = ["", "Audio judge (`gan_plugins.metrics`; docs/judge.md): C2ST = accuracy of a fresh small CNN telling "
             f"the set from {n} training loops (5 folds, 95 % bootstrap interval; 0.5 = indistinguishable), and "
             "from the run's own round trip of those loops (what the generator misses; the decoder's losses are in "
             "both sets); embedding FD = Fréchet distance of the shipped loop embedding; artefact index = period-2 "
             "alternation of frame energies at the set's feature hop above the training loops' (percentage "
             "points, ~0 for real audio); modulation excess = onset-envelope modulation energy 8-40 Hz above the "
             "training loops' (dB); attack = median onset attack time (ms, lower = sharper).", "",
             "| set | C2ST vs training | C2ST vs round trip | embedding FD | artefact index (pp) | "
             "modulation excess (dB) | attack (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row, rt in sets:
        j = row.get("judge")
        if not j:
            continue
        lines.append(f"| {name} | {_c2st_cell(j)} | {_c2st_cell(rt)} | {_num(j.get('embedding_fd'), '.2f')} | "
                     f"{_num(j.get('artefact_index'), '+.1f')} | {_num(j.get('artefact_modulation_db'), '+.1f')} | "
                     f"{_num(j.get('onset_sharpness_ms'), '.1f')} |")
    return lines


def plot_judge(result: Mapping[str, Any], path: str | Path) -> Path:
    """``judge.png``: the C2ST accuracy of every set with its interval (against the training loops, and for runs
    against their round trip), and the modulation excess; one row per set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("held-out real", result["floor"].get("judge"), None)]
    for label, r in result["runs"].items():
        rows.append((label, r.get("judge"), r.get("judge_round_trip")))
        if r.get("oracle_of", label) == label:
            rows.append((f"round trip ({label})", r["oracle"].get("judge"), None))
    rows = [row for row in rows if row[1]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 0.5 * len(rows) + 1.6), sharey=True)
    y = np.arange(len(rows))[::-1]
    labelled: set[str] = set()
    for yi, (_, j, rt) in zip(y, rows, strict=True):
        for test, dy, colour, lab in ((j, 0.15, "C0", "vs training"), (rt, -0.15, "C3", "vs round trip")):
            if test and test.get("c2st_accuracy") is not None:
                a = test["c2st_accuracy"]
                ax1.errorbar(a, yi + dy, xerr=[[a - test["c2st_low"]], [test["c2st_high"] - a]], fmt="o",
                             color=colour, label=None if lab in labelled else lab)
                labelled.add(lab)
        excess = j.get("artefact_modulation_db")
        ax2.barh(yi, excess if excess is not None and math.isfinite(excess) else 0.0, color="C2")
    ax1.axvline(0.5, color="k", lw=0.8, ls=":")
    ax1.set_xlim(0.4, 1.02)
    ax1.set_xlabel("C2ST accuracy (0.5 = indistinguishable)")
    ax1.legend(loc="lower left", fontsize=8)
    ax2.axvline(0.0, color="k", lw=0.8)
    ax2.set_xlabel("onset modulation 8-40 Hz above the training loops (dB)")
    ax1.set_yticks(y, [name for name, _, _ in rows], fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


REPORT_TITLE = "Representations: magnitude + phase reconstruction vs magnitude + instantaneous frequency"


def write_report(result: Mapping[str, Any], path: str | Path, *, command: str, title: str = REPORT_TITLE) -> Path:
    """Markdown table of :func:`benchmark_representations`' result, headed by ``title`` and the command that
    produced it."""
    fl, ce = result["floor"], result["noise"]
    lines = [
        f"# {title}",
        "",
        f"Command: `{command}`",
        "",
        f"Data: `{result['settings']['data']}`; NDB bins: k = {result['settings']['k']} k-means bins on log-mel "
        f"spectrograms of {result['settings']['n_real']} training loops; {result['settings']['n']} generated loops "
        f"per model; floor = {result['settings']['n_held_out']} held-out real loops (the best a model can reach at "
        "this sample size); noise = Gaussian noise at the data's level, a reference and not a bound: FDD has no "
        "upper limit and NDB/K or JSD of a model that collapses into a few bins can exceed noise's, which spreads "
        "evenly over the bins. Lower is better for every score except speed and the rhythm scores.",
        "",
        "Rhythm: beat strength = median onset-autocorrelation peak (higher = steadier beat); clear beat = share of "
        "loops at least as periodic as the real loops' 10th percentile; rhythm profile corr. = correlation of the "
        "mean onset autocorrelation over beat periods (60-200 BPM) with the real loops' (1 = beats at the same "
        "periods).",
        "",
        "| model | representation | steps | NDB/K | JSD | FDD | consistency (dB) | beat strength | clear beat "
        "| rhythm profile corr. |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        _score_row("floor (held-out real)", "", "", fl),
    ]
    for label, r in result["runs"].items():
        lines.append(_score_row(label, r["representation"], r.get("step", ""), r, r["consistency_db"]))
        if r.get("oracle_of", label) == label:  # one round-trip row per feature map, after its first run
            lines.append(_score_row(f"held-out real through {label}'s representation", r["representation"], "",
                                    r["oracle"]))
    lines.append(_score_row("noise (reference, not a bound)", "", "", ce))
    lines += _judge_table(result)
    lines += _speed_table(result)
    path = Path(path)
    if result["settings"].get("out_dir"):
        rel = Path(os.path.relpath(result["settings"]["out_dir"], path.parent)).as_posix()
        lines += ["", f"Figures: `{rel}/side-by-side.png` (spectrograms of real loops and of every model, one row "
                  f"each), `{rel}/training-curves.png` (critic gap and generator loss), `{rel}/rhythm.png` (rhythm "
                  f"profile and beat strength of every set), "
                  + (f"`{rel}/judge.png` (the judge's C2ST and modulation excess), " if result["settings"].get("judge")
                     else "") + f"and per model 8 loops + `spectrograms.png` under "
                  f"`{rel}/<model>/`."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
