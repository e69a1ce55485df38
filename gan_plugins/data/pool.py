"""Ordered, bounded parallel map over a process pool (shared by ``data synth`` and ``data prepare``)."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

__all__ = ["ordered_map"]


def ordered_map(fn: Callable[[Any], Any], jobs: Iterable, workers: int) -> Iterator:
    """Yield ``fn(job)`` for each job, in order; ``workers == 1`` runs in this process.

    With a pool, never more than ``2 * workers`` jobs are in flight, so memory stays bounded however many jobs
    there are. ``fn`` must be a module-level function (it is pickled to the workers).
    """
    if workers == 1:
        yield from map(fn, jobs)
        return
    pending: deque = deque()
    todo = iter(jobs)
    with multiprocessing.get_context().Pool(workers) as pool:
        for job in islice(todo, 2 * workers):
            pending.append(pool.apply_async(fn, (job,)))
        while pending:
            result = pending.popleft().get()
            job = next(todo, None)
            if job is not None:
                pending.append(pool.apply_async(fn, (job,)))
            yield result
