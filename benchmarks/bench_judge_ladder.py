"""Hand-run: the rhythm/transient measures and the existing FDD on the degradation ladder, and their cost.

32 procedural loops (seed 1) are the real set; 32 others (seed 2) are degraded by each kind of
:func:`gan_plugins.metrics.degrade.degrade` at strengths 0, 0.33, 0.66 and 1 and scored against the real set.
Prints one Markdown table; then the seconds :func:`gan_plugins.metrics.rhythm.rhythm_judge` takes for 300 + 300
loops on one torch thread.

    .venv/bin/python benchmarks/bench_judge_ladder.py [--loops 32] [--timing-loops 300]
"""

from __future__ import annotations

import argparse
import time

import torch

from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.metrics.audio import frechet_descriptor_distance
from gan_plugins.metrics.degrade import DEGRADATIONS, degrade
from gan_plugins.metrics.rhythm import rhythm_judge

SR = 16000
COLUMNS = ("onset_sharpness_ms", "onset_peakiness", "artefact_index", "artefact_alternation",
           "artefact_modulation_db", "beat_strength")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=32)
    parser.add_argument("--timing-loops", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    real = synthesize_loops(args.loops, seconds=2.0, sample_rate=SR, seed=1)[0]
    other = synthesize_loops(args.loops, seconds=2.0, sample_rate=SR, seed=2)[0]
    print("| kind | strength | " + " | ".join(COLUMNS) + " | FDD |")
    print("|---|---:|" + "---:|" * (len(COLUMNS) + 1))
    for kind in DEGRADATIONS:
        for strength in (0.0, 0.33, 0.66, 1.0):
            fake = degrade(other, kind, strength, sample_rate=SR, seed=0)
            scores = rhythm_judge(real, fake, SR)
            fdd = frechet_descriptor_distance(real, fake, SR)
            print(f"| {kind} | {strength:.2f} | " + " | ".join(f"{scores[c]:.3g}" for c in COLUMNS)
                  + f" | {fdd:.3g} |")
    n = args.timing_loops
    big_real = synthesize_loops(n, seconds=2.0, sample_rate=SR, seed=3)[0]
    big_fake = degrade(synthesize_loops(n, seconds=2.0, sample_rate=SR, seed=4)[0], "pairs", 0.5, sample_rate=SR)
    start = time.perf_counter()
    rhythm_judge(big_real, big_fake, SR)
    print(f"\nrhythm_judge, {n} + {n} loops of 2 s at 16 kHz, one thread: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
