"""The ``wavegan`` plugin: WaveGAN on the workbench's loop datasets (``.npy`` + sidecar, ``loopgan data synth`` /
``loopgan data prepare``), written against the public API of ``gan_plugins`` and ``specrep`` only.

Length: the generator makes ``seed_length * 4**layers`` samples (the paper: 16 x 4^5 = 16384 at 16 kHz, about 1 s).
Here ``loop_samples`` defaults to the dataset's loop length and ``seed_length`` to the smallest seed that covers it,
so a 2 s loop at 16 kHz (32000 samples) is modelled as 32 x 4^5 = 32768 samples: each real loop is zero-padded by
768 samples and every generated one cropped back to 32000. Setting ``loop_samples`` below the data's length crops
the loops instead (``loop_samples=16384`` trains the paper's length on the first half of each bar).

Features are the waveform itself, ``(B, 1, 1, samples)``: :meth:`WaveGANPlugin.render` is the identity up to the
crop (and the per-loop peak rescaling every renderer applies), so ``loopgan sample``, ``loopgan walk`` and the
studio work unchanged. There is no specrep chain behind the features, so ``loopgan export`` (which traces one) and
the representation study's spectral consistency do not apply.

The train/test split is GANSynth's (:meth:`gan_plugins.models.gansynth.GANSynthPlugin.dataset`), so a comparison of
the two holds out the same loops. Defaults are a CPU preset: model size ``d = 16`` (the paper's 64), batch 16 (64).
The optimiser is the loss's: ``--loss wgan-gp`` gives the paper's WGAN-GP (Adam 1e-4, betas (0.5, 0.9), 5 critic
updates per generator update, lambda 10).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

import specrep
from gan_plugins.api import PluginError
from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.models.gansynth import plugin as gansynth
from specrep.errors import ParameterError, check_positive_int
from wavegan_plugin.networks import STRIDE, WaveGANDiscriminator, WaveGANGenerator

__all__ = ["WaveGANPlugin", "WaveformFeatures", "plugin"]


class WaveformFeatures:
    """The feature map of a WaveGAN config: loops ``(B, samples)`` <-> features ``(B, 1, 1, model_samples)``.

    The counterpart of :class:`gan_plugins.models.features.AudioFeatures` for a model of the waveform itself:
    ``encode`` crops to ``loop_samples`` and zero-pads to ``model_samples``; ``decode`` crops back.

    Parameters
    ----------
    config : Mapping
        ``sample_rate``, ``loop_samples``, ``seed_length`` and ``layers`` (resolved by :meth:`WaveGANPlugin.prepare`).

    Raises
    ------
    ParameterError
        If a setting is unset or not a positive integer, or the model is shorter than the loops.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        for key in ("sample_rate", "loop_samples", "seed_length", "layers"):
            if config.get(key) is None:
                raise ParameterError(f"{key} is unset: prepare() resolves it from the data")
            check_positive_int(key, config[key])
        self.sample_rate = int(config["sample_rate"])
        self.loop_samples = int(config["loop_samples"])
        self.model_samples = int(config["seed_length"]) * STRIDE ** int(config["layers"])
        if self.model_samples < self.loop_samples:
            need = math.ceil(self.loop_samples / STRIDE ** int(config["layers"]))
            raise ParameterError(f"seed_length={config['seed_length']} x 4^{config['layers']} = {self.model_samples} "
                                 f"samples, fewer than loop_samples={self.loop_samples}; use seed_length >= {need}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W) = (1, 1, model_samples)`` of one example."""
        return (1, 1, self.model_samples)

    def encode(self, waves: Tensor) -> Tensor:
        """Waves ``(B, samples)`` -> features ``(B, 1, 1, model_samples)``: cropped to ``loop_samples``, then
        zero-padded."""
        x = waves[..., : self.loop_samples].float()
        x = torch.nn.functional.pad(x, (0, self.model_samples - x.shape[-1]))
        return x.reshape(x.shape[0], 1, 1, self.model_samples)

    def decode(self, feats: Tensor, *, rescale: bool = True) -> Tensor:
        """Features ``(B, 1, 1, model_samples)`` -> waves ``(B, loop_samples)``, finite; with ``rescale`` a loop
        above full scale is divided by its peak (the generator's tanh keeps it within already)."""
        if feats.ndim != 4 or tuple(feats.shape[1:]) != self.shape:
            raise ParameterError(f"features of shape {tuple(feats.shape)}; expected (B, 1, 1, {self.model_samples})")
        waves = torch.nan_to_num(feats[:, 0, 0, : self.loop_samples].float(), nan=0.0, posinf=0.0, neginf=0.0)
        if not rescale:
            return waves
        return waves / waves.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)


class WaveGANPlugin:
    """WaveGAN as a :class:`gan_plugins.api.AudioPlugin` (module docstring)."""

    name = "wavegan"
    output_kind = "audio"
    formats = ("wav", "npy")

    def default_config(self) -> dict[str, Any]:
        return {
            "z_dim": 100,            # the paper's
            "model_size": 16,        # d: widths 16d ... d; the paper's 64 (CPU preset: 16)
            "layers": 5,             # stride-4 layers: length x 4**layers
            "kernel_size": 25,
            "phase_shuffle": 2,      # n of the critic's phase shuffle
            "sample_rate": 16000,
            "loop_samples": None,    # the dataset's loop length (prepare); smaller crops the loops
            "seed_length": None,     # smallest seed covering loop_samples (prepare)
            "test_fraction": 0.05,   # held-out loops, split as GANSynth splits them
            "batch_size": 16,        # the paper's 64 (CPU preset: 16)
        }

    def smoke_config(self, folder: Path) -> tuple[str, dict[str, Any]]:
        """12 procedural loops of 0.1 s and a model of widths 8, 4, 2 over three layers: ``(data path, overrides)``."""
        from gan_plugins.data.procedural.synth_dataset import write_synth_dataset

        data = write_synth_dataset(Path(folder) / "loops.npy", n=12, seconds=0.1, seed=0, progress=False)
        return str(data), {"z_dim": 8, "model_size": 2, "layers": 3, "kernel_size": 9}

    def audio_features(self, config: Mapping[str, Any]) -> WaveformFeatures:
        return WaveformFeatures(config)

    def _open(self, data: str, config: Mapping[str, Any]) -> LoopDataset:
        full = LoopDataset(data)
        if full.sample_rate is None:
            raise ParameterError(f"{data}: its sample rate is unknown; describe it with loopgan data describe "
                                 "... --sample-rate SR and train on the descriptor")
        if full.sample_rate != int(config["sample_rate"]):
            raise ParameterError(f"{data}: loops are at {full.sample_rate} Hz; set sample_rate={full.sample_rate}")
        return full

    def prepare(self, data: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """``loop_samples`` (the data's loop length) and ``seed_length`` (``ceil(loop_samples / 4**layers)``) when
        unset; reads the dataset's header only."""
        full = self._open(data, config)
        out: dict[str, Any] = {}
        loop = config.get("loop_samples")
        if loop is None:
            loop = out["loop_samples"] = int(full.info.samples)
        if config.get("seed_length") is None:
            check_positive_int("layers", config["layers"])
            out["seed_length"] = math.ceil(int(loop) / STRIDE ** int(config["layers"]))
        return out

    def dataset(self, data: str, config: Mapping[str, Any], *, split: str) -> Dataset:
        """The loops of ``data`` in ``split``, with GANSynth's split (same ``test_fraction``, same rows)."""
        self._open(data, config)
        return gansynth.dataset(data, {"sample_rate": int(config["sample_rate"]), "loop_samples": None,
                                       "test_fraction": float(config["test_fraction"]), "data": data}, split=split)

    def build(self, config: Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
        arch = {k: config[k] for k in ("model_size", "layers", "kernel_size", "seed_length")}
        self.audio_features(config)  # loop and model lengths agree
        return (WaveGANGenerator(z_dim=config["z_dim"], **arch),
                WaveGANDiscriminator(phase_shuffle=config["phase_shuffle"], **arch))

    def features(self, batch: Tensor, config: Mapping[str, Any], schedule_state: Mapping[str, Any]) -> Tensor:
        return self.audio_features(config).encode(batch)

    def latent(self, n: int, config: Mapping[str, Any], *, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        """The paper's prior: uniform in ``[-1, 1]^z_dim``."""
        return torch.rand(n, int(config["z_dim"]), device=device, generator=generator) * 2.0 - 1.0

    def schedule(self, config: Mapping[str, Any]) -> None:
        return None

    def apply_schedule(self, generator: nn.Module, discriminator: nn.Module, state: Mapping[str, Any]) -> None:
        return None

    def final_size(self, samples: Tensor, config: Mapping[str, Any]) -> Tensor:
        """The generator's output as the decoder reads it (a fixed-length model: the same, checked)."""
        shape = self.audio_features(config).shape
        if tuple(samples.shape[1:]) != shape:
            raise ParameterError(f"features of shape {tuple(samples.shape[1:])}, the decoder reads {shape}")
        return samples

    def render(self, samples: Tensor, config: Mapping[str, Any], *, rescale: bool = True) -> Tensor:
        """Features ``(N, 1, 1, model_samples)`` -> waves ``(N, loop_samples)``: the waveform, cropped."""
        return self.audio_features(config).decode(samples, rescale=rescale)

    def save_samples(self, samples: Tensor, out_dir: Path, *, fmt: str, config: Mapping[str, Any]) -> list[Path]:
        """``wav``: one file per loop plus ``spectrograms.png``; ``npy``: ``loops.npy`` ``(N, loop_samples)``."""
        if fmt not in self.formats:
            raise PluginError(f"plugin {self.name!r} renders audio: --format {fmt} is not one of "
                              f"{', '.join(self.formats)}")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        waves = self.render(samples.detach().cpu(), config)
        if fmt == "npy":
            path = out_dir / "loops.npy"
            np.save(path, waves.numpy())
            return [path]
        sr = int(config["sample_rate"])
        paths = [specrep.io.save(out_dir / f"loop_{i:04d}.wav", w.numpy(), sr) for i, w in enumerate(waves)]
        paths.append(self.save_grid(samples, out_dir / "spectrograms.png", config))
        return paths

    def save_grid(self, samples: Tensor, path: Path, config: Mapping[str, Any]) -> Path:
        """Log-magnitude spectrograms (dB re each loop's peak, 512-point STFT) of up to 16 loops, 4 a row."""
        from specrep.plotting import SpectrogramPanel, plot_spectrogram_sheet

        waves = self.render(samples[:16].detach().float().cpu(), config)
        sr = int(config["sample_rate"])
        n_fft = min(512, 1 << (waves.shape[-1].bit_length() - 1))
        spec = torch.stft(waves, n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
        db = 20.0 * torch.log10(spec.abs().clamp(min=1e-5))
        db = db - db.amax(dim=(-2, -1), keepdim=True)
        panels = [SpectrogramPanel(d.numpy(), f"#{i}", seconds=waves.shape[-1] / sr, max_khz=sr / 2000.0,
                                   vmin=-80.0, vmax=0.0, ticks=False) for i, d in enumerate(db)]
        return plot_spectrogram_sheet(panels, path, columns=min(4, len(panels)), panel_size=(3.0, 2.2), fontsize=7,
                                      dpi=90, title=f"WaveGAN loops, dB re peak ({n_fft}-point STFT)")


plugin = WaveGANPlugin()
