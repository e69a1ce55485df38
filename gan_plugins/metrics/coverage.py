"""Class coverage and class-histogram statistics of generated digits, read by the MNIST classifier."""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError

__all__ = ["class_stats"]


def class_stats(probs: np.ndarray, *, min_share: float = 0.1) -> dict[str, float]:
    """Summarise the classifier's predictions on generated samples.

    Parameters
    ----------
    probs : ndarray
        ``(N, K)`` class probabilities (rows sum to 1).
    min_share : float
        A class counts as covered when it receives at least ``min_share`` of its uniform share ``N / K`` of argmax
        predictions (0.1 -> at least 1 % of samples for K = 10).

    Returns
    -------
    dict
        ``coverage`` (covered classes, 0..K), ``kl_uniform`` (KL of the predicted-class histogram to uniform, nats;
        0 = perfectly balanced, log K = one class only), ``confidence`` (mean max probability) and
        ``confident_frac`` (share of samples with max probability > 0.9).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ParameterError(f"probs of shape {p.shape} must be (N > 0, K)")
    n, k = p.shape
    hist = np.bincount(p.argmax(axis=1), minlength=k) / n
    nz = hist > 0
    return {
        "coverage": float((hist >= min_share / k).sum()),
        "kl_uniform": float((hist[nz] * np.log(hist[nz] * k)).sum()),
        "confidence": float(p.max(axis=1).mean()),
        "confident_frac": float((p.max(axis=1) > 0.9).mean()),
    }
