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
import math
import os
import sys
from pathlib import Path

from specrep.errors import ParameterError

# Modules that add a command group with ``register(subparsers)``: ``data`` and ``walk``/``demo``.
COMMAND_GROUPS = ("loopgan_cli.loopgan_data", "loopgan_cli.loopgan_walk", "loopgan_cli.loopgan_studio")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _print_json(obj) -> None:
    print(json.dumps(_finite(obj), indent=2, sort_keys=True, allow_nan=False))


def _finite(obj):
    """``obj`` with every non-finite float as None: JSON has no inf or NaN (e.g. the attack time of noise)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _cell(value, spec: str) -> str:
    """A table cell: the number in ``spec``, or "-" when it was not computed (None)."""
    return "-" if value is None else format(value, spec)


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


#: Where ``loopgan train --data FILE --shape ... --sample-rate ...`` writes FILE's source descriptor.
TRAIN_SOURCE = "data-source.json"


def _train_data(args: argparse.Namespace) -> str:
    """``--data``, or the source descriptor that ``--shape/--dtype/--offset/--sample-rate`` make of it.

    A plugin's ``dataset(data, config)`` hook takes one string, so the flags become a descriptor
    (:mod:`gan_plugins.data.loops.source`) written to ``OUT/data-source.json``; the run's config then names it and
    every later command on the run (``--resume``, ``sample``, ``evaluate``) opens the data through it. On
    ``--resume`` the flags are not used: the data is the run's own, as with ``--data``.
    """
    if args.shape is None and args.dtype is None and not args.offset and args.sample_rate is None:
        return args.data
    from gan_plugins.io.checkpoint import LAST

    if args.resume or (args.out / LAST).exists():  # train() resumes from, or refuses, the run as it is
        return args.data
    if args.sample_rate is None:
        raise ParameterError(f"{args.data}: training on a raw memmap or a plain .npy needs --sample-rate SR as well")
    from gan_plugins.data.loops.storage import write_descriptor

    return str(write_descriptor(args.out / TRAIN_SOURCE, args.data, shape=args.shape, dtype=args.dtype,
                                offset=args.offset, sample_rate=args.sample_rate))


def cmd_train(args: argparse.Namespace) -> None:
    from gan_plugins.config import parse_overrides
    from gan_plugins.training.distributed import leave_process_group
    from gan_plugins.training.trainer import train

    callbacks = []
    if args.cpu_minutes is not None:
        from gan_plugins.training.callbacks import CPUBudget

        callbacks.append(CPUBudget(args.cpu_minutes * 60.0))
    result = train(args.plugin, data=_train_data(args), loss=args.loss, out=args.out, steps=args.steps,
                   config_file=args.config, overrides=parse_overrides(args.set), resume=args.resume,
                   progress=not args.no_progress, callbacks=callbacks)
    if int(os.environ.get("RANK", "0")) == 0:
        last = result.history[-1] if result.history else {}
        losses = ", ".join(f"{k}={last[k]:.4f}" for k in ("loss_d", "loss_g") if k in last)
        print(f"trained {args.plugin}/{args.loss} to step {result.step} -> {result.run_dir / 'last.pt'}"
              + (f" ({losses})" if losses else ""))
    leave_process_group()  # every rank together: a rank that leaves first can make another abort


def cmd_sample(args: argparse.Namespace) -> None:
    from gan_plugins.config import parse_overrides
    from gan_plugins.io.model import load_model

    model = load_model(args.model).with_settings(parse_overrides(args.set))
    samples = model.generate(model.latent(args.n, seed=args.seed), batch=256)
    plugin, cfg = model.plugin, model.config
    fmt = args.format or plugin.formats[0]  # each plugin's natural output: png for images, wav for audio
    paths = plugin.save_samples(samples, Path(args.out), fmt=fmt, config=cfg)
    grid = plugin.save_grid(samples[:64], Path(args.out) / "grid.png", cfg) if fmt == "png" else None
    print(f"wrote {len(paths)} file(s) ({fmt}) to {args.out}" + (f" (preview {grid})" if grid else ""))


def cmd_evaluate(args: argparse.Namespace) -> None:
    if args.real or args.fake:
        return cmd_evaluate_audio(args)
    if args.model is None:
        raise ParameterError("give a model (RUN_OR_NAME) for MNIST, or --real and --fake for audio")
    from gan_plugins.io.model import load_model
    from gan_plugins.metrics.mnist import MnistEvaluator

    model = load_model(args.model)
    ev = MnistEvaluator(lambda n, g: model.latent(n, generator=g), n_samples=args.n, seed=args.seed, data=args.data)
    from gan_plugins.metrics.class_grid import class_shares, save_class_grid

    images = ev.generate(model.generator)
    scores = ev.score_images(images)
    probs = ev.classify(images)
    shares = [round(float(v), 4) for v in class_shares(probs)]
    report = {"fd": scores["fd"], "fd_floor": ev.floor, "fd_noise": ev.ceiling, **scores, "n": ev.n_samples,
              "class_share": shares}
    if args.class_grid:
        save_class_grid(images.numpy(), probs, args.class_grid,
                        title=f"{args.model}: {ev.n_samples} samples (seed {args.seed}), one row per predicted class")
        report["class_grid"] = str(args.class_grid)
    if args.json:
        _print_json(report)
        return
    print(f"Fréchet distance {scores['fd']:.2f}  (floor, held-out real: {ev.floor:.2f}; noise reference: "
          f"{ev.ceiling:.1f}; {ev.n_samples} samples)")
    print(f"class coverage {scores['coverage']:.0f}/10, KL(class histogram || uniform) {scores['kl_uniform']:.4f}, "
          f"mean confidence {scores['confidence']:.3f}, confident (>0.9) {scores['confident_frac']:.3f}")
    print("share per predicted class: " + ", ".join(f"{c} {100 * v:.1f} %" for c, v in enumerate(shares)))
    if args.class_grid:
        print(f"wrote {args.class_grid}")


def cmd_evaluate_audio(args: argparse.Namespace) -> None:
    from gan_plugins.metrics.audio_eval import evaluate_audio
    from loopgan_cli.loopgan_data import source_flags

    if not (args.real and args.fake):
        raise ParameterError("audio evaluation needs both --real and --fake (a loop dataset or a folder of audio)")
    report = evaluate_audio(args.real, args.fake, k=args.k, limit=args.n or 2000, seed=args.seed,
                            source=source_flags(args))
    if args.json:
        _print_json(report)
        return
    f, lo, hi = report["fake_scores"], report["floor"], report["noise"]
    print(f"{report['n_fake']} generated vs {report['n_real']} real loops at {report['sample_rate']} Hz "
          f"(NDB bins: k={report['k']}; floor: {report['n_held_out']} held-out vs {report['n_reference']} reference "
          f"loops, split by {'track' if report['floor_split'] == 'tracks' else 'row'})")
    print(f"{'':22}{'fake':>10}{'floor':>10}{'noise':>10}")
    rows = [("ndb_k", "NDB/K", ".3f"), ("jsd", "JSD", ".3f"), ("fdd", "FDD", ".3f")]
    if "c2st_accuracy" in f:
        rows += [("c2st_accuracy", "C2ST accuracy", ".3f"), ("c2st_auc", "C2ST AUC", ".3f"),
                 ("embedding_fd", "embedding FD", ".2f"),
                 ("artefact_index", "artefact index (pp)", ".2f"),
                 ("artefact_modulation_db", "8-40 Hz excess dB", ".2f"),
                 ("onset_sharpness_ms", "attack time ms", ".1f")]
    for key, label, spec in rows:
        print(f"{label:<22}" + "".join(f"{_cell(row.get(key), spec):>10}" for row in (f, lo, hi)))
    if f.get("c2st_accuracy") is not None:
        print(f"C2ST on {report['c2st_loops']} + {report['c2st_loops']} loops: fake {f['c2st_accuracy']:.3f} "
              f"[{f['c2st_low']:.3f}, {f['c2st_high']:.3f}], floor {lo['c2st_accuracy']:.3f} "
              f"[{lo['c2st_low']:.3f}, {lo['c2st_high']:.3f}] (0.5 = indistinguishable; the interval leaves out "
              "the training's own randomness: read differences under 0.05 as none)")
    for line in report["skipped"]:
        print(f"skipped {line}")


def _labelled_runs(items: list[str]) -> dict[str, str]:
    """``["LABEL=RUN" or "RUN", ...]`` -> ``{label: run}`` (a bare run is labelled by its folder name)."""
    runs = {}
    for item in items:
        label, sep, path = item.partition("=")
        runs[label if sep else Path(item).name] = path if sep else item
    return runs


def _command_line() -> str:
    """The command as typed, for the report's header."""
    import shlex

    return "loopgan " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def cmd_benchmark_representations(args: argparse.Namespace) -> None:
    from gan_plugins.studies.representations import benchmark_representations, write_report

    result = benchmark_representations(_labelled_runs(args.runs), args.data, n=args.n, n_real=args.n_real, k=args.k,
                                       seed=args.seed, out_dir=args.out_dir)
    path = write_report(result, args.report or args.out_dir / "report.md", command=_command_line())
    if args.json:
        _print_json(result)
    else:
        print(path.read_text(), end="")


def cmd_pretrained(args: argparse.Namespace) -> None:
    from gan_plugins.pretrained import available_pretrained, pretrained_info

    rows = [{"name": n, **pretrained_info(n)} for n in available_pretrained()]
    if args.json:
        _print_json(rows)
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        print(f"{r['name']:<{width}}  {r.get('description', '')}")


def cmd_benchmark_progressive(args: argparse.Namespace) -> None:
    from gan_plugins.studies.progressive import benchmark_progressive, write_progressive_report

    result = benchmark_progressive(_labelled_runs(args.runs), args.data, n=args.n, n_real=args.n_real, k=args.k,
                                   seed=args.seed, out_dir=args.out_dir)
    path = write_progressive_report(result, args.report or args.out_dir / "report.md", command=_command_line())
    if args.json:
        _print_json({k: v for k, v in result.items() if k != "boundaries"})
    else:
        print(path.read_text(), end="")


def cmd_benchmark_losses(args: argparse.Namespace) -> None:
    from gan_plugins.config import parse_overrides
    from gan_plugins.studies.loss_plan import parse_shard
    from gan_plugins.studies.losses import rewrite_report, run_loss_benchmark

    if args.report_only:
        rewrite_report(args.out)
        print((Path(args.out) / "summary.md").read_text(), end="")
        return

    losses = [s for s in args.losses.split(",") if s] if args.losses else None
    given = {k: getattr(args, k) for k in ("seeds", "neighbourhood_seeds", "cap", "eval_every", "patience",
                                           "min_improvement")
             if getattr(args, k) is not None}  # the rest: BENCHMARK_DEFAULTS of the library
    if args.neighbourhood is not None:
        given["neighbourhood"] = args.neighbourhood == "on"
    run_loss_benchmark(args.out, losses=losses, width=args.width, overrides=parse_overrides(args.set),
                       shard=parse_shard(args.shard), budget_s=args.budget_hours * 3600 if args.budget_hours else None,
                       progress=not args.no_progress, **given)
    print((Path(args.out) / "summary.md").read_text(), end="")


# ------------------------------------------------------------------------------------------------------ parser
def _register_groups(subparsers) -> None:
    for name in COMMAND_GROUPS:
        importlib.import_module(name).register(subparsers)


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
    p.add_argument("--data", default="mnist", help="'mnist' (bundled digits), an IDX folder, or plugin data (loops: "
                                                   "a .npy with sidecar, a source descriptor, or a raw memmap / plain "
                                                   ".npy described by the flags below)")
    p.add_argument("--loss", required=True)
    p.add_argument("--out", required=True, type=Path, help="run folder")
    from loopgan_cli.loopgan_data import add_source_flags

    add_source_flags(p)  # a raw memmap or plain .npy: written as a source descriptor OUT/data-source.json
    p.add_argument("--steps", type=int, default=None, help="total generator steps")
    p.add_argument("--config", type=Path, default=None, help="JSON or TOML file of settings")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    p.add_argument("--resume", action="store_true",
                   help="continue RUN/last.pt exactly; with --set, change only lr_g, lr_d, ema_decay or the "
                        "*_every intervals from here on (recorded in RUN/phases.jsonl)")
    p.add_argument("--cpu-minutes", type=float, default=None, metavar="M",
                   help="also stop once the run has used M minutes of CPU time (summed over resumes; for "
                        "equal-budget comparisons)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a run, checkpoint or bundled model")
    p.add_argument("model", metavar="RUN_OR_NAME")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--format", default=None, choices=("png", "npy", "wav"),
                   help="default: the plugin's first format (png for dcgan, wav for gansynth)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a rendering setting, e.g. gl_n_iter=100 (gansynth: gl_n_iter, gl_init, mel_inverse, "
                        "mel_nnls_iter)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="MNIST: Fréchet distance and class coverage of a model; audio: NDB/K and "
                                         "FDD of --fake loops against --real loops (with floor and noise reference)")
    p.add_argument("model", metavar="RUN_OR_NAME", nargs="?")
    p.add_argument("--real", help="audio: a loop dataset (.npy with sidecar, bare .npy, raw memmap, source "
                                  "descriptor) or a folder of audio files")
    p.add_argument("--fake", help="audio: generated loops, a dataset or a folder (e.g. from loopgan sample)")
    add_source_flags(p)  # audio: they describe whichever of --real/--fake is a bare .npy or raw memmap
    p.add_argument("-k", type=int, default=50, help="audio: NDB bins (GANSynth: 50)")
    p.add_argument("--data", default="mnist")
    p.add_argument("-n", type=int, default=None, help="samples (default: size of the held-out split)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--class-grid", type=Path, default=None, metavar="PNG",
                   help="MNIST: also write the samples as one row per predicted class, with each class's share")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("pretrained", help="list bundled trained models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pretrained)

    p = sub.add_parser("benchmark", help="benchmarks")
    bsub = p.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    b = bsub.add_parser("losses", help="every adversarial loss x hyper-parameter neighbourhood x seeds on MNIST, "
                                       "each run until its FD stops improving; resumable, shardable")
    # defaults (None here): gan_plugins.studies.losses.BENCHMARK_DEFAULTS, see docs/mnist-benchmark.md
    b.add_argument("--seeds", type=int, default=None, help="seeds of each loss's default point (default 3)")
    b.add_argument("--neighbourhood-seeds", type=int, default=None,
                   help="seeds of each neighbourhood point; Lucic et al. train each setting once (default 1)")
    b.add_argument("--neighbourhood", choices=("on", "off"), default=None,
                   help="also train lr x1/4, x4 (wgan: clip x1/4, x4; wgan-gp: lambda x0.1, x10) (default on)")
    b.add_argument("--cap", type=int, default=None, help="maximum generator steps per run (default 30000)")
    b.add_argument("--eval-every", type=int, default=None,
                   help="generator steps between FD evaluations (default 1000)")
    b.add_argument("--patience", type=int, default=None,
                   help="evaluations without improvement that stop a run (default 4)")
    b.add_argument("--min-improvement", type=float, default=None,
                   help="relative FD drop that counts as an improvement (default 0.05)")
    b.add_argument("--width", type=int, default=None, help="DCGAN width (default: the plugin's)")
    b.add_argument("--shard", default="0/1", help="i/n: train runs i, i+n, ... of the plan (one process per core)")
    b.add_argument("--budget-hours", type=float, default=None,
                   help="stop cleanly (resumable) before a segment would start after this many hours")
    b.add_argument("--losses", default="", help="comma-separated subset (default: all)")
    b.add_argument("--out", type=Path, default=Path("runs/benchmark-losses"))
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--no-progress", action="store_true")
    b.add_argument("--report-only", action="store_true",
                   help="train nothing: rewrite the report of --out from its plan.json and runs.jsonl")
    b.set_defaults(func=cmd_benchmark_losses)

    for name, helptext, func in (
            ("representations", "trained audio models side by side (IF vs phase reconstruction)",
             cmd_benchmark_representations),
            ("progressive", "progressive growing vs fixed resolution: scores, images seen, wall-clock",
             cmd_benchmark_progressive)):
        b = bsub.add_parser(name, help=helptext)
        b.add_argument("runs", nargs="+", metavar="[LABEL=]RUN", help="run folders or checkpoints to compare")
        b.add_argument("--data", required=True, help="the loop dataset they were trained on")
        b.add_argument("-n", type=int, default=500, help="generated loops per model")
        b.add_argument("--n-real", type=int, default=1000, help="real loops that define the NDB bins")
        b.add_argument("-k", type=int, default=50, help="NDB bins")
        b.add_argument("--seed", type=int, default=0)
        b.add_argument("--out-dir", type=Path, default=Path(f"out/benchmark-{name}"),
                       help="audio examples, spectrograms and training curves (default: %(default)s)")
        b.add_argument("--report", type=Path, default=None, help="Markdown report (default: OUT_DIR/report.md)")
        b.add_argument("--json", action="store_true")
        b.set_defaults(func=func)

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
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (SpecrepError, OSError) as exc:
        print(f"loopgan: error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("loopgan: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
