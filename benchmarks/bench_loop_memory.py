"""Benchmark (not a test): iterate a >= 10 GB loop dataset through a DataLoader and record resident memory.

Writes ``--gb`` gigabytes of 2 s float32 loops (64 procedural loops, re-used with random gain and rotation, so
writing is fast), then reads every row once in shuffled order through :class:`LoopDataset` and a DataLoader, and
reports the peak resident set size (RSS, from /proc: includes file pages mapped into the process) of the main
process and of the workers. Linux only.

Run from the repository root::

    MALLOC_MMAP_THRESHOLD_=1048576 .venv/bin/python benchmarks/bench_loop_memory.py \
        --out /tmp/bench10g.npy --gb 10.5 --workers 2

Without the ``MALLOC_MMAP_THRESHOLD_`` setting glibc keeps freed 8 MB temporaries of the consuming loop (here
``batch.pow(2)``) in its heap, and the main process's anonymous memory wanders between 0.4 and 1.2 GB; the
dataset's own share is what the workers show.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.data.loops.storage import LoopWriter
from gan_plugins.data.procedural.generator import synthesize_loops


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def write(path: Path, gb: float, seed: int = 0) -> None:
    base, _ = synthesize_loops(64, seconds=2.0, seed=seed)
    n = int(gb * 1e9 / base[0].nbytes)
    rng = np.random.default_rng(seed)
    t = time.time()
    with LoopWriter(path, samples=base.shape[1], sample_rate=16000, created_by="bench_memory") as w:
        for start in range(0, n, 64):
            k = min(64, n - start)
            block = np.roll(base[:k], int(rng.integers(base.shape[1])), axis=1) * rng.uniform(0.5, 1.0, (k, 1))
            w.append(block.astype(np.float32))
    print(f"wrote {n} loops, {path.stat().st_size / 1e9:.2f} GB in {time.time() - t:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gb", type=float, default=10.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--keep", action="store_true", help="keep the dataset file afterwards")
    args = ap.parse_args()
    if not args.out.exists():
        write(args.out, args.gb)
    ds = LoopDataset(args.out)
    start_rss = rss_mb(os.getpid())
    peak = {"main": start_rss, "worker": 0.0}
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak["main"] = max(peak["main"], rss_mb(os.getpid()))
            for c in children(os.getpid()):
                try:
                    peak["worker"] = max(peak["worker"], rss_mb(c))
                except OSError:
                    pass
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    t, total = time.time(), 0.0
    for batch in loader:
        total += float(batch.pow(2).mean())
    elapsed = time.time() - t
    done.set()
    size = args.out.stat().st_size / 1e9
    print(f"read {len(ds)} loops ({size:.2f} GB) in {elapsed:.0f} s ({size / elapsed:.2f} GB/s), "
          f"{args.workers} workers, batch {args.batch_size}: RSS main {start_rss:.0f} MB before, "
          f"peak {peak['main']:.0f} MB; peak per worker {peak['worker']:.0f} MB")
    if not args.keep:
        args.out.unlink()
        args.out.with_suffix(".json").unlink()


if __name__ == "__main__":
    main()
