"""A small MNIST classifier trained locally on the bundled digits; its features feed the Fréchet distance.

The weights ship with the package (``mnist_classifier.pt``, < 1 MB). Retrain them (CPU, about a minute) with::

    OMP_NUM_THREADS=1 python -m gan_plugins.metrics.classifier --out gan_plugins/metrics/mnist_classifier.pt

Architecture: ``(B, 1, 28, 28)`` in ``[-1, 1]`` -> conv5x5(32) -> pool -> conv5x5(32) -> pool -> Linear(64)
(the *features*, after ReLU) -> Linear(10) logits. Trained on the 4,000-digit training split with small random
shifts; accuracy is measured on the 1,000-digit held-out split and stored beside the weights.
"""

from __future__ import annotations

import argparse
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_plugins.data.mnist.digits import MnistDataset
from gan_plugins.io.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["FEATURE_DIM", "MnistClassifier", "load_classifier", "train_classifier"]

FEATURE_DIM = 64
WEIGHTS = "mnist_classifier.pt"


class MnistClassifier(nn.Module):
    """``(B, 1, 28, 28)`` in ``[-1, 1]`` -> logits ``(B, 10)``; :meth:`features` gives ``(B, 64)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.fc = nn.Linear(32 * 7 * 7, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations ``(B, 64)``."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _shift(x: Tensor, gen: torch.Generator, max_shift: int = 2) -> Tensor:
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=gen).tolist()
    return torch.roll(torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0), (dy, dx), dims=(2, 3))[..., 2:-2, 2:-2]


def train_classifier(*, epochs: int = 12, seed: int = 0, batch_size: int = 64) -> tuple[MnistClassifier, float]:
    """Train on the bundled training split; return the model (eval mode) and its held-out accuracy."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train, test = MnistDataset(split="train"), MnistDataset(split="test")
    model = MnistClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * (len(train) // batch_size))
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=gen)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i: i + batch_size]
            x, y = _shift(train.images[idx], gen), train.labels[idx]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(test.images).argmax(1) == test.labels).float().mean())
    return model, acc


@lru_cache(maxsize=1)
def load_classifier() -> MnistClassifier:
    """The shipped classifier, in eval mode, gradients off (loaded once per process, ``weights_only=True``)."""
    with resources.as_file(resources.files("gan_plugins.metrics") / WEIGHTS) as path:
        state = load_checkpoint(path)
    model = MnistClassifier()
    model.load_state_dict(state["model"])
    return model.eval().requires_grad_(False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Retrain the MNIST metric classifier on the bundled digits.")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(WEIGHTS))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, acc = train_classifier(epochs=args.epochs, seed=args.seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint({"format": 1, "kind": "mnist-classifier", "model": state, "heldout_accuracy": acc,
                     "epochs": args.epochs, "seed": args.seed}, args.out)
    print(f"held-out accuracy {acc:.4f} -> {args.out}")


if __name__ == "__main__":
    main()
