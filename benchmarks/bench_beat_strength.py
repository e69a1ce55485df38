"""Is one model's beat as steady as another's? Median beat strength with bootstrap intervals, and of the difference.

Beat strength is the representation benchmark's rhythm score (each loop's highest onset-autocorrelation peak at
60-200 BPM, ``gan_plugins.metrics.audio``); the benchmark reports the median of N loops, this script says how much
that median moves with the draw: the 95 % percentile interval of the median over ``--boot`` resamples of the loops,
for each model and for the difference of every model against the first.

    python benchmarks/bench_beat_strength.py progressive=runs/progressive-mel-if-128 \
        fixed=runs/gansynth-mel-if-128 -n 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_plugins.io.model import load_model  # noqa: E402
from gan_plugins.metrics.audio import onset_autocorrelation  # noqa: E402
from gan_plugins.studies.representations import _generate as generate_loops  # noqa: E402


def beat_strengths(ref: str, n: int, seed: int) -> np.ndarray:
    """``(n,)`` beat strengths of ``n`` loops drawn from ``ref`` (bundled name, run folder or checkpoint), the same
    loops the representation benchmark draws for that seed."""
    model = load_model(ref)
    waves, _ = generate_loops(model, n, seed)
    ac, _ = onset_autocorrelation(waves, model.sample_rate)
    return ac.max(-1)


def bootstrap_median(x: np.ndarray, boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(boot,)`` medians of resamples of ``x`` with replacement."""
    idx = rng.integers(0, len(x), size=(boot, len(x)))
    return np.median(x[idx], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=RUN (bundled name, run folder or checkpoint)")
    parser.add_argument("-n", type=int, default=300, help="loops per model")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = dict(r.split("=", 1) if "=" in r else (r, r) for r in args.runs)
    rng = np.random.default_rng(args.seed)
    strengths = {label: beat_strengths(ref, args.n, args.seed) for label, ref in runs.items()}
    medians = {label: bootstrap_median(s, args.boot, rng) for label, s in strengths.items()}
    first = next(iter(runs))
    print(f"| model | loops | median beat strength | 95 % interval | difference vs {first} | 95 % interval |")
    print("|---|---:|---:|---|---:|---|")
    for label, s in strengths.items():
        lo, hi = np.percentile(medians[label], [2.5, 97.5])
        if label != first:
            d = medians[label] - medians[first]
            dlo, dhi = np.percentile(d, [2.5, 97.5])
            diff = f"{np.median(s) - np.median(strengths[first]):+.3f} | [{dlo:+.3f}, {dhi:+.3f}]"
        else:
            diff = " | "
        print(f"| {label} | {len(s)} | {np.median(s):.3f} | [{lo:.3f}, {hi:.3f}] | {diff} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
