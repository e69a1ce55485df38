"""Data-parallel plumbing of the trainer under ``torchrun``: the ranks, the process group, and the collectives.

Under ``torchrun`` (``WORLD_SIZE`` > 1) a process group is opened with gloo on CPU or NCCL on CUDA. Gradients (and
float buffers, e.g. batch-norm statistics) are averaged across ranks with ``torch.distributed.all_reduce`` before every
optimiser step, which keeps every rank's parameters identical: the averaging ``DistributedDataParallel`` performs,
done explicitly because DDP's reducer supports neither the double backward of the gradient penalty nor several
discriminator forwards per backward. Every function here is a no-op (or the trivial answer) with one rank, so the
trainer calls them unconditionally.

Collectives (:func:`all_reduce_mean_`, :func:`all_reduce_buffers_`, :func:`any_rank`, :func:`gather_rng_states`,
:func:`barrier`, :func:`leave_process_group`) must be called by every rank, in the same order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from gan_plugins.io.checkpoint import capture_rng
from specrep.errors import ParameterError

__all__ = ["Ranks", "all_reduce_buffers_", "all_reduce_mean_", "all_reduce_sum_", "any_rank", "barrier",
           "gather_rng_states", "leave_process_group", "open_process_group"]


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run.

    Attributes
    ----------
    rank : int
        Global rank, ``0 .. world - 1`` (rank 0 writes checkpoints and logs).
    world : int
        Number of ranks (1 outside ``torchrun``).
    local_rank : int
        Rank on this host (selects the CUDA device).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world < 1 or not 0 <= self.rank < self.world or self.local_rank < 0:
            raise ParameterError(f"rank={self.rank}, world={self.world}, local_rank={self.local_rank}: need "
                                 "world >= 1, 0 <= rank < world and local_rank >= 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Ranks:
        """The ranks ``torchrun`` sets in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (defaults: one process)."""
        env = os.environ if environ is None else environ
        try:
            return cls(int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0")))
        except ValueError:
            raise ParameterError(f"RANK={env.get('RANK')!r}, WORLD_SIZE={env.get('WORLD_SIZE')!r}, LOCAL_RANK="
                                 f"{env.get('LOCAL_RANK')!r} must be integers") from None


def open_process_group(ranks: Ranks) -> None:
    """Open the default process group for ``ranks.world`` > 1 (NCCL when CUDA is available, else gloo) unless one is
    open already; reads the rendezvous from ``torchrun``'s environment. A no-op with one rank."""
    if ranks.world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def leave_process_group() -> None:
    """Close the ``torch.distributed`` process group, if one is open, with every rank together.

    All ranks wait at a barrier before any of them destroys the group: rank 0 may still be writing the final checkpoint
    or finishing the last collective, and a peer that closes its gloo connections first can make it abort (SIGABRT).
    A no-op outside ``torchrun``. A script that trains under ``torchrun`` ends with it.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(world: int) -> None:
    """Wait until every one of the ``world`` ranks is here (a no-op with one rank)."""
    if world > 1:
        dist.barrier()


def all_reduce_mean_(module: nn.Module, world: int) -> None:
    """Replace every parameter gradient of ``module`` by its mean over the ``world`` ranks, in place.

    Parameters without a gradient (``grad is None``) are skipped, the same on every rank.
    """
    if world == 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world)


def all_reduce_buffers_(module: nn.Module, world: int) -> None:
    """Replace every floating-point buffer of ``module`` (e.g. batch-norm running statistics) by its mean over the
    ``world`` ranks, in place; integer buffers (batch counters) are equal on every rank and left alone."""
    if world == 1:
        return
    for b in module.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b.div_(world)


def all_reduce_sum_(t: torch.Tensor, world: int) -> torch.Tensor:
    """Replace the tensor ``t`` (on this rank's device) by its sum over the ``world`` ranks, in place; returns ``t``
    (unchanged with one rank)."""
    if world > 1:
        dist.all_reduce(t)
    return t


def any_rank(flag: bool, world: int, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on at least one of the ``world`` ranks (one all_reduce of a
    ``(1,)`` tensor on ``device``); ``flag`` itself with one rank."""
    if world == 1:
        return bool(flag)
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def gather_rng_states(world: int) -> list[dict[str, Any]]:
    """Every rank's global RNG state (:func:`gan_plugins.io.checkpoint.capture_rng`), in rank order, on every rank.

    Returns a list of ``world`` states; with one rank, ``[capture_rng()]``.
    """
    mine = capture_rng()
    if world == 1:
        return [mine]
    states: list[Any] = [None] * world
    dist.all_gather_object(states, mine)
    return states
