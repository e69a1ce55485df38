"""Tempo and downbeat estimation against the tempi the LMMS demo projects state (a benchmark, not a test).

    .venv/bin/python scripts/render_lmms.py runs/lmms                        # the corpus (see docs/data.md)
    .venv/bin/python benchmarks/bench_tempo_lmms.py runs/lmms [--sample-rate 16000] [--json out.json]

Each rendered project's beat grid is estimated exactly as ``loopgan data prepare --align bars`` does it
(:func:`gan_plugins.data.loops.tempo.beat_grid` on the file loaded at ``--sample-rate``) and compared with the
project's ``bpm``: **right** when within 2 %, an **octave error** when within 2 % of twice or half the tempo, a
**metrical error** when within 2 % of 3/2, 2/3, 3 or 1/3 of it, else **wrong**. A render starts on bar 1, so the
song's bar lines are the multiples of its stated bar. For every project in 4/4 the **bar starts** are where
``prepare --align bars --bars 1`` cuts loops (the grid's first downbeat, then every estimated bar to the end of the
track); the downbeat is **right** when their median distance to the nearest stated bar line is at most 50 ms. A tempo
estimated at half the stated one still cuts on bar lines (two bars a loop), so it can be right; a wrong tempo drifts
off them. The last line repeats the downbeat step alone on the stated tempo.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from gan_plugins.data.loops.tempo import beat_grid, estimate_downbeat, onset_envelopes
from specrep.errors import ParameterError
from specrep.io import load

OCTAVE = (2.0, 0.5)
METRICAL = (1.5, 2.0 / 3.0, 3.0, 1.0 / 3.0)


def classify(est: float, true: float, tol: float = 0.02) -> str:
    """``right``, ``octave``, ``metrical`` or ``wrong`` (see the module documentation)."""
    def near(f):
        return abs(est / (true * f) - 1.0) <= tol
    if near(1.0):
        return "right"
    if any(near(f) for f in OCTAVE):
        return "octave"
    if any(near(f) for f in METRICAL):
        return "metrical"
    return "wrong"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="folder written by scripts/render_lmms.py (manifest.json + audio/)")
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--json", type=Path, default=None, help="write the per-project rows here")
    args = ap.parse_args(argv)
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    rows = []
    for e in manifest["projects"]:
        if e.get("error"):
            rows.append({"name": e["name"], "bpm": e.get("bpm"), "verdict": "not rendered", "error": e["error"]})
            continue
        wave, sr = load(args.corpus / e["wav"], sample_rate=args.sample_rate)
        t0 = time.perf_counter()
        try:
            grid = beat_grid(wave, sr)
        except ParameterError as exc:
            rows.append({"name": e["name"], "bpm": e["bpm"], "seconds": e["seconds"], "verdict": "no beat",
                         "error": str(exc)})
            continue
        row = {"name": e["name"], "bpm": e["bpm"], "timesig": e["timesig"], "seconds": e["seconds"],
               "estimated": round(grid.bpm, 2), "strength": round(grid.strength, 3),
               "downbeat_s": round(grid.downbeat_s, 3), "verdict": classify(grid.bpm, e["bpm"]),
               "estimate_s": round(time.perf_counter() - t0, 2)}
        bar = 240.0 / e["bpm"]
        if e["timesig"] == [4, 4]:
            starts = grid.bar_starts(wave.size / sr)
            off = (starts + bar / 2) % bar - bar / 2
            row["downbeat_error_ms"] = round(1000 * float(np.median(np.abs(off))), 1) if starts.size else None
            onset, logbands, fps = onset_envelopes(wave, sr)
            down = estimate_downbeat(onset, logbands, fps, float(e["bpm"]))
            row["downbeat_error_stated_tempo_ms"] = round(1000 * ((down + bar / 2) % bar - bar / 2), 1)
        rows.append(row)
    print(f"{'project':<58}{'stated':>8}{'estimated':>11}{'strength':>10}  verdict   downbeat error "
          "(estimated / stated tempo)")
    for r in rows:
        est = f"{r['estimated']:.2f}" if "estimated" in r else "-"
        strength = f"{r['strength']:.2f}" if "strength" in r else "-"
        down = f"{r['downbeat_error_ms']:.0f} ms" if r.get("downbeat_error_ms") is not None else "-"
        if "downbeat_error_stated_tempo_ms" in r:
            down += f" / {r['downbeat_error_stated_tempo_ms']:+.0f} ms"
        print(f"{r['name']:<58}{r['bpm'] or 0:>8.1f}{est:>11}{strength:>10}  {r['verdict']:<9} {down}")
    judged = [r for r in rows if r["verdict"] in ("right", "octave", "metrical", "wrong", "no beat")]
    counts = {v: sum(r["verdict"] == v for r in judged) for v in ("right", "octave", "metrical", "wrong", "no beat")}
    downs = [r["downbeat_error_ms"] for r in rows if r.get("timesig") == [4, 4]]
    n = len(judged)
    print(f"\n{n} projects: within 2 % {counts['right']} ({counts['right'] / max(n, 1):.0%}), octave errors "
          f"{counts['octave']}, other metrical (3/2, 2/3, 3, 1/3) {counts['metrical']}, wrong {counts['wrong']}, "
          f"no beat {counts['no beat']}; right or octave {counts['right'] + counts['octave']} "
          f"({(counts['right'] + counts['octave']) / max(n, 1):.0%})")
    if downs:
        good = sum(d is not None and d <= 50 for d in downs)
        print(f"bar starts within 50 ms of the stated bar lines (median): {good}/{len(downs)} (4/4 projects)")
    stated = [r["downbeat_error_stated_tempo_ms"] for r in rows if "downbeat_error_stated_tempo_ms" in r]
    if stated:
        print(f"downbeat within 50 ms with the stated tempo given: {sum(abs(d) <= 50 for d in stated)}/{len(stated)} "
              "(4/4 projects)")
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
