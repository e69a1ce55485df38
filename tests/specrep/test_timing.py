"""The shared timer: warm-up calls untimed, each timed call measured alone, best / median / percentile."""

import itertools

import numpy as np
import pytest

from specrep import timing
from specrep.errors import ParameterError


def test_time_calls_times_each_call_after_the_warmup(monkeypatch):
    clock = itertools.count()  # every perf_counter() reading advances 1 s; calls below add their own seconds
    extra = iter([100.0, 100.0, 3.0, 1.0, 2.0])  # two warm-up calls, then three timed ones
    now = [0.0]

    def perf_counter():
        return now[0] + next(clock)

    def fn():
        now[0] += next(extra)
        return now[0]

    monkeypatch.setattr(timing.time, "perf_counter", perf_counter)
    t = timing.time_calls(fn, repeat=3, warmup=2)
    np.testing.assert_allclose(t.seconds, [4.0, 2.0, 3.0])  # the call's own seconds + 1 s between the readings
    assert (t.best, t.median, t.percentile(100)) == (2.0, 3.0, 4.0)
    assert t.result == 206.0  # the last call's return value


def test_time_calls_real_clock_and_refusals():
    t = timing.time_calls(lambda: sum(range(1000)), repeat=4)
    assert t.seconds.shape == (4,) and (t.seconds > 0).all() and t.result == 499500
    with pytest.raises(ParameterError, match="repeat"):
        timing.time_calls(lambda: None, repeat=0)
    with pytest.raises(ParameterError, match="warmup"):
        timing.time_calls(lambda: None, warmup=-1)
    with pytest.raises(ParameterError, match="percentile"):
        t.percentile(101)
