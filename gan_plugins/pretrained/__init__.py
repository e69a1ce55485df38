"""Trained generators shipped with the package, and loading a generator from a name, a run folder or a checkpoint.

Each bundled model is ``<name>.pt`` (EMA generator weights + resolved config, loadable with ``weights_only=True``)
beside ``<name>.json`` (how it was made: command, steps, scores) and ``<name>.log.csv`` (its training log).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_plugins.api import GanPlugin, get_plugin
from gan_plugins.checkpoint import LAST, CheckpointError, load_checkpoint
from gan_plugins.train import upgrade_config

__all__ = ["available_pretrained", "load_generator", "pretrained_info", "resolve_checkpoint", "export_generator"]


def _folder() -> Path:
    return Path(str(resources.files("gan_plugins.pretrained")))


def available_pretrained() -> list[str]:
    """Names of the bundled generators (e.g. ``["dcgan-mnist"]``)."""
    return sorted(p.stem for p in _folder().glob("*.pt"))


def pretrained_info(name: str) -> dict[str, Any]:
    """The ``<name>.json`` description of a bundled generator (empty dict when absent)."""
    path = _folder() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def resolve_checkpoint(ref: str | Path) -> Path:
    """Map a bundled name, a run folder (its ``last.pt``) or a checkpoint file to a checkpoint path.

    Raises
    ------
    CheckpointError
        If ``ref`` is none of these; the message lists the bundled names.
    """
    path = Path(ref)
    if path.is_dir():
        path = path / LAST
    if path.is_file():
        return path
    bundled = _folder() / f"{ref}.pt"
    if bundled.is_file():
        return bundled
    names = ", ".join(available_pretrained()) or "none"
    raise CheckpointError(f"{str(ref)!r} is not a run folder, a checkpoint file or a bundled model ({names})")


def load_generator(ref: str | Path, *, device: str | torch.device = "cpu") -> tuple[GanPlugin, nn.Module,
                                                                                    dict[str, Any]]:
    """Load the EMA generator of a bundled model, run folder or checkpoint.

    Returns
    -------
    plugin : GanPlugin
    generator : nn.Module
        In eval mode, gradients off, on ``device``; set to the schedule state of the checkpoint's step when the
        plugin has a schedule (a progressive model sampled mid-training runs at the stage it had reached).
    config : dict
        The resolved training config stored with it.
    """
    path = resolve_checkpoint(ref)
    state = load_checkpoint(path, map_location=device)
    if "ema" not in state or "config" not in state:
        raise CheckpointError(f"checkpoint {path} holds no generator ('ema' and 'config' keys)")
    cfg = upgrade_config(state["config"])  # settings renamed since the checkpoint was written
    plugin = get_plugin(cfg["plugin"])
    cfg = {**plugin.default_config(), **cfg}  # settings newer than the checkpoint take their defaults
    generator, discriminator = plugin.build(cfg)
    try:
        generator.load_state_dict(state["ema"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match plugin {cfg['plugin']!r}: "
                              f"{str(exc).splitlines()[0]}") from None
    schedule = plugin.schedule(cfg)
    if schedule is not None:  # e.g. the stage and fade-in of a progressive model: derived from the stored step
        plugin.apply_schedule(generator, discriminator, schedule.at(int(state.get("step", 0))))
    return plugin, generator.to(device).eval().requires_grad_(False), cfg


def export_generator(checkpoint: str | Path, out: str | Path) -> Path:
    """Write only the EMA generator + config of a training checkpoint to ``out`` (what gets bundled)."""
    from gan_plugins.checkpoint import save_checkpoint

    state = load_checkpoint(resolve_checkpoint(checkpoint))
    ema = {k: v.clone() for k, v in state["ema"].items()}
    return save_checkpoint({"format": 1, "kind": "generator", "config": state["config"], "ema": ema,
                            "step": state["step"]}, out)
