"""Benchmark (not a test): ``loopgan train`` on a dataset larger than memory against a small one.

Writes two raw float32 memmaps of 2 s loops at 16 kHz (no header, no sidecar: the run is described by
``--shape/--dtype/--sample-rate``, as a user's own file would be): ``--gb`` gigabytes (default 10.5, more than
this machine's page cache can keep next to the training) and ``--small-mb`` megabytes (default 200). The loops are
64 procedural loops re-used with random gain and rotation, so writing is fast. Then, for each file in turn
(small, large, small, large), it drops the page cache when it may (root on Linux; said in the report when not) and
runs one ``loopgan --threads 1 train gansynth`` of ``--steps`` steps in a child process, and records:

- **steps/s** of the training loop, from the run's ``log.csv`` (logged every step; the first ``--warmup`` steps,
  which include start-up and allocation, are left out);
- **peak RSS** of the training process (``ru_maxrss`` from ``os.wait4``: resident memory, file pages included);
- **data time**: the same random batches read straight from the file by :class:`LoopDataset` in this process,
  cold cache, seconds per batch against the training step's seconds per batch.

The data path is not the bottleneck when the large file's steps/s match the small file's and its data time is a
small fraction of a step. Run from the repository root (about 10 minutes on 2 cores, 11 GB of free disk)::

    .venv/bin/python benchmarks/bench_train_memmap.py --dir /tmp/bench-memmap --report docs/results/train-memmap.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SR, SECONDS = 16000, 2.0
SAMPLES = int(SR * SECONDS)


def write_raw(path: Path, nbytes: float, seed: int = 0) -> int:
    """Write about ``nbytes`` of float32 loops ``(n, SAMPLES)`` to a headerless file; return ``n``."""
    from gan_plugins.data.procedural.generator import synthesize_loops

    base, _ = synthesize_loops(64, seconds=SECONDS, seed=seed)
    base = base.astype(np.float32)
    n = max(64, int(nbytes // (SAMPLES * 4)))
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, n, 64):
            k = min(64, n - start)
            block = np.roll(base[:k], int(rng.integers(SAMPLES)), axis=1) * rng.uniform(0.5, 1.0, (k, 1))
            block.astype(np.float32).tofile(f)
    return n


def drop_caches() -> bool:
    """Empty the OS page cache (needs root on Linux); False when not allowed."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def loopgan() -> str:
    exe = Path(sys.executable).with_name("loopgan")
    return str(exe) if exe.exists() else (shutil.which("loopgan") or "loopgan")


def train(path: Path, n: int, out: Path, steps: int, warmup: int) -> dict:
    """One training run in a child process: steps/s after ``warmup`` steps and the child's peak RSS."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [loopgan(), "--threads", "1", "train", "gansynth", "--data", str(path), "--shape", f"{n},{SAMPLES}",
           "--dtype", "float32", "--sample-rate", str(SR), "--loss", "wgan-gp", "--steps", str(steps),
           "--out", str(out), "--no-progress", "--set", "log_every=1", "--set", f"ckpt_every={steps}",
           "--set", f"sample_every={10 * steps}"]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    err = proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"training on {path} failed:\n{err}")
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    t = {int(r["step"]): float(r["seconds"]) for r in rows}
    last = max(t)
    rate = (last - warmup) / (t[last] - t[warmup])
    return {"steps_per_s": rate, "s_per_step": 1.0 / rate, "peak_rss_mb": usage.ru_maxrss / 1024.0, "wall_s": wall}


def data_time(path: Path, n: int, batches: int, batch_size: int = 16, seed: int = 0) -> float:
    """Seconds per batch of ``batch_size`` random rows read by LoopDataset (cold cache when it could be dropped)."""
    import torch

    from gan_plugins.data.loops.dataset import LoopDataset

    ds = LoopDataset(path, shape=(n, SAMPLES), dtype="float32", sample_rate=SR)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: batches * batch_size].tolist()
    t = time.perf_counter()
    for b in range(batches):
        torch.stack([ds[i] for i in order[b * batch_size:(b + 1) * batch_size]])
    return (time.perf_counter() - t) / batches


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench-memmap"), help="where the two files are written")
    ap.add_argument("--gb", type=float, default=10.5, help="size of the large file")
    ap.add_argument("--small-mb", type=float, default=200.0, help="size of the small file")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="small/large pairs, alternating")
    ap.add_argument("--keep", action="store_true", help="keep the files afterwards")
    ap.add_argument("--report", type=Path, default=None, help="write the Markdown report here")
    args = ap.parse_args(argv)
    if not 0 < args.warmup < args.steps:
        raise SystemExit("need 0 < --warmup < --steps")
    args.dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, nbytes in (("small", args.small_mb * 1e6), ("large", args.gb * 1e9)):
        path = args.dir / f"{name}.f32"
        t = time.time()
        n = write_raw(path, nbytes)
        files[name] = (path, n)
        print(f"wrote {name}: {n} loops, {path.stat().st_size / 1e9:.2f} GB in {time.time() - t:.0f} s", flush=True)
    results: dict[str, list[dict]] = {"small": [], "large": []}
    dropped = True
    try:
        for r in range(args.rounds):
            for name, (path, n) in files.items():
                dropped &= drop_caches()
                d = data_time(path, n, batches=args.steps)
                dropped &= drop_caches()
                res = train(path, n, args.dir / f"run-{name}", args.steps, args.warmup)
                res["data_s_per_batch"] = d
                results[name].append(res)
                print(f"round {r + 1} {name}: {res['steps_per_s']:.3f} steps/s, peak RSS {res['peak_rss_mb']:.0f} "
                      f"MB, data {d * 1e3:.1f} ms/batch", flush=True)
    finally:
        if not args.keep:
            for path, _ in files.values():
                path.unlink(missing_ok=True)
        for name in files:
            shutil.rmtree(args.dir / f"run-{name}", ignore_errors=True)
    cmd = "python benchmarks/bench_train_memmap.py" + (f" --report {args.report}" if args.report else "")
    if (args.gb, args.small_mb, args.steps) != (10.5, 200.0, 30):
        cmd += f" --gb {args.gb:g} --small-mb {args.small_mb:g} --steps {args.steps}"
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        mem_gb = float("nan")
    lines = [
        "# Training on a dataset larger than memory",
        "",
        f"Command: `{cmd}`; {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{mem_gb:.1f} GB RAM; GANSynth defaults (mel-IF, batch 16), WGAN-GP, one torch thread, {args.steps} steps "
        f"per run (the first {args.warmup} left out of steps/s), {args.rounds} alternating rounds; raw float32 "
        f"files described by `--shape N,{SAMPLES} --dtype float32 --sample-rate {SR}`. Page cache "
        f"{'dropped before every measurement' if dropped else 'NOT dropped (not root): the data time is warm'}.",
        "",
        "| dataset | size | loops | steps/s (per round) | peak RSS, training process | data read per batch "
        "(cold) | data / step |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, (_path, n) in files.items():
        rs = results[name]
        size = n * SAMPLES * 4
        rates = ", ".join(f"{r['steps_per_s']:.3f}" for r in rs)
        lines.append(
            f"| {name} | {size / 1e9:.2f} GB | {n:,} | {rates} | "
            f"{max(r['peak_rss_mb'] for r in rs):.0f} MB | "
            f"{np.median([r['data_s_per_batch'] for r in rs]) * 1e3:.1f} ms "
            f"| {np.median([r['data_s_per_batch'] / r['s_per_step'] for r in rs]) * 100:.1f} % |")
    small = np.median([r["steps_per_s"] for r in results["small"]])
    large = np.median([r["steps_per_s"] for r in results["large"]])
    lines += ["", f"Large / small steps/s (medians): {large / small:.3f}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
