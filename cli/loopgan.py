"""``loopgan``: train, sample and evaluate GAN plugins; benchmark adversarial losses.

Thin: every command parses its arguments and calls one library function. Each command registers its own handler with
``set_defaults(func=...)``; command groups living in other modules register themselves through a
``register(subparsers)`` function listed in :data:`COMMAND_GROUPS`.

Errors a user can cause (unknown plugin or loss, bad ``--set``, missing IDX files, corrupt checkpoint, diverged
training) print one line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

# Modules that add a command group with ``register(subparsers)``. ``loopgan_cli.loopgan_data`` (the ``data`` group)
# is written by another engineer; until it lands, a missing module is skipped (see _register_groups).
COMMAND_GROUPS = ("loopgan_cli.loopgan_data",)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True))


# ----------------------------------------------------------------------------------------------------- handlers
def cmd_plugins(args: argparse.Namespace) -> None:
    from gan_plugins.api import list_plugins

    infos = list_plugins(probe=not args.no_probe)
    if args.json:
        _print_json([vars(i) for i in infos])
        return
    for i in infos:
        extra = f"  ({i.error})" if i.error else ""
        print(f"{i.name:<16} {i.distribution} {i.version:<10} {i.value:<36} {i.status}{extra}")


def cmd_train(args: argparse.Namespace) -> None:
    from gan_plugins.train import parse_overrides, train

    result = train(args.plugin, data=args.data, loss=args.loss, out=args.out, steps=args.steps,
                   config_file=args.config, overrides=parse_overrides(args.set), resume=args.resume,
                   progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        last = result.history[-1] if result.history else {}
        losses = ", ".join(f"{k}={last[k]:.4f}" for k in ("loss_d", "loss_g") if k in last)
        print(f"trained {args.plugin}/{args.loss} to step {result.step} -> {result.run_dir / 'last.pt'}"
              + (f" ({losses})" if losses else ""))
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def cmd_sample(args: argparse.Namespace) -> None:
    import torch

    from gan_plugins.pretrained import load_generator

    plugin, generator, cfg = load_generator(args.model)
    z = plugin.latent(args.n, cfg, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        samples = torch.cat([generator(z[i: i + 256]) for i in range(0, args.n, 256)])
    fmt = args.format or plugin.formats[0]  # each plugin's natural output: png for images, wav for audio
    paths = plugin.save_samples(samples, Path(args.out), fmt=fmt, config=cfg)
    grid = plugin.save_grid(samples[:64], Path(args.out) / "grid.png", cfg) if fmt == "png" else None
    print(f"wrote {len(paths)} file(s) ({fmt}) to {args.out}" + (f" (preview {grid})" if grid else ""))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from gan_plugins.metrics.mnist import MnistEvaluator
    from gan_plugins.pretrained import load_generator

    plugin, generator, cfg = load_generator(args.model)
    ev = MnistEvaluator(lambda n, g: plugin.latent(n, cfg, generator=g), n_samples=args.n, seed=args.seed,
                        data=args.data)
    scores = ev(generator)
    report = {"fd": scores["fd"], "fd_floor": ev.floor, "fd_ceiling": ev.ceiling, **scores, "n": ev.n_samples}
    if args.json:
        _print_json(report)
        return
    print(f"Fréchet distance {scores['fd']:.2f}  (floor, held-out real: {ev.floor:.2f}; ceiling, noise: "
          f"{ev.ceiling:.1f}; {ev.n_samples} samples)")
    print(f"class coverage {scores['coverage']:.0f}/10, KL(class histogram || uniform) {scores['kl_uniform']:.4f}, "
          f"mean confidence {scores['confidence']:.3f}, confident (>0.9) {scores['confident_frac']:.3f}")


def cmd_pretrained(args: argparse.Namespace) -> None:
    from gan_plugins.pretrained import available_pretrained, pretrained_info

    rows = [{"name": n, **pretrained_info(n)} for n in available_pretrained()]
    if args.json:
        _print_json(rows)
        return
    for r in rows:
        print(f"{r['name']:<16} {r.get('description', '')}")


def cmd_benchmark_losses(args: argparse.Namespace) -> None:
    from gan_plugins.metrics.loss_benchmark import run_loss_benchmark
    from gan_plugins.train import parse_overrides

    losses = [s for s in args.losses.split(",") if s] if args.losses else None
    run_loss_benchmark(args.out, losses=losses, seeds=args.seeds, steps=args.steps, evals=args.evals,
                       overrides=parse_overrides(args.set), progress=not args.no_progress)
    print((Path(args.out) / "summary.md").read_text(), end="")


# ------------------------------------------------------------------------------------------------------ parser
def _register_groups(subparsers) -> None:
    for name in COMMAND_GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet: the group is simply absent
                continue
            raise
        module.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="loopgan", description="GAN plugins: train, sample, evaluate, benchmark.")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed GAN plugins (name, distribution, status)")
    p.add_argument("--no-probe", action="store_true", help="do not import plugins (status 'not loaded')")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("train", help="train a plugin")
    p.add_argument("plugin")
    p.add_argument("--data", default="mnist", help="'mnist' (bundled digits), an IDX folder, or plugin data")
    p.add_argument("--loss", required=True)
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--steps", type=int, default=None, help="total generator steps")
    p.add_argument("--config", type=Path, default=None, help="JSON or TOML file of settings")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    p.add_argument("--resume", action="store_true", help="continue RUN/last.pt exactly")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a run, checkpoint or bundled model")
    p.add_argument("model", metavar="RUN_OR_NAME")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--format", default=None, choices=("png", "npy", "wav"),
                   help="default: the plugin's first format (png for dcgan, wav for gansynth)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="Fréchet distance (with floor and ceiling) and class coverage on MNIST")
    p.add_argument("model", metavar="RUN_OR_NAME")
    p.add_argument("--data", default="mnist")
    p.add_argument("-n", type=int, default=None, help="samples (default: size of the held-out split)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("pretrained", help="list bundled trained models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pretrained)

    p = sub.add_parser("benchmark", help="benchmarks")
    bsub = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    b = bsub.add_parser("losses", help="every adversarial loss x seeds on MNIST")
    b.add_argument("--seeds", type=int, default=3)
    b.add_argument("--steps", type=int, default=1500)
    b.add_argument("--evals", type=int, default=10, help="Fréchet-distance evaluations per run")
    b.add_argument("--losses", default="", help="comma-separated subset (default: all)")
    b.add_argument("--out", type=Path, default=Path("runs/benchmark-losses"))
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=cmd_benchmark_losses)

    _register_groups(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from specrep.errors import SpecrepError

    try:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        args.func(args)
    except (SpecrepError, OSError) as exc:
        print(f"loopgan: error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("loopgan: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
