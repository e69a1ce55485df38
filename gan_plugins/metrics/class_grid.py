"""Generated digits sorted by the classifier's reading: one row per predicted class, with each class's share.

A grid of random samples hides an imbalance (many 9s, few 2s) and unreadable shapes among readable ones; sorting the
same samples by predicted class shows both at a glance: a short row is a rare class, a wrong-looking digit in a row is
one the classifier read against the eye. The cells of a row are the *first* samples (in sampling order) predicted as
that class, not the most confident ones, so the grid is not cherry-picked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specrep.errors import ParameterError

__all__ = ["class_rows", "class_shares", "save_class_grid"]


def class_shares(probs: np.ndarray) -> np.ndarray:
    """Share of samples predicted as each class: ``(N, K)`` probabilities -> ``(K,)`` summing to 1."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ParameterError(f"probs of shape {p.shape} must be (N > 0, K)")
    return np.bincount(p.argmax(axis=1), minlength=p.shape[1]) / len(p)


def class_rows(images: np.ndarray, probs: np.ndarray, *, per_class: int = 10, pad: int = 2) -> np.ndarray:
    """Tile images into one row per predicted class.

    Parameters
    ----------
    images : ndarray
        ``(N, 1, H, W)`` or ``(N, H, W)`` in ``[-1, 1]``.
    probs : ndarray
        ``(N, K)`` class probabilities of the same samples.
    per_class : int > 0
        Cells per row: the first ``per_class`` samples predicted as the row's class; a class with fewer samples
        leaves its remaining cells dark grey (value 32), distinct from the black padding.
    pad : int >= 0
        Black pixels between cells and around the grid.

    Returns
    -------
    ndarray
        ``(K * (H + pad) + pad, per_class * (W + pad) + pad)`` uint8, row ``k`` of cells = class ``k``.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    p = np.asarray(probs)
    if x.ndim != 3 or p.ndim != 2 or len(x) != len(p):
        raise ParameterError(f"images {np.shape(images)} and probs {p.shape} must be (N, [1,] H, W) and (N, K)")
    if int(per_class) < 1 or int(pad) < 0:
        raise ParameterError(f"per_class={per_class!r} must be > 0 and pad={pad!r} >= 0")
    n, h, w = x.shape
    k = p.shape[1]
    pixels = np.round((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8)
    grid = np.zeros((k * (h + pad) + pad, per_class * (w + pad) + pad), dtype=np.uint8)
    pred = p.argmax(axis=1)
    for c in range(k):
        members = np.flatnonzero(pred == c)[:per_class]
        for j in range(per_class):
            top, left = pad + c * (h + pad), pad + j * (w + pad)
            grid[top: top + h, left: left + w] = pixels[members[j]] if j < len(members) else 32
    return grid


def save_class_grid(images: np.ndarray, probs: np.ndarray, path: str | Path, *, per_class: int = 10,
                    title: str = "") -> Path:
    """Write :func:`class_rows` as a PNG figure, each row labelled with its class and share of all samples.

    ``images`` ``(N, [1,] H, W)``, ``probs`` ``(N, K)``; returns ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = class_rows(images, probs, per_class=per_class)
    shares = class_shares(probs)
    k = len(shares)
    cell = grid.shape[0] / k
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(per_class * 0.55 + 1.6, k * 0.55 + 0.6))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_yticks([(c + 0.5) * cell for c in range(k)])
    ax.set_yticklabels([f"{c}: {100 * s:.1f} %" for c, s in enumerate(shares)])
    ax.set_xticks([])
    ax.set_title(title or f"{len(probs)} samples, one row per predicted class (first {per_class} of each)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
