"""Benchmark (not a test): how long the studio takes to answer a request for one loop, on this machine.

Serves each bundled GANSynth model (the CPU preset: 2 s loops, 64 frames) with :class:`gan_plugins.apps.studio.
StudioServer` on a free loopback port and times, over HTTP from a client in the same process, ``--n`` requests of
each kind after ``--warmup`` unmeasured ones: ``POST /api/draw`` with ``count=1`` (generator + decoder + descriptors
+ spectrogram + JSON), ``POST /api/edit`` (one GANSpace slider move), ``POST /api/interpolate`` and
``GET /api/loop/<id>.wav`` (the WAV the page plays). Prints median and 90th percentile in ms, and the share of a
draw spent in the decoder alone (``plugin.render``) measured in the same run.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_studio.py --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import urllib.request

import numpy as np
import torch

from gan_plugins.apps.studio import StudioServer
from gan_plugins.apps.studio.state import ModelSession
from gan_plugins.io.model import load_model
from specrep.timing import time_calls


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as resp:
        return resp.read()


def _bench_model(name: str, args: argparse.Namespace) -> None:
    model = load_model(name)
    session = ModelSession(name, model, key=("bench",), history_size=1024)
    server = StudioServer([session], port=0).start()
    base = server.url.rstrip("/")
    try:
        session.directions()  # computed once per model at the first slider move; not what is timed here
        first = _post(f"{base}/api/draw", {"count": 2, "seed": 0})["entries"]
        a, b = first[0]["id"], first[1]["id"]
        rows = {
            "POST /api/draw count=1": lambda i: _post(f"{base}/api/draw", {"count": 1, "seed": i}),
            "POST /api/edit (1 slider)": lambda i: _post(f"{base}/api/edit",
                                                         {"base": a, "sliders": [((i % 7) - 3) * 0.5]}),
            "POST /api/interpolate": lambda i: _post(f"{base}/api/interpolate",
                                                     {"a": a, "b": b, "t": (i % 10) / 10}),
            "GET /api/loop/<id>.wav": lambda i: _get(f"{base}/api/loop/{a}.wav"),
        }
        for label, fn in rows.items():
            calls = itertools.count()  # call i (warm-up calls first) gets i: a new seed, slider or t each time
            t = time_calls(lambda f=fn, c=calls: f(next(c)), repeat=args.n, warmup=args.warmup).seconds * 1000.0
            print(f"{name:<18}{label:<30}{np.median(t):>10.1f}{np.percentile(t, 90):>9.1f}")
        z = model.latent(1, seed=1)
        feats = model.generate(z)
        gen = time_calls(lambda: model.generate(z), repeat=args.n, warmup=args.warmup).seconds * 1000.0
        dec = time_calls(lambda: model.render(feats, rescale=True), repeat=args.n, warmup=args.warmup).seconds * 1000.0
        print(f"{name:<18}{'  of which generator':<30}{np.median(gen):>10.1f}{np.percentile(gen, 90):>9.1f}")
        print(f"{name:<18}{'  of which decoder (render)':<30}{np.median(dec):>10.1f}{np.percentile(dec, 90):>9.1f}")
    finally:
        server.stop()



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["gansynth-mel-gl", "gansynth-mel-if"])
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.n} requests per row after "
          f"{args.warmup} warm-up\n")
    print(f"{'model':<18}{'request':<30}{'median ms':>10}{'p90 ms':>9}")
    for name in args.models:
        _bench_model(name, args)


if __name__ == "__main__":
    main()
