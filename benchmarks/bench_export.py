"""Benchmark (not a test): how close the exported graphs are to the Python model, and how fast they run.

For each bundled GANSynth model, exports TorchScript and ONNX graphs (magnitude-only models at 8 and at the model's
32 Griffin-Lim iterations) and compares them on 8 latents with :func:`gan_plugins.apps.export.reference_audio` (relative
RMS over all samples). Beside each, the Python model's own sensitivity: the relative RMS between its outputs for
``z`` and ``z * (1 + 1e-7 * noise)``, the floor below which no other implementation can be expected to agree.
Times are one call on 8 latents (median of 5) in this process. For magnitude models at their own iteration count, one
more row: the ONNX decoder's arithmetic run in float64 (the graph's module cast to double, in torch), to show whether
a higher-precision graph would get closer to the float32 Python model.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_export.py --threads 1
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from gan_plugins.apps.export import export_model, reference_audio, relative_rms
from gan_plugins.io.model import Model, load_model
from specrep.timing import time_calls


def _float64_decoder_error(model: Model, z: torch.Tensor, ref: np.ndarray) -> float:
    """Relative RMS to ``ref`` of the ONNX decoder (:class:`ExportedDecoder`, real arithmetic) computed in float64
    in torch (its buffers cast to float64: it computes in its window's dtype)."""
    import copy

    from gan_plugins.apps.export import _build

    _, graph = _build(model, gl_init="random", gl_n_iter=32, rescale=True)
    decoder = copy.deepcopy(graph.decoder).double()
    with torch.no_grad():
        return relative_rms(decoder(model.generator(z).double()).numpy(), ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import onnxruntime as ort

    z = torch.randn(8, 256, generator=torch.Generator().manual_seed(2024))
    zp = z * (1.0 + 1e-7 * torch.randn(z.shape, generator=torch.Generator().manual_seed(1)))
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {torch.get_num_threads()} thread(s)\n")
    print(f"{'model':<17}{'GL iter':>8}{'format':>13}{'rel. RMS':>11}{'own sens.':>11}{'ms / 8':>9}"
          f"{'python ms':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, iters in (("gansynth-mel-if", [None]), ("progressive-mel-if", [None]), ("gansynth-mel-gl", [8, 32])):
            model = load_model(name)
            for n_iter in iters:
                ref = reference_audio(model, z, gl_n_iter=n_iter).numpy()
                floor = relative_rms(reference_audio(model, zp, gl_n_iter=n_iter).numpy(), ref)
                py_ms = time_calls(lambda m=model, k=n_iter: reference_audio(m, z, gl_n_iter=k), repeat=5,
                                   warmup=1).median * 1000.0
                for fmt in ("torchscript", "onnx"):
                    path = Path(tmp) / f"{name}-{n_iter}.{'onnx' if fmt == 'onnx' else 'pt'}"
                    export_model(model, path, fmt=fmt, gl_n_iter=n_iter)
                    if fmt == "onnx":
                        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                        run = lambda s=sess: s.run(["audio"], {"z": z.numpy()})[0]  # noqa: E731
                    else:
                        graph = torch.jit.load(str(path))
                        run = lambda g=graph: g(z).numpy()  # noqa: E731
                    with torch.no_grad():
                        err = relative_rms(run(), ref)
                        ms = time_calls(run, repeat=5, warmup=1).median * 1000.0
                    label = "-" if n_iter is None else str(n_iter)
                    print(f"{name:<17}{label:>8}{fmt:>13}{err:>11.2e}{floor:>11.2e}{ms:>9.0f}{py_ms:>11.0f}")
                if n_iter == 32:
                    print(f"{name:<17}{n_iter:>8}{'onnx-f64':>13}{_float64_decoder_error(model, z, ref):>11.2e}"
                          f"{floor:>11.2e}")


if __name__ == "__main__":
    main()
