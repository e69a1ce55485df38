"""Training-stability statistics of one run, from its logged losses, gradient norms and Fréchet-distance curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["run_stability"]


def run_stability(history: Sequence[Mapping[str, float]], evals: Sequence[Mapping[str, float]], *,
                  ceiling: float, diverged: str = "", min_coverage: int = 8,
                  failed_fraction: float = 0.5) -> dict[str, float]:
    """Summarise how a run behaved.

    Parameters
    ----------
    history : sequence of dict
        Logged training rows (``loss_d``, ``loss_g``, ``grad_norm_d``, ``grad_norm_g``).
    evals : sequence of dict
        Evaluator rows in step order (``step``, ``fd``, ``coverage``).
    ceiling : float
        Noise ceiling of the Fréchet distance.
    diverged : str
        Non-empty when the run stopped on a NaN/Inf loss.
    min_coverage : int
        A run whose final sample set covers fewer classes is *collapsed* (mode collapse).
    failed_fraction : float
        A run whose final FD is above ``failed_fraction * ceiling`` *failed* (no digits learned).

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
        "failed": float(bool(diverged) or not np.isfinite(final_fd) or final_fd > failed_fraction * ceiling),
        "loss_g_oscillation": float(np.abs(np.diff(lg)).mean()) if len(lg) > 1 else float("nan"),
        "loss_d_std": float(ld.std()) if len(ld) else float("nan"),
        "grad_norm_d": float(np.median(col("grad_norm_d"))) if len(second) else float("nan"),
        "grad_norm_g": float(np.median(col("grad_norm_g"))) if len(second) else float("nan"),
        "grad_norm_d_max": float(col("grad_norm_d").max()) if len(second) else float("nan"),
    }
