"""Fréchet distance between Gaussians fitted to two feature sets (the statistic behind FID)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from specrep.errors import ParameterError

__all__ = ["frechet_distance", "gaussian_stats"]


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (float64) of ``features`` ``(N, D)``, ``N >= 2``."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ParameterError(f"features of shape {f.shape} must be (N >= 2, D)")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(stats_a: tuple[np.ndarray, np.ndarray], stats_b: tuple[np.ndarray, np.ndarray]) -> float:
    """``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})``.

    Parameters
    ----------
    stats_a, stats_b : (mean (D,), covariance (D, D))
        From :func:`gaussian_stats`.

    Returns
    -------
    float
        Non-negative distance (the imaginary round-off of the matrix square root is dropped; a tiny ridge is added
        when the product is singular).
    """
    (mu1, s1), (mu2, s2) = stats_a, stats_b
    if mu1.shape != mu2.shape:
        raise ParameterError(f"feature sizes differ: {mu1.shape} vs {mu2.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular products are handled below
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            eps = 1e-6 * np.eye(len(mu1))
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean), 0.0))
