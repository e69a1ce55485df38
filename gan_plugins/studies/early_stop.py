"""Early stopping on a Fréchet-distance curve: stop when FD has stopped improving.

Rule (Keras ``EarlyStopping`` with a relative ``min_delta``): evaluation ``i`` *improves* when its FD is below
``(1 - min_improvement) x ref``, where ``ref`` is the FD of the last improving evaluation (the first evaluation always
improves and sets ``ref``). Training stops after ``patience`` consecutive evaluations that do not improve. Because
``ref`` only moves on an improvement, a slow steady decline still counts once it adds up to ``min_improvement``; a
NaN/Inf FD never improves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from specrep.errors import ParameterError, check_positive_int

__all__ = ["early_stop_at"]


def early_stop_at(fds: Sequence[float], *, min_improvement: float, patience: int) -> int | None:
    """Index of the evaluation after which the rule stops training, or None if it never fires on ``fds``.

    Parameters
    ----------
    fds : sequence of float
        FD per evaluation, in training order.
    min_improvement : float in [0, 1)
        Relative improvement that counts (0.05 = 5 % below the reference).
    patience : int > 0
        Consecutive non-improving evaluations that stop training.

    Returns
    -------
    int or None
        The first index ``k`` such that evaluations ``k-patience+1 .. k`` all failed to improve.
    """
    if not 0 <= min_improvement < 1:
        raise ParameterError(f"min_improvement={min_improvement!r} must be in [0, 1)")
    check_positive_int("patience", patience)
    ref, waited = math.nan, 0
    for k, fd in enumerate(fds):
        fd = float(fd)
        first = math.isnan(ref)
        if math.isfinite(fd) and (first or fd < (1.0 - min_improvement) * ref):
            ref, waited = fd, 0
        else:
            waited += 1
            if waited >= patience:
                return k
    return None
