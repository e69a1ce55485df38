"""Train a DCGAN on the bundled MNIST digits with the benchmark's evaluator every 1,000 steps (FD, class coverage,
classifier confidence in ``evals.csv``): the probes behind the bundled ``dcgan-mnist`` recipe
(docs/results/dcgan-mnist-recipe.md).

    python scripts/mnist_probe.py runs/explore/w64-ns non-saturating 12000 '{"width": 64}'
    python scripts/mnist_probe.py runs/explore/w64-ns non-saturating 20000 '{}' resume   # continue exactly
    python scripts/mnist_probe.py runs/explore/w64-ns non-saturating 24000 '{"lr_g": 5e-5}' resume  # a new phase
    python scripts/mnist_probe.py table x1=runs/explore/w32-ns-x1 runs/explore/w64-ns  # FD / confidence
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_plugins.studies.losses import _mnist_evaluator  # noqa: E402
from gan_plugins.training.trainer import train  # noqa: E402


def table(runs: list[str], every: int = 2000) -> str:
    """Markdown table: per run, FD and mean classifier confidence at every ``every``-th evaluated step."""
    import csv

    rows = {}
    for item in runs:  # LABEL=RUN or RUN (labelled by its folder name)
        label, _, run = item.rpartition("=")
        with open(Path(run) / "evals.csv", newline="") as fh:
            rows[label or Path(run).name] = {int(float(r["step"])): r for r in csv.DictReader(fh)}
    steps = sorted({s for r in rows.values() for s in r if s % every == 0})
    lines = ["| run | " + " | ".join(f"{s // 1000}k" for s in steps) + " |", "|---" * (len(steps) + 1) + "|"]
    for run, r in rows.items():
        cells = [f"{float(r[s]['fd']):.1f} / {float(r[s]['confidence']):.3f}" if s in r else "" for s in steps]
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["table"]:
        print(table(argv[1:]))
        return
    if len(argv) not in (4, 5) or (len(argv) == 5 and argv[4] != "resume"):
        raise SystemExit("usage: mnist_probe.py OUT LOSS STEPS 'JSON overrides' [resume]")
    out, loss, steps, over = argv[0], argv[1], int(argv[2]), json.loads(argv[3])
    resume = len(argv) == 5
    torch.set_num_threads(1)
    evaluator = _mnist_evaluator("dcgan", "mnist", loss, over)
    train("dcgan", data="mnist", loss=loss, out=out, steps=steps, resume=resume,
          overrides=over if resume else {**over, "eval_every": 1000, "sample_every": 2000, "ckpt_every": 1000},
          evaluator=evaluator, progress=False)


if __name__ == "__main__":
    main(sys.argv[1:])
