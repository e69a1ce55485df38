"""Does the way a DCGAN is sampled change how readable its digits are? FD and mean classifier confidence of 1,000
samples from the EMA and the raw generator, with batch-norm running statistics (eval) or batch statistics (train,
batches of 100), and with the latents scaled by 0.8 and 0.6 (truncation towards the mode).

    python benchmarks/bench_sampling_modes.py runs/explore/w64-ns
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_plugins.api import get_plugin  # noqa: E402
from gan_plugins.io.checkpoint import load_checkpoint  # noqa: E402
from gan_plugins.io.model import resolve_checkpoint  # noqa: E402
from gan_plugins.metrics.mnist import MnistEvaluator  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = load_checkpoint(resolve_checkpoint(args.run))
    cfg = state["config"]
    plugin = get_plugin(cfg["plugin"])
    g, _ = plugin.build(cfg)
    ev = MnistEvaluator()
    z = plugin.latent(1000, cfg, generator=torch.Generator().manual_seed(args.seed))
    print(f"{args.run} at step {state['step']}\n\n| weights | batch norm | latent scale | FD | confidence |")
    print("|---|---|---|---|---|")
    for key, mode, scale in (("ema", "eval", 1.0), ("ema", "train", 1.0), ("generator", "eval", 1.0),
                             ("generator", "train", 1.0), ("ema", "eval", 0.8), ("ema", "eval", 0.6)):
        g.load_state_dict(state[key])
        g.train(mode == "train")
        with torch.no_grad():
            x = torch.cat([g(z[i: i + 100] * scale) for i in range(0, len(z), 100)])
        s = ev.score_images(x)
        print(f"| {key} | {mode} | {scale:g} | {s['fd']:.1f} | {s['confidence']:.3f} |")


if __name__ == "__main__":
    main()
