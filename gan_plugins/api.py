"""Plugin protocol and the entry-point registry of GAN plugins.

A plugin is any object with the attributes of :class:`GanPlugin`. Distributions advertise plugins under the
entry-point group ``specrep.gan_plugins``; the value points at the plugin object (or a zero-argument class/factory
that returns one). The built-in DCGAN is registered in this project's ``pyproject.toml`` exactly like a third party::

    [project.entry-points."specrep.gan_plugins"]
    dcgan = "gan_plugins.models.dcgan:plugin"

Discovery reads only distribution metadata; a plugin module is imported when the plugin is first used. A plugin whose
import fails is reported as broken with its error; two distributions advertising the same name is an error naming both.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from gan_plugins.errors import GanError

__all__ = [
    "ENTRY_POINT_GROUP",
    "AudioPlugin",
    "GanPlugin",
    "PluginError",
    "PluginInfo",
    "Schedule",
    "get_plugin",
    "list_plugins",
]

ENTRY_POINT_GROUP = "specrep.gan_plugins"


class PluginError(GanError):
    """A plugin is unknown, broken (fails to import or to satisfy the protocol), or its name is claimed twice."""


@runtime_checkable
class Schedule(Protocol):
    """A training schedule (e.g. progressive growing): maps a generator step to plain settings.

    ``at(step)`` returns a dict of ints/floats/strings (e.g. ``{"stage": 2, "alpha": 0.37}``); the trainer hands it to
    :meth:`GanPlugin.apply_schedule` and :meth:`GanPlugin.features` every step, logs it and stores it in checkpoints.
    Keys the trainer itself reads: ``batch_size`` (that step's per-rank batch) and ``lr_g`` / ``lr_d`` (written into
    the optimisers before the step). ``at`` must be a pure function of ``step`` (and the config), so that a resumed run
    continues exactly; :class:`gan_plugins.models.schedule.ProgressiveSchedule` is one.
    """

    def at(self, step: int) -> dict[str, Any]: ...


@runtime_checkable
class GanPlugin(Protocol):
    """What the generic trainer needs from a model family.

    Attributes
    ----------
    name : str
        Registry name (also the entry-point name).
    output_kind : str
        ``"image"`` or ``"audio"``: which renderers apply.
    """

    name: str
    output_kind: str

    def default_config(self) -> dict[str, Any]:
        """Plain-typed default configuration (JSON-serialisable values)."""
        ...

    def build(self, config: Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
        """Return ``(generator, discriminator)``: G maps ``(B, z_dim)`` to features ``(B, C, H, W)``, D maps
        features ``(B, C, H, W)`` to raw logits ``(B,)``."""
        ...

    def prepare(self, data: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Settings the data decides, for a run about to train on ``data`` (e.g. the loop length, normalisation
        statistics fitted on the training split): return only the keys it resolves, ``{}`` when none.

        Pure: reads the data, writes nothing (a dataset may sit on a read-only share or serve two runs at once)
        and does not mutate ``config``. The trainer merges the result into the run's config before :meth:`build`,
        so ``config.json`` and every checkpoint hold it; a key already set in ``config`` must not be returned.
        """
        ...

    def dataset(self, data: str, config: Mapping[str, Any], *, split: str) -> torch.utils.data.Dataset:
        """Dataset named/pointed at by ``data`` (``split`` is ``"train"`` or ``"test"``); items are tensors or
        tuples whose first element is the example. Read-only and free of side effects on ``config``."""
        ...

    def features(self, batch: Tensor, config: Mapping[str, Any], schedule_state: Mapping[str, Any]) -> Tensor:
        """Data -> model-feature transform applied by the trainer to every real batch ``(B, ...)``."""
        ...

    def latent(self, n: int, config: Mapping[str, Any], *, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        """``n`` latent vectors ``(n, z_dim)``."""
        ...

    def schedule(self, config: Mapping[str, Any]) -> Schedule | None:
        """Training schedule, or None for a fixed architecture."""
        ...

    def apply_schedule(self, generator: nn.Module, discriminator: nn.Module, state: Mapping[str, Any]) -> None:
        """Set the models to the schedule state (e.g. resolution and fade-in alpha)."""
        ...

    def save_samples(self, samples: Tensor, out_dir: Path, *, fmt: str, config: Mapping[str, Any]) -> list[Path]:
        """Write generator outputs ``(N, C, H, W)`` as files of format ``fmt``; return their paths."""
        ...

    def save_grid(self, samples: Tensor, path: Path, config: Mapping[str, Any]) -> Path:
        """Write a preview of ``samples`` ``(N, C, H, W)`` (image grid or spectrogram sheet) to ``path`` (PNG)."""
        ...

    # Audio plugins (``output_kind == "audio"``) must also provide, and the registry checks it:
    #   ``audio_features(config) -> gan_plugins.models.features.AudioFeatures`` (encode/decode of the feature map)
    #   ``final_size(samples, config) -> samples (N, C, rows, frames)`` as the decoder reads them
    #   ``render(samples (N, C, H, W), config, *, rescale=True) -> waves (N, samples)`` at ``config["sample_rate"]``
    # (the CLI's sample/walk/demo and the representation benchmark use them); see :class:`AudioPlugin`.
    # Optional (not required by the trainer): ``smoke_config(folder: Path) -> (data: str, overrides: dict)`` gives a
    # tiny dataset (written under ``folder`` if needed) and tiny-capacity settings, so the project's smoke test can
    # build, train one step, sample, save and load every installed plugin.
    # Optional: ``render_settings: tuple[str, ...]``, config keys that only change how samples are rendered (not the
    # networks), so ``loopgan sample --set KEY=VALUE`` may change them on a trained model.
    # Optional: ``absent_settings: Mapping[str, Any]``, the value a setting takes in a *stored* run config (a
    # checkpoint's) written before the setting existed, i.e. the behaviour of the code that trained it, e.g.
    # GANSynth's ``{"upsample": "nearest", "downsample": "avg"}``: an old run keeps building the networks it was
    # trained with even after the defaults change. Each key must be in ``default_config()``; settings it does not
    # name take their default. Applied by :func:`gan_plugins.config.complete_stored_config` (``load_model``, resume).


@runtime_checkable
class AudioPlugin(GanPlugin, Protocol):
    """A :class:`GanPlugin` whose features are audio: adds the feature map and the renderer."""

    def audio_features(self, config: Mapping[str, Any]) -> Any:
        """The :class:`~gan_plugins.models.features.AudioFeatures` (waves <-> features) of ``config``."""
        ...

    def final_size(self, samples: Tensor, config: Mapping[str, Any]) -> Tensor:
        """Generated features ``(N, C, h, w)`` as the decoder reads them, ``(N, C, rows, frames)`` (identity for a
        fixed-resolution model; a progressive model mid-growth upsamples its smaller features)."""
        ...

    def render(self, samples: Tensor, config: Mapping[str, Any], *, rescale: bool = True) -> Tensor:
        """Generated features ``(N, C, H, W)`` -> waves ``(N, samples)`` at ``config["sample_rate"]``: each in
        [-1, 1] with ``rescale`` (scaled down by its own peak when above full scale), as synthesised without it
        (a caller joining loops applies one smooth gain)."""
        ...


# ------------------------------------------------------------------------------------------------------ registry
@dataclass
class PluginInfo:
    """One advertised plugin, as read from distribution metadata.

    Attributes
    ----------
    name, value : str
        Entry-point name and ``module:attr`` target.
    distribution, version : str
        The distribution that advertises it.
    status : str
        ``"not loaded"``, ``"ok"`` or ``"broken"``.
    error : str
        One-line reason when broken.
    """

    name: str
    value: str
    distribution: str
    version: str
    status: str = "not loaded"
    error: str = ""


_LOADED: dict[tuple[str, str], Any] = {}
_BROKEN: dict[tuple[str, str], str] = {}

_REQUIRED = ("name", "output_kind", "default_config", "build", "prepare", "dataset", "features", "latent",
             "schedule", "apply_schedule", "save_samples", "save_grid")
_REQUIRED_AUDIO = ("audio_features", "final_size", "render")


def _entry_points() -> dict[str, tuple[md.EntryPoint, PluginInfo]]:
    found: dict[str, tuple[md.EntryPoint, PluginInfo]] = {}
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
        version = dist.version if dist is not None else ""
        info = PluginInfo(ep.name, ep.value, dist_name, version)
        if ep.name in found:
            other = found[ep.name][1]
            if other.distribution == dist_name and other.value == ep.value:
                continue  # the same distribution seen twice on sys.path (e.g. an egg-info beside the dist-info)
            raise PluginError(
                f"plugin name {ep.name!r} is claimed by two distributions: {other.distribution} {other.version} "
                f"({other.value}) and {dist_name} {version} ({ep.value})"
            )
        found[ep.name] = (ep, info)
    return found


def _status(info: PluginInfo) -> PluginInfo:
    key = (info.name, info.value)
    if key in _LOADED:
        info.status = "ok"
    elif key in _BROKEN:
        info.status, info.error = "broken", _BROKEN[key]
    return info


def list_plugins(*, probe: bool = False) -> list[PluginInfo]:
    """List the advertised plugins from entry-point metadata, sorted by name.

    Parameters
    ----------
    probe : bool
        When False (default) nothing is imported and a plugin not used yet has status ``"not loaded"``. When True
        each plugin is loaded in turn so its status becomes ``"ok"`` or ``"broken"`` (with the error).

    Raises
    ------
    PluginError
        If two distributions advertise the same plugin name.
    """
    out = []
    for name, (_, info) in sorted(_entry_points().items()):
        if probe:
            try:
                get_plugin(name)
            except PluginError:
                pass
        out.append(_status(info))
    return out


def _load(ep: md.EntryPoint, info: PluginInfo) -> Any:
    key = (info.name, info.value)
    if key in _LOADED:
        return _LOADED[key]
    if key in _BROKEN:
        raise PluginError(f"plugin {info.name!r} from {info.distribution} is broken: {_BROKEN[key]}")
    try:
        obj = ep.load()
        if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "build")):
            obj = obj()
        missing = [a for a in _REQUIRED if not hasattr(obj, a)]
        if getattr(obj, "output_kind", None) == "audio":
            missing += [a for a in _REQUIRED_AUDIO if not hasattr(obj, a)]
        if missing:
            raise TypeError(f"{info.value} does not implement the plugin protocol (missing {', '.join(missing)})")
        if obj.name != info.name:
            raise TypeError(f"{info.value} calls itself {obj.name!r} but is registered as {info.name!r}")
    except Exception as exc:  # noqa: BLE001 - any failure of third-party code marks the plugin broken
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        _BROKEN[key] = msg
        raise PluginError(f"plugin {info.name!r} from {info.distribution} is broken: {msg}") from exc
    _LOADED[key] = obj
    return obj


def get_plugin(name: str) -> GanPlugin:
    """Load (once) and return the plugin registered as ``name``.

    Raises
    ------
    PluginError
        If no distribution advertises ``name`` (the message lists those that do), if the plugin fails to import or
        does not satisfy the protocol, or if two distributions claim the name.
    """
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise PluginError(f"unknown plugin {name!r}; available: {known}")
    return _load(*eps[name])
