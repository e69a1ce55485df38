"""Run curves at common budgets: a run's FD (or coverage) at x generator steps / discriminator updates / seconds.

A run's curve is known at its evaluations ``x_1 < ... < x_m``. Between two evaluations it is linearly interpolated;
after the last one it is *held* (the run stopped there, early or at the cap: its final model is what that budget
buys); before the first one it is undefined (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from specrep.errors import ParameterError, check_positive_int

__all__ = ["common_budgets", "curve_at", "seed_band"]


def curve_at(x: Sequence[float], y: Sequence[float], budgets: Sequence[float] | float) -> np.ndarray:
    """Values of the curve ``(x, y)`` at ``budgets`` (module docstring for the rules).

    Parameters
    ----------
    x : sequence of float, strictly increasing, length m >= 1
    y : sequence of float, length m
    budgets : float or sequence of float, shape (b,)

    Returns
    -------
    ndarray, shape (b,) (or () for a scalar budget), float64
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    b = np.asarray(budgets, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
        raise ParameterError(f"curve x{x.shape} and y{y.shape} must be 1-d, non-empty and of one length")
    if np.any(np.diff(x) <= 0):
        raise ParameterError("curve x must be strictly increasing")
    out = np.interp(b, x, y)  # holds y[-1] beyond x[-1]
    return np.where(b < x[0], np.nan, out)


def common_budgets(curves_x: Sequence[Sequence[float]], n: int = 4) -> np.ndarray:
    """``n`` budgets, geometrically spaced from the latest first evaluation to the latest last evaluation.

    Every run is defined at every budget (none starts after the first one); runs that stopped earlier are held.

    Parameters
    ----------
    curves_x : sequence of sequences of float
        The x values of each run's curve (non-empty ones are used).
    n : int > 0

    Returns
    -------
    ndarray, shape (n,) (fewer when the range is a single point), float64
    """
    check_positive_int("n", n)
    xs = [np.asarray(c, dtype=np.float64) for c in curves_x if len(c)]
    if not xs:
        return np.zeros(0)
    lo, hi = max(float(c[0]) for c in xs), max(float(c[-1]) for c in xs)
    if hi <= lo or n == 1:
        return np.array([hi])
    return np.geomspace(lo, hi, n)


def seed_band(curves: Sequence[tuple[Sequence[float], Sequence[float]]],
              grid: Sequence[float]) -> dict[str, np.ndarray]:
    """Median, min and max over runs of the curves interpolated on ``grid`` (NaN where no run is defined).

    Returns
    -------
    dict of ndarray, each shape (len(grid),)
        ``median``, ``lo`` (min), ``hi`` (max), ``n`` (runs defined at each grid point).
    """
    grid = np.asarray(grid, dtype=np.float64)
    rows = np.array([curve_at(x, y, grid) for x, y in curves if len(x)]).reshape(-1, len(grid))
    n = np.isfinite(rows).sum(axis=0)
    with np.errstate(all="ignore"):
        safe = np.where(np.isfinite(rows), rows, np.nan)
        med = np.array([np.nanmedian(c) if k else np.nan for c, k in zip(safe.T, n, strict=True)])
        lo = np.array([np.nanmin(c) if k else np.nan for c, k in zip(safe.T, n, strict=True)])
        hi = np.array([np.nanmax(c) if k else np.nan for c, k in zip(safe.T, n, strict=True)])
    return {"median": med, "lo": lo, "hi": hi, "n": n}
