"""Benchmark (not a test): how long the command-line tools take as whole processes, against peers, in one run.

Each command runs as a fresh process with ``OMP_NUM_THREADS=1``; the figure is the best wall time of ``--repeat``
runs, the commands interleaved round by round so that a change of load hits all of them. Rows:

- ``loopgan --help``, ``specrep-cli --help`` and two argument errors (issue 30's goal: <= 0.5 s each), beside
  ``python -c "import torch"``, the floor of any command that computes;
- ``specrep-cli roundtrip CLIP -o OUT`` (the default mag-if chain: STFT, instantaneous frequency and back) against a
  librosa script doing the same as a whole process (load, ``librosa.stft``, magnitude and phase, ``librosa.istft``,
  write), and the magnitude-only chain with 32 Griffin-Lim iterations against ``librosa.griffinlim(n_iter=32)``.

CLIP is 3 s of a real recording bundled with audioflux (guitar chords), written to a temporary WAV at 16 kHz.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5] [--report docs/results/startup.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBROSA_ROUNDTRIP = """
import sys, numpy as np, librosa, soundfile as sf
y, sr = sf.read(sys.argv[1], dtype="float32")
S = librosa.stft(y, n_fft=1024, hop_length=256)
if sys.argv[3] == "exact":
    out = librosa.istft(np.abs(S) * np.exp(1j * np.angle(S)), hop_length=256, length=len(y))
else:
    out = librosa.griffinlim(np.abs(S), n_iter=32, hop_length=256, n_fft=1024, length=len(y), random_state=0)
sf.write(sys.argv[2], out, sr)
"""


def best_wall(cmds: dict[str, list[str]], repeat: int, env: dict) -> dict[str, float]:
    best = {k: float("inf") for k in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args(argv)
    import numpy as np
    import soundfile as sf

    import specrep

    bindir = Path(sys.executable).parent
    loopgan, cli = str(bindir / "loopgan"), str(bindir / "specrep-cli")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.wav"
        wave, sr = specrep.io.load("example:guitar_chord2", sample_rate=16000)
        sf.write(clip, np.asarray(wave[: 3 * sr], dtype=np.float32), sr)
        script = Path(tmp) / "librosa_roundtrip.py"
        script.write_text(LIBROSA_ROUNDTRIP)
        out = str(Path(tmp) / "out.wav")
        cmds = {
            "loopgan --help": [loopgan, "--help"],
            "specrep-cli --help": [cli, "--help"],
            "loopgan train (argument error)": [loopgan, "train"],
            "specrep-cli roundtrip missing.wav (error)": [cli, "roundtrip", str(Path(tmp) / "missing.wav")],
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "specrep-cli roundtrip (mag-if)": [cli, "roundtrip", str(clip), "-o", out],
            "librosa script, stft + istft": [sys.executable, str(script), str(clip), out, "exact"],
            "specrep-cli roundtrip --chain mag-gl --n-iter 32": [cli, "roundtrip", str(clip), "--chain", "mag-gl",
                                                                 "--n-iter", "32", "-o", out],
            "librosa script, griffinlim 32": [sys.executable, str(script), str(clip), out, "gl"],
        }
        best = best_wall(cmds, args.repeat, env)
    peers = {"specrep-cli roundtrip (mag-if)": "librosa script, stft + istft",
             "specrep-cli roundtrip --chain mag-gl --n-iter 32": "librosa script, griffinlim 32"}
    lines = [
        "# Start-up and whole-process times of the command-line tools",
        "",
        f"Command: `python benchmarks/bench_startup.py --repeat {args.repeat}"
        f"{' --report ' + str(args.report) if args.report else ''}`; {datetime.date.today()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; best wall time of "
        f"{args.repeat} interleaved runs, OMP_NUM_THREADS=1; a 3 s clip at 16 kHz (audioflux's guitar_chord2).",
        "",
        "| command | seconds | against |",
        "|---|---:|---|",
    ]
    for name, sec in best.items():
        note = ""
        if name in peers:
            note = f"{best[peers[name]] / sec:.2f}x the speed of the {peers[name]}"
        elif "help" in name or "error" in name:
            note = "goal <= 0.5 s: " + ("met" if sec <= 0.5 else "NOT met")
        lines.append(f"| `{name}` | {sec:.2f} | {note} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
