"""Offline audio metrics for generated loops: NDB/K, a Fréchet distance on acoustic descriptors, and their
floor (real vs held-out real) and ceiling (noise).

- **NDB/K** (Richardson & Weiss 2018, used by GANSynth with k=50): k-means on log-mel spectrograms of real loops;
  the share of real and generated loops in each bin is compared with a two-proportion z-test; NDB/K is the
  fraction of bins whose shares differ significantly (lower is better). The Jensen-Shannon divergence between the
  two bin histograms is reported beside it.
- **Fréchet descriptor distance (FDD)**: per loop, the mean and standard deviation over time of loudness,
  centroid, bandwidth, flatness, rolloff and onset strength (specrep.descriptors), plus the tempo and strength of
  the strongest periodicity of the onset envelope; standardised by the real statistics, then the Fréchet distance
  between Gaussians fitted to real and generated vectors (lower is better).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import norm as normal

from gan_plugins.metrics.frechet import frechet_distance, gaussian_stats
from specrep import descriptors as D
from specrep.errors import ParameterError, check_positive_int

__all__ = ["DESCRIPTOR_UNITS", "FDD_DESCRIPTORS", "HOP", "LOOP_DESCRIPTORS", "N_FFT", "NDBReference",
           "descriptor_features", "envelope_autocorrelation", "frechet_descriptor_distance", "logmel_features",
           "loop_descriptors", "ndb", "onset_autocorrelation", "onset_frames", "rhythm_scores"]

#: STFT frame length and hop (samples) of every metric here and of :mod:`gan_plugins.data.loops.tempo`:
#: 64 ms frames every 16 ms at 16 kHz
N_FFT, HOP = 1024, 256
_HZ = ("centroid", "bandwidth", "rolloff")  # spectral descriptors in Hz: they span decades, summarised on a log scale
_BATCH = 64  # loops per STFT batch (bounds memory, does not change any value)

#: unit of each per-loop descriptor of :func:`loop_descriptors`
DESCRIPTOR_UNITS = {
    **{name: unit for name, unit in zip(D.DESCRIPTORS, ("dB(A)", "Hz", "Hz", "", "Hz", ""), strict=True)},
    **{f"{name}_std": ("ln(Hz + 1)" if name in _HZ else "dB" if name == "loudness" else "")
       for name in D.DESCRIPTORS},
    "tempo": "BPM", "periodicity": "", "onset_rate": "onsets/s",
}
#: the Fréchet descriptor distance's columns of :func:`descriptor_features`, in order
FDD_DESCRIPTORS = tuple(n for name in D.DESCRIPTORS for n in (name, f"{name}_std")) + ("tempo", "periodicity")
#: the six descriptors a person reads beside a loop, ``(name, unit)``: the studio's read-outs, the rows of the walk
#: figure and the smoothness measure's descriptor vector
LOOP_DESCRIPTORS = tuple((name, DESCRIPTOR_UNITS[name])
                         for name in ("loudness", "centroid", "flatness", "bandwidth", "rolloff", "onset_rate"))


def _as_tensor(waves, *, at_least: int = 2) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(waves, dtype=np.float32))
    if x.ndim != 2 or x.shape[0] < at_least:
        raise ParameterError(f"waves of shape {tuple(x.shape)} must be (N >= {at_least}, samples)")
    return x


def logmel_features(waves, sample_rate: int, *, n_mels: int = 32, frames: int | None = 32,
                    range_db: float | None = None) -> np.ndarray:
    """Log-mel spectrograms in dB, the metrics' view of a loop's sound (NDB's bins, the smoothness measure's
    spectral change).

    Parameters
    ----------
    waves : array-like, shape (N >= 1, samples)
    sample_rate : int > 0
    n_mels : int > 0
        Mel bands (HTK, 0 Hz to Nyquist; specrep's ``mel-gl`` chain) of a :data:`N_FFT`-point STFT every
        :data:`HOP` samples.
    frames : int > 0, optional
        Average-pool the frames to this many; None keeps every STFT frame (``1 + samples // HOP``).
    range_db : float > 0, optional
        Floor every value at the loudest bin of the whole set minus ``range_db`` (bins far below it are noise),
        before pooling; None: no floor.

    Returns
    -------
    np.ndarray, float64, shape (N, n_mels, frames)
        ``10 log10`` of the mel bands of the power spectrum.
    """
    import specrep

    check_positive_int("n_mels", n_mels)
    check_positive_int("frames", frames, allow_none=True)
    if range_db is not None and not range_db > 0:
        raise ParameterError(f"range_db={range_db} must be > 0 dB")
    x = _as_tensor(waves, at_least=1)
    chain = specrep.chain("mel-gl", sample_rate=sample_rate, n_fft=N_FFT, hop_length=HOP, n_mels=n_mels, n_iter=0)
    with torch.no_grad():
        mel = torch.cat([chain(c)[:, 0] for c in x.split(_BATCH)])  # natural log of the bands' power
    db = (10.0 / np.log(10.0)) * mel.numpy().astype(np.float64)
    if range_db is not None:
        db = np.maximum(db, db.max() - range_db)
    if frames is not None:
        db = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(db), (n_mels, frames)).numpy()
    return db


def onset_frames(flux: np.ndarray, *, radius: int = 3) -> np.ndarray:
    """Onsets of a spectral-flux curve ``(frames,)`` (:func:`specrep.descriptors.onset_strength`): frames that are
    the maximum within ``+-radius`` frames (+-48 ms at hop 256, 16 kHz) and exceed the curve's median by two median
    absolute deviations and by a fifth of its largest peak (so the log-spectral flux of a noise floor between sparse
    hits does not count). Returns the frame indices."""
    flux = np.asarray(flux, dtype=np.float64)
    if flux.size < 3:
        return np.zeros(0, dtype=int)
    med = np.median(flux)
    threshold = med + max(2.0 * np.median(np.abs(flux - med)), 0.2 * (flux.max() - med))
    padded = np.pad(flux, radius, mode="constant", constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    is_peak = (flux >= windows.max(-1)) & (flux > threshold)
    return np.nonzero(is_peak)[0]


def loop_descriptors(waves, sample_rate: int) -> dict[str, np.ndarray]:
    """The per-loop descriptors, one definition for the FDD, the studio, the walk figure and the smoothness measure.

    From the frame descriptors of :func:`specrep.descriptors.describe` (:data:`N_FFT`, :data:`HOP`), per loop:

    - ``NAME`` and ``NAME_std`` for each of :data:`specrep.descriptors.DESCRIPTORS`: the mean and the standard
      deviation over frames; centroid, bandwidth and rolloff span decades and are averaged on a log scale
      (``NAME`` = ``exp(mean(ln(f + 1))) - 1`` Hz, ``NAME_std`` the std of ``ln(f + 1)``);
    - ``tempo`` (BPM, 60-200) and ``periodicity`` (its autocorrelation peak's height, 0-1): the strongest
      periodicity of the onset envelope after a log-normal tempo prior (centre 120 BPM, one octave wide, as
      librosa's tempo estimator);
    - ``onset_rate``: onsets per second (:func:`onset_frames`).

    Units in :data:`DESCRIPTOR_UNITS`.

    Parameters
    ----------
    waves : array-like, shape (N >= 1, samples)
    sample_rate : int > 0

    Returns
    -------
    dict name -> np.ndarray, float64, shape (N,)
    """
    x = _as_tensor(waves, at_least=1)
    stats: dict[str, list[torch.Tensor]] = {}
    onsets = []
    with torch.no_grad():
        for chunk in x.split(_BATCH):
            desc = D.describe(chunk, sample_rate, n_fft=N_FFT, hop_length=HOP)
            for name in D.DESCRIPTORS:
                v = torch.log(desc[name] + 1.0) if name in _HZ else desc[name]
                stats.setdefault(name, []).append(v.mean(-1))
                stats.setdefault(f"{name}_std", []).append(v.std(-1))
            tempo, strength = _periodicity(desc["onset_strength"], sample_rate)
            stats.setdefault("tempo", []).append(tempo)
            stats.setdefault("periodicity", []).append(strength)
            onsets += list(desc["onset_strength"].numpy().astype(np.float64))
    out = {k: torch.cat(v).numpy().astype(np.float64) for k, v in stats.items()}
    for name in _HZ:
        out[name] = np.expm1(out[name])
    out["onset_rate"] = np.array([len(onset_frames(f)) for f in onsets]) / (x.shape[-1] / sample_rate)
    return out


def descriptor_features(waves, sample_rate: int) -> np.ndarray:
    """The FDD's feature matrix: :data:`FDD_DESCRIPTORS` of :func:`loop_descriptors` (centroid, bandwidth and
    rolloff as ``ln(f + 1)``, the scale they were averaged on).

    Parameters
    ----------
    waves : array-like, shape (N >= 2, samples)
    sample_rate : int > 0

    Returns
    -------
    np.ndarray, float64, shape (N, 14)
    """
    _as_tensor(waves)
    desc = loop_descriptors(waves, sample_rate)
    return np.stack([np.log1p(desc[name]) if name in _HZ else desc[name] for name in FDD_DESCRIPTORS], axis=-1)


def envelope_autocorrelation(onset: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised autocorrelation of mean-removed onset envelopes and the tempo each lag stands for.

    Parameters
    ----------
    onset : torch.Tensor, shape (..., frames)
        Onset envelopes at :data:`HOP` (:func:`specrep.descriptors.onset_strength`).
    sample_rate : int > 0

    Returns
    -------
    ac : torch.Tensor, shape (..., frames)
        1 at lag 0.
    bpm : torch.Tensor, shape (frames,)
        ``60 * sample_rate / HOP / lag`` (lag 0 counted as lag 1).
    """
    o = onset - onset.mean(-1, keepdim=True)
    n = o.shape[-1]
    spec = torch.fft.rfft(o, n=2 * n)
    ac = torch.fft.irfft(spec.abs() ** 2, n=2 * n)[..., :n]
    ac = ac / (ac[..., :1] + 1e-12)
    lags = torch.arange(n, dtype=torch.float32)
    return ac, 60.0 * (sample_rate / HOP) / lags.clamp(min=1)


def _periodicity(onset: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tempo in BPM (60-200) of the highest onset autocorrelation peak after a log-normal tempo prior (centre
    120 BPM, one octave wide, as librosa's tempo estimator), and that peak's normalised height (prior-free)."""
    ac, bpm = envelope_autocorrelation(onset, sample_rate)
    valid = (bpm >= 60) & (bpm <= 200)
    prior = torch.exp(-0.5 * torch.log2(bpm / 120.0) ** 2)
    masked = torch.where(valid, ac * prior, torch.full_like(ac, -math.inf))
    best = masked.argmax(-1)
    return bpm[best], ac.gather(-1, best[:, None])[:, 0]


class NDBReference:
    """k-means bins fitted on real loops (GANSynth: k = 50), reusable across generated sets.

    Parameters
    ----------
    real : array (N, samples)
    sample_rate : int
    k : int
        Number of bins; N should be several times k.
    seed : int
    """

    def __init__(self, real, sample_rate: int, *, k: int = 50, seed: int = 0):
        from sklearn.cluster import KMeans

        feats = logmel_features(real, sample_rate).reshape(len(real), -1)
        if feats.shape[0] < 2 * k:
            raise ParameterError(f"NDB with k={k} needs at least {2 * k} real loops, got {feats.shape[0]}")
        self.sample_rate, self.k = sample_rate, k
        self.mean, self.std = feats.mean(0), feats.std(0) + 1e-8
        self.kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit((feats - self.mean) / self.std)
        self.real_counts = np.bincount(self.kmeans.labels_, minlength=k)

    def histogram(self, waves) -> np.ndarray:
        """Bin counts ``(k,)`` of ``waves``."""
        feats = (logmel_features(waves, self.sample_rate).reshape(len(waves), -1) - self.mean) / self.std
        return np.bincount(self.kmeans.predict(feats), minlength=self.k)

    def score(self, waves, *, alpha: float = 0.05) -> dict[str, float]:
        """``{"ndb_k": ..., "ndb": count, "jsd": ...}`` of generated ``waves`` against the real bins."""
        return ndb(self.real_counts, self.histogram(waves), alpha=alpha)


def ndb(real_counts: np.ndarray, fake_counts: np.ndarray, *, alpha: float = 0.05) -> dict[str, float]:
    """Number of statistically different bins from two bin-count histograms (two-proportion z-tests)."""
    n1, n2 = real_counts.sum(), fake_counts.sum()
    p1, p2 = real_counts / n1, fake_counts / n2
    pooled = (real_counts + fake_counts) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = np.where(se > 0, (p1 - p2) / np.where(se > 0, se, 1), 0.0)
    different = int((2 * normal.sf(np.abs(z)) < alpha).sum())
    m = 0.5 * (p1 + p2)

    def kl(p, q):
        mask = p > 0
        return float((p[mask] * np.log(p[mask] / q[mask])).sum())

    return {"ndb": different, "ndb_k": different / len(real_counts), "jsd": 0.5 * kl(p1, m) + 0.5 * kl(p2, m)}


def frechet_descriptor_distance(real, fake, sample_rate: int, *, real_features: np.ndarray | None = None) -> float:
    """FDD between real and generated loops (features standardised by the real set's statistics)."""
    fr = descriptor_features(real, sample_rate) if real_features is None else real_features
    ff = descriptor_features(fake, sample_rate)
    mean, std = fr.mean(0), fr.std(0) + 1e-8
    return frechet_distance(gaussian_stats((fr - mean) / std), gaussian_stats((ff - mean) / std))


def onset_autocorrelation(waves, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Rhythm profile of each loop: onset-envelope autocorrelation at the lags of 60-200 BPM.

    Returns
    -------
    ac : np.ndarray, shape (N, L)
        1 at lag 0 (not included); a steady beat gives a high peak at the beat period and its multiples.
    bpm : np.ndarray, shape (L,)
        The tempo each lag stands for, decreasing.
    """
    x = _as_tensor(waves)
    rows = []
    with torch.no_grad():
        for chunk in x.split(_BATCH):
            onset = D.onset_strength(D.magnitude(chunk, sample_rate, n_fft=N_FFT, hop_length=HOP)[0])
            ac, bpm = envelope_autocorrelation(onset, sample_rate)
            keep = (bpm >= 60) & (bpm <= 200)
            rows.append(ac[..., keep])
    return torch.cat(rows).numpy().astype(np.float64), bpm[keep].numpy().astype(np.float64)


def rhythm_scores(real_ac: np.ndarray, fake_ac: np.ndarray) -> dict[str, float]:
    """Is there a steady beat, at the data's tempi? From :func:`onset_autocorrelation` of both sets.

    Returns
    -------
    dict
        ``beat_strength``: median height of each loop's highest autocorrelation peak (1 = perfectly periodic
        onsets); ``clear_beat``: share of loops whose peak is at least the real loops' 10th percentile;
        ``profile_corr``: Pearson correlation of the two sets' mean profiles over the lags (1 = the same beat
        periods, in the same proportions).

    A tempo histogram was tried first and dropped: on 2 s loops the single-tempo estimate flips between
    octave-related peaks (80 / 120 / 156 BPM) under a small change such as a spectral round trip.
    All three are NaN for loops too short to hold a beat period of 200 BPM (0.3 s).
    """
    if real_ac.shape[-1] == 0 or fake_ac.shape[-1] == 0:  # loops shorter than one beat at 200 BPM
        return {"beat_strength": math.nan, "clear_beat": math.nan, "profile_corr": math.nan}
    strength_real, strength = real_ac.max(-1), fake_ac.max(-1)
    profile_real, profile = real_ac.mean(0), fake_ac.mean(0)
    corr = np.corrcoef(profile_real, profile)[0, 1] if profile.std() > 0 and profile_real.std() > 0 else 0.0
    return {"beat_strength": float(np.median(strength)),
            "clear_beat": float((strength >= np.quantile(strength_real, 0.1)).mean()),
            "profile_corr": float(corr)}
