"""Beat periodicity, rhythm profile and 8-40 Hz modulation excess of generated loops, measured with librosa.

The measures of issue 29's table, computed by a peer library (librosa's onset strength) rather than the project's
own onset envelope, so a reader can check the bundled models with code that owes nothing to ours:

- **onset envelope**: ``librosa.onset.onset_strength`` at 4 ms hops (``hop_length = sample_rate / 250``);
- **beat periodicity**: each loop's autocorrelation of the mean-removed envelope (``librosa.autocorrelate``,
  normalised to 1 at lag 0), its highest value at the beat lags of 60-180 BPM; the mean over loops;
- **rhythm-profile r**: Pearson correlation between the mean autocorrelation over those lags of a set and of the
  real loops (1 = beats at the same periods; a period-2 zig-zag at the feature frame rate pulls it down);
- **modulation excess**: each loop's power spectrum of the mean-removed envelope, normalised to unit total power,
  averaged over loops; the set's power between 8 and 40 Hz over the real loops', in dB.

    python benchmarks/bench_rhythm_librosa.py --real runs/data/lmms-bars.npy -n 300 \
        today=runs/ablation/a-today recipe=runs/ablation/d-r1aug [--json out.json]

Each model's loops are the representation benchmark's draw for ``--seed``; the real loops are ``-n`` training
loops (the models' own training split, drawn by the seed), and a second draw of as many real loops is scored as a
set of its own (the row that says what "as real" looks like at this sample size).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_plugins.io.model import load_model  # noqa: E402
from gan_plugins.studies.representations import _generate as generate_loops  # noqa: E402

BPM_RANGE = (60.0, 180.0)
BAND_HZ = (8.0, 40.0)
ENV_RATE = 250.0  # onset envelope frames per second (4 ms)


def envelope_stats(waves: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """Per-loop beat periodicity ``(N,)``, autocorrelation over the beat lags ``(N, lags)`` and normalised
    modulation power spectrum ``(N, bins)`` with its frequencies."""
    import librosa

    hop = int(round(sr / ENV_RATE))
    fps = sr / hop
    lo, hi = int(np.ceil(60.0 / BPM_RANGE[1] * fps)), int(np.floor(60.0 / BPM_RANGE[0] * fps))
    acs, specs = [], []
    for w in waves:
        env = librosa.onset.onset_strength(y=np.asarray(w, dtype=np.float32), sr=sr, hop_length=hop)
        env = env - env.mean()
        ac = librosa.autocorrelate(env)
        ac = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)
        acs.append(ac[lo:hi + 1] if ac.size > hi else np.pad(ac[lo:], (0, hi + 1 - ac.size)))
        p = np.abs(np.fft.rfft(env)) ** 2
        specs.append(p / p.sum() if p.sum() > 0 else p)
    n = min(len(s) for s in specs)
    acs, specs = np.stack(acs), np.stack([s[:n] for s in specs])
    freqs = np.fft.rfftfreq(2 * (n - 1), d=1.0 / fps)[:n]
    return {"periodicity": acs.max(1), "profile": acs, "spectrum": specs, "freqs": freqs}


def compare(real: dict, fake: dict) -> dict[str, float]:
    """The three measures of ``fake`` against ``real`` (outputs of :func:`envelope_stats`)."""
    band = (real["freqs"] >= BAND_HZ[0]) & (real["freqs"] <= BAND_HZ[1])
    n = min(real["spectrum"].shape[1], fake["spectrum"].shape[1])
    band = band[:n]
    pf, pr = fake["spectrum"][:, :n].mean(0)[band], real["spectrum"][:, :n].mean(0)[band]
    r = float(np.corrcoef(real["profile"].mean(0), fake["profile"].mean(0))[0, 1])
    return {"beat_periodicity": float(fake["periodicity"].mean()), "rhythm_profile_r": r,
            "modulation_excess_db": float(np.max(10 * np.log10(pf / pr))),
            "modulation_band_db": float(10 * np.log10(pf.sum() / pr.sum()))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", metavar="LABEL=RUN", help="runs, checkpoints or bundled names")
    ap.add_argument("--real", required=True, help="the loop dataset the models were trained on")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    models = dict(m.split("=", 1) if "=" in m else (m, m) for m in args.models)
    first = load_model(next(iter(models.values())))
    rows = first.plugin.dataset(args.real, dict(first.config), split="train")
    rng = np.random.default_rng(args.seed)
    pick = rng.permutation(len(rows))[:2 * args.n]
    real_a = np.stack([rows[int(i)].numpy() for i in pick[:args.n]])
    real_b = np.stack([rows[int(i)].numpy() for i in pick[args.n:2 * args.n]])
    sr = first.sample_rate
    ref = envelope_stats(real_a, sr)
    out = {"real (another draw)": compare(ref, envelope_stats(real_b, sr))}
    for label, path in models.items():
        waves, _ = generate_loops(load_model(path), args.n, args.seed)
        out[label] = compare(ref, envelope_stats(waves, sr))
    print(f"{'set':<28}{'beat periodicity':>18}{'rhythm-profile r':>18}{'mod. excess (max)':>20}"
          f"{'(band)':>12}")
    for label, r in out.items():
        print(f"{label:<28}{r['beat_periodicity']:>18.2f}{r['rhythm_profile_r']:>18.2f}"
              f"{r['modulation_excess_db']:>+17.1f} dB{r['modulation_band_db']:>+9.1f} dB")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "rows": out}, indent=1,
                                        default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
