"""``make bench``: run the performance benchmarks in one go and write one page with every ratio (not a test).

    .venv/bin/python benchmarks/performance.py [--out docs/results/performance.md] [--only startup,gl ...]
        [--memmap-gb 26]

Runs, each as its own process (so start-up and thread settings are its own), and in this order:

- ``startup``: :mod:`bench_startup` (``--help``, argument errors, ``specrep-cli roundtrip`` against librosa scripts);
- ``gl``: :mod:`bench_gl_drums` (Griffin-Lim speed at equal iterations, batch scaling, time to librosa-100's quality
  on real drum loops; needs ``apt-get install -y lmms`` for its sample library, skipped with a note otherwise);
- ``train``: :mod:`bench_train_profile` (images/s of the GANSynth presets, the step's phases, trainer overhead over
  a bare loop; needs ``--data``, skipped with a note when the file is missing);
- ``walks``: :mod:`bench_walk_speed` (latent-walk rendering in multiples of real time, every bundled model);
- ``memmap``: :mod:`bench_train_memmap` (training on a file larger than memory against a 200 MB one) only with
  ``--memmap-gb`` (it writes that many gigabytes).

The page starts with the machine, the date and the command, then each benchmark's own report (its exact command
included) one heading level down. Every figure on it is measured in that run; each benchmark compares against its
peer inside its own run, so the ratios hold on a loaded machine even where the absolute times do not.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("startup", "gl", "train", "walks", "memmap")


def _demote(text: str) -> str:
    return "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines()) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/results/performance.md"))
    ap.add_argument("--only", default=",".join(ORDER[:-1]), help=f"comma-separated subset of {', '.join(ORDER)}")
    ap.add_argument("--data", default="runs/data/loops-2s.npy", help="loops for the training benchmark")
    ap.add_argument("--memmap-gb", type=float, default=None, help="run the larger-than-memory benchmark at this size")
    ap.add_argument("--memmap-dir", type=Path, default=Path("/tmp/bench-memmap"))
    args = ap.parse_args(argv)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(wanted) - set(ORDER))
    if unknown:
        print(f"performance.py: error: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}",
              file=sys.stderr)
        return 2
    if args.memmap_gb is not None and "memmap" not in wanted:
        wanted.append("memmap")
    py = sys.executable
    sections, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {
            "startup": [py, str(HERE / "bench_startup.py")],
            "gl": [py, str(HERE / "bench_gl_drums.py")],
            "train": [py, str(HERE / "bench_train_profile.py"), "--data", args.data],
            "walks": [py, str(HERE / "bench_walk_speed.py")],
            "memmap": [py, str(HERE / "bench_train_memmap.py"), "--dir", str(args.memmap_dir),
                       "--gb", f"{args.memmap_gb or 10.5:g}"],
        }
        for name in ORDER:
            if name not in wanted:
                continue
            if name == "gl" and not Path("/usr/share/lmms/samples/beats").is_dir():
                notes.append("- `gl` skipped: no drum loops under /usr/share/lmms/samples/beats "
                             "(`apt-get install -y lmms`).")
                continue
            if name == "train" and not Path(args.data).exists():
                notes.append(f"- `train` skipped: {args.data} is missing (`loopgan data synth {args.data} --n 4000 "
                             "--seconds 2 --seed 0 --dtype int16`).")
                continue
            report = Path(tmp) / f"{name}.md"
            flag = "--out" if name == "gl" else "--report"
            t = time.time()
            print(f"[{name}] {' '.join(jobs[name][1:])}", file=sys.stderr, flush=True)
            proc = subprocess.run([*jobs[name], flag, str(report)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
            if proc.returncode != 0 or not report.exists():
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                notes.append(f"- `{name}` failed (exit {proc.returncode}): {tail}")
                continue
            text = report.read_text().replace(f" {flag} {report}", "")
            sections.append(_demote(text) + f"\n({time.time() - t:.0f} s)\n")
    only = f" --only {args.only}" if args.only != ",".join(ORDER[:-1]) else ""
    memmap = f" --memmap-gb {args.memmap_gb:g}" if args.memmap_gb is not None else ""
    head = [
        "# Performance",
        "",
        f"Command: `python benchmarks/performance.py{only}{memmap}` (`make bench`); "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Each section is one benchmark's own report, measured in this run; "
        "every ratio is against a peer in the same process or round, so it holds on a loaded machine even where "
        "absolute times do not.",
        "",
    ]
    if notes:
        head += ["Not measured in this run:", "", *notes, ""]
    text = "\n".join(head) + "\n".join(sections)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0 if not any("failed" in n for n in notes) else 1


if __name__ == "__main__":
    sys.exit(main())
