"""One handle on a trained generator: every path from a latent to features or audio goes through :class:`Model`.

``load_model(ref)`` takes a bundled name, a run folder (its ``last.pt``) or a checkpoint file and returns a
:class:`Model` holding the plugin, the EMA generator and the resolved config together. Before this, five places
(the walk renderer, the studio, the representation study, ``loopgan sample`` and export's reference) each joined
``(plugin, generator, config)`` by hand, with their own batch sizes and their own choice of per-loop rescaling, and
three of them pasted the "is this an audio model" check. Now:

- :meth:`Model.generate` is the only place a generator is called outside training (batched, no grad, on the model's
  device, features returned on the CPU);
- :meth:`Model.render` the only place features become audio, with ``rescale`` always said by the caller (a walk
  keeps loops as synthesised and applies one smooth gain; a single loop is rescaled by its own peak);
- :meth:`Model.decode` is both, in batches;
- :meth:`Model.require_audio` the one check, with one message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gan_plugins.api import GanPlugin, get_plugin
from gan_plugins.config import complete_stored_config, upgrade_config
from gan_plugins.errors import GanError
from gan_plugins.io.checkpoint import LAST, CheckpointError, load_checkpoint, save_checkpoint
from gan_plugins.pretrained import available_pretrained, bundled_path
from specrep.errors import ParameterError, check_positive_int

__all__ = ["DEFAULT_BATCH", "Model", "NotAnAudioModel", "export_generator", "load_model", "resolve_checkpoint"]

#: latents per generator call when a caller does not say (a 4 s loop model: ~60 MB of activations per batch)
DEFAULT_BATCH = 16


class NotAnAudioModel(GanError):
    """An audio-only operation (render, decode, walk, studio, export) was asked of an image model."""


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
    bundled = bundled_path(str(ref))
    if bundled is not None:
        return bundled
    names = ", ".join(available_pretrained()) or "none"
    raise CheckpointError(f"{str(ref)!r} is not a run folder, a checkpoint file or a bundled model ({names})")


@dataclass(frozen=True)
class Model:
    """A trained generator with its plugin and resolved config.

    Attributes
    ----------
    plugin : GanPlugin
    generator : nn.Module
        EMA weights, eval mode, gradients off; at the schedule state of :attr:`step` when the plugin has a schedule.
    config : dict
        The resolved training config (settings newer than the checkpoint take their defaults).
    name : str
        What to call it: the bundled name, the run folder's name or the checkpoint's stem.
    path : Path or None
        The checkpoint it was read from.
    step : int
        The generator step of the checkpoint.
    """

    plugin: GanPlugin
    generator: nn.Module
    config: dict[str, Any]
    name: str = "model"
    path: Path | None = None
    step: int = 0

    # ------------------------------------------------------------------------------------------------ read-outs
    @property
    def is_audio(self) -> bool:
        """True for a plugin whose features are audio (``output_kind == "audio"`` with a renderer)."""
        return getattr(self.plugin, "output_kind", "") == "audio" and hasattr(self.plugin, "render")

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def z_dim(self) -> int:
        return int(self.config["z_dim"])

    @property
    def sample_rate(self) -> int:
        """Audio models: the loops' sample rate (Hz)."""
        self.require_audio("a sample rate")
        return int(self.config["sample_rate"])

    @property
    def loop_samples(self) -> int:
        """Audio models: samples per generated loop."""
        self.require_audio("a loop length")
        return int(self.config["loop_samples"])

    def require_audio(self, what: str) -> Model:
        """Return ``self`` when it is an audio model, else raise :class:`NotAnAudioModel` saying ``what`` needs one
        (e.g. ``model.require_audio("the studio")``)."""
        if not self.is_audio:
            raise NotAnAudioModel(f"{self.name} is a {getattr(self.plugin, 'name', self.plugin)} model "
                                  f"({getattr(self.plugin, 'output_kind', '?')}); {what} needs an audio model")
        return self

    def with_settings(self, settings: Mapping[str, Any]) -> Model:
        """The same weights with rendering settings changed (only the plugin's ``render_settings``, e.g. the
        Griffin-Lim iterations; anything that shapes the networks is refused).

        Raises
        ------
        ParameterError
            If a key is not one of the plugin's ``render_settings``.
        """
        settable = tuple(getattr(self.plugin, "render_settings", ()))
        settings = upgrade_config(dict(settings), source="--set")
        for key in settings:
            if key not in settable:
                raise ParameterError(f"--set {key}: only rendering settings can change on a trained "
                                     f"{self.plugin.name} model ({', '.join(settable) or 'none'})")
        return replace(self, config={**self.config, **settings}) if settings else self

    # ----------------------------------------------------------------------------------------------- generation
    def latent(self, n: int, *, seed: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` latents ``(n, z_dim)`` on the CPU from the plugin's prior: reproducible with ``seed`` (or a given
        ``torch.Generator``, which advances), from the global RNG without either.

        Raises
        ------
        ParameterError
            If ``n`` is not a positive integer, or both ``seed`` and ``generator`` are given.
        """
        check_positive_int("n", n)
        if seed is not None and generator is not None:
            raise ParameterError("give seed or generator, not both")
        if seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        return self.plugin.latent(n, self.config, generator=generator)

    def generate(self, z: Tensor, *, batch: int = DEFAULT_BATCH, progress: Callable[[int], Any] | None = None
                 ) -> Tensor:
        """Latents ``(N, z_dim)`` -> features ``(N, C, H, W)`` (float32, CPU), in batches of ``batch`` under
        ``torch.no_grad``; ``progress`` (optional) is called with each batch's size.

        Raises
        ------
        ParameterError
            If ``z`` is not a floating-point tensor of shape ``(N >= 1, z_dim)`` (float32 is used) or ``batch`` is
            not a positive integer.
        """
        z = self._check_latents(z)
        check_positive_int("batch", batch)
        out = []
        with torch.no_grad():
            for chunk in z.split(batch):
                out.append(self.generator(chunk.to(self.device)).float().cpu())
                if progress is not None:
                    progress(chunk.shape[0])
        return torch.cat(out)

    def render(self, features: Tensor, *, rescale: bool) -> Tensor:
        """Audio models: features ``(N, C, H, W)`` -> waves ``(N, loop_samples)`` (float32, CPU) at
        :attr:`sample_rate`. ``rescale=True``: each loop above full scale is scaled down by its own peak (every
        loop then lies in [-1, 1]); ``False``: as synthesised (a caller joining loops applies one smooth gain
        instead).

        Raises
        ------
        NotAnAudioModel
            If this is not an audio model.
        ParameterError
            If ``features`` is not 4-D.
        """
        self.require_audio("rendering audio")
        if features.ndim != 4:
            raise ParameterError(f"features of shape {tuple(features.shape)}; expected (N, C, H, W)")
        with torch.no_grad():
            return self.plugin.render(features.to(self.device), self.config, rescale=rescale).float().cpu()

    def decode(self, z: Tensor, *, rescale: bool, batch: int = DEFAULT_BATCH,
               progress: Callable[[int], Any] | None = None) -> np.ndarray:
        """Audio models: latents ``(N, z_dim)`` -> loops ``(N, loop_samples)`` float32, generated and rendered in
        batches of ``batch`` (``progress`` called with each batch's size); ``rescale`` as in :meth:`render`. The
        loops do not depend on ``batch``.

        Raises
        ------
        NotAnAudioModel
            If this is not an audio model.
        ParameterError
            As :meth:`generate`.
        """
        self.require_audio("decoding latents to audio")
        z = self._check_latents(z)
        check_positive_int("batch", batch)
        out = []
        for chunk in z.split(batch):
            out.append(self.render(self.generate(chunk, batch=batch), rescale=rescale).numpy())
            if progress is not None:
                progress(chunk.shape[0])
        return np.concatenate(out)

    def _check_latents(self, z: Tensor) -> Tensor:
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[0] < 1 or z.shape[1] != self.z_dim:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ParameterError(f"latents of shape {shape}; the model takes (N >= 1, {self.z_dim})")
        if not z.is_floating_point():
            raise ParameterError(f"latents of dtype {z.dtype}; the model takes floating-point latents")
        return z.float()


def _name_of(ref: str | Path) -> str:
    given = Path(ref)
    if not given.exists():
        return str(ref)  # a bundled name
    return given.name if given.is_dir() else given.stem


def load_model(ref: str | Path, *, device: str | torch.device = "cpu") -> Model:
    """Load the EMA generator of a bundled model, run folder or checkpoint as a :class:`Model`.

    Raises
    ------
    CheckpointError
        If ``ref`` names nothing loadable, holds no generator, or does not match its plugin's networks.
    """
    path = resolve_checkpoint(ref)
    state = load_checkpoint(path, map_location=device)
    if "ema" not in state or "config" not in state:
        raise CheckpointError(f"checkpoint {path} holds no generator ('ema' and 'config' keys)")
    cfg = upgrade_config(state["config"])  # settings renamed since the checkpoint was written
    plugin = get_plugin(cfg["plugin"])
    cfg = complete_stored_config(plugin, cfg, plugin.default_config())  # settings newer than the checkpoint
    generator, discriminator = plugin.build(cfg)
    try:
        generator.load_state_dict(state["ema"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match plugin {cfg['plugin']!r}: "
                              f"{str(exc).splitlines()[0]}") from None
    step = int(state.get("step", 0))
    schedule = plugin.schedule(cfg)
    if schedule is not None:  # e.g. the stage and fade-in of a progressive model: derived from the stored step
        plugin.apply_schedule(generator, discriminator, schedule.at(step))
    generator = generator.to(device).eval().requires_grad_(False)
    return Model(plugin, generator, cfg, name=_name_of(ref), path=path, step=step)


def export_generator(checkpoint: str | Path, out: str | Path) -> Path:
    """Write only the EMA generator + config of a training checkpoint to ``out`` (what gets bundled: no
    discriminator, no optimiser state)."""
    state = load_checkpoint(resolve_checkpoint(checkpoint))
    ema = {k: v.clone() for k, v in state["ema"].items()}
    return save_checkpoint({"format": 1, "kind": "generator", "config": state["config"], "ema": ema,
                            "step": state["step"]}, out)
