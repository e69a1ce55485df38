"""Benchmark (not a test): how much of a loop survives each model representation, before any training.

Encodes real loops with a GANSynth feature map (``AudioFeatures``: representation, STFT, mel bands), decodes them
with the same decoder a trained model uses, and scores the result against the original: spectral convergence
(dB, lower is better), log-spectral distance (dB) and the beat strength of the rhythm metric. A model of a
representation cannot beat its round trip, so this picks the settings worth training.

Run from the repository root (the dataset comes from ``loopgan data synth``)::

    .venv/bin/python benchmarks/bench_feature_roundtrip.py --data runs/data/loops-2s.npy -n 48 \
        --report docs/results/feature-roundtrip.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import specrep
from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.metrics.audio import onset_autocorrelation
from gan_plugins.models.features import AudioFeatures

# (representation, n_fft, hop_length, frames, n_mels, mel_nnls_iter) for 2 s loops at 16 kHz; mel_nnls_iter None = the
# decoding default (0 for IF, 50 for Griffin-Lim); the extra rows measure that default.
SETTINGS = [
    ("mel-gl", 1024, 512, 64, 64, None),
    ("mel-gl", 1024, 512, 64, 64, 2),
    ("mel-if", 1024, 512, 64, 64, None),
    ("mel-if", 1024, 256, 128, 64, None),
    ("mel-if", 1024, 256, 128, 96, None),
    ("mel-if", 1024, 512, 64, 128, None),
    ("mel-if", 1024, 512, 64, 128, 50),
    ("mel-gl", 1024, 512, 64, 128, None),
    ("mel-if", 1024, 256, 128, 128, None),
    ("mel-if", 2048, 512, 64, 64, None),
    ("mel-if", 2048, 512, 64, 128, None),
    ("mel-if", 2048, 512, 64, 512, None),
    ("mag-if", 512, 256, 128, None, None),
    ("mag-gl", 512, 256, 128, None, None),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="loop dataset (.npy + sidecar)")
    ap.add_argument("-n", type=int, default=48, help="loops drawn at random (seed 0)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", type=Path, help="write a markdown table here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = LoopDataset(args.data)
    pick = np.sort(np.random.default_rng(0).choice(len(data), size=min(args.n, len(data)), replace=False))
    waves = torch.stack([data[int(i)] for i in pick])
    sr = data.sample_rate
    measure = specrep.STFTParams(n_fft=1024, hop_length=256)
    beat_real = np.median(onset_autocorrelation(waves.numpy(), sr)[0].max(-1))
    rows = []
    for rep, n_fft, hop, frames, n_mels, mel_nnls_iter in SETTINGS:
        cfg = {"representation": rep, "sample_rate": sr, "loop_samples": waves.shape[-1], "n_fft": n_fft,
               "hop_length": hop, "frames": frames, "n_mels": n_mels, "mel_nnls_iter": mel_nnls_iter}
        af = AudioFeatures(cfg)
        nnls = "" if af.mel_nnls_iter is None else str(af.mel_nnls_iter)
        feats = af.encode(waves, normalize=False)
        start = time.perf_counter()
        out = af.decode(feats)
        seconds = time.perf_counter() - start
        sc = float(specrep.metrics.spectral_convergence_db(waves, out, measure).mean())
        lsd = float(specrep.metrics.log_spectral_distance(waves, out, measure).mean())
        beat = float(np.median(onset_autocorrelation(out.numpy(), sr)[0].max(-1)))
        shape = "x".join(map(str, feats.shape[1:]))
        rows.append((rep, n_fft, hop, n_mels or "", nnls, shape, sc, lsd, beat, 1e3 * seconds / len(waves)))
        print(f"{rep:7s} n_fft {n_fft:5d} hop {hop:4d} mels {str(n_mels or ''):>4s} nnls {nnls:>2s} "
              f"features {shape:>10s} "
              f"SC {sc:7.2f} dB  LSD {lsd:6.2f} dB  beat {beat:.2f} (real {beat_real:.2f})", flush=True)
    if args.report:
        lines = ["# Feature round trips: what each representation keeps of a real loop", "",
                 f"Command: `python {' '.join(sys.argv)}`", "",
                 f"{len(waves)} loops of `{args.data}` (seed 0), encoded and decoded with the decoder a trained model "
                 f"uses (IF: cumulative sum; magnitude-only: PGHI + 32 fast Griffin-Lim; mel: pseudo-inverse + the "
                 f"listed NNLS refinements). "
                 f"Scores against the original (STFT 1024/256): spectral convergence and log-spectral distance "
                 f"(lower is better), median beat strength (real loops: {beat_real:.2f}).", "",
                 "| representation | n_fft | hop | mel bands | NNLS refinements | features (C x rows x frames) "
                 "| SC (dB) | LSD (dB) | beat strength | decode ms/loop |",
                 "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
        lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.2f} | {r[7]:.2f} | {r[8]:.2f} "
                  f"| {r[9]:.1f} |" for r in rows]
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
