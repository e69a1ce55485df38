"""Export a trained audio generator as ONE graph ``z (B, z_dim) -> audio (B, loop_samples)`` (TorchScript or ONNX).

The graph holds, in order:

1. the EMA generator with every equalised-LR layer folded into a plain ``nn.Linear`` / ``nn.Conv2d`` (weights
   multiplied by their run-time He constant once, at export);
2. the normalisation inverse (clip to [-1, 1], ``(y - shift) / scale`` per channel: specrep's ``Normalize``);
3. the representation's inverse: the model's own specrep chain, walked in reverse by :class:`ExportedDecoder`,
   each block found by its type. Above the complex STFT level (log-magnitude, mel inverse with its NNLS
   refinements, the IF -> phase integration and wrap) every block's own ``inverse`` is traced, in both formats.
   At the STFT level the two formats differ only in arithmetic, never in algorithm:

   - TorchScript traces the Python decoder's complex ops themselves (``torch.polar``, ``torch.istft``,
     :func:`specrep.phase.griffin_lim`), so it matches ``render`` op for op;
   - ONNX has no complex tensors and no inverse STFT, so the same specrep pieces run in real arithmetic:
     :func:`specrep.functional.istft_dft` (DFT as a matrix product with the window folded into the bases,
     overlap-add as padded slice sums) and :func:`specrep.phase.fgla` over an :class:`specrep.phase.FGLADomain` with
     DFT bases (specrep's padded-domain fast Griffin-Lim, momentum and padding gather included).

   Magnitude-only representations (``mel-gl``, ``mag-gl``) run ``gl_n_iter`` iterations from zero phase
   (``gl_init="zeros"``) or from specrep's seeded random phase (``"random"``, baked in as a constant). PGHI, the
   default initial phase in Python, is a sequential heap integration compiled with numba and cannot be traced: an
   exported magnitude model is the Python model decoded with ``gl_init`` set to the exported init.
4. crop to the loop length, non-finite samples to 0 and, with ``rescale=True`` (default, as
   :meth:`GanPlugin.render`), each loop divided by ``max(1, its peak)``: every loop is in [-1, 1], and a loop that
   would exceed full scale is scaled down as a whole. ``rescale=False`` returns the loops as synthesised.

The exported file runs with plain ``torch.jit.load`` or ``onnxruntime``; it needs nothing from this package.
:func:`reference_audio` is the Python model it reproduces (:meth:`Model.decode` with the exported decoding
settings).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gan_plugins.io.model import Model, load_model
from gan_plugins.models.features import AudioFeatures
from gan_plugins.nn.equalized import EqualizedConv2d, EqualizedLinear
from gan_plugins.representation import Representation
from specrep import functional as Fn
from specrep.blocks import STFT, Magnitude, Polar
from specrep.errors import ParameterError, check_choice
from specrep.io import atomic_path
from specrep.phase import FGLADomain, fgla, fgla_domain, griffin_lim, random_phase

__all__ = ["EXPORT_FORMATS", "EXPORT_GL_INITS", "ExportedDecoder", "ExportedModel", "export_model",
           "export_settings", "fold_equalized", "reference_audio", "relative_rms"]

EXPORT_FORMATS = ("torchscript", "onnx")
EXPORT_GL_INITS = ("zeros", "random")
#: what the files' metadata says about the graph (TorchScript: extra file ``loopgan.json``; ONNX: metadata_props)
META_NAME = "loopgan.json"


def fold_equalized(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every :class:`EqualizedLinear` / :class:`EqualizedConv2d` replaced by a plain
    ``nn.Linear`` / ``nn.Conv2d`` whose weight is ``weight * scale`` (the same function, no run-time scaling).

    Returns the copy in eval mode with gradients off; ``module`` is not modified.
    """
    out = copy.deepcopy(module).eval().requires_grad_(False)
    for name, child in list(out.named_modules()):
        if not isinstance(child, EqualizedLinear | EqualizedConv2d):
            continue
        if isinstance(child, EqualizedLinear):
            plain = nn.Linear(child.weight.shape[1], child.weight.shape[0])
        else:
            o, i, kh, kw = child.weight.shape
            plain = nn.Conv2d(i, o, (kh, kw), padding=child.padding)
        with torch.no_grad():
            plain.weight.copy_(child.weight * child.scale)
            plain.bias.copy_(child.bias)
        parent_name, _, attr = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, attr, plain.requires_grad_(False))
    left = [n for n, m in out.named_modules() if isinstance(m, EqualizedLinear | EqualizedConv2d)]
    if left:  # pragma: no cover - the loop above replaces every one
        raise ParameterError(f"could not fold equalised layers {left}")
    return out


def export_settings(config: Mapping[str, Any], *, gl_init: str = "random", gl_n_iter: int | None = None
                    ) -> dict[str, Any]:
    """The model's config with the decoding settings the exported graph uses (``gl_init`` / ``gl_n_iter`` for
    magnitude-only representations; unchanged for IF). Feed it to ``plugin.render`` for the reference."""
    check_choice("gl_init", gl_init, EXPORT_GL_INITS)
    cfg = dict(config)
    if not Representation.of(cfg).is_if:
        cfg["gl_init"] = gl_init
        if gl_n_iter is not None:
            if isinstance(gl_n_iter, bool) or not isinstance(gl_n_iter, int) or not 0 <= gl_n_iter <= 1000:
                raise ParameterError(f"gl_n_iter={gl_n_iter!r} must be an integer in [0, 1000]")
            cfg["gl_n_iter"] = gl_n_iter
    return cfg


class ExportedDecoder(nn.Module):
    """Generated features ``(B, C, rows, frames)`` -> waves ``(B, loop_samples)``: the decoder of
    :class:`~gan_plugins.models.features.AudioFeatures`, composed of the model's own specrep chain (see the module
    docstring).

    Parameters
    ----------
    features : AudioFeatures
        The model's feature map (``plugin.audio_features(config)``): its chain (a copy) and fitted normaliser.
    rescale : bool
        Divide each loop by ``max(1, peak)`` (as ``render(..., rescale=True)``).
    real : bool
        True (ONNX): the STFT level in real arithmetic (:func:`specrep.functional.istft_dft`,
        :func:`specrep.phase.fgla` with DFT bases); False (TorchScript): the Python decoder's complex ops, exact.

    Raises
    ------
    ParameterError
        If the normalisation is not fitted, the chain has a block the decoder cannot invert, Griffin-Lim starts from
        PGHI, or (``real``) the hop does not divide ``n_fft``.
    """

    def __init__(self, features, *, rescale: bool = True, real: bool = True) -> None:
        super().__init__()
        if features.norm is None:
            raise ParameterError("the model's normalisation is not fitted (norm_scale is None): nothing to export")
        self.rescale, self.real = bool(rescale), bool(real)
        self.chain = copy.deepcopy(features.chain)
        for module in self.chain.modules():  # the blocks' matrices are non-persistent buffers, which a traced graph
            for name, buf in list(module.named_buffers(recurse=False)):  # would copy into a constant at every use
                module.register_buffer(name, buf, persistent=True)
        self.norm = copy.deepcopy(features.norm)
        self.representation = Representation.parse(features.representation)
        self.model_samples = features.model_samples
        self.loop_samples = int(features.loop_samples or features.model_samples)
        blocks = list(self.chain.blocks)
        if not isinstance(blocks[0], STFT) or any(isinstance(b, STFT) or not b.invertible for b in blocks[1:]):
            raise ParameterError(f"export decodes a chain that starts with its one STFT and inverts every block, "
                                 f"not {[type(b).__name__ for b in blocks]}")
        self.params = p = blocks[0].params
        if self.real and p.n_fft % p.hop_length:
            raise ParameterError(f"an ONNX graph needs hop_length dividing n_fft (overlap-add as slice sums), "
                                 f"not {p!r}")
        self.register_buffer("window", Fn.window(p))
        if self.real:
            self.register_buffer("synth", Fn.dft_bases(p)[0])
        magnitude = [b for b in blocks if isinstance(b, Magnitude)]
        self.magnitude = magnitude[0] if magnitude else None
        self.n_iter = 0
        if self.magnitude is not None:
            settings = self.magnitude.reconstruction
            if settings.init not in EXPORT_GL_INITS:
                raise ParameterError(f"gl_init={settings.init!r} cannot be traced; export with one of "
                                     f"{', '.join(EXPORT_GL_INITS)} (export_settings)")
            self.n_iter = int(settings.n_iter)
            shape = (p.n_freqs, features.frames)
            phase = (random_phase(shape, torch.Generator().manual_seed(settings.seed)) if settings.init == "random"
                     else torch.zeros(shape))  # the very draw reconstruct() makes, so the graph starts where it does
            self.register_buffer("init_phase", phase)
            if self.real:
                self.register_buffer("init_pairs", torch.stack([torch.cos(phase), torch.sin(phase)], dim=-1))
                domain = fgla_domain(p, features.frames, self.model_samples, dft=True)
                self.register_buffer("gl_inv_env", domain.inv_env)
                self.register_buffer("gl_index", domain.index)
                self.register_buffer("analysis", domain.dft[1])

    @property
    def is_if(self) -> bool:
        """Channel 1 is instantaneous frequency (no phase reconstruction)."""
        return self.representation.is_if

    def _magnitude_inverse(self, mag: Tensor) -> Tensor:
        """Magnitudes ``(B, n_freqs, frames)`` -> complex spectrum, or its (re, im) pairs ``(..., 2)`` when real."""
        s, p = self.magnitude.reconstruction, self.params
        if not self.real:  # Magnitude.inverse itself, from the initial phase reconstruct() draws
            wave = griffin_lim(mag, p, n_iter=s.n_iter, momentum=s.momentum, init=self.init_phase.expand_as(mag),
                               length=self.model_samples, tol=s.tol)
            return Fn.stft(wave, p)
        domain = FGLADomain(self.window, self.gl_inv_env, self.gl_index, (self.synth, self.analysis))
        angles = self.init_pairs.expand(mag.shape[0], -1, -1, -1)
        if s.n_iter:
            angles = fgla(mag, angles, p, domain, n_iter=s.n_iter, momentum=s.momentum)
        return angles * mag.unsqueeze(-1)

    def forward(self, feats: Tensor) -> Tensor:
        y = self.norm.inverse(feats.to(self.window.dtype).clamp(-1.0, 1.0))
        for block in reversed(self.chain.blocks):
            if block is self.magnitude:
                y = self._magnitude_inverse(torch.clamp(y.squeeze(-3), min=0.0))
            elif self.real and isinstance(block, Polar):  # torch.polar as (re, im) pairs
                mag, phase = y.unbind(-3)
                mag = torch.clamp(mag, min=0.0)
                y = torch.stack([mag * torch.cos(phase), mag * torch.sin(phase)], dim=-1)
            elif self.real and isinstance(block, STFT):
                y = Fn.istft_dft(y, self.params, self.synth, length=self.model_samples, win=self.window)
            else:
                y = block.inverse(y, length=self.model_samples)
        waves = y[..., : self.loop_samples]
        waves = torch.where(torch.isfinite(waves), waves, torch.zeros_like(waves))
        if self.rescale:
            waves = waves / waves.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
        return waves.float()


class ExportedModel(nn.Module):
    """``z (B, z_dim)`` float32 -> audio ``(B, loop_samples)`` float32 at ``sample_rate``: the folded generator (a
    CPU float32 copy) + :class:`ExportedDecoder`."""

    def __init__(self, generator: nn.Module, decoder: ExportedDecoder) -> None:
        super().__init__()
        self.generator = fold_equalized(generator).cpu().float()
        self.decoder = decoder

    def forward(self, z: Tensor) -> Tensor:
        return self.decoder(self.generator(z).float())


def _load(model: str | Path | Model) -> Model:
    """A :class:`Model` as is, else :func:`load_model` of a bundled name, run folder or checkpoint; audio only."""
    model = model if isinstance(model, Model) else load_model(model)
    return model.require_audio("export")


def _decoding_settings(model: Model, *, gl_init: str, gl_n_iter: int | None) -> dict[str, Any]:
    """The render settings :func:`export_settings` changes (nothing for IF representations)."""
    cfg = export_settings(model.config, gl_init=gl_init, gl_n_iter=gl_n_iter)
    return {k: cfg[k] for k in ("gl_init", "gl_n_iter") if cfg.get(k) != model.config.get(k)}


def _build(model, *, gl_init: str, gl_n_iter: int | None, rescale: bool, fmt: str = "onnx"
           ) -> tuple[Model, ExportedModel]:
    model = _load(model)
    if not isinstance(model.plugin.audio_features(model.config), AudioFeatures):
        raise ParameterError(f"{model.plugin.name}'s features have no specrep chain (its audio_features is not an "
                             "AudioFeatures): export maps z to audio through one")
    model = model.with_settings(_decoding_settings(model, gl_init=gl_init, gl_n_iter=gl_n_iter))
    features = model.plugin.audio_features(model.config)
    # TorchScript runs the Python decoder's own ops; ONNX, which has no complex tensors, the same in real arithmetic
    decoder = ExportedDecoder(features, rescale=rescale, real=fmt != "torchscript")
    graph = ExportedModel(model.generator, decoder).eval()
    with torch.no_grad():
        shape = tuple(graph.generator(torch.zeros(1, model.z_dim)).shape[1:])
    if shape != tuple(features.shape):
        raise ParameterError(f"the generator gives features of shape {shape}, the decoder expects "
                             f"{tuple(features.shape)} (a progressive model before its final stage cannot be exported)")
    return model, graph


def reference_audio(model, z: Tensor, *, gl_init: str = "random", gl_n_iter: int | None = None,
                    rescale: bool = True) -> Tensor:
    """What an exported graph reproduces: :meth:`Model.decode` with the exported decoding settings
    (:func:`export_settings`).

    ``model`` is a :class:`~gan_plugins.io.model.Model`, or a bundled name, run folder or checkpoint.
    ``z (B, z_dim)`` -> ``(B, loop_samples)`` float32 on the CPU.
    """
    model = _load(model)
    model = model.with_settings(_decoding_settings(model, gl_init=gl_init, gl_n_iter=gl_n_iter))
    return torch.from_numpy(model.decode(z, rescale=rescale, batch=max(1, z.shape[0])))


def export_model(model, out: str | Path, *, fmt: str = "torchscript", gl_init: str = "random",
                 gl_n_iter: int | None = None, rescale: bool = True, label: str | None = None) -> dict[str, Any]:
    """Write the graph ``z (B, z_dim) -> audio (B, loop_samples)`` of ``model`` to ``out``.

    Parameters
    ----------
    model : str, Path or Model
        A bundled name, run folder or checkpoint (:func:`gan_plugins.io.model.load_model`), or a loaded
        :class:`~gan_plugins.io.model.Model` (an audio model).
    out : path
        ``.pt`` / ``.ts`` for TorchScript, ``.onnx`` for ONNX (any name is accepted; the format decides).
    fmt : {"torchscript", "onnx"}
    gl_init : {"zeros", "random"}
        Initial phase of Griffin-Lim (magnitude-only models).
    gl_n_iter : int, optional
        Griffin-Lim iterations (default: the model's ``gl_n_iter``).
    rescale : bool
        Per-loop peak rescaling as ``render`` (see the module docstring).

    Returns
    -------
    dict
        The metadata stored in the file (``z_dim``, ``sample_rate``, ``loop_samples``, representation, decoding
        settings, input/output names) plus ``path``. The batch size is dynamic in both formats.
    """
    check_choice("fmt", fmt, EXPORT_FORMATS)
    loaded, graph = _build(model, gl_init=gl_init, gl_n_iter=gl_n_iter, rescale=rescale, fmt=fmt)
    cfg, z_dim = loaded.config, loaded.z_dim
    meta = {"model": label if label is not None else loaded.name,
            "plugin": loaded.plugin.name, "format": fmt, "z_dim": z_dim, "sample_rate": loaded.sample_rate,
            "loop_samples": graph.decoder.loop_samples, "representation": cfg["representation"],
            "input": "z (batch, z_dim) float32", "output": "audio (batch, loop_samples) float32",
            "rescale": bool(rescale)}
    if not graph.decoder.is_if:
        meta.update(gl_init=cfg["gl_init"], gl_n_iter=graph.decoder.n_iter)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), atomic_path(out) as tmp:
        if fmt == "torchscript":
            import warnings

            with warnings.catch_warnings():  # torch >= 2.10 marks TorchScript deprecated; libtorch still loads it
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # specrep's shape checks become constants
                traced = torch.jit.trace(graph, example, check_trace=False)
                torch.jit.save(traced, str(tmp), _extra_files={META_NAME: json.dumps(meta)})
        else:
            _export_onnx(graph, example, tmp, meta)
    return {**meta, "path": str(out)}


def _export_onnx(graph: nn.Module, example: Tensor, path: Path, meta: Mapping[str, Any]) -> None:
    """ONNX (opset 17, dynamic batch) through torch's TorchScript-based exporter (about 1 s here; the dynamo-based
    exporter gives the same graph in 10-50 s and is the fallback where the former is gone); ``meta`` goes into
    the model's ``metadata_props``."""
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ParameterError(f"ONNX export needs the onnx package ({exc}); pip install 'specrep[export]'") from None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(graph, (example,), str(path), input_names=["z"], output_names=["audio"],
                              dynamic_axes={"z": {0: "batch"}, "audio": {0: "batch"}}, opset_version=17,
                              dynamo=False)
        except (TypeError, RuntimeError, NotImplementedError):  # pragma: no cover - newer torch without it
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(graph, (example,), input_names=["z"], output_names=["audio"],
                              dynamic_shapes={"z": {0: batch}}, dynamo=True).save(str(path))
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_NAME, json.dumps(dict(meta))
    onnx.save(proto, str(path))


def relative_rms(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """``rms(a - b) / rms(b)`` over everything (0 when both are silent)."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    den = math.sqrt(float(np.mean(b64**2)))
    num = math.sqrt(float(np.mean((a64 - b64) ** 2)))
    return num / den if den > 0 else num

