"""A plugin author's test kit: :func:`check_plugin` runs a plugin through every part of the project that calls it.

``check_plugin(plugin)`` uses the public API only (the same calls the CLI makes) and returns a :class:`PluginReport`
with one :class:`Check` per stage, each ``"ok"``, ``"skipped"`` (with the reason it does not apply) or ``"failed"``
(with what went wrong), in this order:

``protocol``
    the members of :class:`~gan_plugins.api.GanPlugin` (and of :class:`~gan_plugins.api.AudioPlugin` for an audio
    plugin) and ``formats`` exist; the message names each one missing. A plugin missing a training member skips
    everything after; one missing only an audio member still trains and skips ``render``, ``walk``, ``studio`` and
    ``export``.
``config``
    the tiny setting: the plugin's ``smoke_config(folder)`` when it has one, else ``data`` (and ``overrides``),
    resolved by :func:`~gan_plugins.config.resolve_config` with :data:`TINY_TRAINER`.
``build``
    ``prepare`` (a pure function: ``config`` unchanged, no key it already sets), ``dataset`` for both splits (items
    tensors or tuples of them), ``build``, ``latent`` ``(n, z_dim)``, the generator's ``(B, C, H, W)``, the real
    features of the same shape, the critic's logits ``(B,)``.
``train``
    :class:`~gan_plugins.training.trainer.Trainer` for 2 steps: finite losses and weights, a checkpoint.
``resume``
    the checkpoint resumed as ``loopgan train --resume`` does, 1 step more, against 3 straight steps: generator,
    critic and EMA weights bit-identical (a plugin drawing from an RNG the trainer does not checkpoint fails here).
``sample``
    the checkpoint loaded as a :class:`~gan_plugins.io.model.Model` (:func:`~gan_plugins.io.model.load_model` when the
    plugin is registered under its name, else the same steps by hand), finite features reproducible from a seed,
    ``save_samples`` in every one of ``formats`` and ``save_grid``.
``render``
    audio: :meth:`Model.decode <gan_plugins.io.model.Model.decode>` to ``(N, loop_samples)``, finite, in [-1, 1]
    with ``rescale``.
``walk``
    audio: :func:`gan_plugins.latent.render.render_walk` of a spline walk over two loops.
``studio``
    audio: a :class:`gan_plugins.apps.studio.state.ModelSession` draws two loops with their descriptors.
``export``
    audio plugins whose ``audio_features`` is a specrep feature map
    (:class:`~gan_plugins.models.features.AudioFeatures`): :func:`gan_plugins.apps.export.export_model` to
    TorchScript, and the traced graph against :func:`~gan_plugins.apps.export.reference_audio`.

A stage that raises is failed with the exception's first line; the stages that need its result are skipped. The
global RNG states are restored afterwards, and on CUDA the trainings run with deterministic algorithms.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gan_plugins.api import AudioPlugin, GanPlugin, PluginError, get_plugin, list_plugins
from gan_plugins.config import complete_stored_config, resolve_config, upgrade_config
from gan_plugins.errors import GanError
from gan_plugins.io.checkpoint import LAST, capture_rng, load_checkpoint, restore_rng
from gan_plugins.io.model import Model, load_model
from gan_plugins.training.trainer import Trainer
from specrep.errors import ParameterError

__all__ = ["AUDIO_MEMBERS", "CHECKS", "CLI_MEMBERS", "OPTIONAL_MEMBERS", "PROTOCOL_MEMBERS", "TINY_TRAINER", "Check",
           "PluginCheckFailed", "PluginReport", "check_plugin"]


def _members(protocol: type, *, own: bool = False) -> tuple[str, ...]:
    """Public attributes and methods a Protocol class declares (``own``: leaving out those of its bases)."""
    names: list[str] = []
    for cls in ([protocol] if own else reversed(protocol.__mro__)):
        if cls is object or cls.__module__ == "typing":
            continue
        for name in (*cls.__dict__.get("__annotations__", {}), *cls.__dict__):
            value = cls.__dict__.get(name)
            is_member = name in cls.__dict__.get("__annotations__", {}) or callable(value)
            if not name.startswith("_") and is_member and name not in names:
                names.append(name)
    return tuple(names)


#: what every plugin has: the members of :class:`~gan_plugins.api.GanPlugin`
PROTOCOL_MEMBERS: tuple[str, ...] = _members(GanPlugin)
#: what an audio plugin (``output_kind == "audio"``) adds: the members :class:`~gan_plugins.api.AudioPlugin` declares
AUDIO_MEMBERS: tuple[str, ...] = _members(AudioPlugin, own=True)
#: read by the CLI although the trainer does not need it: ``loopgan sample`` writes ``formats[0]`` by default
CLI_MEMBERS = ("formats",)
#: optional members the project reads when present (documented in :mod:`gan_plugins.api`)
OPTIONAL_MEMBERS = ("smoke_config", "render_settings", "absent_settings")
#: the stages of :func:`check_plugin`, in order
CHECKS = ("protocol", "config", "build", "train", "resume", "sample", "render", "walk", "studio", "export")
#: trainer settings of the tiny runs (under the plugin's ``smoke_config`` overrides and the caller's ``overrides``)
TINY_TRAINER: dict[str, Any] = {"batch_size": 4, "sample_every": 0, "ckpt_every": 0, "grid_size": 4, "log_every": 1,
                                "seed": 0}

_STATUSES = ("ok", "skipped", "failed")


class PluginCheckFailed(GanError):
    """:meth:`PluginReport.raise_for_failures` on a report with a failed check."""


@dataclass(frozen=True)
class Check:
    """One stage of :func:`check_plugin`.

    Attributes
    ----------
    name : str
        One of :data:`CHECKS`.
    status : str
        ``"ok"``, ``"skipped"`` or ``"failed"``.
    reason : str
        What was verified (ok), why it does not apply (skipped) or what went wrong (failed).
    """

    name: str
    status: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in _STATUSES:
            raise ParameterError(f"status={self.status!r} must be one of {', '.join(_STATUSES)}")


@dataclass
class PluginReport:
    """What :func:`check_plugin` found: one :class:`Check` per stage of :data:`CHECKS`.

    ``report.ok`` is True when no check failed (skipped ones do not count); ``report["resume"]`` is one check;
    ``str(report)`` is a table; :meth:`raise_for_failures` raises with every failure in the message.
    """

    plugin: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "failed"]

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r}; the checks are {', '.join(c.name for c in self.checks)}")

    def __str__(self) -> str:
        lines = [f"plugin {self.plugin!r}: " + ("ok" if self.ok else f"{len(self.failures)} check(s) failed")]
        lines += [f"  {c.status:<8} {c.name:<9} {c.reason}" for c in self.checks]
        return "\n".join(lines)

    def raise_for_failures(self) -> PluginReport:
        """Return ``self`` when :attr:`ok`, else raise :class:`PluginCheckFailed` naming each failed check."""
        if not self.ok:
            raise PluginCheckFailed(f"plugin {self.plugin!r} fails " + "; ".join(
                f"{c.name}: {c.reason}" for c in self.failures))
        return self


class _Skip(Exception):
    """Raised inside a stage: it does not apply (the message says why)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


@contextmanager
def _isolated(device_is_cuda: bool) -> Iterator[None]:
    """Global RNG states restored on exit; on CUDA, deterministic algorithms for the duration (exact resume)."""
    state = capture_rng()
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        if device_is_cuda:
            torch.use_deterministic_algorithms(True, warn_only=True)
            with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
                yield
        else:
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        restore_rng(state)


def _resolve_plugin(plugin_or_name: str | GanPlugin) -> tuple[Any, str, bool, str]:
    """``(plugin or None, name, registered, error)``: a name is loaded from the registry (a broken plugin gives its
    error instead); an object counts as registered when the registry returns that very object for its name."""
    if isinstance(plugin_or_name, str):
        known = {i.name for i in list_plugins()}
        if plugin_or_name not in known:
            get_plugin(plugin_or_name)  # raises PluginError listing the installed plugins
        try:
            return get_plugin(plugin_or_name), plugin_or_name, True, ""
        except PluginError as exc:
            return None, plugin_or_name, True, str(exc)
    name = getattr(plugin_or_name, "name", type(plugin_or_name).__name__)
    registered = False
    if isinstance(name, str) and name in {i.name for i in list_plugins()}:
        try:
            registered = get_plugin(name) is plugin_or_name
        except PluginError:
            registered = False
    return plugin_or_name, str(name), registered, ""


def _state_equal(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> list[str]:
    """Keys of two state dicts whose tensors differ (by value, bit for bit)."""
    return [k for k in a if k not in b or not torch.equal(a[k].cpu(), b[k].cpu())] + [k for k in b if k not in a]


class _Run:
    """The state shared by the stages of one :func:`check_plugin` call."""

    def __init__(self, plugin: Any, name: str, registered: bool, workdir: Path, data: str | None,
                 overrides: Mapping[str, Any], loss: str) -> None:
        self.plugin, self.name, self.registered, self.workdir = plugin, name, registered, workdir
        self.data, self.overrides, self.loss = data, dict(overrides), loss
        self.cfg: dict[str, Any] = {}
        self.model: Model | None = None
        self.audio_ok = True

    # ------------------------------------------------------------------------------------------------- stages
    def protocol(self) -> str:
        p = self.plugin
        missing = [m for m in (*PROTOCOL_MEMBERS, *CLI_MEMBERS) if not hasattr(p, m)]
        kind = getattr(p, "output_kind", None)
        if kind is not None and kind not in ("image", "audio"):
            raise ParameterError(f"output_kind={kind!r} must be 'image' or 'audio'")
        audio_missing = [m for m in AUDIO_MEMBERS if not hasattr(p, m)] if kind == "audio" else []
        if getattr(p, "name", self.name) != self.name:
            raise ParameterError(f"the plugin calls itself {p.name!r} but is registered as {self.name!r}")
        if missing or audio_missing:
            self.audio_ok = not audio_missing
            parts = [f"missing {', '.join(missing)}"] if missing else []
            if audio_missing:
                parts.append(f"an audio plugin (output_kind='audio') also needs {', '.join(audio_missing)}")
            raise GanError("; ".join(parts))
        present = [m for m in OPTIONAL_MEMBERS if hasattr(p, m)]
        return (f"{len(PROTOCOL_MEMBERS) + len(CLI_MEMBERS) + (len(AUDIO_MEMBERS) if kind == 'audio' else 0)} "
                f"members of an {kind} plugin; optional: {', '.join(present) or 'none'}")

    def config(self) -> str:
        if self.data is None and not hasattr(self.plugin, "smoke_config"):
            raise GanError("the plugin has no smoke_config(folder) and no data was given: pass data=... (and "
                           "overrides=... for a tiny model)")
        tiny: dict[str, Any] = {}
        source = "data given"
        if self.data is None:
            data, tiny = self.plugin.smoke_config(self.workdir / "data")
            self.data, source = str(data), "smoke_config"
        cfg = resolve_config(self.plugin, loss=self.loss, data=str(self.data),
                             overrides={**TINY_TRAINER, **tiny, **self.overrides})
        self.cfg = cfg
        return f"{source}: data {self.data}, loss {self.loss}, {len(tiny) + len(self.overrides)} tiny setting(s)"

    def build(self) -> str:
        p, cfg = self.plugin, self.cfg
        given = copy.deepcopy(cfg)
        resolved = p.prepare(cfg["data"], cfg)
        if cfg != given:
            raise GanError("prepare() modified the config it was given (it must return the keys it resolves)")
        if not isinstance(resolved, Mapping):
            raise GanError(f"prepare() returned {type(resolved).__name__}, not a dict of the keys it resolves")
        already = sorted(k for k, v in resolved.items() if cfg.get(k) is not None)
        if already:
            raise GanError(f"prepare() returned {', '.join(already)}, already set in the config")
        cfg = {**cfg, **resolved}
        train_set = p.dataset(cfg["data"], cfg, split="train")
        p.dataset(cfg["data"], cfg, split="test")
        if len(train_set) < 1:
            raise GanError("dataset(split='train') is empty")
        item = train_set[0]
        first = item[0] if isinstance(item, tuple | list) else item
        if not isinstance(first, Tensor):
            raise GanError(f"dataset items must be tensors or tuples whose first element is one, not "
                           f"{type(first).__name__}")
        g, d = p.build(cfg)
        bs = 2
        z = p.latent(bs, cfg, generator=torch.Generator().manual_seed(0))
        if z.ndim != 2 or z.shape[0] != bs:
            raise GanError(f"latent(2, ...) gave shape {tuple(z.shape)}, not (2, z_dim)")
        sched = p.schedule(cfg)
        state = sched.at(0) if sched is not None else {}
        p.apply_schedule(g, d, state)
        with torch.no_grad():
            fake = g(z)
            real = p.features(torch.stack([first, first]), cfg, state)
            logits = d(fake)
        if fake.ndim != 4:
            raise GanError(f"the generator gives shape {tuple(fake.shape)}; features must be (B, C, H, W) (Model "
                           "and the trainer's augmentations read 4-D features: use H = 1 for 1-D signals)")
        if tuple(real.shape) != tuple(fake.shape):
            raise GanError(f"features() of real data gives {tuple(real.shape)}, the generator {tuple(fake.shape)}: "
                           "the critic and the gradient penalty need both the same")
        if tuple(logits.shape) != (bs,):
            raise GanError(f"the discriminator gives shape {tuple(logits.shape)}, not raw logits (B,) = ({bs},)")
        return (f"z {tuple(z.shape)} -> G {tuple(fake.shape)} -> D {tuple(logits.shape)}; prepare resolved "
                f"{', '.join(sorted(resolved)) or 'nothing'}; {len(train_set)} training items")

    def train(self) -> str:
        trainer = Trainer(self.plugin, self.cfg, self.workdir / "two", progress=False)
        result = trainer.run(2)
        if result.diverged:
            raise GanError(result.diverged)
        if result.step != 2 or not (self.workdir / "two" / LAST).is_file():
            raise GanError(f"trained to step {result.step} without a checkpoint")
        last = result.history[-1]
        return f"2 steps, loss_d={last['loss_d']:.4g}, loss_g={last['loss_g']:.4g}, on {trainer.device}"

    def resume(self) -> str:
        # exactly the steps of gan_plugins.training.trainer.train(..., resume=True)
        state = load_checkpoint(self.workdir / "two" / LAST)
        cfg = upgrade_config(state["config"])
        current = resolve_config(self.plugin, loss=cfg["loss"], data=cfg["data"])
        cfg = complete_stored_config(self.plugin, cfg, current)
        resumed = Trainer(self.plugin, cfg, self.workdir / "two", progress=False).setup()
        resumed.load_state_dict(state)
        resumed.run(3)
        straight = Trainer(self.plugin, self.cfg, self.workdir / "three", progress=False)
        straight.run(3)
        differ = []
        for part in ("generator", "discriminator", "ema"):
            keys = _state_equal(getattr(resumed, part).state_dict(), getattr(straight, part).state_dict())
            differ += [f"{part}.{k}" for k in keys]
        if differ:
            raise GanError(f"2 steps + resume + 1 step differ from 3 straight steps in {len(differ)} tensor(s) "
                           f"({', '.join(differ[:3])}{', ...' if len(differ) > 3 else ''}): the plugin draws from "
                           "an RNG the trainer does not checkpoint (use the generator given to latent() or the "
                           "global torch RNG) or keeps state outside the models")
        return "2 steps + resume + 1 step == 3 straight steps (generator, critic, EMA, bit for bit)"

    def sample(self) -> str:
        path = self.workdir / "three" / LAST
        if self.registered:
            model = load_model(path)
            if model.plugin is not self.plugin:
                raise GanError("load_model returned another plugin object than the registered one")
            how = "load_model"
        else:  # the steps of load_model, for a plugin object the registry does not know
            state = load_checkpoint(path)
            cfg = complete_stored_config(self.plugin, upgrade_config(state["config"]), self.plugin.default_config())
            g, d = self.plugin.build(cfg)
            g.load_state_dict(state["ema"])
            sched = self.plugin.schedule(cfg)
            if sched is not None:
                self.plugin.apply_schedule(g, d, sched.at(int(state["step"])))
            model = Model(self.plugin, g.eval().requires_grad_(False), cfg, name=self.name, path=path,
                          step=int(state["step"]))
            how = "built from the checkpoint (not registered under its name, so not through load_model)"
        feats = model.generate(model.latent(3, seed=0))
        again = model.generate(model.latent(3, seed=0))
        if not torch.isfinite(feats).all():
            raise GanError("generated features are not finite")
        if not torch.equal(feats, again):
            raise GanError("the same seed gave other features (latent() must draw from the generator it is given)")
        written = []
        for fmt in self.plugin.formats:
            paths = self.plugin.save_samples(feats, self.workdir / "samples" / fmt, fmt=fmt, config=model.config)
            if not paths or not all(Path(p).is_file() for p in paths):
                raise GanError(f"save_samples(fmt={fmt!r}) returned {paths!r}, not the paths of written files")
            written.append(f"{len(paths)} {fmt}")
        grid = self.plugin.save_grid(feats, self.workdir / "samples" / "grid.png", model.config)
        if not Path(grid).is_file():
            raise GanError(f"save_grid returned {grid!r}, which is not a file")
        self.model = model
        return f"{how}; features {tuple(feats.shape)}; save_samples: {', '.join(written)}; save_grid"

    def _audio_model(self) -> Model:
        if getattr(self.plugin, "output_kind", None) != "audio":
            raise _Skip("an image plugin")
        if not self.audio_ok:
            raise _Skip("the audio members are missing (see protocol)")
        return self.model

    def render(self) -> str:
        model = self._audio_model()
        z = model.latent(3, seed=0)
        waves = model.decode(z, rescale=True)
        raw = model.decode(z, rescale=False)
        want = (3, model.loop_samples)
        if waves.shape != want or raw.shape != want:
            raise GanError(f"render gives {waves.shape}, not (N, loop_samples) = {want}")
        if not (np.isfinite(waves).all() and np.isfinite(raw).all()):
            raise GanError("rendered waves are not finite")
        if np.abs(waves).max() > 1.0 + 1e-6:
            raise GanError(f"render(rescale=True) peaks at {np.abs(waves).max():.4g} > 1")
        return f"(3, {model.loop_samples}) at {model.sample_rate} Hz, finite, within [-1, 1] with rescale"

    def walk(self) -> str:
        from gan_plugins.latent.render import render_walk
        from gan_plugins.latent.walks import make_walk

        model = self._audio_model()
        seconds = 2 * model.loop_samples / model.sample_rate
        rendered = render_walk(model, make_walk("spline", model.z_dim, seed=0), seconds, progress=False)
        if not np.isfinite(rendered.wave).all() or rendered.loops.shape[0] != 2:
            raise GanError("the walk is not finite or not 2 loops")
        return f"spline walk of {rendered.seconds:.3g} s ({rendered.loops.shape[0]} loops)"

    def studio(self) -> str:
        from gan_plugins.apps.studio.state import ModelSession

        model = self._audio_model()
        entries = ModelSession(self.name, model, history_size=4, n_components=2).draw(2, seed=0)
        if len(entries) != 2 or not all(np.isfinite(e.wave).all() for e in entries):
            raise GanError("the studio's loops are not finite")
        return f"2 loops drawn with {len(entries[0].descriptors)} descriptors"

    def export(self) -> str:
        from gan_plugins.apps.export import export_model, reference_audio, relative_rms
        from gan_plugins.models.features import AudioFeatures

        model = self._audio_model()
        features = self.plugin.audio_features(model.config)
        if not isinstance(features, AudioFeatures):
            raise _Skip(f"audio_features() is a {type(features).__name__}, not a specrep feature map (AudioFeatures): "
                        "export traces its chain")
        out = self.workdir / "export" / "model.pt"
        export_model(model, out, fmt="torchscript")
        z = torch.randn(2, model.z_dim, generator=torch.Generator().manual_seed(3))
        with warnings.catch_warnings():  # torch >= 2.10 marks TorchScript deprecated; the project still ships it
            warnings.simplefilter("ignore", DeprecationWarning)
            graph = torch.jit.load(str(out))
        with torch.no_grad():
            err = relative_rms(graph(z), reference_audio(model, z))
        if not err < 1e-5:
            raise GanError(f"the TorchScript graph differs from reference_audio by {err:.3g} (relative RMS)")
        return f"TorchScript graph matches reference_audio (relative RMS {err:.2g})"


_NEEDS = {"config": "protocol", "build": "config", "train": "build", "resume": "train", "sample": "train",
          "render": "sample", "walk": "render", "studio": "render", "export": "render"}


def check_plugin(plugin_or_name: str | GanPlugin, *, data: str | None = None, workdir: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None, loss: str = "non-saturating") -> PluginReport:
    """Run a plugin through build, 2 training steps, exact resume, sampling, rendering, a walk, the studio and export.

    Parameters
    ----------
    plugin_or_name : str or plugin object
        A registered name (loaded from the registry: a plugin the registry finds broken gives a failed
        ``protocol`` check with its error) or a plugin object, registered or not.
    data : str, optional
        The dataset to train on; by default the plugin's ``smoke_config(folder)`` provides a tiny one.
    workdir : path, optional
        Where the runs, samples and exports go (kept); by default a temporary folder, removed afterwards.
    overrides : mapping, optional
        Settings over the tiny ones (e.g. a small model for a plugin without ``smoke_config``).
    loss : str
        The adversarial loss of the tiny runs (default ``"non-saturating"``, one critic update per step).

    Returns
    -------
    PluginReport
        One :class:`Check` per stage of :data:`CHECKS`; ``.ok`` is False when any failed
        (:meth:`PluginReport.raise_for_failures` raises with the reasons).

    Raises
    ------
    PluginError
        If ``plugin_or_name`` is a name no installed distribution advertises (the message lists those that do).
    """
    plugin, name, registered, broken = _resolve_plugin(plugin_or_name)
    report = PluginReport(name)
    if plugin is None:  # the registry refused it: say why, and skip everything else
        report.checks.append(Check("protocol", "failed", broken))
        report.checks += [Check(c, "skipped", "needs protocol") for c in CHECKS[1:]]
        return report
    with tempfile.TemporaryDirectory(prefix="check_plugin_") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        run = _Run(plugin, name, registered, root, data, overrides or {}, loss)
        with _isolated(torch.cuda.is_available()):
            for stage in CHECKS:
                need = report[_NEEDS[stage]] if stage in _NEEDS else None
                # a plugin missing only audio members still trains: a failed protocol check blocks the rest only
                # when a member the trainer calls is missing
                if need is not None and need.status != "ok" and not (
                        need.name == "protocol" and _training_members_present(plugin)):
                    why = need.reason if need.status == "skipped" else f"needs {need.name}"
                    report.checks.append(Check(stage, "skipped", why))
                    continue
                report.checks.append(_attempt(stage, getattr(run, stage)))
    return report


def _training_members_present(plugin: Any) -> bool:
    return all(hasattr(plugin, m) for m in (*PROTOCOL_MEMBERS, *CLI_MEMBERS))


def _attempt(stage: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(stage, "ok", fn())
    except _Skip as skip:
        return Check(stage, "skipped", str(skip))
    except Exception as exc:  # noqa: BLE001 - a plugin's failure of any kind is what the report is for
        return Check(stage, "failed", _first_line(exc) if not isinstance(exc, GanError | ParameterError)
                     else str(exc).splitlines()[0])
