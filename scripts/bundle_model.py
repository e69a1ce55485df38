"""Bundle a trained run as a shipped model: ``gan_plugins/pretrained/NAME.{pt,json,log.csv}``.

The ``.pt`` holds the EMA generator and config only (:func:`gan_plugins.io.model.export_generator`), the
``.log.csv`` is the run's training log, and the ``.json`` says how it was made (command) and how it scored: the
scores are copied from a benchmark's ``--json`` output (``loopgan benchmark representations|progressive``), the
model's own row plus the floor, its representation's round trip and the noise reference, so every number in the
description was measured by the command it names.

Usage::

    python scripts/bundle_model.py runs/gansynth-mel-if-lmms gansynth-mel-if-lmms \
        --bench docs/results/real-music/scores.json --label mel-if-lmms \
        --description "..." --command "loopgan ..." --evaluate "loopgan benchmark ..." \
        --scores-from docs/results/real-music.md
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCORES = ("ndb_k", "jsd", "fdd", "beat_strength", "clear_beat", "profile_corr")


def _pick(row: dict) -> dict:
    return {k: round(float(row[k]), 4) for k in SCORES if row.get(k) is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder (its last.pt and log.csv)")
    parser.add_argument("name", help="bundled name, e.g. gansynth-mel-if-lmms")
    parser.add_argument("--bench", type=Path, required=True, help="benchmark --json output that scored the run")
    parser.add_argument("--label", required=True, help="the run's label in that benchmark")
    parser.add_argument("--description", required=True)
    parser.add_argument("--command", required=True, help="the command that trained it")
    parser.add_argument("--evaluate", required=True, help="the command that scored it")
    parser.add_argument("--scores-from", required=True, help="the report holding the scores")
    args = parser.parse_args(argv)

    from gan_plugins.io.checkpoint import load_checkpoint
    from gan_plugins.io.model import export_generator

    bench = json.loads(args.bench.read_text())
    if args.label not in bench["runs"]:
        parser.error(f"{args.label!r} is not a run of {args.bench} ({', '.join(bench['runs'])})")
    row = bench["runs"][args.label]
    state = load_checkpoint(args.run / "last.pt")
    if int(row["step"]) != int(state["step"]):
        parser.error(f"{args.bench} scored {args.label} at step {row['step']}, the run is at step {state['step']}")
    cfg = state["config"]
    out_dir = ROOT / "gan_plugins" / "pretrained"
    pt = export_generator(args.run, out_dir / f"{args.name}.pt")
    shutil.copyfile(args.run / "log.csv", out_dir / f"{args.name}.log.csv")
    info = {
        "description": args.description,
        "command": args.command + f" && python scripts/bundle_model.py {args.run} {args.name} ...",
        "steps": int(state["step"]),
        "loss": cfg["loss"],
        "plugin": cfg["plugin"],
        "representation": cfg.get("representation"),
        "data": cfg.get("data"),
        "evaluate": args.evaluate,
        "scores": _pick(row),
        "scores_round_trip": _pick(row["oracle"]) if row.get("oracle") else None,
        "scores_floor": _pick(bench["floor"]),
        "scores_noise": _pick(bench.get("noise") or bench["ceiling"]),  # a reference, not a bound
        "scores_from": args.scores_from,
    }
    (out_dir / f"{args.name}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"{pt} ({pt.stat().st_size / 1e6:.1f} MB), {args.name}.json, {args.name}.log.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
