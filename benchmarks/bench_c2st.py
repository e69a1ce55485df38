"""Benchmark (not a test): the classifier two-sample test on procedural loops and a bundled model, one CPU thread.

Rows (``a`` is always the first ``n`` procedural loops; ``b`` is ``n`` other loops):

- ``procedural halves``: the next ``n`` procedural loops (the floor: should be ~0.5);
- ``mel-GL round trip``: those loops encoded and decoded by ``gansynth-mel-gl``'s feature map (64 mel bands, hop 512,
  Griffin-Lim): what the representation alone costs, before any generator;
- ``gansynth-mel-gl``: ``n`` loops of the bundled model, ``model.decode(model.latent(n, seed=0), rescale=True)``;
- with ``--ladder``, the degradations of :mod:`gan_plugins.metrics.degrade` of the next ``n`` loops at strengths
  1/3, 2/3 and 1.

``seconds`` is the wall time of :func:`~gan_plugins.metrics.c2st.c2st` alone (features, five trainings,
bootstrap), ``cpu s`` its process CPU time (the wall time on an otherwise idle core). Run from the repository root::

    .venv/bin/python benchmarks/bench_c2st.py -n 300
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.io.model import load_model
from gan_plugins.metrics.c2st import c2st
from gan_plugins.metrics.degrade import DEGRADATIONS, degrade

MODEL = "gansynth-mel-gl"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="loops per set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test (folds, weights, shifts, bootstrap)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs per fold (default: c2st's)")
    parser.add_argument("--ladder", action="store_true", help="add the degradation ladder rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("command: .venv/bin/python benchmarks/bench_c2st.py " + " ".join(sys.argv[1:] if argv is None else argv))

    model = load_model(MODEL)
    sr, seconds = model.sample_rate, model.config["loop_samples"] / model.sample_rate
    t = time.perf_counter()
    real, _ = synthesize_loops(2 * args.n, seconds=seconds, sample_rate=sr, seed=0)
    a, other = real[: args.n], real[args.n:]
    features = model.plugin.audio_features(model.config)
    round_trip = np.concatenate([features.decode(features.encode(torch.from_numpy(chunk))).numpy()
                                 for chunk in np.array_split(other, max(1, len(other) // 32))])
    generated = model.decode(model.latent(args.n, seed=0), rescale=True)
    print(f"{2 * args.n} procedural loops of {seconds:g} s at {sr} Hz, their round trip and {args.n} loops of "
          f"{MODEL}: {time.perf_counter() - t:.0f} s")

    rows = [("procedural halves", other), ("mel-GL round trip", round_trip), (MODEL, generated)]
    if args.ladder:
        rows += [(f"{kind} {s:.2f}", degrade(other, kind, s, sample_rate=sr))
                 for kind in DEGRADATIONS for s in (1 / 3, 2 / 3, 1.0)]
    kw = {} if args.epochs is None else {"epochs": args.epochs}
    print(f"\n| b ({args.n} loops) vs {args.n} procedural | accuracy | 95 % interval | AUC | seconds | cpu s |")
    print("|---|---|---|---|---|---|")
    for name, b in rows:
        wall, cpu = time.perf_counter(), time.process_time()
        r = c2st(a, b, sr, seed=args.seed, **kw)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"| {name} | {r.accuracy:.3f} | [{r.low:.3f}, {r.high:.3f}] | {r.auc:.3f} | {wall:.1f} | {cpu:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
