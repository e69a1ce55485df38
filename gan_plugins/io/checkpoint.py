"""Checkpoint files: atomic writes, ``weights_only`` loads, and RNG state as plain tensors.

A checkpoint is a dict of tensors and plain Python values only (no pickled classes), so every load goes through
``torch.load(weights_only=True)``. RNG states of torch (CPU and CUDA), numpy and Python's ``random`` are converted
to tensors and back by :func:`capture_rng` / :func:`restore_rng`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_plugins.errors import GanError
from specrep.io import atomic_write, remove_stale_temps

__all__ = ["CheckpointError", "capture_rng", "load_checkpoint", "restore_rng", "save_checkpoint", "LAST"]

LAST = "last.pt"


class CheckpointError(GanError, OSError):
    """A checkpoint is missing, truncated, corrupt, or not one of ours."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (:func:`specrep.io.atomic_write`: a temporary file in the same folder,
    fsync, then ``os.replace``).

    A reader never sees a half-written file, and a crash mid-write leaves the previous checkpoint intact. The
    temporary file of a writer killed mid-write (``.<name>.tmp<pid>``) is removed by the next successful save once
    that pid is no longer alive on this host (before, each kill left one behind for good, as big as a checkpoint).

    Parameters
    ----------
    state : dict
        Tensors and plain Python values only (loadable with ``weights_only=True``).
    path : path
        Destination; its folder is created.
    """
    path = Path(path)
    with atomic_write(path) as fh:
        torch.save(state, fh)
    remove_stale_temps(path)
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)``.

    Raises
    ------
    CheckpointError
        If the file is missing, not a torch archive, truncated, or not a dict with a ``format`` key.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt archive surfaces as many exception types
        first = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        raise CheckpointError(f"checkpoint {path} is corrupt or not a torch checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"checkpoint {path} is not a gan_plugins checkpoint (no 'format' key)")
    return state


def capture_rng() -> dict[str, Any]:
    """Snapshot the torch (CPU, CUDA), numpy and Python RNG states as tensors and plain values."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - the legacy global state is what code may draw from
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore the RNG states captured by :func:`capture_rng`."""
    torch.set_rng_state(state["torch"].cpu())
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    legacy = (npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached"])
    np.random.set_state(legacy)  # noqa: NPY002 - restores the legacy global state
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
