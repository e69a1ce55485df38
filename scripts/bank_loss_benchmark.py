"""List the files of a loss-benchmark folder worth committing so a later session (on a fresh machine) continues it:
the plan, ``runs.jsonl``, the process logs, every run's config/state/logs and last sample grid, and ``last.pt`` only
for runs not yet in ``runs.jsonl`` (finished runs are never resumed). ``runs/`` is git-ignored, hence ``-f``:

    python scripts/bank_loss_benchmark.py runs/benchmark-losses | xargs git add -f
    python scripts/bank_loss_benchmark.py --finished runs/benchmark-losses \
        | xargs -r git rm -q --cached --ignore-unmatch

The second line lists the ``last.pt`` of finished runs, so a checkpoint committed while its run was unfinished
leaves the tree once the run is done (the history keeps it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _done(folder: Path) -> set[str]:
    if not (folder / "runs.jsonl").exists():
        return set()
    return {json.loads(line)["run_id"] for line in (folder / "runs.jsonl").read_text().splitlines() if line.strip()}


def finished_checkpoints(folder: Path) -> list[Path]:
    """``last.pt`` of every run recorded in ``runs.jsonl`` (nothing resumes them)."""
    return [folder / "runs" / run_id / "last.pt" for run_id in sorted(_done(folder))]


def bank(folder: Path) -> list[Path]:
    done = _done(folder)
    files = [p for p in (folder / "plan.json", folder / "runs.jsonl") if p.exists()]
    files += sorted(folder.glob("*.log")) + sorted(folder.glob("summary.*")) + sorted(folder.glob("*.png"))
    for state in sorted(folder.glob("runs/*/*/seed*/config.json")):  # every run folder (bench_state.json: older runs)
        run = state.parent
        names = ("config.json", "bench_state.json", "evals.csv", "log.csv")
        files += [run / n for n in names if (run / n).exists()]
        grids = sorted((run / "samples").glob("step_*.png"))
        files += grids[-1:]
        if "/".join(run.parts[-3:]) not in done and (run / "last.pt").exists():
            files.append(run / "last.pt")
    return files


if __name__ == "__main__":
    args = sys.argv[1:]
    finished = "--finished" in args
    rest = [a for a in args if a != "--finished"]
    folder = Path(rest[0] if rest else "runs/benchmark-losses")
    for path in (finished_checkpoints(folder) if finished else bank(folder)):
        print(path)
