"""Training-stability statistics: of one run (:func:`run_stability`, from its logged losses, gradient norms and
Fréchet-distance curve) and of a set of runs (:func:`fd_distribution`, the spread of final FD over seeds and
hyper-parameters as Lucic et al. 2018 and Kurach et al. 2019 report it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from specrep.errors import ParameterError

__all__ = ["fd_distribution", "run_stability"]


def run_stability(history: Sequence[Mapping[str, float]], evals: Sequence[Mapping[str, float]], *,
                  noise_fd: float, diverged: str = "", min_coverage: int = 8,
                  failed_fraction: float = 0.5) -> dict[str, float]:
    """Summarise how a run behaved.

    Parameters
    ----------
    history : sequence of dict
        Logged training rows (``loss_d``, ``loss_g``, ``grad_norm_d``, ``grad_norm_g``).
    evals : sequence of dict
        Evaluator rows in step order (``step``, ``fd``, ``coverage``).
    noise_fd : float
        FD of uniform-noise images: a reference point, not an upper bound (FD is unbounded; a flat grey image
        scores above it).
    diverged : str
        Non-empty when the run stopped on a NaN/Inf loss.
    min_coverage : int
        A run whose final sample set covers fewer classes is *collapsed* (mode collapse).
    failed_fraction : float
        A run whose final FD is above ``failed_fraction * noise_fd`` *failed* (no digits learned).

    Returns
    -------
    dict
        ``final_fd``, ``best_fd``, ``final_coverage``, ``nan_stop`` (0/1), ``collapsed`` (0/1), ``failed`` (0/1),
        ``loss_g_oscillation`` (mean |Δ loss_g| between logged points over the second half of training),
        ``loss_d_std`` (std of loss_d over the second half), ``grad_norm_d`` / ``grad_norm_g`` (medians over the
        second half) and ``grad_norm_d_max``.
    """
    second = list(history)[len(history) // 2:] or list(history)

    def col(key):
        return np.array([r[key] for r in second if key in r], dtype=np.float64)

    lg, ld = col("loss_g"), col("loss_d")
    fds = [e["fd"] for e in evals]
    final = evals[-1] if evals else {}
    final_fd = float(final.get("fd", np.nan))
    return {
        "final_fd": final_fd,
        "best_fd": float(np.nanmin(fds)) if fds else float("nan"),
        "final_coverage": float(final.get("coverage", 0.0)),
        "nan_stop": float(bool(diverged)),
        "collapsed": float(bool(diverged) or final.get("coverage", 0.0) < min_coverage),
        "failed": float(bool(diverged) or not np.isfinite(final_fd) or final_fd > failed_fraction * noise_fd),
        "loss_g_oscillation": float(np.abs(np.diff(lg)).mean()) if len(lg) > 1 else float("nan"),
        "loss_d_std": float(ld.std()) if len(ld) else float("nan"),
        "grad_norm_d": float(np.median(col("grad_norm_d"))) if len(second) else float("nan"),
        "grad_norm_g": float(np.median(col("grad_norm_g"))) if len(second) else float("nan"),
        "grad_norm_d_max": float(col("grad_norm_d").max()) if len(second) else float("nan"),
    }


def fd_distribution(fds: Sequence[float], *, best: float | None = None, within: float = 2.0) -> dict[str, float]:
    """Distribution of final FDs over a set of runs.

    Parameters
    ----------
    fds : sequence of float, length n >= 1
        One final FD per run; NaN/Inf (a run that diverged before any evaluation) is counted in ``n`` and as not
        within, and left out of the quantiles.
    best : float, optional
        Reference for ``share_within``; default: the smallest finite FD of ``fds``.
    within : float > 1
        A run is *near the best* when its FD is ``<= within x best``.

    Returns
    -------
    dict
        ``n``, ``n_finite``, ``median``, ``q25``, ``q75``, ``iqr`` (= q75 - q25; numpy's linear quantiles), ``min``,
        ``max``, ``best`` (the reference used) and ``share_within`` (fraction of all n runs near the best).
    """
    v = np.asarray(list(fds), dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise ParameterError(f"fds must be a non-empty 1-d sequence, got shape {v.shape}")
    if not within > 1:
        raise ParameterError(f"within={within!r} must be > 1")
    ok = v[np.isfinite(v)]
    nan = float("nan")
    if best is None:
        best = float(ok.min()) if len(ok) else nan
    q25, med, q75 = (float(q) for q in np.quantile(ok, [0.25, 0.5, 0.75])) if len(ok) else (nan, nan, nan)
    return {"n": int(len(v)), "n_finite": int(len(ok)), "median": med, "q25": q25, "q75": q75, "iqr": q75 - q25,
            "min": float(ok.min()) if len(ok) else nan, "max": float(ok.max()) if len(ok) else nan,
            "best": float(best), "share_within": float(np.sum(ok <= within * best) / len(v))}
