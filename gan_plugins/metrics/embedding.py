"""A learned loop embedding trained here on procedural loops, and the Fréchet distance on it (an offline FAD).

The weights ship with the package (``loop_embedding.pt``, a plain ``state_dict``, < 1 MB; ``loop_embedding.json``
beside it records the command, the data, the final training numbers and the seconds). Retrain them (one CPU
thread, about seven minutes: 2 min synthesis, 5 min training) with::

    python -m gan_plugins.metrics.embedding --train --out gan_plugins/metrics/loop_embedding.pt \\
        --n 2000 --epochs 12 --seed 0

Input: a loop at 16 kHz, scaled to a fixed RMS (the embedding does not hear level), as the log-mel spectrogram of
:func:`gan_plugins.metrics.audio.logmel_features` (64 bands, every STFT frame: 16 ms hop). Network: four
conv3x3-BatchNorm-ReLU blocks (16, 32, 64, 128 channels), each followed by a 2x2 max-pool except the last, which
pools frequency only (the first layer sees every frame: transients, duplicated or shuffled frames); then the mean
and standard deviation over time (frames / 8) of the ``128 x 4`` channel-band map, and a linear map to the
:data:`EMBED_DIM`-d embedding. Training (:func:`train_embedder`) on loops of
:func:`gan_plugins.data.procedural.generator.synthesize_loops` (five styles): cross-entropy of a linear style head
on the embedding plus an NT-Xent contrastive term between two views of each loop (independent circular shifts and
crops of 1-2 s), so the embedding tells loops apart by their rhythm and timbre and is indifferent to where the loop
starts. Held-out style accuracy on loops of another seed is stored in the sidecar.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_plugins.metrics.audio import logmel_features
from gan_plugins.metrics.frechet import frechet_distance, gaussian_stats
from specrep.errors import ParameterError, check_positive_int

__all__ = ["EMBED_DIM", "MAX_SECONDS", "MIN_SECONDS", "N_MELS", "SAMPLE_RATE", "LoopEmbedder",
           "embed", "embedding_distance", "load_embedder", "loop_spectrograms", "train_embedder"]

#: sample rate of the model (other rates are resampled to it)
SAMPLE_RATE = 16000
#: mel bands of the input spectrogram
N_MELS = 64
#: size of the embedding
EMBED_DIM = 64
#: loops shorter than this are refused; the model was trained on 1-2 s views
MIN_SECONDS = 1.0
#: loops longer than this are cropped to their first ``MAX_SECONDS``
MAX_SECONDS = 2.0
#: the level (RMS) every loop is scaled to before its spectrogram
LEVEL_RMS = 0.1
STYLE_NAMES = ("house", "techno", "breakbeat", "electro", "dnb")
WEIGHTS = "loop_embedding.pt"
_DB_CENTER, _DB_SCALE = -10.0, 20.0  # dB of the level-normalised log-mel mapped to about [-2.5, 2.5]
_CHANNELS = (16, 32, 64, 128)


def loop_spectrograms(waves, sample_rate: int) -> Tensor:
    """The model's input: level-normalised log-mel spectrograms of loops.

    Each loop is resampled to :data:`SAMPLE_RATE`, cropped to its first :data:`MAX_SECONDS` and scaled to RMS
    :data:`LEVEL_RMS` (a silent loop stays silent), then passed to :func:`~gan_plugins.metrics.audio.logmel_features`
    with :data:`N_MELS` bands and every frame, and its dB values centred and scaled.

    Parameters
    ----------
    waves : array-like, shape (N >= 1, samples)
        At least :data:`MIN_SECONDS` long.
    sample_rate : int > 0

    Returns
    -------
    Tensor, float32, shape (N, 1, N_MELS, frames)
        ``frames = 1 + samples // 256`` after resampling and cropping (126 for 2 s).
    """
    import specrep.io

    check_positive_int("sample_rate", sample_rate)
    x = np.asarray(waves, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ParameterError(f"waves of shape {x.shape} must be (N >= 1, samples)")
    if x.shape[1] < math.ceil(MIN_SECONDS * sample_rate):
        raise ParameterError(f"loops of {x.shape[1] / sample_rate:.3f} s are shorter than the embedding's "
                             f"{MIN_SECONDS} s minimum")
    if sample_rate != SAMPLE_RATE:
        x = specrep.io.resample(x, sample_rate, SAMPLE_RATE)
    x = x[:, : int(MAX_SECONDS * SAMPLE_RATE)]
    rms = np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=1, keepdims=True))
    x = (x * (LEVEL_RMS / np.maximum(rms, 1e-12))).astype(np.float32)
    db = logmel_features(x, SAMPLE_RATE, n_mels=N_MELS, frames=None)
    return torch.from_numpy(((db - _DB_CENTER) / _DB_SCALE).astype(np.float32)).unsqueeze(1)


class LoopEmbedder(nn.Module):
    """``(B, 1, N_MELS, frames >= 8)`` spectrograms (:func:`loop_spectrograms`) -> embeddings ``(B, EMBED_DIM)``;
    :meth:`classify` gives the style logits ``(B, 5)`` (order :data:`STYLE_NAMES`)."""

    def __init__(self) -> None:
        super().__init__()
        layers, c_in = [], 1
        for i, c in enumerate(_CHANNELS):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d((2, 1) if i == len(_CHANNELS) - 1 else 2)]
            c_in = c
        self.trunk = nn.Sequential(*layers)
        bands = N_MELS // 2 ** len(_CHANNELS)
        self.project = nn.Linear(2 * _CHANNELS[-1] * bands, EMBED_DIM)
        self.head = nn.Linear(EMBED_DIM, len(STYLE_NAMES))

    def forward(self, spec: Tensor) -> Tensor:
        h = self.trunk(spec).flatten(1, 2)  # (B, channels x bands, time)
        return self.project(torch.cat([h.mean(-1), h.std(-1)], dim=1))

    def classify(self, spec: Tensor) -> Tensor:
        """Style logits ``(B, len(STYLE_NAMES))``."""
        return self.head(self(spec))


@lru_cache(maxsize=1)
def load_embedder() -> LoopEmbedder:
    """The shipped embedder, in eval mode, gradients off (loaded once per process, ``weights_only=True``)."""
    with resources.as_file(resources.files("gan_plugins.metrics") / WEIGHTS) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = LoopEmbedder()
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval().requires_grad_(False)


@torch.no_grad()
def _run(model: LoopEmbedder, spec: Tensor, batch: int, logits: bool = False) -> np.ndarray:
    out = [(model.classify if logits else model)(chunk) for chunk in spec.split(batch)]
    return torch.cat(out).double().numpy()


def embed(waves, sample_rate: int, *, batch: int = 64) -> np.ndarray:
    """Embeddings of loops by the shipped model.

    Parameters
    ----------
    waves : array-like, shape (N >= 1, samples)
        At least :data:`MIN_SECONDS` long; resampled to 16 kHz, cropped to the first :data:`MAX_SECONDS`, level
        normalised (:func:`loop_spectrograms`).
    sample_rate : int > 0
    batch : int > 0
        Loops per forward pass (bounds memory; does not change any value).

    Returns
    -------
    np.ndarray, float64, shape (N, EMBED_DIM)
    """
    check_positive_int("batch", batch)
    return _run(load_embedder(), loop_spectrograms(waves, sample_rate), batch)


def embedding_distance(real, fake, sample_rate: int, *, real_embeddings: np.ndarray | None = None) -> float:
    """Fréchet distance between Gaussians fitted to the embeddings (:func:`embed`) of real and generated loops.

    Parameters
    ----------
    real, fake : array-like, shape (N >= 2, samples)
        Loops of the same duration (embeddings of loops of different durations are not comparable). ``real`` is
        ignored when ``real_embeddings`` is given.
    sample_rate : int > 0
    real_embeddings : np.ndarray, shape (N >= 2, EMBED_DIM), optional
        ``embed(real, sample_rate)`` computed once, for scoring many fakes against one real set.

    Returns
    -------
    float
        Non-negative; 0 for identical sets.
    """
    er = embed(real, sample_rate) if real_embeddings is None else np.asarray(real_embeddings, dtype=np.float64)
    if er.ndim != 2 or er.shape[1] != EMBED_DIM:
        raise ParameterError(f"real_embeddings of shape {er.shape} must be (N, {EMBED_DIM})")
    return frechet_distance(gaussian_stats(er), gaussian_stats(embed(fake, sample_rate)))


def _view(spec: Tensor, frames: int, gen: torch.Generator) -> Tensor:
    """Each loop circularly shifted by its own random number of frames, then its first ``frames`` frames."""
    shifts = torch.randint(0, spec.shape[-1], (spec.shape[0],), generator=gen).tolist()
    return torch.stack([torch.roll(s, k, dims=-1)[..., :frames] for s, k in zip(spec, shifts, strict=True)])


def _nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(-math.inf)
    n = len(z1)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def _style_targets(labels: list[dict]) -> Tensor:
    return torch.tensor([STYLE_NAMES.index(lab["style"]) for lab in labels])


def train_embedder(*, n: int = 2000, epochs: int = 12, seed: int = 0, batch_size: int = 48, n_heldout: int = 400,
                   temperature: float = 0.2, log=None) -> tuple[LoopEmbedder, dict]:
    """Train a :class:`LoopEmbedder` on ``n`` procedural 2 s loops of dataset ``seed``.

    Each step draws ``batch_size`` loops and two views of each (:func:`_view`: independent circular shifts, a crop
    of 63-126 frames shared by the batch); the loss is the style cross-entropy of both views plus the NT-Xent term
    between them. Adam (lr 2e-3), cosine decay. Deterministic for a seed on one torch thread.

    Returns
    -------
    model : LoopEmbedder
        In eval mode.
    report : dict
        ``n``, ``epochs``, ``seed``, ``steps``, final ``loss``/``style_loss``/``contrastive_loss`` (means over the
        last epoch), ``train_accuracy`` (last epoch, on views), ``heldout_accuracy`` on ``n_heldout`` loops of
        dataset ``seed + 1``, ``synthesis_seconds``, ``train_seconds``.
    """
    from gan_plugins.data.procedural.generator import synthesize_loops

    for name, value in (("n", n), ("epochs", epochs), ("batch_size", batch_size), ("n_heldout", n_heldout)):
        check_positive_int(name, value)
    if n < batch_size:
        raise ParameterError(f"n={n} must be >= batch_size={batch_size}")
    log = log or (lambda msg: None)
    t0 = time.perf_counter()
    waves, labels = synthesize_loops(n, seconds=MAX_SECONDS, sample_rate=SAMPLE_RATE, seed=seed)
    held, held_labels = synthesize_loops(n_heldout, seconds=MAX_SECONDS, sample_rate=SAMPLE_RATE, seed=seed + 1)
    spec, y = loop_spectrograms(waves, SAMPLE_RATE), _style_targets(labels)
    held_spec, held_y = loop_spectrograms(held, SAMPLE_RATE), _style_targets(held_labels)
    t_synth = time.perf_counter() - t0
    log(f"{n} + {n_heldout} loops synthesised in {t_synth:.0f} s")

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = LoopEmbedder()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    per_epoch = n // batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * per_epoch)
    frames = spec.shape[-1]
    t1 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        sums = np.zeros(4)
        for i in range(per_epoch):
            idx = order[i * batch_size: (i + 1) * batch_size]
            length = int(torch.randint(frames // 2, frames + 1, (1,), generator=gen))
            v1, v2 = _view(spec[idx], length, gen), _view(spec[idx], length, gen)
            z = model(torch.cat([v1, v2]))
            logits = model.head(z)
            style = F.cross_entropy(logits, torch.cat([y[idx], y[idx]]))
            contrast = _nt_xent(z[:batch_size], z[batch_size:], temperature)
            loss = style + contrast
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            acc = float((logits.argmax(1) == torch.cat([y[idx], y[idx]])).float().mean())
            sums += (loss.item(), style.item(), contrast.item(), acc)
        means = sums / per_epoch
        log(f"epoch {epoch + 1}/{epochs}: loss {means[0]:.3f} (style {means[1]:.3f}, contrastive {means[2]:.3f}), "
            f"train acc {means[3]:.3f}, {time.perf_counter() - t1:.0f} s")
    model.eval()
    heldout = float((_run(model, held_spec, 64, logits=True).argmax(1) == held_y.numpy()).mean())
    log(f"held-out style accuracy {heldout:.4f}")
    report = {"n": n, "epochs": epochs, "seed": seed, "batch_size": batch_size, "steps": epochs * per_epoch,
              "loss": round(means[0], 4), "style_loss": round(means[1], 4), "contrastive_loss": round(means[2], 4),
              "train_accuracy": round(means[3], 4), "heldout_accuracy": round(heldout, 4),
              "heldout_n": n_heldout, "heldout_seed": seed + 1,
              "synthesis_seconds": round(t_synth, 1), "train_seconds": round(time.perf_counter() - t1, 1)}
    return model, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the loop embedding of the Fréchet embedding distance on "
                                                 "procedural loops (one torch thread).")
    parser.add_argument("--train", action="store_true", required=True, help="train and write the weights")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(WEIGHTS))
    parser.add_argument("--n", type=int, default=2000, help="training loops")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        model, report = train_embedder(n=args.n, epochs=args.epochs, seed=args.seed,
                                       log=lambda msg: print(msg, flush=True))
    except ParameterError as exc:
        parser.exit(2, f"error: {exc}\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, args.out)
    argv_used = sys.argv[1:] if argv is None else argv
    report = {"command": "python -m gan_plugins.metrics.embedding " + shlex.join(argv_used), **report,
              "torch_threads": 1, "torch": torch.__version__, "seconds": round(time.perf_counter() - t0, 1),
              "bytes": args.out.stat().st_size}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"held-out style accuracy {report['heldout_accuracy']:.4f} -> {args.out} ({report['bytes']} bytes)")


if __name__ == "__main__":
    main()
