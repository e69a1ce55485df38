"""Classifier two-sample test (C2ST, Lopez-Paz & Oquab 2017): can a fresh small CNN tell two sets of loops apart?

The descriptor scores (NDB/K, FDD in :mod:`gan_plugins.metrics.audio`) summarise a loop by a few statistics and
miss what they do not measure (soft onsets, frames duplicated in pairs); a classifier trained on the spectrograms
finds any difference it can learn. Held-out accuracy 0.5 means the sets are indistinguishable to it, 1.0 that every
loop is told apart.

Procedure of :func:`c2st`: each loop is scaled to unit RMS (the test compares sounds, not levels), then turned into a
64-band log-mel spectrogram in dB (:func:`gan_plugins.metrics.audio.logmel_features`, every STFT frame kept). The
loops of ``a`` (label 0) and ``b`` (label 1) are split into ``folds`` folds, each holding an equal share of both sets;
for each fold a fresh CNN is trained on the other folds, with every training spectrogram rolled circularly in time by
a random number of frames each epoch (loops wrap around, so a rolled loop is still a loop of its set, and the
classifier cannot key on where in the bar an event falls), and predicts the held-out fold. Accuracy and AUC are
computed over all held-out predictions; the interval is a percentile bootstrap of the accuracy over them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import Tensor, nn

from gan_plugins.metrics.audio import N_FFT, logmel_features
from specrep.errors import ParameterError, check_positive_int

__all__ = ["C2STResult", "MIN_PER_FOLD", "c2st"]

#: fewest loops of each set a held-out fold may hold
MIN_PER_FOLD = 2
N_MELS = 64  # mel bands of the classifier's input
_DB_SCALE = 20.0  # dB per unit of the network input (after removing the training folds' mean)


@dataclass(frozen=True)
class C2STResult:
    """Outcome of :func:`c2st`.

    Attributes
    ----------
    accuracy : float
        Share of held-out loops whose set was predicted right (probability of ``b`` above 0.5); 0.5 = the sets are
        indistinguishable to the classifier, 1.0 = fully told apart. Below 0.5 is chance (or overfitting).
    low, high : float
        Percentile bootstrap interval of ``accuracy`` at ``confidence``, over the held-out predictions.
    auc : float
        Area under the ROC curve of the held-out probabilities (all folds pooled); 0.5 = chance, 1.0 = separated.
    confidence : float
        Coverage of ``[low, high]``.
    folds : int
    n : int
        Loops in each set.
    labels : np.ndarray, int64, shape (2 n,)
        0 for the loops of ``a`` then 1 for those of ``b``, in input order.
    scores : np.ndarray, float64, shape (2 n,)
        Held-out probability that each loop belongs to ``b`` (from the model of the fold that held it out).
    """

    accuracy: float
    low: float
    high: float
    auc: float
    confidence: float
    folds: int
    n: int
    labels: np.ndarray
    scores: np.ndarray

    @property
    def interval(self) -> tuple[float, float]:
        """``(low, high)``."""
        return self.low, self.high

    def __str__(self) -> str:
        pct = round(100 * self.confidence)
        return (f"C2ST accuracy {self.accuracy:.3f} [{self.low:.3f}, {self.high:.3f}] ({pct} %), AUC {self.auc:.3f}, "
                f"{self.n} + {self.n} loops, {self.folds} folds")


class _Net(nn.Module):
    """``(B, 1, 64, frames)`` dB spectrograms -> logit ``(B,)`` of "from b".

    Three stride-2 conv layers (8, 16, 32 channels) with batch norm, then per channel and mel row the mean and the
    max over time (any number of frames), then one linear layer: 6.5 k weights, 1.6 M multiply-adds per 2 s loop.
    """

    def __init__(self) -> None:
        super().__init__()
        widths = (1, 8, 16, 32)
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, stride=2, padding=k // 2, bias=False)
                                   for i, o, k in zip(widths[:-1], widths[1:], (5, 3, 3), strict=True))
        self.norms = nn.ModuleList(nn.BatchNorm2d(o) for o in widths[1:])
        rows = N_MELS
        for _ in self.convs:
            rows = (rows + 1) // 2
        self.head = nn.Linear(2 * widths[-1] * rows, 1)

    def forward(self, x: Tensor) -> Tensor:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.relu(norm(conv(x)))
        return self.head(torch.cat([x.mean(-1), x.amax(-1)], dim=1).flatten(1))[:, 0]


def _fresh_net(gen: torch.Generator) -> _Net:
    """A :class:`_Net` initialised from ``gen`` (PyTorch's default schemes), leaving the global RNG untouched."""
    with torch.device("meta"):
        net = _Net()
    net.to_empty(device="cpu")
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()
    return net


def _roll_time(x: Tensor, gen: torch.Generator) -> Tensor:
    """Roll each example of ``(B, 1, rows, frames)`` circularly in time by its own random number of frames."""
    frames = x.shape[-1]
    shift = torch.randint(0, frames, (x.shape[0],), generator=gen)
    idx = (torch.arange(frames)[None] - shift[:, None]) % frames
    return x.gather(-1, idx[:, None, None, :].expand_as(x))


def _fit_predict(x_train: Tensor, y_train: Tensor, x_test: Tensor, gen: torch.Generator, *, epochs: int,
                 batch_size: int, lr: float) -> Tensor:
    """Train a fresh :class:`_Net` on ``(x_train, y_train)``; return its probabilities of label 1 on ``x_test``."""
    mean = x_train.mean()
    x_train, x_test = (x_train - mean) / _DB_SCALE, (x_test - mean) / _DB_SCALE
    net = _fresh_net(gen)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x_train) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=gen)
        for idx in order.split(batch_size):
            loss = F.binary_cross_entropy_with_logits(net(_roll_time(x_train[idx], gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        return torch.sigmoid(net(x_test))


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank sum (ties counted half)."""
    ranks = rankdata(scores)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _check_sets(a, b) -> tuple[np.ndarray, np.ndarray]:
    sets = []
    for name, w in (("a", a), ("b", b)):
        w = np.asarray(w, dtype=np.float32)
        if w.ndim != 2:
            raise ParameterError(f"{name} of shape {w.shape} must be (N, samples)")
        if not np.isfinite(w).all():
            raise ParameterError(f"{name} holds NaN or infinite samples")
        sets.append(w)
    a, b = sets
    if a.shape[1] != b.shape[1]:
        raise ParameterError(f"a holds loops of {a.shape[1]} samples, b of {b.shape[1]}; the sets must have one length")
    if a.shape[1] < N_FFT:
        raise ParameterError(f"loops of {a.shape[1]} samples are shorter than one STFT frame ({N_FFT})")
    if len(a) != len(b):
        raise ParameterError(f"a holds {len(a)} loops, b {len(b)}; C2ST needs equal counts (0.5 = chance), "
                             "subsample the larger set")
    return a, b


def c2st(a, b, sample_rate: int, *, folds: int = 5, seed: int = 0, epochs: int = 24, batch_size: int = 32,
         lr: float = 3e-3, n_boot: int = 1000, confidence: float = 0.95) -> C2STResult:
    """Classifier two-sample test between two sets of loops: held-out accuracy, its bootstrap interval, and AUC.

    See the module documentation for the procedure (unit-RMS loops, 64-band log-mel in dB, stratified k-fold
    cross-validation, a fresh small CNN per fold trained with random circular time shifts).

    Parameters
    ----------
    a, b : array-like, float32, shape (N, samples)
        The two sets: the same number of loops, of the same length, at ``sample_rate``; ``samples >= 1024``.
        Loops are scaled to unit RMS, so a gain difference between the sets is not detected (silent loops stay
        silent). ``N >= folds * MIN_PER_FOLD``.
    sample_rate : int > 0
        In Hz.
    folds : int >= 2
        Cross-validation folds; fold ``k`` holds ``N / folds`` loops of each set (``+-1``).
    seed : int
        Seeds one :class:`torch.Generator` that draws the fold split, each network's initial weights, the batch
        order, the time shifts and the bootstrap resamples; the global RNGs are not used. The same seed gives the
        same result on the same machine and thread count.
    epochs : int > 0
        Training passes over the training folds per fold model.
    batch_size : int > 0
    lr : float > 0
        Peak learning rate of Adam under a one-cycle schedule.
    n_boot : int > 0
        Bootstrap resamples of the held-out predictions.
    confidence : float in (0, 1)
        Coverage of the bootstrap interval.

    Returns
    -------
    C2STResult
        ``accuracy`` (0.5 = indistinguishable, 1.0 = told apart), ``low``/``high``, ``auc``, and the held-out
        ``scores`` with their ``labels``.

    Raises
    ------
    ParameterError
        Sets not 2-D, of different lengths or counts, shorter than one STFT frame, non-finite, or too few loops
        for ``folds`` folds; any other parameter out of range.

    Notes
    -----
    Cost: ``folds`` trainings on ``(folds - 1) / folds`` of the ``2 N`` loops for ``epochs`` epochs; the network
    costs 1.6 M multiply-adds per 2 s loop forward. 300 + 300 loops of 2 s at 16 kHz with the defaults take
    about 36 s of CPU on one thread (benchmarks/bench_c2st.py), linear in ``N``, ``epochs`` and loop length.

    The interval is a bootstrap over the held-out predictions only: it leaves out the randomness of the trainings
    (weights, batch order, shifts, fold split), so it is too narrow; the accuracy of one pair of sets moves by a few
    hundredths with ``seed`` or ``epochs`` (300 + 300 procedural halves: 0.46 at 24 epochs, 0.50 at 12, intervals
    +-0.04). Read differences between sets smaller than about 0.05 as none.
    """
    check_positive_int("sample_rate", sample_rate)
    check_positive_int("folds", folds)
    if folds < 2:
        raise ParameterError(f"folds={folds} must be >= 2")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("n_boot", n_boot)):
        check_positive_int(name, value)
    if not lr > 0:
        raise ParameterError(f"lr={lr} must be > 0")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence={confidence} must be in (0, 1)")
    if not isinstance(seed, int | np.integer):
        raise ParameterError(f"seed={seed!r} must be an integer")
    a, b = _check_sets(a, b)
    n = len(a)
    if n < folds * MIN_PER_FOLD:
        raise ParameterError(f"{folds} folds need at least {folds * MIN_PER_FOLD} loops in each set "
                             f"({MIN_PER_FOLD} per fold), got {n}")

    waves = np.concatenate([a, b])
    rms = np.sqrt(np.mean(np.square(waves, dtype=np.float64), axis=1, keepdims=True))
    waves = (waves / np.maximum(rms, 1e-8)).astype(np.float32)
    x = torch.from_numpy(logmel_features(waves, sample_rate, n_mels=N_MELS, frames=None).astype(np.float32))[:, None]
    labels = torch.cat([torch.zeros(n), torch.ones(n)])

    gen = torch.Generator().manual_seed(int(seed))
    fold_of = torch.empty(2 * n, dtype=torch.long)
    for offset in (0, n):  # stratified: each set dealt round-robin over the folds in a random order
        fold_of[offset + torch.randperm(n, generator=gen)] = torch.arange(n) % folds
    scores = torch.empty(2 * n)
    for k in range(folds):
        test = fold_of == k
        scores[test] = _fit_predict(x[~test], labels[~test], x[test], gen, epochs=epochs, batch_size=batch_size,
                                    lr=lr)

    correct = ((scores > 0.5).float() == labels).float()
    boot = correct[torch.randint(0, 2 * n, (n_boot, 2 * n), generator=gen)].mean(1).double()
    tail = (1 - confidence) / 2
    low, high = torch.quantile(boot, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    labels_np, scores_np = labels.numpy().astype(np.int64), scores.numpy().astype(np.float64)
    return C2STResult(accuracy=float(correct.double().mean()), low=low, high=high, auc=_auc(labels_np, scores_np),
                      confidence=float(confidence), folds=folds, n=n, labels=labels_np, scores=scores_np)
