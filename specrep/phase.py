"""Phase reconstruction from STFT magnitudes.

- :func:`griffin_lim`: fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013), batched, any device, with
  ``momentum=0`` giving the original algorithm (Griffin & Lim 1984).
- :func:`pghi`: Phase Gradient Heap Integration (Průša, Balazs & Søndergaard 2017), a non-iterative estimate
  from the phase-magnitude relations of Gaussian-windowed STFTs; also the best initialisation for Griffin-Lim.
- :class:`PhaseReconstruction`: the frozen settings a magnitude-only chain uses for its inverse.
- The pieces of fast Griffin-Lim, public so that other graphs (an ONNX export) compose the same code:
  :func:`fgla_domain` (the padded frame domain's constants), :func:`fgla_projection` (one ``stft(istft(.))``) and
  :func:`fgla` (the momentum iterations), each in ``torch.fft`` or real (DFT-matrix) arithmetic.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
import torch

from . import functional as Fn
from .errors import ParameterError, check_choice, check_positive_int
from .params import STFTParams

INITS = ("pghi", "random", "zeros")

# Time-frequency ratio of the Gaussian that best matches each window, as a multiple of win_length**2
# (Průša et al. 2017, table 1): the Gaussian is exp(-pi t^2 / lambda).
_GAUSS_LAMBDA = {"hann": 0.25645, "hamming": 0.29794, "blackman": 0.17954}


@dataclass(frozen=True)
class PhaseReconstruction:
    """How a magnitude-only chain recovers phase in its inverse.

    Parameters
    ----------
    n_iter : int >= 0
        Fast Griffin-Lim iterations after the initialisation (0: the initial phase is used as is).
    momentum : float in [0, 1)
        FGLA momentum; 0 is classic Griffin-Lim, 0.99 is Perraudin's recommended value.
    init : {"pghi", "random", "zeros"}
        Initial phase. ``"pghi"`` is non-iterative and already close; ``"random"`` matches librosa's default.
    tol : float in (0, 1)
        PGHI treats coefficients below ``tol * max`` as noise (random phase, not integrated).
    seed : int
        Seed of the random initial phase and of PGHI's noise phase (reconstruction is deterministic).
    """

    n_iter: int = 32
    momentum: float = 0.99
    init: str = "pghi"
    tol: float = 1e-5
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, int) or self.n_iter < 0:
            raise ParameterError(f"n_iter={self.n_iter!r} must be an integer >= 0")
        if not 0.0 <= float(self.momentum) < 1.0:
            raise ParameterError(f"momentum={self.momentum} must be in [0, 1)")
        check_choice("init", self.init, INITS)
        if not 0.0 < float(self.tol) < 1.0:
            raise ParameterError(f"tol={self.tol} must be in (0, 1)")


def griffin_lim(
    mag: torch.Tensor,
    params: STFTParams,
    *,
    n_iter: int = 32,
    momentum: float = 0.99,
    init: str | torch.Tensor = "random",
    length: int | None = None,
    tol: float = 1e-5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Waveform whose STFT magnitude approaches ``mag`` (fast Griffin-Lim).

    Parameters
    ----------
    mag : torch.Tensor, real >= 0, shape (..., n_freqs, n_frames)
    params : STFTParams
        The transform the magnitude came from.
    n_iter : int >= 0
    momentum : float in [0, 1)
    init : {"random", "zeros", "pghi"} or torch.Tensor of shape (..., n_freqs, n_frames)
        Initial phase in radians when a tensor.
    length : int, optional
        Output samples (see :func:`specrep.functional.istft`).
    generator : torch.Generator, optional
        Source of the random initial phase; with ``init="pghi"`` its seed (``initial_seed()``) seeds PGHI's noise phase.

    Returns
    -------
    torch.Tensor, shape (..., length)
        Differentiable with respect to ``mag`` (PGHI's initial phase is treated as a constant).
    """
    if mag.is_complex():
        raise ParameterError("griffin_lim expects a real magnitude, got a complex tensor")
    if not 0.0 <= momentum < 1.0:
        raise ParameterError(f"momentum={momentum} must be in [0, 1)")
    win = Fn.window(params, dtype=mag.dtype, device=mag.device)
    angles = _initial_angles(mag, params, init, tol, generator)
    if n_iter:
        if length is None:
            length = params.default_length(mag.shape[-1])
        # int(): sizes are tensors while torch.jit.trace records (a traced graph has fixed frames and length)
        domain = fgla_domain(params, int(mag.shape[-1]), int(length), dtype=mag.dtype, device=mag.device)
        pairs = fgla(mag, torch.view_as_real(angles), params, domain, n_iter=n_iter, momentum=momentum)
        angles = torch.view_as_complex(pairs)
    return Fn.istft(mag * angles, params, length=length, win=win)


class FGLADomain(NamedTuple):
    """The padded frame domain in which fast Griffin-Lim iterates (build it with :func:`fgla_domain`).

    Attributes
    ----------
    window : torch.Tensor, shape (n_fft,)
        The analysis window (used by the ``torch.fft`` arithmetic; the DFT bases hold it folded in).
    inv_env : torch.Tensor, shape (total,)
        ``1 / envelope`` of the squared windows over the padded signal (``total = hop * (n_frames - 1) + n_fft``
        samples), 0 where the padding is zeros (``"center"`` + constant, ``"front"``) or the envelope vanishes.
    index : torch.Tensor, long, shape (n_frames, n_fft)
        The sample of the overlap-added padded signal that each frame entry reads: the one gather that re-imposes
        the padding (the reflection of ``"center"`` + reflect; the identity otherwise, with the zeros from
        ``inv_env``) and cuts the signal into frames again.
    dft : tuple of torch.Tensor or None
        ``(synth, analysis)`` from :func:`specrep.functional.dft_bases`: real arithmetic (matrix-product DFTs, as an
        ONNX graph can hold); None: ``torch.fft`` on complex views.
    """

    window: torch.Tensor
    inv_env: torch.Tensor
    index: torch.Tensor
    dft: tuple[torch.Tensor, torch.Tensor] | None = None


def fgla_domain(params: STFTParams, n_frames: int, length: int, *, dtype=torch.float32, device=None,
                dft: bool = False) -> FGLADomain:
    """The constants of :func:`fgla_projection` for spectrograms of ``n_frames`` frames of a ``length``-sample
    signal: window, inverse envelope and the padding gather, in ``dtype`` on ``device``.

    Parameters
    ----------
    params : STFTParams
    n_frames : int
    length : int
        Samples of the signal (what :func:`specrep.functional.istft` would return).
    dft : bool
        Include :func:`specrep.functional.dft_bases` (real arithmetic) instead of using ``torch.fft``.

    Returns
    -------
    FGLADomain
    """
    check_positive_int("n_frames", n_frames)
    check_positive_int("length", length)
    n_fft, hop = params.n_fft, params.hop_length
    total = hop * (n_frames - 1) + n_fft
    start = n_fft // 2 if params.padding == "center" else params.front_pad(length, n_frames)
    win = Fn.window(params, dtype=dtype, device=device)
    env = Fn.window_envelope(win, hop, n_frames)
    inv_env = torch.where(env > torch.finfo(env.dtype).eps * env.max(), 1.0 / env, torch.zeros_like(env))
    pos = torch.arange(total, device=device)
    end = start + length  # first sample after the signal
    if params.padding == "center" and params.pad_mode == "reflect":  # torch.stft's reflect padding
        source = torch.where(pos < start, 2 * start - pos, torch.where(pos >= end, 2 * (end - 1) - pos, pos))
        source = source.clamp(0, total - 1)
    else:  # zero padding: keep the signal's samples, zero the rest
        source = pos
        inv_env = inv_env * ((pos >= start) & (pos < end)).to(dtype)
    index = source[torch.arange(n_frames, device=device)[:, None] * hop + torch.arange(n_fft, device=device)]
    bases = Fn.dft_bases(params, dtype=dtype, device=device) if dft else None
    return FGLADomain(win, inv_env, index, bases)


def fgla_projection(pairs: torch.Tensor, params: STFTParams, domain: FGLADomain) -> torch.Tensor:
    """One consistency projection ``stft(istft(X))`` of fast Griffin-Lim, computed on the padded signal.

    The frames are synthesised, overlap-added and normalised by the envelope; the padding is re-imposed by one
    gather (``domain.index``) instead of a crop and a re-pad, and the frames are analysed again: the same as
    ``stft(istft(X, length=length))`` with :mod:`specrep.functional`, without leaving the frame-major layout.

    Parameters
    ----------
    pairs : torch.Tensor, real, shape (B, n_frames, n_fft // 2 + 1, 2)
        Frame-major spectrum of all bins (dropped rows restored) as (real, imaginary) pairs.
    params : STFTParams
    domain : FGLADomain
        From :func:`fgla_domain`; ``domain.dft`` chooses real arithmetic or ``torch.fft``.

    Returns
    -------
    torch.Tensor, same shape as ``pairs``
    """
    b, n_frames, n_bins, _ = pairs.shape
    n_fft, hop = params.n_fft, params.hop_length
    if domain.dft is None:
        frames = torch.fft.irfft(torch.view_as_complex(pairs), n=n_fft, dim=-1) * domain.window
    else:
        frames = pairs.flatten(-2) @ domain.dft[0]
    signal = Fn.overlap_add(frames, hop, hop * (n_frames - 1) + n_fft) * domain.inv_env
    # (B, n_frames, n_fft), padding re-imposed; index_select: 3x faster than indexing with the 2-D index
    framed = signal.index_select(1, domain.index.reshape(-1)).reshape(b, n_frames, n_fft)
    if domain.dft is None:
        return torch.view_as_real(torch.fft.rfft(framed * domain.window, dim=-1))
    return (framed @ domain.dft[1]).unflatten(-1, (n_bins, 2))


def _phasors(rebuilt: torch.Tensor, previous: torch.Tensor | None, beta: float, real: bool) -> torch.Tensor:
    """Unit phasors ``z / |z|`` (0 where ``z`` is 0) of ``z = rebuilt - beta * previous`` (``rebuilt`` alone
    without ``previous``); (real, imaginary) pairs ``(..., 2)`` in and out."""
    if not real:  # complex arithmetic, and torch.sgn: ~10x faster than the complex division
        z = torch.view_as_complex(rebuilt)
        if previous is not None:
            z = z.add(torch.view_as_complex(previous), alpha=-beta)
        return torch.view_as_real(torch.sgn(z))
    pairs = rebuilt if previous is None else rebuilt.add(previous, alpha=-beta)
    r = torch.sqrt((pairs * pairs).sum(dim=-1, keepdim=True))
    nonzero = r > 0
    # 1 / |z| selected on (..., 1) and broadcast by one product: a select over the pairs took a fifth of an ONNX
    # graph's time; scalar fill values, as an ONNX exporter turns ``ones_like`` into a fixed-shape constant
    return pairs * torch.where(nonzero, 1.0 / torch.where(nonzero, r, 1.0), 0.0)


def fgla(mag: torch.Tensor, angles: torch.Tensor, params: STFTParams, domain: FGLADomain, *, n_iter: int,
         momentum: float) -> torch.Tensor:
    """Fast Griffin-Lim iterations (Perraudin et al. 2013) from given phasors: what :func:`griffin_lim` runs.

    Each iteration projects ``mag * angles`` with :func:`fgla_projection`, applies the momentum
    ``beta = momentum / (1 + momentum)`` to the projections and keeps the unit phasors. A row dropped by
    ``params`` (DC or Nyquist) is pinned to zero, as the inverse restores it.

    Parameters
    ----------
    mag : torch.Tensor, real >= 0, shape (..., n_freqs, n_frames)
    angles : torch.Tensor, real, shape (..., n_freqs, n_frames, 2)
        Initial unit phasors as (cos, sin) pairs (``torch.view_as_real`` of a complex tensor).
    params : STFTParams
    domain : FGLADomain
        From :func:`fgla_domain` for ``n_frames`` and the signal length; its ``dft`` chooses the arithmetic.
    n_iter : int >= 0
    momentum : float in [0, 1)

    Returns
    -------
    torch.Tensor, shape (..., n_freqs, n_frames, 2): the final unit phasors
    """
    if not 0.0 <= momentum < 1.0:
        raise ParameterError(f"momentum={momentum} must be in [0, 1)")
    lead, (n_freqs, n_frames) = mag.shape[:-2], mag.shape[-2:]
    if tuple(angles.shape) != (*mag.shape, 2):
        raise ParameterError(f"angles of shape {tuple(angles.shape)}; expected {(*mag.shape, 2)}")
    m = mag.reshape(-1, n_freqs, n_frames).transpose(1, 2)  # (B, frames, freq): frame-major, no transposes inside
    a = angles.reshape(-1, n_freqs, n_frames, 2).transpose(1, 2)
    edge = (1, 0) if params.drop_dc else (0, 1) if params.drop_nyquist else None
    if edge is not None:  # the dropped row is pinned to zero, as the inverse restores it
        m = torch.nn.functional.pad(m, edge)
        a = torch.nn.functional.pad(a, (0, 0, *edge))
    beta = momentum / (1.0 + momentum)
    real = domain.dft is not None
    previous = None
    m_pairs = m.unsqueeze(-1)  # multiply (re, im) pairs by the magnitude: much cheaper than complex * real
    for _ in range(n_iter):
        rebuilt = fgla_projection(a * m_pairs, params, domain)
        a = _phasors(rebuilt, previous, beta, real)
        previous = rebuilt
    if edge is not None:
        a = a[:, :, 1:] if params.drop_dc else a[:, :, :-1]
    return a.transpose(1, 2).reshape(*lead, n_freqs, n_frames, 2)


def random_phase(shape, generator: torch.Generator | None = None, *, dtype=torch.float32) -> torch.Tensor:
    """The random initial phase of Griffin-Lim: uniform in [0, 2 pi), shape ``(n_freqs, n_frames)``, drawn on the
    generator's device (CPU without one). ``init="random"`` uses exactly this draw, shared by a batch's items."""
    device = "cpu" if generator is None else generator.device
    return TWO_PI * torch.rand(tuple(shape), generator=generator, dtype=dtype, device=device)


def _initial_angles(mag, params, init, tol, generator):
    if isinstance(init, torch.Tensor):
        if init.shape != mag.shape:
            raise ParameterError(f"init phase shape {tuple(init.shape)} != magnitude shape {tuple(mag.shape)}")
        return torch.polar(torch.ones_like(mag), init.to(mag))
    check_choice("init", init, INITS)
    if init == "zeros":
        return torch.polar(torch.ones_like(mag), torch.zeros_like(mag))
    if init == "random":
        # Drawn for one item and shared across the batch, so an item's result does not depend on its batch.
        phase = random_phase(mag.shape[-2:], generator, dtype=mag.dtype).to(mag.device).expand(mag.shape)
        return torch.polar(torch.ones_like(mag), phase)
    # PGHI's noise phase (below tol) is seeded by the generator's seed, so PhaseReconstruction.seed reaches it
    seed = 0 if generator is None else int(generator.initial_seed())
    return torch.polar(torch.ones_like(mag), pghi(mag.detach(), params, tol=tol, seed=seed))


TWO_PI = 2.0 * math.pi


def pghi(mag: torch.Tensor, params: STFTParams, *, tol: float = 1e-5, seed: int = 0) -> torch.Tensor:
    """Phase estimate by Phase Gradient Heap Integration.

    For a Gaussian window ``exp(-pi t^2 / lambda)`` the STFT phase gradient is a function of the log-magnitude
    gradient; with torch's frame-start phase convention, per frame and per bin:

    - time step at bin k:  ``hop * (2 pi k / n_fft + n_fft / lambda * d_k log|X|)``
    - frequency step:      ``pi - lambda / (hop n_fft) * d_m log|X|``

    (``d_k``, ``d_m`` centred differences per bin and per frame; the ``pi`` is the sign flip between adjacent
    bins caused by the window's centre sitting at ``n_fft / 2`` in each frame). The phase is integrated with
    the trapezoidal rule from the largest coefficient outwards, always continuing from the largest coefficient
    reached so far (a max-heap), so errors start where the estimate is most reliable. The Hann window is matched
    by ``lambda = 0.25645 win_length^2``.

    Parameters
    ----------
    mag : torch.Tensor, real >= 0, shape (..., n_freqs, n_frames)
    params : STFTParams
    tol : float in (0, 1)
        Coefficients below ``tol * max`` (per item) get a random phase and are not integrated.
    seed : int
        Seed of that random phase.

    Returns
    -------
    torch.Tensor, phase in radians, same shape, dtype and device as ``mag``; not differentiable.
    """
    if mag.ndim < 2:
        raise ParameterError(f"magnitude of shape {tuple(mag.shape)} needs (..., n_freqs, n_frames)")
    if mag.shape[-2] != params.n_freqs:
        raise ParameterError(f"magnitude has {mag.shape[-2]} rows, params give n_freqs={params.n_freqs}")
    lam = _GAUSS_LAMBDA[params.window] * params.win_length**2
    s = mag.detach().to("cpu", torch.float64).reshape(-1, *mag.shape[-2:]).numpy()
    logs = np.log(np.maximum(s, 1e-300))
    k0 = 1 if params.drop_dc else 0
    k = np.arange(k0, k0 + s.shape[1], dtype=np.float64)[:, None]
    hop, n = float(params.hop_length), float(params.n_fft)
    d_k = np.gradient(logs, axis=1) if s.shape[1] > 1 else np.zeros_like(logs)
    d_m = np.gradient(logs, axis=2) if s.shape[2] > 1 else np.zeros_like(logs)
    dt = hop * (TWO_PI * k / n + n / lam * d_k)  # d_k, d_m are per-bin / per-frame centred differences
    df = math.pi - lam / (hop * n) * d_m
    rng = np.random.default_rng(seed)
    # One noise pattern per (freq, frames) shape, shared by every item: results do not depend on batching.
    noise = np.broadcast_to(rng.uniform(-math.pi, math.pi, size=s.shape[1:]), s.shape).copy()
    phase = _heap_integrate(logs, dt, df, math.log(tol), noise)
    return torch.from_numpy(phase).reshape(mag.shape).to(device=mag.device, dtype=mag.dtype)


@numba.njit(cache=True)
def _heap_integrate(logs, dt, df, log_tol, noise):  # pragma: no cover - compiled; tested through pghi()
    # Serial on purpose: numba's parallel (OpenMP) layer resets torch's intra-op thread count process-wide.
    n_items, n_freqs, n_frames = logs.shape
    out = np.empty_like(logs)
    for b in range(n_items):
        out[b] = _integrate_one(logs[b], dt[b], df[b], log_tol, noise[b])
    return out


@numba.njit(cache=True)
def _integrate_one(logs, dt, df, log_tol, noise):  # pragma: no cover - compiled
    n_freqs, n_frames = logs.shape
    phase = noise.copy()
    threshold = logs.max() + log_tol
    done = logs <= threshold  # below tolerance: keep the random phase
    order = np.argsort(-logs.ravel())
    heap = [(0.0, 0)]
    heap.pop()
    for start in order:
        k0, m0 = start // n_frames, start % n_frames
        if done[k0, m0]:
            continue
        phase[k0, m0] = 0.0
        done[k0, m0] = True
        heapq.heappush(heap, (-logs[k0, m0], start))
        while len(heap) > 0:
            _, idx = heapq.heappop(heap)
            k, m = idx // n_frames, idx % n_frames
            if m + 1 < n_frames and not done[k, m + 1]:
                phase[k, m + 1] = phase[k, m] + 0.5 * (dt[k, m] + dt[k, m + 1])
                done[k, m + 1] = True
                heapq.heappush(heap, (-logs[k, m + 1], idx + 1))
            if m - 1 >= 0 and not done[k, m - 1]:
                phase[k, m - 1] = phase[k, m] - 0.5 * (dt[k, m] + dt[k, m - 1])
                done[k, m - 1] = True
                heapq.heappush(heap, (-logs[k, m - 1], idx - 1))
            if k + 1 < n_freqs and not done[k + 1, m]:
                phase[k + 1, m] = phase[k, m] + 0.5 * (df[k, m] + df[k + 1, m])
                done[k + 1, m] = True
                heapq.heappush(heap, (-logs[k + 1, m], idx + n_frames))
            if k - 1 >= 0 and not done[k - 1, m]:
                phase[k - 1, m] = phase[k, m] - 0.5 * (df[k, m] + df[k - 1, m])
                done[k - 1, m] = True
                heapq.heappush(heap, (-logs[k - 1, m], idx - n_frames))
    return phase


def reconstruct(mag: torch.Tensor, params: STFTParams, settings: PhaseReconstruction, *,
                length: int | None = None) -> torch.Tensor:
    """Waveform from a magnitude with the given :class:`PhaseReconstruction` settings.

    Parameters
    ----------
    mag : torch.Tensor, shape (..., n_freqs, n_frames)

    Returns
    -------
    torch.Tensor, shape (..., length)
    """
    generator = torch.Generator().manual_seed(settings.seed)
    return griffin_lim(mag, params, n_iter=settings.n_iter, momentum=settings.momentum, init=settings.init,
                       length=length, tol=settings.tol, generator=generator)
