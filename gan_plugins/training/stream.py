"""The trainer's batch stream: endless, seeded, sharded over the ranks of a data-parallel run, resumable exactly.

Each epoch is a permutation of the dataset (``torch.randperm`` seeded with ``seed + epoch``, as
``DistributedSampler``'s), cut into global batches of ``batch_size * world`` examples, of which rank ``r`` reads the
``r``-th contiguous slice. The stream's position (epoch, offset into the epoch's permutation) is two integers, part
of the trainer's checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import default_collate

from specrep.errors import ParameterError, check_positive_int

__all__ = ["BatchStream"]


class BatchStream:
    """Endless batches of one rank's slice of every global batch.

    A rank's slice is contiguous so that, with the trainer's global noise draw, rank ``r``'s real rows meet the same
    fake rows as rows ``r * B .. (r + 1) * B`` of one process with the whole batch (the gradient penalty
    interpolates row by row). An epoch ends when the next global batch would not fit in what is left of its
    permutation (the remainder is skipped, as ``drop_last``).

    Parameters
    ----------
    dataset : sized, indexable
        ``dataset[i]`` is an image ``(C, H, W)`` or a tuple whose first item is; a dataset with an ``images`` tensor
        attribute ``(N, C, H, W)`` is indexed in one gather.
    batch_size : int > 0
        Examples per rank and batch (default of :meth:`next`).
    seed : int
        Seed of epoch 0's permutation (epoch ``e`` uses ``seed + e``).
    rank, world : int
        This process's rank in ``0 .. world - 1`` and the number of ranks.

    Raises
    ------
    ParameterError
        If the dataset holds fewer than ``batch_size * world`` items, or rank/world are out of range.
    """

    def __init__(self, dataset: Any, batch_size: int, *, seed: int, rank: int, world: int) -> None:
        check_positive_int("batch_size", batch_size)
        check_positive_int("world", world)
        if not 0 <= rank < world:
            raise ParameterError(f"rank={rank!r} must be in [0, {world})")
        if len(dataset) < batch_size * world:
            raise ParameterError(f"dataset of {len(dataset)} items is smaller than batch_size={batch_size} x "
                                 f"{world} rank(s)")
        self.dataset, self.batch_size, self.seed = dataset, int(batch_size), int(seed)
        self.rank, self.world = int(rank), int(world)
        self.epoch, self.offset = 0, 0
        self._order: list[int] | None = None

    def _indices(self) -> list[int]:
        if self._order is None:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            self._order = torch.randperm(len(self.dataset), generator=g).tolist()
        return self._order

    def next(self, batch_size: int | None = None) -> Tensor:
        """This rank's slice ``(batch_size, C, H, W)`` of the next global batch of ``batch_size * world`` examples.

        Parameters
        ----------
        batch_size : int > 0, optional
            Examples per rank for this batch (default: the stream's); a schedule may change it from step to step.

        Raises
        ------
        ParameterError
            If the dataset holds fewer than ``batch_size * world`` items.
        """
        bs = self.batch_size if batch_size is None else int(batch_size)
        if bs != self.batch_size and len(self.dataset) < bs * self.world:
            raise ParameterError(f"dataset of {len(self.dataset)} items is smaller than batch_size={bs} x "
                                 f"{self.world} rank(s)")
        step = bs * self.world
        if self.offset + step > len(self._indices()):
            self.epoch, self.offset, self._order = self.epoch + 1, 0, None
        start = self.offset + self.rank * bs
        idx = self._indices()[start: start + bs]
        self.offset += step
        images = getattr(self.dataset, "images", None)
        if isinstance(images, Tensor):
            return images[torch.tensor(idx)]
        batch = default_collate([self.dataset[i] for i in idx])
        return batch[0] if isinstance(batch, (list, tuple)) else batch

    def state_dict(self) -> dict[str, int]:
        """The position: ``{"epoch": int, "offset": int}`` (offset into the epoch's permutation, in examples)."""
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        """Continue from a :meth:`state_dict` (the permutation is recomputed from the seed and the epoch)."""
        self.epoch, self.offset, self._order = int(state["epoch"]), int(state["offset"]), None
