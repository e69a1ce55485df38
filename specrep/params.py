"""Frozen parameter objects shared by a forward block and its inverse.

A block never copies window or hop settings: it holds one of these objects, and both ``forward`` and ``inverse``
read it, so the analysis and the synthesis cannot drift apart (the failure mode of torchaudio's separate
``Spectrogram`` / ``InverseSpectrogram`` / ``GriffinLim`` configs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ParameterError, check_choice, check_positive_float, check_positive_int, check_power_of_two

WINDOWS = ("hann", "hamming", "blackman")
PADDINGS = ("center", "front")
PAD_MODES = ("reflect", "constant")
MEL_SCALES = ("htk", "slaney")
MEL_NORMS = (None, "slaney")
MEL_INVERSES = ("nnls", "pinv", "transpose")


@dataclass(frozen=True)
class STFTParams:
    """Analysis/synthesis settings of a short-time Fourier transform.

    Parameters
    ----------
    sample_rate : int > 0
        In Hz; only used to give physical meaning (bin frequencies, durations).
    n_fft : int > 0, power of two
        FFT size. 1024 samples = 64 ms at 16 kHz.
    hop_length : int > 0, <= win_length
        Frame step in samples. Default ``n_fft // 4``.
    win_length : int > 0, <= n_fft
        Window length; the window is zero-padded to ``n_fft`` around its centre. Default ``n_fft``.
    window : {"hann", "hamming", "blackman"}
        Periodic window (the one that gives perfect overlap-add).
    padding : {"center", "front"}
        ``"center"``: frame ``m`` is centred on sample ``m * hop_length`` (the signal is padded by ``n_fft // 2``
        on both sides with ``pad_mode``); ``1 + time // hop_length`` frames; exact inverse everywhere.
        ``"front"``: GANSynth's layout — all padding (zeros) in front, frames not centred; ``n_frames`` frames
        (default ``ceil(time / hop) + n_fft / hop - 1``, which gives GANSynth's 128 frames for 64,000 samples at
        n_fft 2048, hop 512). The last few samples are seen by a single frame whose window is nearly zero there,
        so the inverse is exact except in the final ``hop_length`` samples, as in GANSynth.
    pad_mode : {"reflect", "constant"}
        Padding of the ``"center"`` layout.
    drop_dc : bool
        Drop the 0 Hz bin (GANSynth keeps bins 1..n_fft/2 to get a power-of-two height); the inverse restores it
        as zero, which removes the signal's windowed mean.
    n_frames : int > 0, optional
        Frame count of the ``"front"`` layout (GANSynth: 128).
    drop_nyquist : bool
        Drop the n_fft/2 bin instead (GANSynth's ``discard_dc=False``): also ``n_fft / 2`` rows, but it loses only
        energy at exactly Nyquist, which band-limited audio barely has, where dropping DC removes bass at small
        ``n_fft``. The inverse restores it as zero.
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int | None = None
    win_length: int | None = None
    window: str = "hann"
    padding: str = "center"
    pad_mode: str = "reflect"
    drop_dc: bool = False
    n_frames: int | None = None
    drop_nyquist: bool = False

    def __post_init__(self):
        check_positive_int("sample_rate", self.sample_rate)
        check_power_of_two("n_fft", self.n_fft)
        if self.win_length is None:
            object.__setattr__(self, "win_length", self.n_fft)
        check_positive_int("win_length", self.win_length)
        if self.win_length > self.n_fft:
            raise ParameterError(f"win_length={self.win_length} must be <= n_fft={self.n_fft}")
        if self.hop_length is None:
            object.__setattr__(self, "hop_length", self.win_length // 4)
        check_positive_int("hop_length", self.hop_length)
        if self.hop_length > self.win_length:
            raise ParameterError(
                f"hop_length={self.hop_length} must be <= win_length={self.win_length} (gaps between frames)"
            )
        check_choice("window", self.window, WINDOWS)
        check_choice("padding", self.padding, PADDINGS)
        check_choice("pad_mode", self.pad_mode, PAD_MODES)
        check_positive_int("n_frames", self.n_frames, allow_none=True)
        if self.drop_dc and self.drop_nyquist:
            raise ParameterError("drop_dc and drop_nyquist are exclusive (each gives n_fft / 2 rows)")
        if self.n_frames is not None and self.padding != "front":
            raise ParameterError(f"n_frames={self.n_frames} only applies to padding='front'")

    @property
    def n_freqs(self) -> int:
        """Number of frequency rows of the spectrogram."""
        return self.n_fft // 2 + 1 - int(self.drop_dc) - int(self.drop_nyquist)

    def frequencies(self) -> list[float]:
        """Centre frequency in Hz of each row."""
        first = 1 if self.drop_dc else 0
        last = self.n_fft // 2 - (1 if self.drop_nyquist else 0)
        return [k * self.sample_rate / self.n_fft for k in range(first, last + 1)]

    def frames_for(self, length: int) -> int:
        """Number of frames the forward transform gives for a signal of ``length`` samples."""
        check_positive_int("length", length)
        if self.padding == "center":
            return 1 + length // self.hop_length
        if self.n_frames is not None:
            return self.n_frames
        return math.ceil(length / self.hop_length) + self.n_fft // self.hop_length - 1

    def front_pad(self, length: int, n_frames: int) -> int:
        """Zeros put in front of a ``length``-sample signal by the ``"front"`` layout with ``n_frames`` frames."""
        pad = self.hop_length * (n_frames - 1) + self.n_fft - length
        if pad < 0:
            raise ParameterError(
                f"{n_frames} frames of hop {self.hop_length} cover {length + pad} samples, fewer than length={length}"
            )
        return pad

    def default_length(self, n_frames: int) -> int:
        """Signal length assumed by the inverse when none is given."""
        if self.padding == "center":
            return self.hop_length * (n_frames - 1)
        return self.hop_length * (n_frames + 1) - self.n_fft


@dataclass(frozen=True)
class MelParams:
    """A triangular mel filterbank over the rows of an STFT, and how to invert it.

    Parameters
    ----------
    stft : STFTParams
        The transform whose rows are projected (gives sample rate, bin frequencies, DC handling).
    n_mels : int > 0
        Number of mel bands. GANSynth's IF-Mel uses as many bands as linear bins (1024).
    f_min, f_max : float, Hz
        Band edges; ``f_max`` defaults to Nyquist.
    scale : {"htk", "slaney"}
        ``"htk"``: mel = 2595 log10(1 + f/700) (GANSynth); ``"slaney"``: linear below 1 kHz, log above (librosa).
    norm : {None, "slaney"}
        ``"slaney"`` divides each triangle by its width (constant energy per band).
    power : float > 0
        The filterbank is applied to ``|X| ** power``; GANSynth uses 2 (mel of power, then ``log``).
    inverse : {"nnls", "pinv", "transpose"}
        How mel bands go back to linear rows. ``"transpose"`` is GANSynth's normalised transpose;
        ``"pinv"`` the Moore–Penrose pseudo-inverse (clipped at 0); ``"nnls"`` refines the pseudo-inverse with
        ``nnls_iter`` multiplicative non-negative least-squares updates (default, most accurate, see docs).
    nnls_iter : int >= 0
        Refinement iterations of ``"nnls"``.
    """

    stft: STFTParams
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float | None = None
    scale: str = "htk"
    norm: str | None = None
    power: float = 2.0
    inverse: str = "nnls"
    nnls_iter: int = 50

    def __post_init__(self):
        if not isinstance(self.stft, STFTParams):
            raise ParameterError(f"stft={self.stft!r} must be an STFTParams")
        check_positive_int("n_mels", self.n_mels)
        nyquist = self.stft.sample_rate / 2
        if self.f_max is None:
            object.__setattr__(self, "f_max", nyquist)
        check_positive_float("f_min", self.f_min, strict=False)
        check_positive_float("f_max", self.f_max)
        if not self.f_min < self.f_max <= nyquist:
            raise ParameterError(f"need 0 <= f_min={self.f_min} < f_max={self.f_max} <= Nyquist={nyquist}")
        check_choice("scale", self.scale, MEL_SCALES)
        check_choice("norm", self.norm, MEL_NORMS)
        check_positive_float("power", self.power)
        check_choice("inverse", self.inverse, MEL_INVERSES)
        if isinstance(self.nnls_iter, bool) or not isinstance(self.nnls_iter, int) or self.nnls_iter < 0:
            raise ParameterError(f"nnls_iter={self.nnls_iter!r} must be an integer >= 0")
