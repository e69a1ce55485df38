"""Write the procedural loops (:mod:`gan_plugins.data.procedural.generator`) to a memory-mapped loop dataset.

The generator runs in chunks — optionally in a pool of processes, each rendering whole chunks — and the writer
appends them in order, so memory stays at a few chunks whatever ``n`` is, and the file is identical for any
chunk size or worker count (item ``i`` depends only on ``(seed, i)``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm.auto import tqdm

from specrep.errors import ParameterError, check_positive_int

from ..loops.storage import DatasetError, LoopWriter, open_loops
from ..pool import ordered_map
from .generator import check_loop_settings, synthesize_loops


def _render_chunk(job):
    start, count, kwargs = job
    return synthesize_loops(count, start=start, **kwargs)


def write_synth_dataset(out_path: str | os.PathLike, n: int, seconds: float, seed: int, sample_rate: int = 16000,
                        *, styles=None, tempo_mode: str = "bars", dtype: str = "float32", chunk: int = 64,
                        workers: int = 1, progress: bool = True) -> Path:
    """Render ``n`` procedural loops into ``out_path`` (``.npy`` + JSON sidecar with labels).

    Parameters
    ----------
    out_path : str or PathLike
        Destination ``.npy``; its sidecar goes beside it.
    n : int > 0
        Number of loops.
    seconds : float > 0
        Duration of each loop.
    seed : int >= 0
        Dataset seed.
    sample_rate : int >= 8000
        In Hz.
    styles, tempo_mode
        As in :func:`~gan_plugins.data.procedural.generator.synthesize_loops`.
    dtype : {"float32", "int16"}
        Storage type.
    chunk : int > 0
        Loops rendered per step.
    workers : int > 0
        Processes rendering chunks in parallel (1 = in this process).
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    pathlib.Path of the written ``.npy``.
    """
    check_positive_int("n", n)
    check_positive_int("chunk", chunk)
    check_positive_int("workers", workers)
    styles = check_loop_settings(seconds=seconds, sample_rate=sample_rate, seed=seed, styles=styles,
                                 tempo_mode=tempo_mode)
    kwargs = {"seconds": seconds, "sample_rate": sample_rate, "seed": int(seed), "styles": list(styles),
              "tempo_mode": tempo_mode}
    samples = int(round(seconds * sample_rate))
    settings = {"generator": "gan_plugins.data.procedural", "n": n, **kwargs}
    jobs = [(s, min(chunk, n - s), kwargs) for s in range(0, n, chunk)]
    with LoopWriter(out_path, samples=samples, sample_rate=sample_rate, dtype=dtype, created_by="synth",
                    settings=settings) as writer, tqdm(total=n, unit="loop", desc="synth", disable=not progress,
                                                       leave=False) as bar:
        results = ordered_map(_render_chunk, jobs, workers)
        for audio, labels in results:
            writer.append(audio, labels=labels)
            bar.update(len(labels))
    return writer.path


def ensure_synth_dataset(out_path: str | os.PathLike, n: int, seconds: float, seed: int, sample_rate: int = 16000,
                         *, styles=None, tempo_mode: str = "bars", dtype: str = "float32", workers: int = 1,
                         progress: bool = True) -> Path:
    """Like :func:`write_synth_dataset`, but reuse ``out_path`` when it already holds exactly this dataset.

    "Exactly" means a valid dataset (see :func:`~gan_plugins.data.loops.storage.open_loops`) written by the generator
    with the same ``n``, ``seconds``, ``seed``, ``sample_rate``, styles, tempo mode and ``dtype``; anything else
    is rebuilt. Meant for a cached default dataset (a demo, a first training run).

    Returns
    -------
    pathlib.Path of the ``.npy``.
    """
    styles = check_loop_settings(seconds=seconds, sample_rate=sample_rate, seed=seed, styles=styles,
                                 tempo_mode=tempo_mode)
    wanted = {"generator": "gan_plugins.data.procedural",
              "n": n, "seconds": seconds, "sample_rate": sample_rate,
              "seed": int(seed), "styles": list(styles), "tempo_mode": tempo_mode}
    try:
        _, info = open_loops(out_path)
        if info.meta.get("settings") == wanted and info.dtype == dtype:
            return Path(out_path)
    except (DatasetError, ParameterError):
        pass
    return write_synth_dataset(out_path, n, seconds, seed, sample_rate, styles=styles, tempo_mode=tempo_mode,
                               dtype=dtype, workers=workers, progress=progress)
