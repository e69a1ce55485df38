"""Has a discriminator learnt its training set? Its mean output on training digits, on held-out digits of the same
distribution, and on generated digits, for MNIST runs.

A discriminator that generalises rates held-out real digits like training ones; one that has memorised its training
set rates them lower, between real and fake (Karras et al. 2020, "Training GANs with limited data", Fig. 1: the
validation curve falls away from the training curve). Printed per run: mean raw output (logit) on 1,000 training
digits, the 1,000 held-out digits and 1,000 samples of the run's own generator (not the EMA: the one the
discriminator was trained against), the gap train − held-out, and Karras et al.'s overfitting heuristic
``r_t = E[sign(D(train))]``. The discriminator runs in training mode, on batches of ``--batch`` (default 64, the
training batch), as in training: its batch-norm layers normalise with each batch's statistics.

    python benchmarks/bench_d_overfit.py plain=runs/explore/w64-ns aug=runs/explore/w64-ns-aug
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_plugins.api import get_plugin  # noqa: E402
from gan_plugins.data.mnist.digits import MnistDataset  # noqa: E402
from gan_plugins.io.checkpoint import load_checkpoint  # noqa: E402
from gan_plugins.io.model import resolve_checkpoint  # noqa: E402


@torch.no_grad()
def _mean_output(d: torch.nn.Module, x: torch.Tensor, batch: int) -> tuple[float, float]:
    """Mean output and mean sign of ``d`` over ``x`` ``(N, 1, 28, 28)`` in batches (the last partial one dropped)."""
    outs = torch.cat([d(x[i: i + batch]).flatten() for i in range(0, len(x) - batch + 1, batch)])
    return float(outs.mean()), float(torch.sign(outs).mean())


def measure(run: str, *, n: int = 1000, batch: int = 64, seed: int = 0) -> dict[str, float]:
    """Mean discriminator outputs of ``run`` (folder or ``last.pt``) on training, held-out and generated digits."""
    state = load_checkpoint(resolve_checkpoint(run))
    cfg = state["config"]
    plugin = get_plugin(cfg["plugin"])
    g, d = plugin.build(cfg)
    g.load_state_dict(state["generator"])
    d.load_state_dict(state["discriminator"])
    g.eval()
    d.train()  # batch statistics, as in training
    gen = torch.Generator().manual_seed(seed)
    train = MnistDataset(cfg["data"], split="train").images.float()
    test = MnistDataset(cfg["data"], split="test").images.float()
    train = train[torch.randperm(len(train), generator=gen)[:n]]
    test = test[:n]
    with torch.no_grad():
        fake = g(plugin.latent(len(test), cfg, generator=gen))
    (d_train, r_t), (d_test, _), (d_fake, _) = (_mean_output(d, x, batch) for x in (train, test, fake))
    return {"step": int(state["step"]), "d_train": d_train, "d_heldout": d_test, "d_fake": d_fake,
            "gap": d_train - d_test, "r_t": r_t}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="LABEL=RUN")
    parser.add_argument("-n", type=int, default=1000, help="digits per set (default 1000)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| run | step | D(train) | D(held-out) | D(fake) | train − held-out | r_t = E[sign D(train)] |")
    print("|---|---|---|---|---|---|---|")
    for item in args.runs:
        label, _, run = item.rpartition("=")
        m = measure(run, n=args.n, batch=args.batch, seed=args.seed)
        print(f"| {label or run} | {m['step']} | {m['d_train']:.2f} | {m['d_heldout']:.2f} | {m['d_fake']:.2f} | "
              f"{m['gap']:.2f} | {m['r_t']:.2f} |")


if __name__ == "__main__":
    main()
