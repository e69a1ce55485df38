"""``specrep-cli``: round trips and analysis of audio files through specrep chains.

Thin layer: parse arguments, call :mod:`specrep`, print. Every user error (bad file, bad parameter) ends with one
line on stderr and exit status 2; nothing is written when the input is bad.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from specrep.errors import AudioFileError, SpecrepError


def _require_input(path: str) -> None:
    """A missing input file is an argument error: say so before torch is imported (seconds on a laptop)."""
    if not path.startswith("example:") and not os.path.exists(path):
        raise AudioFileError(f"{path}: no such file")


def roundtrip(args) -> int:
    _require_input(args.file)
    import torch

    import specrep
    from specrep import metrics

    overrides = {k: v for k, v in (("n_fft", args.n_fft), ("hop_length", args.hop_length), ("n_iter", args.n_iter),
                                   ("n_mels", args.n_mels)) if v is not None}
    wave_np, sr = specrep.io.load(args.file, sample_rate=args.sample_rate)
    chain = specrep.chain(args.chain, sample_rate=sr, **overrides)
    wave = torch.from_numpy(wave_np)
    with torch.no_grad():
        start = time.perf_counter()
        feats = chain(wave)
        rebuilt = chain.inverse(feats, length=wave.shape[-1])
        elapsed = time.perf_counter() - start
    params = specrep.STFTParams(sample_rate=sr, n_fft=1024, hop_length=256)
    seconds = wave.shape[-1] / sr
    result = {
        "file": args.file,
        "chain": args.chain,
        "sample_rate": sr,
        "seconds": round(seconds, 4),
        "feature_shape": list(feats.shape),
        "snr_db": round(metrics.snr_db(wave, rebuilt).item(), 3),
        "spectral_convergence_db": round(metrics.spectral_convergence_db(wave, rebuilt, params).item(), 3),
        "log_spectral_distance_db": round(metrics.log_spectral_distance(wave, rebuilt, params).item(), 4),
        "elapsed_s": round(elapsed, 4),
        "realtime_factor": round(seconds / elapsed, 2) if elapsed > 0 else None,
    }
    if args.output:
        result["output"] = str(specrep.io.save(args.output, rebuilt, sr))
    if args.plot:
        title = f"{args.chain}: SNR {result['snr_db']:.1f} dB, SC {result['spectral_convergence_db']:.1f} dB"
        result["plot"] = str(specrep.plotting.plot_roundtrip(wave, rebuilt, sr, args.plot, title=title))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.file}: {seconds:.2f} s at {sr} Hz through {args.chain} {tuple(feats.shape)}")
        print(f"  SNR {result['snr_db']:.2f} dB   spectral convergence {result['spectral_convergence_db']:.2f} dB   "
              f"LSD {result['log_spectral_distance_db']:.3f} dB")
        print(f"  analysis + synthesis {elapsed * 1000:.1f} ms ({result['realtime_factor']}x real time)")
        for key in ("output", "plot"):
            if key in result:
                print(f"  wrote {result[key]}")
    return 0


def analyze(args) -> int:
    _require_input(args.file)
    import torch

    import specrep
    wave_np, sr = specrep.io.load(args.file, sample_rate=args.sample_rate)
    wave = torch.from_numpy(wave_np)
    desc = specrep.descriptors.describe(wave, sr, n_fft=args.n_fft, hop_length=args.hop_length)
    summary = {name: {"mean": round(v.mean().item(), 4), "std": round(v.std().item(), 4)} for name, v in desc.items()}
    out = {"file": args.file, "sample_rate": sr, "seconds": round(wave.shape[-1] / sr, 4), "descriptors": summary}
    if args.plot:
        out["plot"] = str(specrep.plotting.plot_analysis(wave, sr, args.plot, n_fft=args.n_fft,
                                                         hop_length=args.hop_length, title=args.file))
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.file}: {out['seconds']:.2f} s at {sr} Hz")
        for name, s in summary.items():
            print(f"  {name:<15} mean {s['mean']:>10.3f}   std {s['std']:>10.3f}")
        if "plot" in out:
            print(f"  wrote {out['plot']}")
    return 0


def chains(args) -> int:
    import specrep
    names = specrep.available_chains()
    if args.json:
        print(json.dumps({"chains": [{"name": n, "channels": specrep.chain(n).n_channels} for n in names]}))
    else:
        for n in names:
            print(f"{n:<10} {specrep.chain(n).n_channels} channel(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="specrep-cli", description="Invertible spectral representations of audio.")
    sub = parser.add_subparsers(dest="command", required=True)

    rt = sub.add_parser("roundtrip", help="analyse a file through a chain and resynthesise it")
    rt.add_argument("file", help="audio file (any format libsndfile reads) or example:NAME")
    rt.add_argument("--chain", default="mag-if", help="preset (see `specrep-cli chains`), default mag-if")
    rt.add_argument("--sample-rate", type=int, help="resample to this rate first (Hz)")
    rt.add_argument("--n-fft", type=int)
    rt.add_argument("--hop-length", type=int)
    rt.add_argument("--n-iter", type=int, help="Griffin-Lim iterations (magnitude-only chains)")
    rt.add_argument("--n-mels", type=int, help="mel bands (mel chains)")
    rt.add_argument("-o", "--output", help="write the reconstruction here (.wav/.flac/.ogg)")
    rt.add_argument("--plot", help="write a comparison figure here (.png)")
    rt.add_argument("--json", action="store_true", help="print one JSON object")
    rt.set_defaults(func=roundtrip)

    an = sub.add_parser("analyze", help="spectrogram, instantaneous frequency and descriptors of a file")
    an.add_argument("file")
    an.add_argument("--plot", help="write the analysis sheet here (.png)")
    an.add_argument("--sample-rate", type=int)
    an.add_argument("--n-fft", type=int, default=1024)
    an.add_argument("--hop-length", type=int, default=256)
    an.add_argument("--json", action="store_true")
    an.set_defaults(func=analyze)

    ch = sub.add_parser("chains", help="list the preset chains")
    ch.add_argument("--json", action="store_true")
    ch.set_defaults(func=chains)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (SpecrepError, ValueError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"specrep-cli: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
