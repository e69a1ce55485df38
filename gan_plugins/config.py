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

from gan_plugins.api import GanPlugin, PluginError
from gan_plugins.training.augment import check_audio_augment, check_augment
from gan_plugins.training.losses import get_loss, get_penalty
from specrep.errors import ParameterError, check_positive_float, check_positive_int

__all__ = ["AMP_MODES", "RENAMED_SETTINGS", "RESUME_SETTINGS", "TRAINER_DEFAULTS", "amp_enabled",
           "complete_stored_config", "parse_overrides", "read_config_file", "resolve_config", "upgrade_config"]

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
    "amp": True,            # bf16 autocast: True = on CUDA only, "always" = on the run's device (CPU too), False = off
    "drift": 0.0,           # weight of the critic drift penalty on real outputs (GANSynth: 0.001)
    "penalty": "gp",        # critic gradient penalty (training.losses): "gp" weighted by gp_weight, "r1" by r1_gamma
    "r1_gamma": None,       # R1 weight; None = StyleGAN2-ADA's 0.0002 * H * W / global batch (H x W: critic input)
    "gp_every": 1,          # lazy penalty: every k-th critic update, weighted k times (1 = always; StyleGAN2 R1: 16)
    "augment": "",          # "translation" / "audio": augment every discriminator input (training.augment); "" = off
    "augment_shift": 0.125,  # translation range, fraction of the image size (DiffAugment: 1/8)
    "augment_p": 0.0,       # audio: probability of each transformation per image; with ada_target, the initial p
    "augment_time_step": 16,  # audio: time shifts are whole steps of loop / augment_time_step (16ths of a bar)
    "augment_gain": 0.1,    # audio: gain offset range on channel 0, normalised units (training.augment: dB)
    "ada_target": None,     # audio: adapt p to hold E[sign D(real)] at this target (ADA: 0.6); None = fixed p
    "ada_images": 20000,    # audio + ada_target: real images over which p can move from 0 to 1 (ADA: 500k)
    "init_from": None,      # warm start: a run folder, checkpoint or bundled model whose weights begin this run
}


#: values of ``amp`` (bf16 autocast of the forward passes, penalties included): True, the default, on CUDA only (on
#: CPU, bf16 matmuls are rarely faster than float32, so CPU runs stay in float32); "always" on whatever device the run
#: uses, CPU included (opt-in, e.g. to test the CUDA path's numerics on a laptop); False never.
AMP_MODES = (True, False, "always")


def amp_enabled(amp: bool | str, device_type: str) -> bool:
    """Whether a run with setting ``amp`` (one of :data:`AMP_MODES`) autocasts on ``device_type`` (``"cuda"``,
    ``"cpu"``, ...)."""
    return amp == "always" or (amp is True and device_type == "cuda")


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


def complete_stored_config(plugin: GanPlugin, stored: Mapping[str, Any], defaults: Mapping[str, Any]
                           ) -> dict[str, Any]:
    """A stored run config (a checkpoint's, :func:`upgrade_config` applied) completed with the settings added to the
    project since it was written, so it builds the networks the run was trained with.

    A setting ``stored`` lacks takes the plugin's ``absent_settings[key]`` when the plugin names it (the behaviour
    before the setting existed, which a later default may differ from), else its value in ``defaults``
    (``plugin.default_config()``, or a whole :func:`resolve_config`); stored values always win.

    Raises
    ------
    PluginError
        If the plugin's ``absent_settings`` names a key that ``defaults`` does not have.
    """
    absent = dict(getattr(plugin, "absent_settings", None) or {})
    unknown = sorted(set(absent) - set(defaults))
    if unknown:
        raise PluginError(f"plugin {plugin.name!r}: absent_settings names {', '.join(unknown)}, not settings of it")
    return {**defaults, **absent, **stored}


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
    given: set[str] = set()  # keys a config file or --set gave
    for source, extra in (("config file", read_config_file(config_file) if config_file else {}),
                          ("--set", dict(overrides or {}))):
        extra = upgrade_config(extra, source=source)
        for key, value in extra.items():
            if key in ("plugin", "loss", "data"):
                raise ParameterError(f"{source} key {key!r} is given on the command line, not as a setting")
            if key not in base:
                raise ParameterError(f"{source} key {key!r} is not a setting; known: {', '.join(sorted(base))}")
            base[key] = value
            given.add(key)
    for key in ("steps", "batch_size", "n_critic", "log_every", "grid_size", "gp_every"):
        check_positive_int(key, base[key])
    for key in ("lr_g", "lr_d"):
        check_positive_float(key, base[key])
    for key in ("sample_every", "ckpt_every", "eval_every"):
        if isinstance(base[key], bool) or not isinstance(base[key], int) or base[key] < 0:
            raise ParameterError(f"{key}={base[key]!r} must be an integer >= 0")
    if not (isinstance(base["amp"], bool) or base["amp"] == "always"):
        raise ParameterError(f"amp={base['amp']!r} must be true (bf16 autocast on CUDA), \"always\" (on CPU too) "
                             "or false")
    if not 0.0 <= float(base["ema_decay"]) < 1.0:
        raise ParameterError(f"ema_decay={base['ema_decay']!r} must be in [0, 1)")
    if base["init_from"] is not None and (not isinstance(base["init_from"], str) or not base["init_from"]):
        raise ParameterError(f"init_from={base['init_from']!r} must be a run folder, a checkpoint or a bundled "
                             "model's name")
    _check_penalty(base, given)
    check_augment(base["augment"], base["augment_shift"])
    check_audio_augment(base["augment_p"], base["augment_time_step"], base["augment_gain"], base["ada_target"],
                        base["ada_images"])
    if base["ada_target"] is not None and base["augment"] != "audio":
        raise ParameterError(f"ada_target={base['ada_target']!r} adapts augment='audio'; set augment=audio or leave "
                             "ada_target unset (null)")
    if base["augment"] == "audio" and base["ada_target"] is None and float(base["augment_p"]) == 0.0:
        raise ParameterError("augment='audio' with augment_p=0 and no ada_target augments nothing; set augment_p > 0 "
                             "(fixed) or ada_target (adaptive, e.g. 0.6)")
    return base


def _check_penalty(base: Mapping[str, Any], given: set[str]) -> None:
    """The penalty settings: a registered ``penalty``, and the weight of the other penalty not given with it."""
    get_penalty(base["penalty"])
    gamma = base["r1_gamma"]
    if gamma is not None:
        check_positive_float("r1_gamma", gamma, strict=False)
        if base["penalty"] != "r1":
            raise ParameterError(f"r1_gamma={gamma!r} weighs penalty 'r1', not {base['penalty']!r}; set penalty=r1 "
                                 "or leave r1_gamma unset (null)")
    if base["penalty"] == "r1" and "gp_weight" in given and float(base["gp_weight"]) != 0.0:
        raise ParameterError(f"gp_weight={base['gp_weight']!r} weighs penalty 'gp'; with penalty='r1' the weight is "
                             "r1_gamma")
