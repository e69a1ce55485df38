"""Progressive growing of GANSynth (Karras et al. 2018; GANSynth's ``train_progressive`` mode), as a plugin.

The networks are GANSynth's (:class:`~gan_plugins.models.gansynth.GANSynthGenerator` /
:class:`~gan_plugins.models.gansynth.GANSynthDiscriminator`, same blocks, widths and seed grid) plus one 1x1 to-features
layer (generator) and one 1x1 from-features layer (discriminator) per level, all with equalised learning rate. At
level ``l`` both run only their first ``l`` blocks, so the features are ``(B, C, rows / 2**(L-l), frames / 2**(L-l))``
(``L`` = the final level): every stage doubles the resolution in frequency and in time. During the fade-in of level
``l`` one ``fade_alpha`` in [0, 1] blends, in each place where the new block enters:

- the generator's output: ``up(to_features[l-1](h_{l-1}))`` (the previous level's output, nearest x2) vs
  ``to_features[l](h_l)`` (the new block's), after their tanh;
- the real features shown to the discriminator: ``up(down(x_l))`` (downsampled by 2x2 averages, then nearest x2) vs
  ``x_l`` (the real features averaged down to level ``l``);
- the discriminator's input path: ``from_features[l-1](down(x))`` vs ``shrink_l(from_features[l](x))``;

always as ``(1 - alpha) * old + alpha * new``. The stage and alpha of a step come from
:class:`~gan_plugins.models.schedule.ProgressiveSchedule` (a pure function of the trainer's checkpointed step);
the models hold them as plain attributes set by :meth:`ProgressivePlugin.apply_schedule`, never in their state dicts,
so a checkpoint carries nothing a restart could reset. :func:`gan_plugins.io.model.load_model` applies the
schedule of the checkpoint's step, and :meth:`ProgressivePlugin.render` upsamples features of any level to the final
size (nearest) before the inverse, so a model sampled at any stage gives loops of the final length.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gan_plugins.models.gansynth import GANSynthDiscriminator, GANSynthGenerator, GANSynthPlugin, seed_grid, widths
from gan_plugins.models.schedule import ProgressiveSchedule
from gan_plugins.nn.equalized import EqualizedConv2d
from specrep.errors import ParameterError, check_positive_int

__all__ = ["ProgressiveDiscriminator", "ProgressiveGenerator", "ProgressivePlugin", "blend", "downsample",
           "fade_real", "plugin", "upsample_to"]


# ------------------------------------------------------------------------------------------------ resampling
def downsample(x: Tensor, factor: int) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, C, H / factor, W / factor)``: means over ``factor x factor`` cells."""
    return F.avg_pool2d(x, factor) if factor > 1 else x


def upsample_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """``(B, C, h, w)`` -> ``(B, C, *size)`` by nearest neighbour (each cell repeated; ``size`` multiples of
    ``(h, w)``)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="nearest")


def blend(old: Tensor, new: Tensor, alpha: float) -> Tensor:
    """The fade-in ``(1 - alpha) * old + alpha * new`` (same shapes); exactly ``new`` at ``alpha == 1``."""
    if alpha >= 1.0:
        return new
    return old + float(alpha) * (new - old)


def fade_real(x: Tensor, level: int, alpha: float, levels: int, *, start_level: int = 0) -> Tensor:
    """Real features at the final size ``(B, C, R, T)`` -> what the discriminator sees at ``level``.

    ``x_l = down(x, 2**(levels - level))``, shape ``(B, C, R / 2**(levels-level), T / 2**(levels-level))``; during
    the fade-in of ``level`` (``alpha < 1``, ``level > start_level``) it is blended with its own coarser version,
    ``blend(up(down(x_l, 2)), x_l, alpha)``, as the generator's output is.
    """
    x_l = downsample(x, 2 ** (levels - level))
    if alpha >= 1.0 or level <= start_level:
        return x_l
    coarse = upsample_to(downsample(x_l, 2), tuple(x_l.shape[-2:]))
    return blend(coarse, x_l, alpha)


def _check_state(module: nn.Module, level: int, alpha: float) -> tuple[int, float]:
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= module.levels:
        raise ParameterError(f"level={level!r} must be an integer in [0, {module.levels}]")
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ParameterError(f"fade_alpha={alpha!r} must be in [0, 1]")
    return level, alpha


# ---------------------------------------------------------------------------------------------------- models
class ProgressiveGenerator(GANSynthGenerator):
    """GANSynth's generator, grown: ``(B, z_dim)`` -> features ``(B, C, rows_l, frames_l)`` in [-1, 1] at the current
    level ``l`` (``rows_l = rows / 2**(levels - l)``, likewise frames).

    Parameters are :class:`GANSynthGenerator`'s (``upsample`` is the blocks' upsampling, not the fade's, which stays
    nearest: :func:`upsample_to`); ``to_features`` (inherited) is the final level's output layer and
    ``to_features_levels[l]`` (``l < levels``) the 1x1 output layer of level ``l``. Built at the final level with
    ``fade_alpha = 1`` (= :class:`GANSynthGenerator`); :meth:`set_stage` moves it.
    """

    def __init__(self, *, z_dim: int, shape, width_max: int = 128, width_base: int = 512,
                 upsample: str = "nearest") -> None:
        super().__init__(z_dim=z_dim, shape=shape, width_max=width_max, width_base=width_base, upsample=upsample)
        ch = widths(self.levels, width_max, width_base)
        self.to_features_levels = nn.ModuleList(
            EqualizedConv2d(ch[lvl], int(shape[0]), 1, gain=1.0) for lvl in range(self.levels))
        self.level, self.fade_alpha = self.levels, 1.0

    def set_stage(self, level: int, fade_alpha: float) -> None:
        """Run at ``level`` (0 = seed grid) with the new level's weight ``fade_alpha`` in [0, 1]."""
        self.level, self.fade_alpha = _check_state(self, level, fade_alpha)

    def output_layer(self, level: int) -> nn.Module:
        """The 1x1 to-features layer of ``level``."""
        return self.to_features if level == self.levels else self.to_features_levels[level]

    def forward(self, z: Tensor) -> Tensor:
        level, alpha = self.level, self.fade_alpha
        x = self.seed(z)
        prev = x
        for lvl in range(1, level + 1):
            prev, x = x, self.grow(x, lvl)
        out = torch.tanh(self.output_layer(level)(x))
        if alpha < 1.0 and level > 0:
            old = torch.tanh(self.output_layer(level - 1)(prev))
            out = blend(upsample_to(old, tuple(out.shape[-2:])), out, alpha)
        return out


class ProgressiveDiscriminator(GANSynthDiscriminator):
    """GANSynth's discriminator, grown: features ``(B, C, rows_l, frames_l)`` of the current level -> logits ``(B,)``.

    ``from_features`` (inherited) reads the final level; ``from_features_levels[l]`` (``l < levels``) is the 1x1
    input layer of level ``l``. The minibatch standard deviation groups ``mbstd_group`` examples of whatever batch it
    is given (the largest divisor of the batch not above it), so per-stage batch sizes keep working. ``downsample``
    is the blocks' downsampling (:class:`GANSynthDiscriminator`); the fade's input path and the real features stay
    2x2 averages (:func:`downsample`), which define the data at each level.
    """

    def __init__(self, *, shape, width_max: int = 128, width_base: int = 512, mbstd_group: int = 4,
                 downsample: str = "avg") -> None:
        super().__init__(shape=shape, width_max=width_max, width_base=width_base, mbstd_group=mbstd_group,
                         downsample=downsample)
        ch = widths(self.levels, width_max, width_base)
        self.from_features_levels = nn.ModuleList(
            EqualizedConv2d(int(shape[0]), ch[lvl], 1) for lvl in range(self.levels))
        self.level, self.fade_alpha = self.levels, 1.0

    def set_stage(self, level: int, fade_alpha: float) -> None:
        """Run at ``level`` (0 = seed grid) with the new level's weight ``fade_alpha`` in [0, 1]."""
        self.level, self.fade_alpha = _check_state(self, level, fade_alpha)

    def input_layer(self, level: int) -> nn.Module:
        """The 1x1 from-features layer of ``level``."""
        return self.from_features if level == self.levels else self.from_features_levels[level]

    def forward(self, x: Tensor) -> Tensor:
        level, alpha = self.level, self.fade_alpha
        h = F.leaky_relu(self.input_layer(level)(x), 0.2)
        if level > 0:
            h = self.shrink(h, level)
            if alpha < 1.0:
                old = F.leaky_relu(self.input_layer(level - 1)(downsample(x, 2)), 0.2)
                h = blend(old, h, alpha)
        for lvl in range(level - 1, 0, -1):
            h = self.shrink(h, lvl)
        return self.head(h)


# ---------------------------------------------------------------------------------------------------- plugin
class ProgressivePlugin(GANSynthPlugin):
    """GANSynth grown progressively: the data, feature maps, normalisation, rendering and files of
    :class:`~gan_plugins.models.gansynth.GANSynthPlugin`, with the networks and schedule above.

    Config keys added to GANSynth's (see docs/progressive.md): ``stage_images``, ``fade_images`` (int or one per
    level), ``stage_batch_size`` (None = ``batch_size`` at every level, or one per level), ``stage_lr_scale``
    (None = 1, or one factor per level on ``lr_g`` / ``lr_d``), ``start_level`` (0 = grow from the seed grid; the
    final level = the fixed-resolution ablation of the same code) and ``mbstd_group``.
    """

    name = "progressive"

    def default_config(self) -> dict[str, Any]:
        cfg = super().default_config()
        cfg.update({
            # GANSynth alternates 800k-image stable and fade-in stages at batch 8; the CPU preset scales that to
            # 12k images each at batch 16, so the growing (5 fades, 5 stable) ends at step 7500 at 128 x 64
            "stage_images": 12000,
            "fade_images": 12000,
            "stage_batch_size": None,
            "stage_lr_scale": None,
            "start_level": 0,
            "mbstd_group": 4,
        })
        return cfg

    def smoke_config(self, folder: Path) -> tuple[str, dict[str, Any]]:
        """GANSynth's tiny dataset and model, growing over a few steps per stage."""
        data, tiny = super().smoke_config(folder)
        return data, {**tiny, "stage_images": 4, "fade_images": 4}

    def _levels(self, config: Mapping[str, Any]) -> int:
        return seed_grid(self.audio_features(config).shape)[0]

    def build(self, config: Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
        """``(ProgressiveGenerator, ProgressiveDiscriminator)`` at the final level, with the schedule's settings
        validated (a bad stage setting fails here, not mid-run)."""
        self.schedule(config)
        shape = self.audio_features(config).shape
        check_positive_int("mbstd_group", config["mbstd_group"])
        kw = {"shape": shape, "width_max": int(config["width_max"]), "width_base": int(config["width_base"])}
        return (ProgressiveGenerator(z_dim=int(config["z_dim"]), upsample=config["upsample"], **kw),
                ProgressiveDiscriminator(mbstd_group=int(config["mbstd_group"]), downsample=config["downsample"], **kw))

    def schedule(self, config: Mapping[str, Any]) -> ProgressiveSchedule:
        """The :class:`ProgressiveSchedule` of ``config`` (levels from the feature shape)."""
        levels = self._levels(config)
        bs, lr = config.get("stage_batch_size"), config.get("stage_lr_scale")
        return ProgressiveSchedule(
            levels=levels, stage_images=config["stage_images"], fade_images=config["fade_images"],
            batch_sizes=int(config["batch_size"]) if bs is None else bs, lr_g=float(config["lr_g"]),
            lr_d=float(config["lr_d"]), lr_scales=1.0 if lr is None else lr, n_critic=int(config["n_critic"]),
            start_level=config["start_level"])

    def apply_schedule(self, generator: nn.Module, discriminator: nn.Module | None, state: Mapping[str, Any]) -> None:
        """Set both models to ``state["level"]`` and ``state["fade_alpha"]`` (an empty state: the final level)."""
        level = int(state.get("level", generator.levels))
        alpha = float(state.get("fade_alpha", 1.0))
        for model in (generator, discriminator):
            if model is not None:
                model.set_stage(level, alpha)

    def features(self, batch: Tensor, config: Mapping[str, Any], schedule_state: Mapping[str, Any]) -> Tensor:
        """Waves ``(B, samples)`` -> the real features of the current level, faded like the generator's output
        (:func:`fade_real`); the final level's features when ``schedule_state`` is empty."""
        x = super().features(batch, config, schedule_state)
        levels = self._levels(config)
        return fade_real(x, int(schedule_state.get("level", levels)), float(schedule_state.get("fade_alpha", 1.0)),
                         levels, start_level=int(config["start_level"]))

    def final_size(self, samples: Tensor, config: Mapping[str, Any]) -> Tensor:
        """Features of any level ``(N, C, h, w)`` -> the final size ``(N, C, rows, frames)`` (nearest)."""
        shape = self.audio_features(config).shape
        if samples.shape[1] != shape[0] or shape[1] % samples.shape[2] or shape[2] % samples.shape[3]:
            raise ParameterError(f"features of shape {tuple(samples.shape[1:])} do not divide the final shape {shape}")
        return upsample_to(samples, shape[1:])

    def render(self, samples: Tensor, config: Mapping[str, Any], *, rescale: bool = True) -> Tensor:
        """Generated features of any level ``(N, C, h, w)`` -> waves ``(N, loop_samples)`` in [-1, 1]: upsampled to
        the final size before the inverse, so every stage renders loops of the final length."""
        return super().render(self.final_size(samples, config), config, rescale=rescale)

    def save_samples(self, samples: Tensor, out_dir: Path, *, fmt: str, config: Mapping[str, Any]) -> list[Path]:
        """GANSynth's files, from the features upsampled to the final size."""
        return super().save_samples(self.final_size(samples, config), out_dir, fmt=fmt, config=config)

    def save_grid(self, samples: Tensor, path: Path, config: Mapping[str, Any]) -> Path:
        return super().save_grid(self.final_size(samples, config), path, config)


plugin = ProgressivePlugin()
