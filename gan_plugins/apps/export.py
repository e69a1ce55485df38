"""Export a trained audio generator as ONE graph ``z (B, z_dim) -> audio (B, loop_samples)`` (TorchScript or ONNX).

The graph holds, in order:

1. the EMA generator with every equalised-LR layer folded into a plain ``nn.Linear`` / ``nn.Conv2d`` (weights
   multiplied by their run-time He constant once, at export);
2. the normalisation inverse (clip to [-1, 1], ``(y - shift) / scale`` per channel);
3. the representation's inverse. TorchScript graphs trace the Python decoder itself (:class:`TracedDecoder`:
   specrep's blocks, ``torch.istft``, the same initial Griffin-Lim phase), so they match it op for op. ONNX graphs
   use :class:`ExportedDecoder`, written with real arithmetic only (no complex tensors, no ``torch.fft``; ONNX has
   no inverse STFT): DFTs are matrix products with cos/sin bases that include the analysis/synthesis window,
   overlap-add is a sum of padded slices.

   - IF representations (``mel-if``, ``mag-if``): mel IF -> linear rows by the model's unprojection matrix, phase =
     cumulative sum of ``IF * pi`` in float64, wrapped to [-pi, pi) before the cast (as specrep does), then the
     inverse STFT. Exactly specrep's synthesis.
   - Magnitude-only representations (``mel-gl``, ``mag-gl``): mel -> linear by the model's pseudo-inverse plus its
     NNLS refinements, then ``gl_n_iter`` fast Griffin-Lim iterations (specrep's padded-domain FGLA, momentum and
     padding map included) from zero phase (``gl_init="zeros"``) or from specrep's seeded random phase
     (``"random"``, baked in as a constant). PGHI, the default initial phase in Python, is a sequential heap
     integration compiled with numba and cannot be traced: an exported magnitude model is the Python model decoded
     with ``gl_init`` set to the exported init.
4. crop to the loop length, non-finite samples to 0 and, with ``rescale=True`` (default, as
   :meth:`GanPlugin.render`), each loop divided by ``max(1, its peak)``: every loop is in [-1, 1], and a loop that
   would exceed full scale is scaled down as a whole. ``rescale=False`` returns the loops as synthesised.

The exported file runs with plain ``torch.jit.load`` or ``onnxruntime``; it needs nothing from this package.
:func:`reference_audio` is the Python model it reproduces (``plugin.render(generator(z))`` with the exported
decoding settings).
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
from torch.nn import functional as F

from gan_plugins.nn.equalized import EqualizedConv2d, EqualizedLinear
from specrep.errors import ParameterError, check_choice

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
    if str(cfg["representation"]).endswith("gl"):
        cfg["gl_init"] = gl_init
        if gl_n_iter is not None:
            if isinstance(gl_n_iter, bool) or not isinstance(gl_n_iter, int) or not 0 <= gl_n_iter <= 1000:
                raise ParameterError(f"gl_n_iter={gl_n_iter!r} must be an integer in [0, 1000]")
            cfg["gl_n_iter"] = gl_n_iter
    return cfg


def _dft_bases(n_fft: int, window: Tensor) -> tuple[Tensor, Tensor]:
    """``synth (2K, n_fft)``: [re, im] of K = n_fft/2 + 1 bins -> windowed real frame (``irfft(.) * window``);
    ``analysis (n_fft, 2K)``: windowed frame -> [re, im] of ``rfft(frame * window)``. Built in float64."""
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2.0 * math.pi * k * n / n_fft
    weight = torch.full((k.shape[0], 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    weight[-1] = 1.0  # n_fft even: the Nyquist bin appears once (irfft ignores the imaginary parts of DC, Nyquist)
    w = window.double()[None, :]
    synth = torch.cat([weight * torch.cos(angle) / n_fft * w, -weight * torch.sin(angle) / n_fft * w], dim=0)
    analysis = torch.cat([torch.cos(angle) * w, -torch.sin(angle) * w], dim=0).T
    return synth, analysis


class ExportedDecoder(nn.Module):
    """Generated features ``(B, C, rows, frames)`` -> waves ``(B, loop_samples)``: the decoder of
    :class:`~gan_plugins.models.features.AudioFeatures` in real arithmetic (see the module docstring).

    Parameters
    ----------
    features : AudioFeatures
        The model's feature map (``plugin.audio_features(config)``): every constant (window, mel matrices, log
        floor, normalisation, phase-reconstruction settings) is read from its chain.
    rescale : bool
        Divide each loop by ``max(1, peak)`` (as ``render(..., rescale=True)``).
    """

    def __init__(self, features, *, rescale: bool = True) -> None:
        super().__init__()
        self.dtype = torch.float32
        chain = features.chain
        if features.norm is None:
            raise ParameterError("the model's normalisation is not fitted (norm_scale is None): nothing to export")
        rep = features.representation
        self.is_if = rep.endswith("if")
        self.is_mel = rep.startswith("mel")
        self.rescale = bool(rescale)
        p = chain.stft_params
        if p.padding != "center" or p.drop_dc or p.n_fft % p.hop_length:
            raise ParameterError(f"export supports the audio features' layout (centred frames, DC kept, hop dividing "
                                 f"n_fft), not {p!r}")
        self.pad_nyquist = 1 if p.drop_nyquist else 0  # linear rows drop the Nyquist bin; restored as zero
        self.n_fft, self.hop = p.n_fft, p.hop_length
        self.frames, self.model_samples = features.frames, features.model_samples
        self.loop_samples = int(features.loop_samples or features.model_samples)
        blocks = {type(b).__name__: b for b in chain.blocks}
        self.eps = float(blocks["LogMagnitude"].eps)
        self.register_buffer("norm_scale", features.norm.scale.to(self.dtype).view(-1, 1, 1).clone())
        self.register_buffer("norm_shift", features.norm.shift.to(self.dtype).view(-1, 1, 1).clone())
        window = blocks["STFT"].window.double()
        synth, analysis = _dft_bases(self.n_fft, window)
        self.register_buffer("synth", synth.to(self.dtype))
        self.register_buffer("analysis", analysis.to(self.dtype))
        # overlap-add envelope of the squared window over the padded signal (torch.istft's normalisation)
        total = self.hop * (self.frames - 1) + self.n_fft
        self.total = total
        env = torch.zeros(total, dtype=torch.float64)
        for m in range(self.frames):
            env[m * self.hop: m * self.hop + self.n_fft] += window**2
        self.register_buffer("env", env.to(self.dtype))
        self.power = 1.0
        self.nnls_iter = 0
        if self.is_mel:
            mel = blocks["MelIF" if self.is_if else "MelScale"]
            self.power = float(mel.params.power)
            self.nnls_iter = int(mel.params.nnls_iter) if mel.params.inverse == "nnls" else 0
            self.register_buffer("fb", mel.fb.to(self.dtype).clone())
            self.register_buffer("inv", mel.inv.to(self.dtype).clone())
        self.n_iter, self.beta = 0, 0.0
        if not self.is_if:
            settings = blocks["Magnitude"].reconstruction
            if settings.init not in EXPORT_GL_INITS:
                raise ParameterError(f"gl_init={settings.init!r} cannot be traced; export with one of "
                                     f"{', '.join(EXPORT_GL_INITS)} (export_settings)")
            self.n_iter = int(settings.n_iter)
            self.beta = float(settings.momentum) / (1.0 + float(settings.momentum))
            rows = p.n_freqs
            if settings.init == "random":  # specrep's seeded draw, shared by every item of a batch
                from specrep.phase import _initial_angles

                a = _initial_angles(torch.ones(rows, self.frames), p, "random", settings.tol,
                                    torch.Generator().manual_seed(settings.seed))
                init = torch.stack([a.real, a.imag])
            else:
                init = torch.stack([torch.ones(rows, self.frames), torch.zeros(rows, self.frames)])
            self.register_buffer("init_angles", init.to(self.dtype))  # (2, rows, frames): cos, sin of the phase
            from specrep.phase import _padding_map

            source, keep = _padding_map(p, self.model_samples, total, "cpu")
            inv_env = torch.where(env > torch.finfo(self.dtype).eps * env.max(), 1.0 / env, torch.zeros_like(env))
            self.register_buffer("gl_inv_env", (inv_env * keep.double()).to(self.dtype))
            self.register_buffer("gl_source", source.long())
            idx = torch.arange(self.frames)[:, None] * self.hop + torch.arange(self.n_fft)[None, :]
            self.register_buffer("frame_index", idx.reshape(-1))

    # ------------------------------------------------------------------------------------------------ pieces
    def _overlap_add(self, frames: Tensor) -> Tensor:
        """``(B, frames, n_fft)`` -> ``(B, total)``: frame ``m`` added at sample ``m * hop``."""
        r = self.n_fft // self.hop
        chunks = frames.reshape(frames.shape[0], self.frames, r, self.hop)
        out = F.pad(chunks[:, :, 0], (0, 0, 0, r - 1))
        for i in range(1, r):
            out = out + F.pad(chunks[:, :, i], (0, 0, i, r - 1 - i))
        return out.reshape(frames.shape[0], self.total)

    def _frames(self, re: Tensor, im: Tensor) -> Tensor:
        """Spectrum rows ``(B, frames, K)`` (re, im; K = n_fft/2 + 1) -> windowed frames ``(B, frames, n_fft)``."""
        return torch.matmul(torch.cat([re, im], dim=-1), self.synth)

    def _spectrum(self, signal: Tensor) -> tuple[Tensor, Tensor]:
        """Padded-domain signal ``(B, total)`` -> ``rfft(frame * window)`` ``(B, frames, K)`` as (re, im)."""
        frames = signal[:, self.frame_index].reshape(signal.shape[0], self.frames, self.n_fft)
        spec = torch.matmul(frames, self.analysis)
        k = self.n_fft // 2 + 1
        return spec[..., :k], spec[..., k:]

    def _istft(self, re: Tensor, im: Tensor) -> Tensor:
        """Rows ``(B, frames, rows)`` (``rows`` = K, or K - 1 without Nyquist) -> waves ``(B, model_samples)``
        (centred frames, least-squares overlap-add as ``torch.istft``)."""
        re, im = F.pad(re, (0, self.pad_nyquist)), F.pad(im, (0, self.pad_nyquist))
        y = self._overlap_add(self._frames(re, im))
        y = y / torch.where(self.env > 1e-11, self.env, torch.ones_like(self.env))
        start = self.n_fft // 2
        return y[:, start: start + self.model_samples]

    def _unproject(self, mel: Tensor) -> Tensor:
        """Mel magnitudes ``(B, n_mels, frames)`` -> linear rows ``(B, rows, frames)`` (pinv, clip, NNLS, root)."""
        x = torch.clamp(torch.matmul(self.inv, torch.clamp(mel, min=0.0)), min=0.0)
        if self.nnls_iter:
            tiny = torch.finfo(self.dtype).tiny
            x = x + 1e-3 * x.mean(dim=-2, keepdim=True) + tiny
            numer = torch.matmul(self.fb.T, torch.clamp(mel, min=0.0))
            floor = 1e-12 * numer.amax(dim=-2, keepdim=True) + tiny
            for _ in range(self.nnls_iter):
                x = x * numer / (torch.matmul(self.fb.T, torch.matmul(self.fb, x)) + floor)
        if self.power != 1.0:
            x = torch.clamp(x, min=1e-20) ** (1.0 / self.power)
        return x

    def _griffin_lim(self, mag: Tensor) -> tuple[Tensor, Tensor]:
        """Magnitude ``(B, frames, rows)`` -> unit phasors (cos, sin) of the same shape after ``n_iter`` fast
        Griffin-Lim iterations (specrep.phase._fgla in real arithmetic; a dropped Nyquist row is pinned to 0)."""
        pad = self.pad_nyquist
        m = F.pad(mag, (0, pad))
        a_re = F.pad(self.init_angles[0].T.unsqueeze(0).expand_as(mag), (0, pad), value=1.0)
        a_im = F.pad(self.init_angles[1].T.unsqueeze(0).expand_as(mag), (0, pad))
        prev_re = prev_im = torch.zeros_like(m)
        for it in range(self.n_iter):
            signal = self._overlap_add(self._frames(a_re * m, a_im * m)) * self.gl_inv_env
            re, im = self._spectrum(signal[:, self.gl_source])
            if it == 0:
                up_re, up_im = re, im
            else:
                up_re, up_im = re - self.beta * prev_re, im - self.beta * prev_im
            r = torch.sqrt(up_re * up_re + up_im * up_im)
            nonzero = r > 0
            safe = torch.where(nonzero, r, torch.ones_like(r))
            a_re = torch.where(nonzero, up_re / safe, torch.zeros_like(r))
            a_im = torch.where(nonzero, up_im / safe, torch.zeros_like(r))
            prev_re, prev_im = re, im
        keep = m.shape[-1] - pad
        return a_re[..., :keep], a_im[..., :keep]

    def forward(self, feats: Tensor) -> Tensor:
        x = (torch.clamp(feats.to(self.dtype), -1.0, 1.0) - self.norm_shift) / self.norm_scale
        mag = torch.clamp(torch.exp(x[:, 0]) - self.eps, min=0.0)
        if self.is_mel:
            mag = self._unproject(mag)
        elif self.power != 1.0:  # pragma: no cover - linear rows are magnitudes
            mag = mag ** (1.0 / self.power)
        mag_t = mag.transpose(1, 2)  # (B, frames, rows)
        if self.is_if:
            ifreq = x[:, 1]
            if self.is_mel:
                ifreq = torch.matmul(self.inv, ifreq)
            phase = torch.cumsum(ifreq.double() * math.pi, dim=-1)
            phase = (phase + math.pi) - 2.0 * math.pi * torch.floor((phase + math.pi) / (2.0 * math.pi)) - math.pi
            phase = phase.to(self.dtype).transpose(1, 2)
            cos, sin = torch.cos(phase), torch.sin(phase)
        else:
            cos, sin = self._griffin_lim(mag_t)
        waves = self._istft(mag_t * cos, mag_t * sin)[:, : self.loop_samples]
        waves = torch.where(torch.isfinite(waves), waves, torch.zeros_like(waves))
        if self.rescale:
            waves = waves / torch.clamp(waves.abs().amax(dim=-1, keepdim=True), min=1.0)
        return waves.float()


class TracedDecoder(nn.Module):
    """The Python decoder itself (specrep's blocks: ``torch.istft``, cumulative-sum IF, the padded-domain fast
    Griffin-Lim), for TorchScript: op for op what ``render`` computes (momentum Griffin-Lim amplifies the DFT-matrix
    arithmetic of :class:`ExportedDecoder` to 2.5e-4 at 32 iterations; benchmarks/bench_export.py). The seeded
    initial phase is a constant of the graph (a traced random draw would draw anew at each call). ONNX has no
    inverse STFT, so ONNX graphs use :class:`ExportedDecoder`.

    Parameters
    ----------
    features : AudioFeatures
        The model's feature map; its chain and normaliser are copied.
    rescale : bool
        Divide each loop by ``max(1, peak)`` (as ``render(..., rescale=True)``).
    """

    def __init__(self, features, *, rescale: bool = True) -> None:
        super().__init__()
        from specrep.blocks import Magnitude
        from specrep.phase import random_phase

        if features.norm is None:
            raise ParameterError("the model's normalisation is not fitted (norm_scale is None): nothing to export")
        self.chain = copy.deepcopy(features.chain)
        self.norm = copy.deepcopy(features.norm)
        self.rescale = bool(rescale)
        self.is_if = features.representation.endswith("if")
        self.model_samples = features.model_samples
        self.loop_samples = int(features.loop_samples or features.model_samples)
        magnitude = [b for b in self.chain.blocks if isinstance(b, Magnitude)]
        self.magnitude = magnitude[0] if magnitude else None
        self.n_iter = 0
        if self.magnitude is not None:
            settings = self.magnitude.reconstruction
            if settings.init not in EXPORT_GL_INITS:
                raise ParameterError(f"gl_init={settings.init!r} cannot be traced; export with one of "
                                     f"{', '.join(EXPORT_GL_INITS)} (export_settings)")
            self.n_iter = int(settings.n_iter)
            shape = (self.magnitude.params.n_freqs, features.frames)
            phase = (random_phase(shape, torch.Generator().manual_seed(settings.seed)) if settings.init == "random"
                     else torch.zeros(shape))  # the very draw reconstruct() makes, so the graph starts where it does
            self.register_buffer("init_phase", phase)

    def forward(self, feats: Tensor) -> Tensor:
        from specrep import functional as Fn
        from specrep.phase import griffin_lim

        y = self.norm.inverse(feats.float().clamp(-1.0, 1.0))
        for block in reversed(self.chain.blocks):
            if block is self.magnitude:  # Magnitude.inverse with the initial phase given
                mag = torch.clamp(y.squeeze(-3), min=0.0)
                s = block.reconstruction
                wave = griffin_lim(mag, block.params, n_iter=s.n_iter, momentum=s.momentum,
                                   init=self.init_phase.expand_as(mag), length=self.model_samples, tol=s.tol)
                y = Fn.stft(wave, block.params)
            else:
                y = block.inverse(y, length=self.model_samples)
        waves = torch.nan_to_num(y[..., : self.loop_samples], nan=0.0, posinf=0.0, neginf=0.0)
        if self.rescale:
            waves = waves / waves.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
        return waves.float()


class ExportedModel(nn.Module):
    """``z (B, z_dim)`` float32 -> audio ``(B, loop_samples)`` float32 at ``sample_rate``: folded generator +
    :class:`ExportedDecoder`."""

    def __init__(self, generator: nn.Module, decoder: ExportedDecoder) -> None:
        super().__init__()
        self.generator = fold_equalized(generator)
        self.decoder = decoder

    def forward(self, z: Tensor) -> Tensor:
        return self.decoder(self.generator(z).float())


def _load(model) -> tuple[Any, nn.Module, dict[str, Any]]:
    if isinstance(model, tuple):
        return model
    from gan_plugins.io.model import load_generator

    return load_generator(model)


def _build(model, *, gl_init: str, gl_n_iter: int | None, rescale: bool, fmt: str = "onnx"):
    plugin, generator, cfg = _load(model)
    if getattr(plugin, "output_kind", "") != "audio" or not hasattr(plugin, "audio_features"):
        raise ParameterError(f"{getattr(plugin, 'name', plugin)} is not an audio plugin: export maps z to audio")
    cfg = export_settings(cfg, gl_init=gl_init, gl_n_iter=gl_n_iter)
    features = plugin.audio_features(cfg)
    generator = generator.cpu().float().eval()
    z_dim = int(cfg["z_dim"])
    with torch.no_grad():
        shape = tuple(generator(torch.zeros(1, z_dim)).shape[1:])
    if shape != tuple(features.shape):
        raise ParameterError(f"the generator gives features of shape {shape}, the decoder expects "
                             f"{tuple(features.shape)} (a progressive model before its final stage cannot be exported)")
    exact = fmt == "torchscript"  # TorchScript runs the Python decoder itself; ONNX has no inverse STFT
    decoder = (TracedDecoder if exact else ExportedDecoder)(features, rescale=rescale)
    return plugin, cfg, ExportedModel(generator, decoder).eval()


def reference_audio(model, z: Tensor, *, gl_init: str = "random", gl_n_iter: int | None = None,
                    rescale: bool = True) -> Tensor:
    """What an exported graph reproduces: ``plugin.render(generator(z), export_settings(config), rescale=...)``.

    ``model`` is a bundled name, run folder or checkpoint, or ``(plugin, generator, config)``. ``z (B, z_dim)`` ->
    ``(B, loop_samples)``.
    """
    plugin, generator, cfg = _load(model)
    cfg = export_settings(cfg, gl_init=gl_init, gl_n_iter=gl_n_iter)
    with torch.no_grad():
        return plugin.render(generator(z.to(next(generator.parameters()).device)), cfg, rescale=rescale).cpu()


def export_model(model, out: str | Path, *, fmt: str = "torchscript", gl_init: str = "random",
                 gl_n_iter: int | None = None, rescale: bool = True, label: str | None = None) -> dict[str, Any]:
    """Write the graph ``z (B, z_dim) -> audio (B, loop_samples)`` of ``model`` to ``out``.

    Parameters
    ----------
    model : str, Path or (plugin, generator, config)
        A bundled name, run folder or checkpoint (:func:`gan_plugins.pretrained.load_generator`).
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
    plugin, cfg, graph = _build(model, gl_init=gl_init, gl_n_iter=gl_n_iter, rescale=rescale, fmt=fmt)
    z_dim = int(cfg["z_dim"])
    meta = {"model": label if label is not None else str(model if not isinstance(model, tuple) else plugin.name),
            "plugin": plugin.name, "format": fmt, "z_dim": z_dim, "sample_rate": int(cfg["sample_rate"]),
            "loop_samples": graph.decoder.loop_samples, "representation": cfg["representation"],
            "input": "z (batch, z_dim) float32", "output": "audio (batch, loop_samples) float32",
            "rescale": bool(rescale)}
    if not graph.decoder.is_if:
        meta.update(gl_init=cfg["gl_init"], gl_n_iter=graph.decoder.n_iter)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, z_dim, generator=torch.Generator().manual_seed(0))
    tmp = out.with_name(out.name + ".part")
    with torch.no_grad():
        if fmt == "torchscript":
            import warnings

            with warnings.catch_warnings():  # torch >= 2.10 marks TorchScript deprecated; libtorch still loads it
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # specrep's shape checks become constants
                traced = torch.jit.trace(graph, example, check_trace=False)
                torch.jit.save(traced, str(tmp), _extra_files={META_NAME: json.dumps(meta)})
        else:
            _export_onnx(graph, example, tmp, meta)
    tmp.replace(out)
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

