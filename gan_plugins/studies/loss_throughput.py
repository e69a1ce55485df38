"""Training throughput of the loss benchmark's model: generator steps per second, per width and loss, on this machine.

Used to size the loss benchmark before launching it (``docs/mnist-benchmark.md``)::

    OMP_NUM_THREADS=1 python -m gan_plugins.studies.loss_throughput --widths 16,32,64 --steps 20

Each measurement builds and sets up a :class:`gan_plugins.training.trainer.Trainer` in a temporary folder,
runs ``warmup`` untimed steps,
then times ``steps`` calls of :meth:`Trainer.train_step` (no evaluation, logging or checkpoint inside the timing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.training.trainer import Trainer
from specrep.errors import check_positive_int

__all__ = ["measure_throughput"]


def measure_throughput(*, width: int, loss: str, steps: int = 20, warmup: int = 3, plugin: str = "dcgan",
                       data: str = "mnist", overrides: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Time ``steps`` generator steps of ``plugin`` at ``width`` with ``loss`` on the current torch thread setting.

    Parameters
    ----------
    width : int > 0
        The plugin's ``width`` setting.
    loss : str
        A registered loss; its literature defaults (``n_critic``, penalty) apply.
    steps, warmup : int > 0, int >= 0
        Timed and untimed generator steps.

    Returns
    -------
    dict
        ``width``, ``loss``, ``n_critic``, ``steps``, ``seconds`` (timed wall clock), ``steps_per_s``,
        ``d_updates_per_s`` (= steps_per_s x n_critic) and ``threads`` (``torch.get_num_threads()``).
    """
    check_positive_int("width", width)
    check_positive_int("steps", steps)
    if warmup < 0:
        check_positive_int("warmup", warmup)
    plug = get_plugin(plugin)
    over = {"width": width, "log_every": 10**9, "sample_every": 0, "ckpt_every": 0, **dict(overrides or {})}
    cfg = resolve_config(plug, loss=loss, data=data, overrides=over)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(plug, cfg, tmp, progress=False).setup()
        for _ in range(warmup):
            trainer.train_step()
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = time.perf_counter() - t0
    n_critic = int(cfg["n_critic"])
    return {"width": width, "loss": loss, "n_critic": n_critic, "steps": steps, "seconds": seconds,
            "steps_per_s": steps / seconds, "d_updates_per_s": steps * n_critic / seconds,
            "threads": torch.get_num_threads()}


def main(argv: Sequence[str] | None = None) -> None:
    """Print one JSON line per (width, loss)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", default="16,32,64")
    p.add_argument("--losses", default="non-saturating,wgan,wgan-gp")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args(argv)
    for width in (int(w) for w in args.widths.split(",")):
        for loss in args.losses.split(","):
            print(json.dumps(measure_throughput(width=width, loss=loss, steps=args.steps, warmup=args.warmup)),
                  flush=True)


if __name__ == "__main__":
    main()
