"""``loopgan data``: build, describe and inspect loop datasets (procedural synthesis, a folder of audio, summaries).

Thin: each handler parses nothing itself and calls one library function. :func:`register` adds the group to the
``loopgan`` parser; handlers raise :class:`specrep.errors.SpecrepError` (or ``OSError``) for anything a user can
cause, which ``loopgan`` prints as one line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _shape(text: str) -> tuple[int, int]:
    try:
        n, samples = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shape {text!r} must be N,SAMPLES (two integers)") from None
    return n, samples


def add_source_flags(p: argparse.ArgumentParser) -> None:
    """``--shape --dtype --offset --sample-rate``: describe a bare ``.npy`` or raw memmap (same flags everywhere)."""
    p.add_argument("--shape", type=_shape, default=None, metavar="N,SAMPLES", help="raw memmap: its shape")
    p.add_argument("--dtype", default=None, help="raw memmap: numpy dtype (float32, int16, ...)")
    p.add_argument("--offset", type=int, default=0, help="raw memmap: header bytes to skip")
    p.add_argument("--sample-rate", type=int, default=None, help="raw memmap or bare .npy: sample rate in Hz")


def source_flags(args: argparse.Namespace) -> dict:
    """The values of :func:`add_source_flags`' flags as ``open_loops`` keyword arguments."""
    return {"shape": args.shape, "dtype": args.dtype, "offset": args.offset, "sample_rate": args.sample_rate}


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


def cmd_synth(args: argparse.Namespace) -> None:
    from gan_plugins.data.loops.storage import open_loops
    from gan_plugins.data.loops.summary import summarize
    from gan_plugins.data.procedural.synth_dataset import write_synth_dataset

    path = write_synth_dataset(args.out, args.n, args.seconds, args.seed, args.sample_rate, styles=args.styles,
                               tempo_mode=args.tempo_mode, dtype=args.dtype, chunk=args.chunk,
                               workers=args.workers, progress=not args.no_progress)
    facts = summarize(*open_loops(path), max_scan=1)
    styles = ", ".join(f"{k} {v}" for k, v in facts.get("styles", {}).items())
    print(f"wrote {facts['n']} loops of {facts['seconds_per_loop']:g} s at {facts['sample_rate']} Hz "
          f"({facts['dtype']}, {_mb(facts['bytes'])}) to {path} + {path.with_suffix('.json').name}; {styles}")


def cmd_info(args: argparse.Namespace) -> None:
    from gan_plugins.data.loops.storage import open_loops
    from gan_plugins.data.loops.summary import plot_montage, summarize

    data, info = open_loops(args.data, **source_flags(args))
    facts = summarize(data, info, max_scan=args.max_scan)
    if args.plot:
        facts["plot"] = str(plot_montage(data, info, args.plot, count=args.plot_count))
    if args.json:
        print(json.dumps(facts, indent=2, sort_keys=True))
        return
    sr = f"{facts['sample_rate']} Hz" if facts["sample_rate"] else "unknown sample rate"
    if facts["seconds_per_loop"]:
        hours = facts["total_hours"]
        total = f"{hours:.2f} h" if hours >= 1 else f"{hours * 60:.1f} min"
        dur = f"{facts['seconds_per_loop']:g} s each, {total} in all"
    else:
        dur = f"{facts['samples']} samples each"
    print(f"{facts['path']}: {facts['n']} loops, {dur}, {sr}, {facts['dtype']}, {_mb(facts['bytes'])}")
    if facts["rms_dbfs"]:
        lo, mid, hi = facts["rms_dbfs"]
        print(f"level (RMS dBFS) over {facts['scanned']} loops: min {lo:.1f}, median {mid:.1f}, max {hi:.1f}; "
              f"peak max {facts['peak_max']:.3f}; silent (< -60 dBFS) {facts['silent_loops']}")
    if facts["non_finite_loops"]:
        print(f"WARNING: {facts['non_finite_loops']} scanned loops contain NaN or Inf")
    if facts.get("created_by"):
        print(f"created by: {facts['created_by']}; source files: {facts['source_files']}")
    if facts.get("styles"):
        print("styles: " + ", ".join(f"{k} {v}" for k, v in facts["styles"].items()))
    if facts.get("bpm"):
        print(f"tempo: {facts['bpm'][0]:.1f}-{facts['bpm'][1]:.1f} BPM")
    if facts.get("source_bpm"):
        print(f"source tempo (estimated): {facts['source_bpm'][0]:.1f}-{facts['source_bpm'][1]:.1f} BPM")
    if args.plot:
        print(f"montage: {facts['plot']}")


def cmd_prepare(args: argparse.Namespace) -> None:
    from gan_plugins.data.loops.prepare import NoUsableAudioError, prepare_folder

    try:
        report = prepare_folder(args.audio_dir, args.out, seconds=args.seconds, sample_rate=args.sample_rate,
                                remainder=args.remainder, min_fill=args.min_fill, silence_db=args.silence_db,
                                dtype=args.dtype, workers=args.workers, progress=not args.no_progress,
                                align=args.align, bars=args.bars, normalize=args.normalize)
    except NoUsableAudioError as exc:
        print("\n".join(exc.report.summary()))
        raise
    print("\n".join(report.summary()))
    print(f"wrote {report.loops} loops of {args.seconds:g} s at {args.sample_rate} Hz to {report.out} + "
          f"{report.out.with_suffix('.json').name}")


def cmd_wav(args: argparse.Namespace) -> None:
    from gan_plugins.data.loops.listen import parse_rows, write_loop_files
    from gan_plugins.data.loops.storage import open_loops

    data, info = open_loops(args.data, **source_flags(args))
    rows = parse_rows(args.rows, len(data))
    paths = write_loop_files(data, info, rows, args.out, fmt=args.format)
    print(f"wrote {len(paths)} loops to {args.out}/ ({paths[0].name}{' ...' if len(paths) > 1 else ''})")


def cmd_describe(args: argparse.Namespace) -> None:
    from gan_plugins.data.loops.storage import open_loops, write_descriptor

    out = write_descriptor(args.out, args.data, shape=args.shape, dtype=args.dtype, offset=args.offset,
                           sample_rate=args.sample_rate)
    _, info = open_loops(out)
    print(f"{out} -> {info.path}: {info.n} loops of {info.samples} samples ({info.dtype}) at {info.sample_rate} Hz; "
          f"use it wherever a dataset is accepted (loopgan train --data {out})")


#: The choices of the data commands' flags, spelled out so that building the parser (``--help``, argument errors)
#: imports neither numpy nor the DSP behind them; tests/cli check each against the library constant it mirrors
#: (prepare.ALIGNS, NORMALIZE, REMAINDERS; storage.DTYPES; procedural TEMPO_MODES and STYLES).
CHOICES = {
    "align": ("none", "bars"),
    "normalize": ("none", "peak"),
    "remainder": ("pad", "drop"),
    "dtype": ("float32", "int16"),
    "tempo_mode": ("bars", "normalized"),
    "styles": ("house", "techno", "breakbeat", "electro", "dnb"),
}


def register(subparsers) -> None:
    """Add the ``data`` command group (``synth``, ``prepare``, ``info``, ``describe``) to a ``loopgan`` subparsers
    object."""
    group = subparsers.add_parser("data", help="build and inspect loop datasets")
    sub = group.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")

    p = sub.add_parser("synth", help="render procedural electronic loops (the embedded default dataset)")
    p.add_argument("out", type=Path, metavar="OUT.npy")
    p.add_argument("--n", type=int, required=True, help="number of loops")
    p.add_argument("--seconds", type=float, default=2.0, help="loop duration (default 2 = one bar at 120 BPM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--styles", nargs="+", choices=CHOICES["styles"], default=None, help="default: all")
    p.add_argument("--tempo-mode", choices=CHOICES["tempo_mode"], default="bars",
                   help="bars: whole bars at a style tempo; normalized: one bar fills the loop")
    p.add_argument("--dtype", choices=CHOICES["dtype"], default="float32")
    p.add_argument("--chunk", type=int, default=64, help="loops rendered per step")
    p.add_argument("--workers", type=int, default=1, help="rendering processes")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("prepare", help="cut a folder of audio files (any format, rate, channels) into loops")
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR")
    p.add_argument("out", type=Path, metavar="OUT.npy")
    p.add_argument("--seconds", type=float, required=True, help="loop duration")
    p.add_argument("--sample-rate", type=int, default=16000, help="target rate (files are resampled)")
    p.add_argument("--align", choices=CHOICES["align"], default="none",
                   help="none: windows from each file's start; bars: estimate tempo and downbeat, cut whole bars "
                        "and resample each --bars slice to --seconds")
    p.add_argument("--bars", type=int, default=1, help="--align bars: bars per loop (default 1)")
    p.add_argument("--normalize", choices=CHOICES["normalize"], default="none",
                   help="peak: scale each file to a full-scale peak before cutting (renders that exceed ±1)")
    p.add_argument("--remainder", choices=CHOICES["remainder"], default="pad",
                   help="pad the tail of each file to a loop (if it fills --min-fill of one) or drop it")
    p.add_argument("--min-fill", type=float, default=0.5, help="shortest tail padded, as a fraction of a loop")
    p.add_argument("--silence-db", type=float, default=-60.0, help="drop loops below this RMS level (dBFS)")
    p.add_argument("--dtype", choices=CHOICES["dtype"], default="float32")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: CPU count)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("info", help="count, duration, sample rate, level range, spectrogram montage")
    p.add_argument("data", type=Path, metavar="DATA")
    add_source_flags(p)
    p.add_argument("--plot", type=Path, default=None, metavar="PNG", help="write a spectrogram montage")
    p.add_argument("--plot-count", type=int, default=8, help="loops in the montage")
    p.add_argument("--max-scan", type=int, default=2000, help="loops read for the level statistics")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("wav", help="write chosen loops as audio files to listen to (named after row, source file "
                                   "and offset)")
    p.add_argument("data", type=Path, metavar="DATA")
    p.add_argument("out", type=Path, metavar="OUT_DIR")
    p.add_argument("--rows", default="0-7", help="rows and inclusive ranges, e.g. 0-7,100 (default 0-7)")
    p.add_argument("--format", choices=("wav", "flac", "ogg"), default="wav")
    add_source_flags(p)
    p.set_defaults(func=cmd_wav)

    p = sub.add_parser("describe", help="write a source descriptor (JSON) for a bare .npy or raw memmap, so one path "
                                        "opens it anywhere (loopgan train --data OUT.json); the data is not copied")
    p.add_argument("data", type=Path, metavar="DATA")
    p.add_argument("out", type=Path, metavar="OUT.json")
    p.add_argument("--shape", type=_shape, default=None, metavar="N,SAMPLES", help="raw memmap: its shape")
    p.add_argument("--dtype", default=None, help="raw memmap: numpy dtype (float32, int16, ...)")
    p.add_argument("--offset", type=int, default=0, help="raw memmap: header bytes to skip")
    p.add_argument("--sample-rate", type=int, required=True, help="sample rate in Hz")
    p.set_defaults(func=cmd_describe)
