"""Wall-clock timing of repeated calls: the one timer of the studies and the benchmarks.

>>> from specrep.timing import time_calls
>>> t = time_calls(lambda: chain.inverse(chain(wave)), repeat=5, warmup=1)
>>> t.best, t.median, t.result          # seconds, seconds, the last call's return value
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ParameterError, check_positive_int

__all__ = ["Timings", "time_calls"]


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds of the timed calls of :func:`time_calls`.

    Attributes
    ----------
    seconds : np.ndarray, float64, shape (repeat,)
        One per timed call, in call order (warm-up calls excluded).
    result : Any
        What the last call returned.
    """

    seconds: np.ndarray
    result: Any

    @property
    def best(self) -> float:
        """The fastest call (the least disturbed by other load): seconds."""
        return float(self.seconds.min())

    @property
    def median(self) -> float:
        """The median call: seconds."""
        return float(np.median(self.seconds))

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the calls: seconds."""
        if not 0 <= q <= 100:
            raise ParameterError(f"q={q} must be a percentile in [0, 100]")
        return float(np.percentile(self.seconds, q))


def time_calls(fn: Callable[[], Any], *, repeat: int = 1, warmup: int = 0) -> Timings:
    """Call ``fn()`` ``warmup`` times untimed (compilation, caches), then ``repeat`` times, each timed alone with
    :func:`time.perf_counter`.

    Parameters
    ----------
    fn : callable taking no argument
    repeat : int > 0
        Timed calls.
    warmup : int >= 0
        Untimed calls first.

    Returns
    -------
    Timings
    """
    check_positive_int("repeat", repeat)
    if not isinstance(warmup, int) or warmup < 0:
        raise ParameterError(f"warmup={warmup!r} must be an int >= 0")
    for _ in range(warmup):
        fn()
    seconds, result = np.empty(repeat), None
    for i in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds[i] = time.perf_counter() - start
    return Timings(seconds, result)
