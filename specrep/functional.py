"""Pure spectral functions: every parameter explicit, no state.

Shapes follow torchaudio's conventions: waveforms are ``(..., time)``, spectrograms ``(..., freq, frames)``;
leading dimensions are packed into one batch dimension and unpacked on return.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ParameterError
from .params import MelParams, STFTParams

__all__ = [
    "window", "stft", "istft", "overlap_add", "window_envelope", "dft_bases", "stft_dft", "istft_dft", "wrap",
    "unwrap", "phase_to_if", "if_to_phase", "log_magnitude", "inv_log_magnitude", "hz_to_mel", "mel_to_hz",
    "mel_filterbank", "mel_inverse_matrix", "mel_project", "mel_unproject",
]

TWO_PI = 2.0 * math.pi


def window(params: STFTParams, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Periodic analysis window of length ``n_fft`` (``win_length`` samples, zero-padded around the centre).

    Returns
    -------
    torch.Tensor, shape (n_fft,)
    """
    fn = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}
    w = fn[params.window](params.win_length, periodic=True, dtype=dtype, device=device)
    left = (params.n_fft - params.win_length) // 2
    return F.pad(w, (left, params.n_fft - params.win_length - left))


def _check_wave(wave: torch.Tensor) -> None:
    if not isinstance(wave, torch.Tensor):
        raise ParameterError(f"expected a torch.Tensor waveform, got {type(wave).__name__}")
    if wave.is_complex() or not wave.is_floating_point():
        raise ParameterError(f"waveform dtype {wave.dtype} must be real floating point")
    if wave.ndim < 1 or wave.shape[-1] == 0:
        raise ParameterError(f"waveform of shape {tuple(wave.shape)} has no samples")


def stft(wave: torch.Tensor, params: STFTParams, win: torch.Tensor | None = None) -> torch.Tensor:
    """Complex short-time Fourier transform.

    Parameters
    ----------
    wave : torch.Tensor, shape (..., time), real float32/float64
    params : STFTParams
        Layout (``"center"`` or GANSynth's ``"front"``), window, hop, DC handling.
    win : torch.Tensor, shape (n_fft,), optional
        Precomputed :func:`window` (blocks cache it as a buffer).

    Returns
    -------
    torch.Tensor, complex, shape (..., n_freqs, n_frames)
        ``n_freqs = n_fft // 2 + 1`` (``n_fft // 2`` with ``drop_dc``); frame count from
        :meth:`STFTParams.frames_for`.
    """
    _check_wave(wave)
    lead, length = wave.shape[:-1], wave.shape[-1]
    x = wave.reshape(-1, length)
    if win is None:
        win = window(params, dtype=wave.dtype, device=wave.device)
    if params.padding == "center":
        if params.pad_mode == "reflect" and length <= params.n_fft // 2:
            raise ParameterError(
                f"signal of {length} samples is too short for reflect padding with n_fft={params.n_fft}; "
                "use pad_mode='constant' or a longer signal"
            )
        spec = torch.stft(x, params.n_fft, params.hop_length, window=win, center=True, pad_mode=params.pad_mode,
                          return_complex=True)
    else:
        n_frames = params.frames_for(length)
        x = F.pad(x, (params.front_pad(length, n_frames), 0))
        spec = torch.stft(x, params.n_fft, params.hop_length, window=win, center=False, return_complex=True)
    if params.drop_dc:
        spec = spec[:, 1:]
    elif params.drop_nyquist:
        spec = spec[:, :-1]
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, params: STFTParams, *, length: int | None = None,
          win: torch.Tensor | None = None) -> torch.Tensor:
    """Inverse of :func:`stft` (least-squares overlap-add).

    Parameters
    ----------
    spec : torch.Tensor, complex, shape (..., n_freqs, n_frames)
    params : STFTParams
        The same object the forward transform used.
    length : int, optional
        Samples to return; default :meth:`STFTParams.default_length`. Pass the original length for an exact
        round trip.

    Returns
    -------
    torch.Tensor, real, shape (..., length)
    """
    if not spec.is_complex():
        raise ParameterError(f"istft expects a complex spectrogram, got dtype {spec.dtype}")
    if spec.ndim < 2 or spec.shape[-2] != params.n_freqs:
        dropped = " with drop_dc" if params.drop_dc else " with drop_nyquist" if params.drop_nyquist else ""
        raise ParameterError(f"spectrogram of shape {tuple(spec.shape)} does not have n_freqs={params.n_freqs} rows "
                             f"for n_fft={params.n_fft}{dropped}")
    lead, (n_freqs, n_frames) = spec.shape[:-2], spec.shape[-2:]
    if length is None:
        length = params.default_length(n_frames)
    real_dtype = spec.real.dtype
    if win is None:
        win = window(params, dtype=real_dtype, device=spec.device)
    s = spec.reshape(-1, n_freqs, n_frames)
    if params.drop_dc:
        s = F.pad(s, (0, 0, 1, 0))
    elif params.drop_nyquist:
        s = F.pad(s, (0, 0, 0, 1))
    if params.padding == "center":
        out = torch.istft(s, params.n_fft, params.hop_length, window=win, center=True, length=length)
    else:
        out = _overlap_add(s, params, win, params.front_pad(length, n_frames))[:, -length:]
    return out.reshape(*lead, length)


def _overlap_add(spec: torch.Tensor, params: STFTParams, win: torch.Tensor, pad: int) -> torch.Tensor:
    """Least-squares OLA for frames that are not centred: sum(w * frame) / sum(w**2), 0 where sum(w**2) ~ 0."""
    n_frames = spec.shape[-1]
    frames = torch.fft.irfft(spec, n=params.n_fft, dim=-2) * win[:, None]  # (B, n_fft, frames)
    total = params.hop_length * (n_frames - 1) + params.n_fft
    return _normalise_ola(overlap_add(frames.transpose(1, 2), params.hop_length, total),
                          window_envelope(win, params.hop_length, n_frames))


def _normalise_ola(signal: torch.Tensor, env: torch.Tensor) -> torch.Tensor:
    """Overlap-added ``signal (B, total)`` divided by the squared-window envelope ``(total,)``, left as is where
    the envelope is below ``eps * max`` (the least-squares inverse)."""
    tiny = torch.finfo(env.dtype).eps * env.max()
    return signal / torch.where(env > tiny, env, torch.ones_like(env))


def overlap_add(frames: torch.Tensor, hop_length: int, total: int) -> torch.Tensor:
    """Overlap-add: frame ``m`` added into the output at sample ``m * hop_length``.

    When ``hop_length`` divides the frame length this is ``n_fft / hop_length`` padded slice additions, out of
    place and in frame order (what ONNX exporters can trace); otherwise ``F.fold``.

    Parameters
    ----------
    frames : torch.Tensor, real, shape (B, n_frames, n_fft)
    hop_length : int
    total : int
        Output samples: ``hop_length * (n_frames - 1) + n_fft``.

    Returns
    -------
    torch.Tensor, shape (B, total)
    """
    b, n_frames, n_fft = frames.shape
    if total != hop_length * (n_frames - 1) + n_fft:
        raise ParameterError(f"total={total} != hop_length * (n_frames - 1) + n_fft = "
                             f"{hop_length * (n_frames - 1) + n_fft}")
    if n_fft % hop_length:
        fold = dict(output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop_length))
        return F.fold(frames.transpose(1, 2), **fold).reshape(b, total)
    r = n_fft // hop_length
    chunks = frames.reshape(b, n_frames, r, hop_length)
    out = F.pad(chunks[:, :, 0], (0, 0, 0, r - 1))
    for i in range(1, r):
        out = out + F.pad(chunks[:, :, i], (0, 0, i, r - 1 - i))
    return out.reshape(b, total)


def window_envelope(win: torch.Tensor, hop_length: int, n_frames: int) -> torch.Tensor:
    """Sum of the squared windows of ``n_frames`` frames placed every ``hop_length`` samples: the normalisation
    of least-squares overlap-add (what :func:`istft` divides by).

    Parameters
    ----------
    win : torch.Tensor, shape (n_fft,)

    Returns
    -------
    torch.Tensor, shape (hop_length * (n_frames - 1) + n_fft,)
    """
    n_fft = win.shape[-1]
    return overlap_add((win**2).expand(1, n_frames, n_fft), hop_length, hop_length * (n_frames - 1) + n_fft)[0]


def dft_bases(params: STFTParams, *, dtype=torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Real DFT matrices with the analysis window folded in: the STFT as matrix products, without complex
    tensors or ``torch.fft`` (what ONNX can express), for :func:`stft_dft`, :func:`istft_dft` and
    :func:`specrep.phase.fgla`.

    Built in float64, then cast to ``dtype``. Rows of ``synth`` and columns of ``analysis`` are interleaved per
    bin, for all ``K = n_fft // 2 + 1`` bins: entry ``2k`` is the real part of bin ``k``, ``2k + 1`` its
    imaginary part (the layout of ``torch.view_as_real``, flattened).

    Returns
    -------
    synth : torch.Tensor, shape (2K, n_fft)
        ``pairs.flatten(-2) @ synth`` = ``irfft(spectrum, n=n_fft) * window``: windowed synthesis frames.
    analysis : torch.Tensor, shape (n_fft, 2K)
        ``(frames @ analysis).unflatten(-1, (K, 2))`` = ``view_as_real(rfft(frames * window))``.
    """
    n_fft = params.n_fft
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, None, :]
    angle = 2.0 * math.pi * k * n / n_fft
    # irfft counts every bin twice (itself and its mirror) except DC and, n_fft being even, Nyquist; it ignores
    # their imaginary parts, as the sine rows (zero at DC and Nyquist) do
    weight = torch.full((k.shape[0], 1, 1), 2.0, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0
    w = window(params, dtype=torch.float64)
    synth = torch.cat([weight * torch.cos(angle), -weight * torch.sin(angle)], dim=1) / n_fft * w  # (K, 2, n_fft)
    analysis = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1) * w
    return (synth.reshape(-1, n_fft).to(dtype=dtype, device=device),
            analysis.reshape(-1, n_fft).T.contiguous().to(dtype=dtype, device=device))


def stft_dft(wave: torch.Tensor, params: STFTParams, analysis: torch.Tensor) -> torch.Tensor:
    """:func:`stft` in real arithmetic: ``torch.view_as_real(stft(wave, params))`` up to float rounding.

    Parameters
    ----------
    wave : torch.Tensor, shape (..., time), real
    params : STFTParams
    analysis : torch.Tensor, shape (n_fft, 2K)
        From :func:`dft_bases`; its dtype is the computation's.

    Returns
    -------
    torch.Tensor, real, shape (..., n_freqs, n_frames, 2): (real, imaginary) parts
    """
    _check_wave(wave)
    lead, length = wave.shape[:-1], wave.shape[-1]
    x = wave.reshape(-1, length).to(analysis.dtype)
    n_frames = params.frames_for(length)
    if params.padding == "center":
        half = params.n_fft // 2
        if params.pad_mode == "reflect" and length <= half:
            raise ParameterError(f"signal of {length} samples is too short for reflect padding with "
                                 f"n_fft={params.n_fft}; use pad_mode='constant' or a longer signal")
        x = F.pad(x[:, None], (half, half), mode=params.pad_mode)[:, 0]
    else:
        x = F.pad(x, (params.front_pad(length, n_frames), 0))
    frames = x.unfold(-1, params.n_fft, params.hop_length)[:, :n_frames]  # (B, frames, n_fft)
    pairs = (frames @ analysis).unflatten(-1, (-1, 2)).transpose(1, 2)  # (B, K, frames, 2)
    if params.drop_dc:
        pairs = pairs[:, 1:]
    elif params.drop_nyquist:
        pairs = pairs[:, :-1]
    return pairs.reshape(*lead, *pairs.shape[-3:])


def istft_dft(pairs: torch.Tensor, params: STFTParams, synth: torch.Tensor, *, length: int | None = None,
              win: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`istft` in real arithmetic (DFT as a matrix product, overlap-add as padded slice sums): what an ONNX
    graph can hold. Equal to ``istft(torch.view_as_complex(pairs), params, length=length)`` up to float rounding.

    Parameters
    ----------
    pairs : torch.Tensor, real, shape (..., n_freqs, n_frames, 2)
        (real, imaginary) parts, the layout of ``torch.view_as_real``.
    params : STFTParams
    synth : torch.Tensor, shape (2K, n_fft)
        From :func:`dft_bases`.
    length : int, optional
        Samples to return; default :meth:`STFTParams.default_length`.
    win : torch.Tensor, shape (n_fft,), optional
        The analysis :func:`window` (for the overlap-add normalisation), in the dtype of ``pairs``.

    Returns
    -------
    torch.Tensor, shape (..., length)
    """
    if pairs.ndim < 3 or pairs.shape[-1] != 2 or pairs.shape[-3] != params.n_freqs:
        raise ParameterError(f"pairs of shape {tuple(pairs.shape)}; expected (..., {params.n_freqs}, frames, 2)")
    lead, n_frames = pairs.shape[:-3], pairs.shape[-2]
    if length is None:
        length = params.default_length(n_frames)
    if win is None:
        win = window(params, dtype=pairs.dtype, device=pairs.device)
    s = pairs.reshape(-1, *pairs.shape[-3:])
    if params.drop_dc:
        s = F.pad(s, (0, 0, 0, 0, 1, 0))
    elif params.drop_nyquist:
        s = F.pad(s, (0, 0, 0, 0, 0, 1))
    frames = s.transpose(1, 2).flatten(-2) @ synth  # (B, frames, n_fft)
    total = params.hop_length * (n_frames - 1) + params.n_fft
    y = _normalise_ola(overlap_add(frames, params.hop_length, total),
                       window_envelope(win, params.hop_length, n_frames))
    start = params.n_fft // 2 if params.padding == "center" else params.front_pad(length, n_frames)
    if start + length > total:  # as torch.istft: zeros after the last frame
        y = F.pad(y, (0, start + length - total))
    return y[:, start: start + length].reshape(*lead, length)


def wrap(phase: torch.Tensor) -> torch.Tensor:
    """Principal value of a phase, in [-pi, pi). Gradient 1 almost everywhere. Shape-preserving."""
    return torch.remainder(phase + math.pi, TWO_PI) - math.pi


def unwrap(phase: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Unwrap a phase along ``dim`` (numpy's ``unwrap`` with discont pi), accumulated in float64.

    The unwrapped phase grows with the number of frames (~1e5 rad over a few seconds at high bins); the
    accumulation runs in float64 so the result stays accurate when returned in float32. Shape-preserving.
    """
    d = wrap(torch.diff(phase, dim=dim, prepend=phase.narrow(dim, 0, 1)))
    first = phase.narrow(dim, 0, 1)
    d = torch.cat([first, d.narrow(dim, 1, phase.shape[dim] - 1)], dim=dim)
    return torch.cumsum(d.double(), dim=dim).to(phase.dtype)


def phase_to_if(phase: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Instantaneous frequency: phase unwrapped along ``dim`` (time), first difference, divided by pi.

    The first frame keeps the phase itself (/pi) so that :func:`if_to_phase` is an exact inverse.

    Parameters
    ----------
    phase : torch.Tensor, shape (..., freq, frames) for ``dim=-1``

    Returns
    -------
    torch.Tensor, same shape, values in [-1, 1]: [-1, 1) after the first frame; the first frame is the phase / pi,
    which is +1 where torch.angle returns pi
    """
    d = wrap(torch.diff(phase, dim=dim))  # == diff(unwrap(phase)) but never forms the large unwrapped values
    return torch.cat([phase.narrow(dim, 0, 1), d], dim=dim) / math.pi


def if_to_phase(ifreq: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Inverse of :func:`phase_to_if`: cumulative sum times pi (in float64), wrapped to [-pi, pi).

    Accumulating in float64 and wrapping before the cast keeps the float32 round trip exact to ~1e-6 rad over
    thousands of frames; a float32 cumulative sum would lose ~0.01 rad per 1e5 rad of accumulated phase.
    """
    phase = torch.cumsum(ifreq.double() * math.pi, dim=dim)
    return wrap(phase).to(ifreq.dtype)


def log_magnitude(mag: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``log(mag + eps)`` (GANSynth's safe log). Shape-preserving."""
    return torch.log(mag + eps)


def inv_log_magnitude(logmag: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Exact inverse of :func:`log_magnitude`: ``exp(y) - eps``, floored at 0. Shape-preserving."""
    return torch.clamp(torch.exp(logmag) - eps, min=0.0)


def hz_to_mel(f, scale: str = "htk"):
    """Hz to mel. ``"htk"``: 2595 log10(1 + f/700); ``"slaney"``: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep,
                    f / f_sp)


def mel_to_hz(m, scale: str = "htk"):
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(params: MelParams) -> np.ndarray:
    """Triangular mel filterbank over the STFT rows.

    Returns
    -------
    np.ndarray, float64, shape (n_mels, n_freqs)
        Row ``m`` weights the linear rows into band ``m``. Bands narrower than a bin (low bands when
        ``n_mels`` is large, as in GANSynth's 1024-band layout) are all-zero rows.
    """
    freqs = np.asarray(params.stft.frequencies())
    edges = mel_to_hz(np.linspace(hz_to_mel(params.f_min, params.scale), hz_to_mel(params.f_max, params.scale),
                                  params.n_mels + 2), params.scale)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(rising, falling))
    if params.norm == "slaney":
        fb *= (2.0 / (upper - lower))
    return fb


def mel_inverse_matrix(params: MelParams, fb: np.ndarray | None = None) -> np.ndarray:
    """Matrix taking mel bands back to linear rows.

    Returns
    -------
    np.ndarray, float64, shape (n_freqs, n_mels)
        GANSynth's normalised transpose for ``inverse="transpose"``, else the pseudo-inverse.
    """
    fb = mel_filterbank(params) if fb is None else fb
    if params.inverse == "transpose":
        gram_sum = (fb @ fb.T).sum(axis=0)
        scale = np.where(np.abs(gram_sum) > 1e-8, 1.0 / np.where(gram_sum == 0, 1, gram_sum), gram_sum)
        return fb.T * scale[None, :]
    return np.linalg.pinv(fb)


def mel_project(x: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
    """Apply a filterbank along the frequency axis.

    Parameters
    ----------
    x : torch.Tensor, shape (..., n_freqs, frames)
    fb : torch.Tensor, shape (n_mels, n_freqs)

    Returns
    -------
    torch.Tensor, shape (..., n_mels, frames)
    """
    return torch.matmul(fb, x)


def mel_unproject(mel: torch.Tensor, fb: torch.Tensor, inv: torch.Tensor, *, nnls_iter: int = 0,
                  nonneg: bool = True) -> torch.Tensor:
    """Linear rows from mel bands: ``inv @ mel``, clipped at 0, then ``nnls_iter`` non-negative refinements.

    The refinement is the multiplicative NNLS update ``x <- x * (fb^T y) / (fb^T fb x)`` (Lee & Seung), which
    keeps ``x >= 0`` and never increases ``||fb x - y||``. Differentiable.

    Parameters
    ----------
    mel : torch.Tensor, shape (..., n_mels, frames), >= 0 when ``nonneg``
    fb : torch.Tensor, shape (n_mels, n_freqs)
    inv : torch.Tensor, shape (n_freqs, n_mels)

    Returns
    -------
    torch.Tensor, shape (..., n_freqs, frames)
    """
    x = torch.matmul(inv, mel)
    if not nonneg:
        return x
    x = torch.clamp(x, min=0.0)
    if nnls_iter:
        tiny = torch.finfo(x.dtype).tiny
        # A small positive floor lets the multiplicative update move entries that the pinv clipped to 0.
        x = x + 1e-3 * x.mean(dim=-2, keepdim=True) + tiny
        numer = torch.matmul(fb.T, mel)
        floor = 1e-12 * numer.amax(dim=-2, keepdim=True) + tiny
        for _ in range(nnls_iter):
            # fb^T (fb x): two thin products, n_freqs / n_mels times cheaper than forming fb^T fb x
            x = x * numer / (torch.matmul(fb.T, torch.matmul(fb, x)) + floor)
    return x
