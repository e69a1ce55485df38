"""List the files of a loss-benchmark folder worth committing so a later session (on a fresh machine) continues it:
the plan, ``runs.jsonl``, the process logs, every run's config/state/logs and last sample grid, and ``last.pt`` only
for runs not yet in ``runs.jsonl`` (finished runs are never resumed). ``runs/`` is git-ignored, hence ``-f``:

    python scripts/bank_loss_benchmark.py runs/benchmark-losses | xargs git add -f
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def bank(folder: Path) -> list[Path]:
    done = set()
    if (folder / "runs.jsonl").exists():
        done = {json.loads(line)["run_id"] for line in (folder / "runs.jsonl").read_text().splitlines() if line.strip()}
    files = [p for p in (folder / "plan.json", folder / "runs.jsonl") if p.exists()]
    files += sorted(folder.glob("*.log")) + sorted(folder.glob("summary.*")) + sorted(folder.glob("*.png"))
    for state in sorted(folder.glob("runs/*/*/seed*/bench_state.json")):
        run = state.parent
        names = ("config.json", "bench_state.json", "evals.csv", "log.csv")
        files += [run / n for n in names if (run / n).exists()]
        grids = sorted((run / "samples").glob("step_*.png"))
        files += grids[-1:]
        if "/".join(run.parts[-3:]) not in done and (run / "last.pt").exists():
            files.append(run / "last.pt")
    return files


if __name__ == "__main__":
    for path in bank(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/benchmark-losses")):
        print(path)
