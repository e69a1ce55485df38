"""Run settings: the trainer's defaults, their precedence, names renamed since first stored, and ``--set`` parsing.

Precedence (lowest to highest): :data:`TRAINER_DEFAULTS` < the loss's literature defaults < the plugin's
``default_config()`` < a config file < ``--set key=value`` overrides. A key that is not a setting of the run is
refused with the known ones listed, so a typo never trains silently with the default.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gan_plugins.api import GanPlugin
from gan_plugins.training.augment import check_augment
from gan_plugins.training.losses import get_loss
from specrep.errors import ParameterError, check_positive_float, check_positive_int

__all__ = ["RENAMED_SETTINGS", "RESUME_SETTINGS", "TRAINER_DEFAULTS", "parse_overrides", "read_config_file",
           "resolve_config", "upgrade_config"]

TRAINER_DEFAULTS: dict[str, Any] = {
    "steps": 2000,          # generator updates
    "batch_size": 64,       # per rank
    "seed": 0,
    "ema_decay": 0.999,
    "log_every": 10,
    "sample_every": 500,
    "ckpt_every": 500,
    "eval_every": 0,        # 0: only at the end (when an evaluator is given)
    "grid_size": 64,
    "amp": True,            # bf16 autocast, CUDA only
    "drift": 0.0,           # weight of the critic drift penalty on real outputs (GANSynth: 0.001)
    "gp_every": 1,          # lazy gradient penalty: every k-th critic update, weighted k * gp_weight (1 = always)
    "augment": "",          # "translation": DiffAugment of every discriminator input (training.augment); "" = off
    "augment_shift": 0.125,  # translation range, fraction of the image size (DiffAugment: 1/8)
}


#: settings a resume may change: a new phase of the run from the checkpoint's step on (e.g. a lower learning rate or a
#: longer EMA for the last steps). Every other setting shapes the models, the data or the loss and is fixed for the
#: life of a run; a resume given the value it already has is still exact.
RESUME_SETTINGS = ("lr_g", "lr_d", "ema_decay", "log_every", "sample_every", "ckpt_every", "eval_every")


#: settings renamed since they were first stored (old name -> new name): one name per knob, prefixed by the specrep
#: block it reaches (``gl_`` -> PhaseReconstruction, ``mel_`` -> MelParams). Old names in stored configs, config files
#: and ``--set`` are still read.
RENAMED_SETTINGS = {"gl_iter": "gl_n_iter", "mel_n_iter": "mel_nnls_iter"}


def upgrade_config(config: Mapping[str, Any], *, source: str = "") -> dict[str, Any]:
    """A copy of ``config`` with renamed settings under their current names (:data:`RENAMED_SETTINGS`).

    With ``source`` (e.g. ``"--set"``), a :class:`DeprecationWarning` names each old key that was given.

    Raises
    ------
    ParameterError
        If both the old and the new name of a setting are given.
    """
    out = dict(config)
    for old, new in RENAMED_SETTINGS.items():
        if old in out:
            if new in out:
                raise ParameterError(f"{source or 'config'} gives both {old!r} and its new name {new!r}")
            out[new] = out.pop(old)
            if source:
                warnings.warn(f"{source} key {old!r} is now called {new!r}", DeprecationWarning, stacklevel=3)
    return out


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``["key=value", ...]``; values are JSON when they parse as JSON (``3``, ``1e-4``, ``[1,32,32]``,
    ``true``), otherwise strings.

    Raises
    ------
    ParameterError
        If an item has no ``=`` or an empty key.
    """
    out: dict[str, Any] = {}
    for item in pairs or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--set {item!r} must look like key=value")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"config file {path} does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"config file {path} must hold a table/object of key = value")
    return data


def resolve_config(plugin: GanPlugin, *, loss: str, data: str, config_file: str | Path | None = None,
                   overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge trainer, loss and plugin defaults with a config file and overrides into one plain dict.

    Raises
    ------
    ParameterError
        If the loss is unknown or a config-file/override key is not a known setting (the message lists them).
    """
    loss_obj = get_loss(loss)
    base: dict[str, Any] = {"plugin": plugin.name, "loss": loss, "data": str(data)}
    base.update(TRAINER_DEFAULTS)
    base.update({k: list(v) if isinstance(v, tuple) else v for k, v in loss_obj.defaults.items()})
    base.update(plugin.default_config())
    for source, extra in (("config file", read_config_file(config_file) if config_file else {}),
                          ("--set", dict(overrides or {}))):
        extra = upgrade_config(extra, source=source)
        for key, value in extra.items():
            if key in ("plugin", "loss", "data"):
                raise ParameterError(f"{source} key {key!r} is given on the command line, not as a setting")
            if key not in base:
                raise ParameterError(f"{source} key {key!r} is not a setting; known: {', '.join(sorted(base))}")
            base[key] = value
    for key in ("steps", "batch_size", "n_critic", "log_every", "grid_size", "gp_every"):
        check_positive_int(key, base[key])
    for key in ("lr_g", "lr_d"):
        check_positive_float(key, base[key])
    for key in ("sample_every", "ckpt_every", "eval_every"):
        if isinstance(base[key], bool) or not isinstance(base[key], int) or base[key] < 0:
            raise ParameterError(f"{key}={base[key]!r} must be an integer >= 0")
    if not 0.0 <= float(base["ema_decay"]) < 1.0:
        raise ParameterError(f"ema_decay={base['ema_decay']!r} must be in [0, 1)")
    check_augment(base["augment"], base["augment_shift"])
    return base
