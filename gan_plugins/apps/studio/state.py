"""The studio's in-memory state: loaded models, their latent directions, a bounded history of loops and walks.

Nothing here touches the file system except loading the model checkpoints named at start. Every size is bounded:
``history_size`` loops per model (the oldest is dropped), ``max_walks`` rendered walks per model, and the
directions cache (:data:`DIRECTIONS_CACHE_SIZE` entries, least recently used dropped). All methods are
thread-safe (one lock per model: the server is threaded, generation runs one request at a time per model).
"""

from __future__ import annotations

import io
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from gan_plugins.errors import GanError
from gan_plugins.io.model import Model, NotAnAudioModel
from gan_plugins.latent.walks import SplineWalk, slerp

__all__ = ["DIRECTIONS_CACHE_SIZE", "Directions", "Entry", "ModelSession", "StudioError", "WalkResult",
           "latent_directions", "wav_bytes"]

#: models whose directions are kept (each: n_components x z_dim floats, tiny)
DIRECTIONS_CACHE_SIZE = 8
_DIRECTIONS: OrderedDict[tuple, Directions] = OrderedDict()
_DIRECTIONS_LOCK = threading.Lock()


class StudioError(GanError):
    """A request the studio refuses; ``status`` is the HTTP status (4xx) the server answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = int(status)


@dataclass(frozen=True)
class Directions:
    """Main directions of a generator's latent space (GANSpace, Härkönen et al. 2020).

    Attributes
    ----------
    vectors : Tensor, shape (k, z_dim)
        Latent offset per unit of each principal component: ``z + s * vectors[i]`` moves the early activations by
        about ``s`` standard deviations along component ``i``.
    explained : list of float, length k
        Fraction of the activations' variance each component explains.
    method : str
        ``"activations"`` (PCA of the generator's first hidden layer, regressed back to latents) or ``"latents"``.
    """

    vectors: Tensor
    explained: list[float]
    method: str


def latent_directions(generator: torch.nn.Module, z_dim: int, *, n_components: int = 8, samples: int = 1024,
                      seed: int = 0) -> Directions:
    """GANSpace directions: PCA of the activations after the generator's seed layer (``generator.seed(z)``, the
    dense layer + first conv, flattened) over ``samples`` random latents; each component's coordinates (in
    standard deviations) are regressed back onto the latents by least squares, giving one latent direction per
    component. Generators without ``seed`` use PCA of the latents themselves (``method="latents"``).

    Returns :class:`Directions` with ``vectors (n_components, z_dim)`` on the generator's device.
    """
    if not 1 <= n_components <= z_dim:
        raise StudioError(f"n_components={n_components} must be in [1, z_dim={z_dim}]")
    device = next(generator.parameters()).device
    z = torch.randn(samples, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        if hasattr(generator, "seed"):
            acts = torch.cat([generator.seed(c).flatten(1) for c in z.split(256)]).double()
            method = "activations"
        else:
            acts, method = z.double(), "latents"
    centred = acts - acts.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    k = min(n_components, vh.shape[0])
    coords = centred @ vh[:k].T                                      # (samples, k)
    coords = coords / coords.std(0, keepdim=True).clamp(min=1e-12)   # in standard deviations
    vectors = torch.linalg.lstsq(coords, z.double()).solution        # (k, z_dim): z ~= coords @ vectors
    explained = (s[:k] ** 2 / (s**2).sum()).tolist()
    return Directions(vectors.float(), [float(v) for v in explained], method)


def _cached_directions(key: tuple, generator, z_dim: int, n_components: int) -> Directions:
    with _DIRECTIONS_LOCK:
        if key in _DIRECTIONS:
            _DIRECTIONS.move_to_end(key)
            return _DIRECTIONS[key]
    found = latent_directions(generator, z_dim, n_components=n_components)
    with _DIRECTIONS_LOCK:
        _DIRECTIONS[key] = found
        while len(_DIRECTIONS) > DIRECTIONS_CACHE_SIZE:
            _DIRECTIONS.popitem(last=False)
    return found


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file of ``wave`` ``(samples,)`` in [-1, 1], in memory."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0), int(sample_rate), format="WAV",
             subtype="PCM_16")
    return buf.getvalue()


@dataclass
class Entry:
    """One loop of the history: its latent, audio and read-outs.

    ``wave (loop_samples,)`` float32 in [-1, 1]; ``spectrogram`` the generator's log-magnitude channel
    ``(rows, frames)`` as uint8 (0 = -1, 255 = +1 of the normalised features); ``origin`` how it was made.
    """

    id: int
    z: Tensor
    wave: np.ndarray
    spectrogram: np.ndarray
    descriptors: dict[str, float]
    origin: dict[str, Any] = field(default_factory=dict)

    def summary(self, model: str) -> dict[str, Any]:
        """JSON view (no audio; the audio is at ``url``)."""
        rows, frames = self.spectrogram.shape
        return {"id": self.id, "model": model, "origin": self.origin, "descriptors": self.descriptors,
                "spectrogram": {"rows": rows, "frames": frames, "data": self.spectrogram.flatten().tolist()},
                "url": f"/api/loop/{self.id}.wav?model={model}"}


@dataclass
class WalkResult:
    """A rendered walk through history entries: ``wave (samples,)``, the entries it visits, its length."""

    id: int
    wave: np.ndarray
    entries: list[int]
    seconds: float


class _AnchorWalk(SplineWalk):
    """Spherical spline through given latents ``(n, z_dim)``: latent ``i`` at ``i * step`` seconds, held at the
    ends (the first and last segments reuse their end point as the missing neighbour)."""

    kind = "history"

    def __init__(self, anchors: Tensor, *, step_seconds: float) -> None:
        super().__init__(anchors.shape[1], speed=60.0 / step_seconds, smoothness=1.0, seed=0)
        self._fixed = anchors.double()

    def _index(self, k: Tensor) -> Tensor:
        return k

    def _anchor(self, index: Tensor) -> Tensor:
        return self._fixed[index.clamp(0, self._fixed.shape[0] - 1)]


class ModelSession:
    """One model served by the studio.

    Parameters
    ----------
    name : str
        What requests call it.
    model : Model
        An audio model (:func:`gan_plugins.io.model.load_model`).
    key : tuple
        Identifies the weights (e.g. the checkpoint path, size and mtime) for the directions cache.
    history_size : int in [2, 1024]
        Loops kept; the oldest is dropped when full.
    n_components : int >= 1
        GANSpace sliders.
    max_walks : int >= 1
        Rendered walks kept.
    """

    #: bounds of one slider (standard deviations of its principal component)
    SLIDER_RANGE = 3.0

    def __init__(self, name: str, model: Model, *, key: tuple = (), history_size: int = 64, n_components: int = 8,
                 max_walks: int = 4) -> None:
        try:
            model.require_audio("the studio")
        except NotAnAudioModel as exc:
            raise StudioError(str(exc)) from None
        if not 2 <= history_size <= 1024:
            raise StudioError(f"history_size={history_size} must be in [2, 1024]")
        if not 1 <= max_walks <= 64:
            raise StudioError(f"max_walks={max_walks} must be in [1, 64]")
        self.name, self.model = name, model
        self.z_dim, self.sample_rate, self.loop_samples = model.z_dim, model.sample_rate, model.loop_samples
        self.n_components = min(int(n_components), self.z_dim)
        self.history_size, self.max_walks = history_size, max_walks
        self.device = model.device
        self._key = (*key, str(self.device), self.n_components)
        self._history: OrderedDict[int, Entry] = OrderedDict()
        self._walks: OrderedDict[int, WalkResult] = OrderedDict()
        self._ids = itertools.count(1)
        self._walk_ids = itertools.count(1)
        self._seeds = itertools.count(1)
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------------------- read-outs
    def info(self) -> dict[str, Any]:
        return {"name": self.name, "plugin": self.model.plugin.name,
                "representation": self.model.config.get("representation"),
                "z_dim": self.z_dim, "sample_rate": self.sample_rate, "loop_samples": self.loop_samples,
                "components": self.n_components, "slider_range": self.SLIDER_RANGE,
                "history_size": self.history_size, "device": str(self.device)}

    def directions(self) -> Directions:
        """The model's GANSpace directions (computed on first use, then cached in memory)."""
        return _cached_directions(self._key, self.model.generator, self.z_dim, self.n_components)

    def entry(self, entry_id: int) -> Entry:
        with self._lock:
            found = self._history.get(entry_id)
        if found is None:
            raise StudioError(f"loop {entry_id} is not in the history of {self.name} (it keeps the last "
                              f"{self.history_size})", 404)
        return found

    def history(self) -> list[Entry]:
        with self._lock:
            return list(self._history.values())

    def walk(self, walk_id: int) -> WalkResult:
        with self._lock:
            found = self._walks.get(walk_id)
        if found is None:
            raise StudioError(f"walk {walk_id} is not kept for {self.name} (the last {self.max_walks} are)", 404)
        return found

    # ---------------------------------------------------------------------------------------------- generation
    def _render(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Latents ``(n, z_dim)`` -> waves ``(n, loop_samples)`` (each rescaled into [-1, 1] by its own peak: a
        loop is heard alone) and spectrograms ``(n, rows, frames)`` uint8."""
        feats = self.model.generate(z)
        waves = self.model.render(feats, rescale=True).numpy()
        spec = ((feats[:, 0].clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).numpy()
        return waves, spec

    def _add(self, z: Tensor, origins: list[dict[str, Any]]) -> list[Entry]:
        from gan_plugins.metrics.audio import LOOP_DESCRIPTORS, loop_descriptors

        waves, specs = self._render(z)
        desc = loop_descriptors(waves, self.sample_rate)
        desc = {name: desc[name] for name, _ in LOOP_DESCRIPTORS}  # the six read-outs
        out = []
        with self._lock:
            for i in range(z.shape[0]):
                entry = Entry(next(self._ids), z[i].detach().cpu().clone(), waves[i], specs[i],
                              {k: round(float(v[i]), 4) for k, v in desc.items()}, origins[i])
                self._history[entry.id] = entry
                while len(self._history) > self.history_size:
                    self._history.popitem(last=False)
                out.append(entry)
        return out

    def draw(self, count: int, seed: int | None = None) -> list[Entry]:
        """``count`` loops from random latents (``seed``: reproducible; default the next of the session's seeds)."""
        seed = next(self._seeds) if seed is None else int(seed)
        z = self.model.latent(count, seed=seed)
        return self._add(z, [{"kind": "draw", "seed": seed, "index": i} for i in range(count)])

    def edit(self, base: int, sliders: list[float]) -> Entry:
        """The loop of ``z_base + sum_i sliders[i] * directions[i]``."""
        vectors = self.directions().vectors.cpu()
        z = self.entry(base).z.clone()
        values = torch.tensor(sliders, dtype=torch.float32)
        z = z + values @ vectors[: values.numel()]
        return self._add(z[None], [{"kind": "edit", "base": base, "sliders": [float(v) for v in sliders]}])[0]

    def interpolate(self, a: int, b: int, t: float) -> Entry:
        """The loop at ``slerp(z_a, z_b, t)``."""
        z = slerp(self.entry(a).z[None], self.entry(b).z[None], float(t))
        return self._add(z, [{"kind": "interpolate", "a": a, "b": b, "t": float(t)}])[0]

    def render_walk(self, entries: list[int], step_seconds: float) -> WalkResult:
        """A walk through the latents of ``entries`` (one every ``step_seconds``), rendered by
        :func:`gan_plugins.latent.render.render_walk` (one latent per loop, equal-power crossfades on the grid)."""
        from gan_plugins.latent.render import render_walk

        anchors = torch.stack([self.entry(i).z for i in entries])
        walk = _AnchorWalk(anchors, step_seconds=step_seconds)
        seconds = (len(entries) - 1) * step_seconds + self.loop_samples / self.sample_rate
        rendered = render_walk(self.model, walk, seconds, progress=False)
        with self._lock:
            result = WalkResult(next(self._walk_ids), rendered.wave.astype(np.float32), list(entries),
                                round(rendered.seconds, 3))
            self._walks[result.id] = result
            while len(self._walks) > self.max_walks:
                self._walks.popitem(last=False)
        return result
