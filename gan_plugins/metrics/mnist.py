"""MNIST sample quality: Fréchet distance on the shipped classifier's features, with its floor and ceiling, and
class coverage.

Reference sets: the training split (4,000 bundled digits) is the target distribution; the *floor* is the distance of
the held-out split (1,000 real digits) to it and the *ceiling* that of 1,000 uniform-noise images. A generator is
scored on as many samples as the held-out split holds, so its number is directly comparable with the floor.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from gan_plugins.data.mnist.digits import BUNDLED, MnistDataset
from gan_plugins.metrics.classifier import load_classifier
from gan_plugins.metrics.coverage import class_stats
from gan_plugins.metrics.frechet import frechet_distance, gaussian_stats
from specrep.errors import ParameterError

__all__ = ["MnistEvaluator"]


@torch.no_grad()
def _read(images: Tensor, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    clf = load_classifier()
    feats, probs = [], []
    for i in range(0, len(images), batch):
        x = images[i: i + batch].float().cpu()
        f = clf.features(x)
        feats.append(f.numpy())
        probs.append(torch.softmax(clf.head(f), dim=1).numpy())
    return np.concatenate(feats), np.concatenate(probs)


class MnistEvaluator:
    """Scores generators or image batches against the bundled MNIST digits.

    Parameters
    ----------
    latent : callable, optional
        ``latent(n, generator) -> (n, z_dim)``; needed to score generators (:meth:`__call__`).
    n_samples : int, optional
        Generated samples per score; default: the held-out split size (1,000).
    seed : int
        Seed of the evaluator's own ``torch.Generator`` (the global RNG is never touched).
    data : str
        ``"mnist"`` or an IDX folder.

    Attributes
    ----------
    floor, ceiling : float
        FD(held-out real, train real) and FD(uniform noise, train real).
    """

    def __init__(self, latent: Callable[[int, torch.Generator], Tensor] | None = None, *,
                 n_samples: int | None = None, seed: int = 12345, data: str = BUNDLED) -> None:
        train, test = MnistDataset(data, split="train"), MnistDataset(data, split="test")
        self.latent, self.seed = latent, seed
        self.n_samples = int(n_samples or len(test))
        if self.n_samples < 2:
            raise ParameterError(f"n_samples={n_samples!r} must be >= 2")
        self.train_stats = gaussian_stats(_read(train.images)[0])
        test_feats, test_probs = _read(test.images)
        self.floor = frechet_distance(gaussian_stats(test_feats), self.train_stats)
        self.real_classes = class_stats(test_probs)
        noise = torch.rand(len(test), *train.images.shape[1:], generator=torch.Generator().manual_seed(seed)) * 2 - 1
        self.ceiling = frechet_distance(gaussian_stats(_read(noise)[0]), self.train_stats)

    def score_images(self, images: Tensor) -> dict[str, float]:
        """Score images ``(N, 1, 28, 28)`` in ``[-1, 1]``: ``fd`` plus :func:`class_stats` keys."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise ParameterError(f"images of shape {tuple(images.shape)} must be (N, 1, 28, 28) MNIST digits")
        feats, probs = _read(images)
        return {"fd": frechet_distance(gaussian_stats(feats), self.train_stats), **class_stats(probs)}

    def classify(self, images: Tensor) -> np.ndarray:
        """The shipped classifier's class probabilities ``(N, 10)`` for images ``(N, 1, 28, 28)`` in ``[-1, 1]``."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise ParameterError(f"images of shape {tuple(images.shape)} must be (N, 1, 28, 28) MNIST digits")
        return _read(images)[1]

    @torch.no_grad()
    def generate(self, generator: nn.Module) -> Tensor:
        """``n_samples`` images ``(N, C, H, W)`` from ``generator`` with the evaluator's fixed latents."""
        if self.latent is None:
            raise ParameterError("MnistEvaluator needs latent= to score a generator")
        device = next(generator.parameters()).device
        z = self.latent(self.n_samples, torch.Generator().manual_seed(self.seed)).to(device)
        was_training = generator.training
        generator.eval()
        out = torch.cat([generator(z[i: i + 500]).float().cpu() for i in range(0, len(z), 500)])
        generator.train(was_training)
        return out

    def __call__(self, generator: nn.Module, step: int = 0) -> dict[str, float]:
        """Trainer hook: score ``generator`` (usually the EMA copy)."""
        return self.score_images(self.generate(generator))
