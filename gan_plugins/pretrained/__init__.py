"""Trained generators shipped with the package: their names, descriptions and files (load one with
:func:`gan_plugins.io.model.load_model`).

Each bundled model is ``<name>.pt`` (EMA generator weights + resolved config, loadable with ``weights_only=True``)
beside ``<name>.json`` (how it was made: command, steps, scores) and ``<name>.log.csv`` (its training log).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["available_pretrained", "bundled_path", "pretrained_info"]


def _folder() -> Path:
    return Path(str(resources.files("gan_plugins.pretrained")))


def available_pretrained() -> list[str]:
    """Names of the bundled generators (e.g. ``["dcgan-mnist"]``)."""
    return sorted(p.stem for p in _folder().glob("*.pt"))


def pretrained_info(name: str) -> dict[str, Any]:
    """The ``<name>.json`` description of a bundled generator (empty dict when absent)."""
    path = _folder() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def bundled_path(name: str) -> Path | None:
    """The ``<name>.pt`` of a bundled generator, or None when no bundled model has that name."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = _folder() / f"{name}.pt"
    return path if path.is_file() else None
