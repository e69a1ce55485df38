"""Exponential moving average (EMA) of generator weights, with the warm-up of Tarvainen & Valpola (2017).

The EMA generator is the one sampled and shipped (Karras et al. 2018, GANSynth): after each generator update
``theta_ema <- d * theta_ema + (1 - d) * theta``, with the effective decay ``d = min(decay, (1 + t) / (10 + t))`` at
update ``t`` (0-based), so the first averages do not drag the random initialisation along. Buffers (e.g. batch-norm
statistics) are copied, not averaged.
"""

from __future__ import annotations

import torch
from torch import nn

from specrep.errors import ParameterError

__all__ = ["ema_decay", "update_ema_"]


def ema_decay(decay: float, step: int) -> float:
    """Effective decay at 0-based update ``step``: ``min(decay, (1 + step) / (10 + step))``.

    Raises
    ------
    ParameterError
        If ``decay`` is outside ``[0, 1)`` or ``step`` is negative.
    """
    if not 0.0 <= float(decay) < 1.0:
        raise ParameterError(f"ema decay={decay!r} must be in [0, 1)")
    if int(step) < 0:
        raise ParameterError(f"ema step={step!r} must be >= 0")
    return min(float(decay), (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema_(ema: nn.Module, model: nn.Module, decay: float, step: int) -> float:
    """Move ``ema``'s parameters towards ``model``'s in place and copy its buffers; return the decay used.

    Parameters
    ----------
    ema, model : nn.Module
        Same architecture (parameters and buffers zip one-to-one).
    decay : float in [0, 1)
        Target decay (0.999 in PGGAN/GANSynth).
    step : int >= 0
        Index of the generator update just made (0 for the first).
    """
    d = ema_decay(decay, step)
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(pm, 1.0 - d)
    for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(bm)
    return d
