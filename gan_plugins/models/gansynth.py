"""GANSynth (Engel et al. 2019) without pitch conditioning, as a plugin.

Generator: ``z (B, z_dim)`` -> pixel norm -> dense to a seed grid (GANSynth: 2x16 from a "2x16 convolution" of a
1x1 input, which is a dense layer) -> 3x3 conv -> blocks of (x2 upsampling, two 3x3 convs) -> 1x1 conv -> tanh, with
pixel norm and leaky ReLU(0.2) after every conv and equalised learning rate throughout.
Discriminator: the mirror: 1x1 conv from features, blocks of (two 3x3 convs, x2 downsampling), minibatch standard
deviation, 3x3 conv, dense over the seed grid, dense to one logit. The resampling is GANSynth's (nearest x2, 2x2
average pooling) by default, or the ``[1, 3, 3, 1]`` filters of :mod:`gan_plugins.nn.resample` (settings
``upsample`` / ``downsample``; they add no weights).

Widths and depth derive from the feature shape ``(C, rows, frames)``: the seed grid's shorter side is 2 (GANSynth's
128 x 1024 layout gives a 2 x 16 seed after 6 doublings), and the block at level ``l`` (0 = seed) has
``min(width_max, width_base / 2**l)`` channels. Defaults are the CPU preset: 2 s loops at 16 kHz, IF-Mel with 64
mel bands x 64 frames (n_fft 1024, hop 512), widths <= 128. ``docs/configs/gansynth-full.toml`` is GANSynth's size.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

import specrep
from gan_plugins.api import PluginError
from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.models.features import AudioFeatures, fit_normalization
from gan_plugins.nn.equalized import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from gan_plugins.nn.resample import Downsample2d, Upsample2d
from gan_plugins.representation import Representation
from specrep.errors import ParameterError, check_choice, check_positive_int

__all__ = ["GANSynthDiscriminator", "GANSynthGenerator", "GANSynthPlugin", "plugin", "seed_grid", "widths"]


def seed_grid(shape) -> tuple[int, int, int]:
    """``(levels, seed_rows, seed_frames)`` for a feature shape ``(C, rows, frames)`` of powers of two."""
    _, rows, frames = (int(v) for v in shape)
    for name, v in (("rows", rows), ("frames", frames)):
        if v < 2 or v & (v - 1):
            raise ParameterError(f"feature {name}={v} must be a power of two >= 2")
    levels = int(math.log2(min(rows, frames))) - 1
    return levels, rows >> levels, frames >> levels


def widths(levels: int, width_max: int, width_base: int) -> list[int]:
    """Channels of each level, seed first: ``min(width_max, width_base / 2**level)`` (at least 8)."""
    return [max(8, min(width_max, width_base >> lvl)) for lvl in range(levels + 1)]


def _act(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


class GANSynthGenerator(nn.Module):
    """``(B, z_dim)`` -> features ``(B, C, rows, frames)`` in [-1, 1].

    ``upsample`` is the x2 upsampling of every block, one of :data:`gan_plugins.nn.resample.UPSAMPLE_MODES`
    (``"nearest"``: GANSynth's; ``"blur"``: StyleGAN2's ``[1, 3, 3, 1]`` filter, see :class:`Upsample2d`); it adds
    no parameters, so the state dict is the same for every mode.
    """

    def __init__(self, *, z_dim: int, shape, width_max: int = 128, width_base: int = 512,
                 upsample: str = "nearest") -> None:
        super().__init__()
        check_positive_int("z_dim", z_dim)
        self.upsample = Upsample2d(upsample)
        self.levels, h0, w0 = seed_grid(shape)
        ch = widths(self.levels, width_max, width_base)
        self.seed_shape = (ch[0], h0, w0)
        self.norm = PixelNorm()
        self.dense = EqualizedLinear(z_dim, ch[0] * h0 * w0, gain=math.sqrt(2.0) / 4)  # PGGAN's seed gain
        self.seed_conv = EqualizedConv2d(ch[0], ch[0], 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(ch[i], ch[i + 1], 3), EqualizedConv2d(ch[i + 1], ch[i + 1], 3)])
            for i in range(self.levels))
        self.to_features = EqualizedConv2d(ch[-1], int(shape[0]), 1, gain=1.0)

    def seed(self, z: Tensor) -> Tensor:
        """``(B, z_dim)`` -> hidden features of level 0 ``(B, width_0, seed_rows, seed_frames)``."""
        x = self.norm(_act(self.dense(self.norm(z))).view(z.shape[0], *self.seed_shape))
        return self.norm(_act(self.seed_conv(x)))

    def grow(self, x: Tensor, level: int) -> Tensor:
        """Hidden features of level ``level - 1`` ``(B, width_{l-1}, h, w)`` -> level ``level`` ``(B, width_l, 2h,
        2w)`` (``1 <= level <= levels``): x2 upsampling (:attr:`upsample`), two 3x3 convs."""
        conv1, conv2 = self.blocks[level - 1]
        x = self.upsample(x)
        x = self.norm(_act(conv1(x)))
        return self.norm(_act(conv2(x)))

    def forward(self, z: Tensor) -> Tensor:
        x = self.seed(z)
        for level in range(1, self.levels + 1):
            x = self.grow(x, level)
        return torch.tanh(self.to_features(x))


class GANSynthDiscriminator(nn.Module):
    """Features ``(B, C, rows, frames)`` -> raw logits ``(B,)``.

    ``downsample`` is the x2 downsampling of every block, one of :data:`gan_plugins.nn.resample.DOWNSAMPLE_MODES`
    (``"avg"``: GANSynth's 2x2 average pooling; ``"blur"``: the anti-aliased ``[1, 3, 3, 1]`` low-pass then stride 2,
    see :class:`Downsample2d`); it adds no parameters.
    """

    def __init__(self, *, shape, width_max: int = 128, width_base: int = 512, mbstd_group: int = 4,
                 downsample: str = "avg") -> None:
        super().__init__()
        self.downsample = Downsample2d(downsample)
        self.levels, h0, w0 = seed_grid(shape)
        levels = self.levels
        ch = widths(levels, width_max, width_base)
        self.from_features = EqualizedConv2d(int(shape[0]), ch[-1], 1)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(ch[i + 1], ch[i + 1], 3), EqualizedConv2d(ch[i + 1], ch[i], 3)])
            for i in reversed(range(levels)))
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.final_conv = EqualizedConv2d(ch[0] + 1, ch[0], 3)
        self.dense = EqualizedLinear(ch[0] * h0 * w0, ch[0])
        self.out = EqualizedLinear(ch[0], 1, gain=1.0)

    def shrink(self, x: Tensor, level: int) -> Tensor:
        """Hidden features of level ``level`` ``(B, width_l, h, w)`` -> level ``level - 1`` ``(B, width_{l-1}, h/2,
        w/2)`` (``1 <= level <= levels``): two 3x3 convs, x2 downsampling (:attr:`downsample`)."""
        conv1, conv2 = self.blocks[self.levels - level]
        return self.downsample(_act(conv2(_act(conv1(x)))))

    def head(self, x: Tensor) -> Tensor:
        """Hidden features of level 0 ``(B, width_0, seed_rows, seed_frames)`` -> raw logits ``(B,)``."""
        x = _act(self.final_conv(self.mbstd(x)))
        return self.out(_act(self.dense(x.flatten(1)))).squeeze(1)

    def forward(self, x: Tensor) -> Tensor:
        x = _act(self.from_features(x))
        for level in range(self.levels, 0, -1):
            x = self.shrink(x, level)
        return self.head(x)


class GANSynthPlugin:
    """GANSynth on loop datasets (``.npy`` + sidecar from ``loopgan data synth`` / ``data prepare``)."""

    name = "gansynth"
    output_kind = "audio"
    formats = ("wav", "npy")
    #: feature maps kept per plugin instance (least recently used dropped beyond this many configs)
    max_cached_features = 8

    def __init__(self) -> None:
        self._features: OrderedDict[tuple, AudioFeatures] = OrderedDict()

    #: decoding-only settings that ``loopgan sample --set`` may change on a trained model
    render_settings = ("gl_n_iter", "gl_init", "mel_inverse", "mel_nnls_iter")
    #: what settings added since the first runs were stored take in a stored config that lacks them: the networks
    #: those runs were trained with (see :class:`gan_plugins.api.GanPlugin`)
    absent_settings = {"upsample": "nearest", "downsample": "avg"}

    def default_config(self) -> dict[str, Any]:
        return {
            "z_dim": 256,
            "representation": "mel-if",
            "sample_rate": 16000,
            "loop_samples": None,      # read from the dataset
            "n_fft": 1024,
            "hop_length": 512,
            "n_mels": 128,             # mel-if needs >= 114 at n_fft 1024 (lowest band <= one bin, see docs)
            "frames": 64,
            # decoding defaults are specrep's (one place): 32 iterations from PGHI; mel -> linear by NNLS
            "gl_n_iter": specrep.PhaseReconstruction.n_iter,
            "gl_init": specrep.PhaseReconstruction.init,   # initial phase of Griffin-Lim: pghi, random or zeros
            "mel_inverse": specrep.MelParams.inverse,      # mel -> linear: nnls, pinv or transpose (GANSynth's)
            "mel_nnls_iter": None,        # NNLS refinements; None: 0 for IF, 50 for Griffin-Lim (default_mel_nnls_iter)
            "width_max": 128,
            "width_base": 512,
            "upsample": "nearest",     # generator x2 upsampling: nearest (GANSynth), blur ([1,3,3,1]) or linear
            "downsample": "avg",       # critic x2 downsampling: avg (2x2 pooling, GANSynth) or blur (anti-aliased)
            "norm_scale": None,        # fitted on the training split by prepare() (kept in the run, never the data)
            "norm_shift": None,
            "test_fraction": 0.05,
            # GANSynth's optimiser: Adam(beta1=0, beta2=0.99), one critic step per generator step; batch for CPU.
            "betas": [0.0, 0.99],
            "lr_g": 8e-4,
            "lr_d": 8e-4,
            "n_critic": 1,
            "batch_size": 16,
            "drift": 0.001,
        }

    def smoke_config(self, folder: Path) -> tuple[str, dict[str, Any]]:
        """Tiny procedural dataset and model for smoke tests: ``(data path, overrides)``."""
        from gan_plugins.data.procedural.synth_dataset import write_synth_dataset

        data = write_synth_dataset(Path(folder) / "loops.npy", n=12, seconds=0.1, seed=0, progress=False)
        return str(data), {"n_fft": 256, "hop_length": 64, "n_mels": 32, "frames": 32, "width_max": 8,
                           "width_base": 8, "z_dim": 8}

    def audio_features(self, config: Mapping[str, Any]) -> AudioFeatures:
        """The :class:`AudioFeatures` of a config (an LRU cache of :attr:`max_cached_features` entries)."""
        key = AudioFeatures.config_key(config)
        if key in self._features:
            self._features.move_to_end(key)
        else:
            self._features[key] = AudioFeatures(config)
            while len(self._features) > self.max_cached_features:
                self._features.popitem(last=False)
        return self._features[key]

    def build(self, config: Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
        shape = self.audio_features(config).shape
        g = GANSynthGenerator(z_dim=int(config["z_dim"]), shape=shape, width_max=int(config["width_max"]),
                              width_base=int(config["width_base"]), upsample=config["upsample"])
        d = GANSynthDiscriminator(shape=shape, width_max=int(config["width_max"]),
                                  width_base=int(config["width_base"]), downsample=config["downsample"])
        return g, d

    def _split_rows(self, n: int, config: Mapping[str, Any], split: str, data: str | Path | None = None
                    ) -> np.ndarray:
        """Sorted row indices of ``split`` in a dataset of ``n`` loops; about ``test_fraction`` of them are test.

        **By source** when the sidecar of ``data`` (default ``config["data"]``) names a source file for the
        rows and there are at least two: whole source files (tracks) go to the test split in a fixed shuffled order
        until it holds about ``test_fraction`` of the rows, so no track has loops on both sides (segments of one
        song on both sides inflate every held-out score). Rows without a source count as their own group.
        **By row** otherwise (procedural loops, raw memmaps): a fixed permutation.
        """
        from gan_plugins.data.loops.storage import open_loops
        from specrep.errors import SpecrepError

        check_choice("split", split, ("train", "test"))
        if n <= 1:
            return np.arange(n) if split == "train" else np.zeros(0, dtype=np.int64)
        target = max(1, int(round(n * float(config["test_fraction"]))))
        rng = np.random.default_rng(12345)
        groups = None
        data = config.get("data") if data is None else data
        if isinstance(data, str | Path) and Path(data).is_file():
            try:
                meta = open_loops(data)[1].meta
            except (SpecrepError, OSError, ValueError):  # not a loop dataset (MNIST, ...) or unreadable
                meta = {}
            item_source = meta.get("item_source")
            if isinstance(item_source, list) and len(item_source) == n:
                src = np.asarray(item_source, dtype=np.int64)
                known = np.unique(src[src >= 0])
                if known.size >= 2:  # a group per source file, and one per row without a source
                    groups = np.where(src >= 0, src, known.max() + 1 + np.arange(n))
        if groups is None:
            order = rng.permutation(n)
            return np.sort(order[:target] if split == "test" else order[target:])
        ids, sizes = np.unique(groups, return_counts=True)
        test_ids, count = [], 0
        for g in rng.permutation(ids.size):
            if count >= target or len(test_ids) == ids.size - 1:  # never every group: training keeps one
                break
            if count + sizes[g] <= 1.5 * target:                    # skip a track that would overshoot by half
                test_ids.append(ids[g])
                count += int(sizes[g])
        if not test_ids:  # every track is larger than 1.5 x the target: hold out the smallest one
            test_ids.append(ids[int(np.argmin(sizes))])
        test = np.isin(groups, test_ids)
        return np.flatnonzero(test if split == "test" else ~test)

    def _open(self, data: str, config: Mapping[str, Any]) -> LoopDataset:
        full = LoopDataset(data)  # a .npy with sidecar, or a source descriptor for a bare .npy / raw memmap
        if full.sample_rate is None:
            raise ParameterError(f"{data}: its sample rate is unknown; describe it with loopgan data describe "
                                 "... --sample-rate SR and train on the descriptor")
        if full.sample_rate != int(config["sample_rate"]):
            raise ParameterError(f"{data}: loops are at {full.sample_rate} Hz; set sample_rate={full.sample_rate}")
        if config.get("loop_samples") is not None and int(config["loop_samples"]) != full.info.samples:
            raise ParameterError(f"{data}: loops have {full.info.samples} samples, the config says "
                                 f"loop_samples={config['loop_samples']}")
        return full

    def prepare(self, data: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Resolve ``loop_samples`` from the data and fit ``norm_scale`` / ``norm_shift`` when they are unset.

        The stats are fitted on up to 256 loops spread over the *training* split only (the test split stays
        unseen); nothing is written to the dataset or its sidecar: they live in the run's config and checkpoints.
        """
        full = self._open(data, config)
        out: dict[str, Any] = {}
        if config.get("loop_samples") is None:
            out["loop_samples"] = full.info.samples
        if config.get("norm_scale") is None or config.get("norm_shift") is None:
            rows = self._split_rows(len(full), config, "train", data)
            pick = rows[np.linspace(0, len(rows) - 1, min(256, len(rows))).astype(int)]
            waves = np.stack([full[int(i)].numpy() for i in pick])
            feats = AudioFeatures({**config, **out, "norm_scale": None, "norm_shift": None})
            out.update(fit_normalization(feats, waves))
        return out

    def dataset(self, data: str, config: Mapping[str, Any], *, split: str) -> LoopDataset:
        """The loops of ``data`` in ``split`` (read-only; ``config`` is not modified)."""
        full = self._open(data, config)
        return LoopDataset(data, indices=self._split_rows(len(full), config, split, data))

    def features(self, batch: Tensor, config: Mapping[str, Any], schedule_state: Mapping[str, Any]) -> Tensor:
        return self.audio_features(config).encode(batch)

    def latent(self, n: int, config: Mapping[str, Any], *, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, int(config["z_dim"]), device=device, generator=generator)

    def schedule(self, config: Mapping[str, Any]) -> None:
        return None

    def apply_schedule(self, generator: nn.Module, discriminator: nn.Module, state: Mapping[str, Any]) -> None:
        return None

    def final_size(self, samples: Tensor, config: Mapping[str, Any]) -> Tensor:
        """Generated features as the decoder reads them, ``(N, C, rows, frames)``: a fixed-resolution model's are
        already that size (checked)."""
        shape = tuple(self.audio_features(config).shape)
        if tuple(samples.shape[1:]) != shape:
            raise ParameterError(f"features of shape {tuple(samples.shape[1:])}, the decoder reads {shape}")
        return samples

    def render(self, samples: Tensor, config: Mapping[str, Any], *, rescale: bool = True) -> Tensor:
        """Generated features ``(N, C, rows, frames)`` -> waves ``(N, loop_samples)``: in [-1, 1] with ``rescale``
        (a loop peaking above full scale is scaled down by its peak), as synthesised without it."""
        return self.audio_features(config).decode(samples.float(), rescale=rescale)

    def save_samples(self, samples: Tensor, out_dir: Path, *, fmt: str, config: Mapping[str, Any]) -> list[Path]:
        if fmt not in self.formats:
            raise PluginError(f"plugin {self.name!r} renders audio: --format {fmt} is not one of "
                              f"{', '.join(self.formats)}")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if fmt == "npy":
            path = out_dir / "features.npy"
            np.save(path, samples.detach().float().cpu().numpy())
            return [path]
        waves = self.render(samples, config)
        sr = int(config["sample_rate"])
        paths = [specrep.io.save(out_dir / f"loop_{i:04d}.wav", w, sr) for i, w in enumerate(waves)]
        paths.append(self.save_grid(samples, out_dir / "spectrograms.png", config))
        return paths

    def save_grid(self, samples: Tensor, path: Path, config: Mapping[str, Any]) -> Path:
        from specrep.plotting import SpectrogramPanel, plot_spectrogram_sheet

        rep = Representation.of(config)
        feats = samples[:16].detach().float().cpu()
        n = feats.shape[0]
        cols = min(4, n)
        names = ["log-magnitude", "IF"] if feats.shape[1] == 2 else ["log-magnitude"]
        panels = []  # row by row: each row of loops is one sheet row per channel
        for first in range(0, n, cols):
            for c, name in enumerate(names):
                panels += [SpectrogramPanel(feats[i, c].numpy(), f"#{i} {name}", vmin=-1, vmax=1,
                                            cmap="magma" if c == 0 else "twilight", ticks=False) if i < n else None
                           for i in range(first, first + cols)]
        return plot_spectrogram_sheet(panels, path, columns=cols, panel_size=(3.0, 2.2), fontsize=7, dpi=90,
                                      title=f"{rep} features (normalised), rows = {rep.rows}")


plugin = GANSynthPlugin()
