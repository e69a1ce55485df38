"""``loopgan evaluate --real A --fake B``: audio metrics between two sets of loops, each a loop dataset (``.npy`` +
sidecar, a bare ``.npy``, a raw memmap or a source descriptor: :mod:`gan_plugins.data.loops.source`) or a folder of
audio files, with the floor (real half vs real half) and the noise reference beside each score.

Beside the distribution scores (NDB/K, JSD, FDD) the judge adds what hears a texture: the classifier two-sample
test (:mod:`gan_plugins.metrics.c2st`: 0.5 = indistinguishable), and the rhythm and transient measures of
:mod:`gan_plugins.metrics.rhythm` (the frame-rate artefact index, the 8-40 Hz modulation excess, the median attack
time), and the Fréchet distance on a learned embedding (:mod:`gan_plugins.metrics.embedding`: a network trained
here on procedural loops and shipped with the package).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import specrep
from gan_plugins.data.loops.dataset import LoopDataset
from gan_plugins.data.loops.source import flags_for
from gan_plugins.metrics.audio import NDBReference, descriptor_features, frechet_descriptor_distance
from gan_plugins.metrics.c2st import MIN_PER_FOLD, c2st
from gan_plugins.metrics.embedding import MIN_SECONDS, embed, embedding_distance
from gan_plugins.metrics.rhythm import RhythmReference, rhythm_judge
from specrep.errors import AudioFileError, ParameterError

__all__ = ["C2ST_LOOPS", "FEATURE_HOP", "JUDGE_KEYS", "read_loops", "source_groups", "evaluate_audio", "judge_scores"]

#: loops a side the C2ST trains on at most (300 + 300: about 36 CPU s on one thread)
C2ST_LOOPS = 300
#: the generators' feature hop at 16 kHz, where nearest 2x upsampling pairs frames (the artefact index looks there)
FEATURE_HOP = 512
#: the judge's keys in each row of the report
JUDGE_KEYS = ("c2st_accuracy", "c2st_low", "c2st_high", "c2st_auc", "embedding_fd", "artefact_index",
              "artefact_modulation_db", "onset_sharpness_ms")

_AUDIO = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}


def read_loops(path: str | os.PathLike, *, sample_rate: int | None = None, samples: int | None = None,
               limit: int | None = None, seed: int = 0, source: Mapping[str, Any] | None = None
               ) -> tuple[np.ndarray, int, list[str]]:
    """Loops of a dataset or a folder of audio files as ``(N, samples)`` float32.

    Dataset loops are resampled to ``sample_rate`` when it is given and differs. Folder files are resampled to
    ``sample_rate`` (default: the first file's), mixed to mono and cut or zero-padded to ``samples`` (default: the
    first file's length). Unreadable files are skipped and named. ``source`` holds ``shape``, ``dtype``,
    ``offset``, ``sample_rate`` for a dataset file that does not describe itself (a bare ``.npy`` or a raw
    memmap; :func:`gan_plugins.data.loops.source.flags_for`).

    Returns
    -------
    waves : np.ndarray (N, samples); sample_rate : int; skipped : list of "file: reason"
    """
    path = Path(path)
    if path.is_file():
        ds = _dataset(path, source)
        rows = _pick_rows(len(ds), limit, seed)
        waves = np.stack([ds[int(i)].numpy() for i in rows])
        if sample_rate is not None and ds.sample_rate != sample_rate:
            waves = specrep.io.resample(waves, ds.sample_rate, sample_rate)
        return _fit(waves, samples), sample_rate or ds.sample_rate, []
    if not path.is_dir():
        raise ParameterError(f"{path}: neither a loop dataset nor a folder of audio files")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _AUDIO)
    if limit is not None:
        files = files[:limit]
    waves, skipped = [], []
    for f in files:
        try:
            w, sr = specrep.io.load(f, sample_rate=sample_rate)
        except AudioFileError as exc:
            skipped.append(str(exc))
            continue
        sample_rate = sample_rate or sr
        samples = samples or w.shape[0]
        waves.append(_fit(w[None], samples)[0])
    if len(waves) < 2:
        raise ParameterError(f"{path}: fewer than 2 readable audio files")
    return np.stack(waves), int(sample_rate), skipped


def _dataset(path: Path, source: Mapping[str, Any] | None) -> LoopDataset:
    ds = LoopDataset(path, **flags_for(path, **(source or {})))
    if ds.sample_rate is None:
        raise ParameterError(f"{path}: the sample rate of this raw memmap is unknown; give --sample-rate")
    return ds


def _pick_rows(n: int, limit: int | None, seed: int) -> np.ndarray:
    """The rows :func:`read_loops` reads from a dataset of ``n`` loops: all, or ``limit`` drawn by ``seed``."""
    rows = np.arange(n)
    if limit is not None and limit < n:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))
    return rows


def source_groups(path: str | os.PathLike, *, limit: int | None = None, seed: int = 0,
                  source: Mapping[str, Any] | None = None) -> np.ndarray | None:
    """Source track of each loop :func:`read_loops` returns for ``path`` (same ``limit``, ``seed``), or None.

    None unless ``path`` is a dataset whose sidecar names a source file for its loops, with at least two distinct
    ones; loops without a source get a group of their own.
    """
    path = Path(path)
    if not path.is_file():
        return None
    ds = _dataset(path, source)
    item_source = ds.info.meta.get("item_source")
    if not isinstance(item_source, list) or len(item_source) != len(ds):
        return None
    src = np.asarray(item_source, dtype=np.int64)
    known = np.unique(src[src >= 0])
    if known.size < 2:
        return None
    groups = np.where(src >= 0, src, known.max() + 1 + np.arange(src.size))
    return groups[_pick_rows(len(ds), limit, seed)]


def _halves(n: int, groups: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference and held-out rows: whole tracks when ``groups`` is given (in a shuffled order, the reference
    takes tracks until it holds half the loops), else a random half of the rows."""
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(n)
        return order[: n // 2], order[n // 2:]
    ids = np.unique(groups)
    ref_ids, count = [], 0
    for g in rng.permutation(ids):
        if count >= n // 2 or len(ref_ids) == ids.size - 1:
            break
        ref_ids.append(g)
        count += int((groups == g).sum())
    ref = np.isin(groups, ref_ids)
    return np.flatnonzero(ref), np.flatnonzero(~ref)


def _fit(waves: np.ndarray, samples: int | None) -> np.ndarray:
    if samples is None or waves.shape[-1] == samples:
        return waves.astype(np.float32, copy=False)
    if waves.shape[-1] > samples:
        return waves[..., :samples].astype(np.float32, copy=False)
    return np.pad(waves, ((0, 0), (0, samples - waves.shape[-1]))).astype(np.float32, copy=False)


def judge_scores(reference: np.ndarray, waves: np.ndarray, sample_rate: int, *, seed: int = 0,
                 c2st_loops: int = C2ST_LOOPS, hop: int = FEATURE_HOP,
                 reference_embeddings: np.ndarray | None = None,
                 reference_rhythm: RhythmReference | None = None) -> dict[str, float | None]:
    """The judge's scores of ``waves`` against ``reference`` (both ``(N, samples)`` float32 at ``sample_rate``).

    Returns :data:`JUDGE_KEYS`: ``c2st_accuracy`` with its bootstrap interval ``c2st_low``/``c2st_high`` and
    ``c2st_auc`` (:func:`gan_plugins.metrics.c2st.c2st` on at most ``c2st_loops`` loops a side, drawn by
    ``seed``; None when either set has fewer than ``5 * MIN_PER_FOLD`` loops), ``embedding_fd``
    (:func:`gan_plugins.metrics.embedding.embedding_distance`; None for loops shorter than
    :data:`~gan_plugins.metrics.embedding.MIN_SECONDS`; ``reference_embeddings`` reuses ``embed(reference)``),
    ``reference_rhythm`` reuses ``RhythmReference.of(reference)``; ``artefact_index`` (percentage points
    of period-2 frame alternation at ``hop`` above the reference's), ``artefact_modulation_db`` (8-40 Hz onset
    modulation excess) and ``onset_sharpness_ms`` (median attack time; inf when most loops have no onset).
    """
    rhythm = rhythm_judge(reference if reference_rhythm is None else reference_rhythm, waves, sample_rate, hop=hop)
    out: dict[str, float | None] = {key: rhythm[key] for key in JUDGE_KEYS[5:]}
    long_enough = waves.shape[-1] >= MIN_SECONDS * sample_rate
    out["embedding_fd"] = (embedding_distance(reference, waves, sample_rate, real_embeddings=reference_embeddings)
                           if long_enough else None)
    n = min(int(c2st_loops), len(reference), len(waves))
    if n < 5 * MIN_PER_FOLD:
        return {**dict.fromkeys(JUDGE_KEYS[:4]), **out}
    rng = np.random.default_rng(seed)
    a = reference[np.sort(rng.choice(len(reference), n, replace=False))]
    b = waves[np.sort(rng.choice(len(waves), n, replace=False))]
    test = c2st(a, b, sample_rate, seed=seed)
    return {"c2st_accuracy": test.accuracy, "c2st_low": test.low, "c2st_high": test.high, "c2st_auc": test.auc,
            **out}


def evaluate_audio(real: str | os.PathLike, fake: str | os.PathLike, *, k: int = 50, limit: int | None = 2000,
                   seed: int = 0, source: Mapping[str, Any] | None = None, judge: bool = True,
                   c2st_loops: int = C2ST_LOOPS) -> dict[str, Any]:
    """NDB/K (+ JSD) and FDD of ``fake`` against ``real``, each with its floor and noise reference.

    ``source`` (``shape``, ``dtype``, ``offset``, ``sample_rate``) describes whichever of the two is a dataset file
    that does not describe itself (:func:`gan_plugins.data.loops.source.flags_for`).

    The real set is split in two halves: the NDB bins and descriptor statistics come from the first; the floor
    scores the second half against it (what a perfect model would get at this sample size); ``noise`` scores
    noise at the real loops' level (a reference, not a bound: NDB/K, JSD and FDD have no ceiling). When the real set
    is a dataset whose sidecar names each loop's source track, the halves are **whole tracks** (``floor_split:
    "tracks"``): held-out loops of songs the reference also holds would make the floor look better than any model of
    unseen music can be. Otherwise rows
    (``floor_split: "rows"``).

    With ``judge`` (default) each row also holds :func:`judge_scores` against the reference half: the C2ST
    (``c2st_*``, None when a set has too few loops), the learned-embedding distance, the artefact index and the
    attack time. The C2ST is run on the
    generated loops and on the floor, not on the noise reference (noise is told apart at 1.0; its row has None).
    """
    real_w, sr, real_skipped = read_loops(real, limit=limit, seed=seed, source=source)
    fake_w, _, fake_skipped = read_loops(fake, sample_rate=sr, samples=real_w.shape[1], limit=limit, seed=seed,
                                         source=source)
    groups = source_groups(real, limit=limit, seed=seed, source=source)
    ref_rows, held_rows = _halves(len(real_w), groups, seed)
    ref_w, held_w = real_w[ref_rows], real_w[held_rows]
    k = min(k, max(2, len(ref_w) // 4))
    ref = NDBReference(ref_w, sr, k=k, seed=seed)
    feats = descriptor_features(ref_w, sr)
    noise = (np.random.default_rng(seed).standard_normal(held_w.shape) * held_w.std()).astype(np.float32)
    ref_emb = embed(ref_w, sr) if judge and ref_w.shape[-1] >= MIN_SECONDS * sr else None
    ref_rhythm = RhythmReference.of(ref_w, sr, hop=FEATURE_HOP) if judge else None  # measured once, not per row

    def scores(waves, *, run_c2st: bool = True):
        row = {**ref.score(waves), "fdd": frechet_descriptor_distance(ref_w, waves, sr, real_features=feats)}
        if judge:
            row.update(judge_scores(ref_w, waves, sr, seed=seed, c2st_loops=c2st_loops if run_c2st else 0,
                                    reference_embeddings=ref_emb, reference_rhythm=ref_rhythm))
        return row

    return {"real": str(real), "fake": str(fake), "sample_rate": sr, "n_real": len(real_w), "n_fake": len(fake_w),
            "k": k, "fake_scores": scores(fake_w), "floor": scores(held_w),
            "noise": scores(noise, run_c2st=False), "c2st_loops": min(c2st_loops, len(ref_w), len(fake_w)),
            "floor_split": "rows" if groups is None else "tracks", "n_reference": len(ref_rows),
            "n_held_out": len(held_rows), "skipped": real_skipped + fake_skipped}
