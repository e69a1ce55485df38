"""Differentiable augmentation of the discriminator's inputs against discriminator overfitting on small datasets.

With few training images the discriminator learns the training set itself: its output on training images drifts
away from its output on held-out images of the same distribution, and the generator is pushed towards that set's
details rather than towards the distribution (Karras et al. 2020, "Training GANs with limited data"; Zhao et al.
2020, "Differentiable augmentation for data-efficient GAN training"). DiffAugment's remedy: apply the same random
transformation family to *every* image the discriminator sees, real and generated, in the discriminator's and in the
generator's updates, through a transformation the generator's gradient can pass through. The discriminator then
never sees a training image as it is stored, and because fakes are transformed the same way, the transformation
does not leak into the generated images.

``translation`` (the one implemented): each image is shifted by its own random integer offset in ``[-s, s]`` pixels
along each spatial axis, ``s = round(shift * size)``, circularly (what leaves one edge re-enters at the other), so no
fill value has to be assumed. For MNIST-like digits, whose border rows and columns are background, a circular shift
of a few pixels equals a shift with background fill; DiffAugment's translation uses ``shift = 1/8``.

``audio``: for features ``(B, C, rows = frequency, frames = time)`` of one bar, transformations that leave a bar a
bar, each applied to each image independently with probability ``p`` (ADA's scheme, Karras et al. 2020):

- a circular time shift by a whole number of steps of the bar: ``k * F / g`` frames, ``k`` uniform in
  ``0 .. g - 1``, ``g = gcd(F, time_steps)`` (``time_steps = 16``: sixteenth notes of a one-bar loop; at a
  resolution too coarse for sixteenths, the finest grid both can express). A loop shifted by a sixteenth is still a
  loop in time; a shift by a fraction of a step would move the beat off the grid, which real loops never show;
- a gain: an offset uniform in ``[-gain, gain]`` added to channel 0, the normalised log-magnitude. The unit is the
  normalised feature's: with the fitted normaliser ``y = norm_scale[0] * log|X| + norm_shift[0]``, an offset ``g``
  is a gain of ``20 * g / (ln(10) * norm_scale[0]) ≈ 8.69 * g / norm_scale[0]`` dB. The other channels (phase or
  instantaneous frequency) do not change with gain;
- a time cutout: a band of ``max(1, F // 8)`` consecutive frames set to silence, ``-1`` on channel 0 (the bottom of
  the normalised range) and ``0`` on the other channels (DiffAugment's cutout, as a dropped-out stretch of the bar);
- a frequency cutout: a band of ``max(1, rows // 8)`` rows, the same fill (a band-stop filter).

No frequency shift: on a spectrogram it transposes (and on mel rows not even by a musical interval), which would
teach the discriminator to accept out-of-key loops. Every transformation is a permutation, an addition or a mask, so
the result is differentiable in the image and the generator's gradient passes through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from specrep.errors import ParameterError, check_positive_float, check_positive_int

__all__ = ["AUGMENTATIONS", "AudioAugment", "ada_adjust", "audio_augment", "check_augment", "check_audio_augment",
           "draw_audio_augment", "random_offsets", "translate"]

#: Names accepted by the trainer's ``augment`` setting ("" = no augmentation).
AUGMENTATIONS = ("", "translation", "audio")


def check_augment(augment: str, shift: float) -> None:
    """Validate the trainer's ``augment`` / ``augment_shift`` settings.

    Raises
    ------
    ParameterError
        If ``augment`` is not one of :data:`AUGMENTATIONS` or ``shift`` is not in ``(0, 0.5]``.
    """
    if augment not in AUGMENTATIONS:
        raise ParameterError(f"augment={augment!r} must be one of {list(AUGMENTATIONS)}")
    if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 < float(shift) <= 0.5:
        raise ParameterError(f"augment_shift={shift!r} must be a fraction of the image size in (0, 0.5]")


def translate(x: Tensor, offsets: Tensor) -> Tensor:
    """Shift each image circularly by its own integer offset.

    Parameters
    ----------
    x : Tensor
        ``(B, C, H, W)``.
    offsets : Tensor
        ``(B, 2)`` integers: rows down, columns right (negative: up, left). Output pixel ``(i, j)`` of image ``b``
        is input pixel ``((i - dy) mod H, (j - dx) mod W)``.

    Returns
    -------
    Tensor
        ``(B, C, H, W)``; differentiable in ``x`` (the gradient is the inverse shift of the output gradient).
    """
    if x.dim() != 4:
        raise ParameterError(f"translate expects (B, C, H, W) images, got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    if tuple(offsets.shape) != (b, 2):
        raise ParameterError(f"offsets of shape {tuple(offsets.shape)} must be ({b}, 2)")
    offsets = offsets.to(device=x.device, dtype=torch.long)
    rows = (torch.arange(h, device=x.device)[None, :] - offsets[:, :1]) % h          # (B, H)
    cols = (torch.arange(w, device=x.device)[None, :] - offsets[:, 1:]) % w          # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # advanced indices around a slice: the result is (B, H, W, C)
    return x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_offsets(n: int, height: int, width: int, shift: float, generator: torch.Generator,
                   device: torch.device | str = "cpu") -> Tensor:
    """``(n, 2)`` integer offsets uniform in ``[-round(shift * H), round(shift * H)]`` (rows) and the same for the
    columns with ``W``, drawn from ``generator`` (on its device) and moved to ``device``."""
    sy, sx = round(shift * height), round(shift * width)
    gen_device = generator.device
    dy = torch.randint(-sy, sy + 1, (n,), generator=generator, device=gen_device)
    dx = torch.randint(-sx, sx + 1, (n,), generator=generator, device=gen_device)
    return torch.stack([dy, dx], dim=1).to(device)


# -------------------------------------------------------------------------------------------------------- audio
def check_audio_augment(p: float, time_steps: int, gain: float, ada_target: float | None, ada_images: int) -> None:
    """Validate the trainer's ``augment_p``, ``augment_time_step``, ``augment_gain``, ``ada_target`` and
    ``ada_images`` settings.

    Raises
    ------
    ParameterError
        If ``p`` is not in ``[0, 1]``, ``time_steps`` or ``ada_images`` is not a positive integer, ``gain`` is
        negative, or ``ada_target`` is neither None nor in ``(0, 1)``.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ParameterError(f"augment_p={p!r} must be a probability in [0, 1]")
    check_positive_int("augment_time_step", time_steps)
    check_positive_float("augment_gain", gain, strict=False)
    if ada_target is not None and (isinstance(ada_target, bool) or not isinstance(ada_target, (int, float))
                                   or not 0.0 < float(ada_target) < 1.0):
        raise ParameterError(f"ada_target={ada_target!r} must be None (fixed augment_p) or in (0, 1), e.g. 0.6")
    check_positive_int("ada_images", ada_images)


@dataclass(frozen=True)
class AudioAugment:
    """One draw of the ``audio`` augmentation for ``B`` images (:func:`draw_audio_augment`).

    Attributes
    ----------
    shift : Tensor
        ``(B,)`` integers: frames each image is rolled to the right (later in the bar); 0 when not shifted.
    gain : Tensor
        ``(B,)`` floats added to channel 0; 0 when not applied.
    time_cut, freq_cut : Tensor
        ``(B,)`` integers: first frame / row of the cut band, ``-1`` when not cut.
    time_width, freq_width : int
        Widths of the bands, frames and rows.
    """

    shift: Tensor
    gain: Tensor
    time_cut: Tensor
    freq_cut: Tensor
    time_width: int
    freq_width: int

    def rows(self, start: int, stop: int) -> AudioAugment:
        """The draw of images ``start .. stop - 1`` (a rank's rows of a global draw)."""
        return AudioAugment(self.shift[start:stop], self.gain[start:stop], self.time_cut[start:stop],
                            self.freq_cut[start:stop], self.time_width, self.freq_width)


def draw_audio_augment(n: int, rows: int, frames: int, *, p: float, time_steps: int, gain: float,
                       generator: torch.Generator, device: torch.device | str = "cpu") -> AudioAugment:
    """Draw the ``audio`` augmentation of ``n`` images ``(C, rows, frames)`` from ``generator`` (module docstring).

    The same numbers are drawn whatever ``p`` is (``p`` only decides which transformations apply), so a change of
    ``p`` during training (ADA) leaves the generator's stream, and exact resume, intact.

    Returns
    -------
    AudioAugment
        Tensors of ``n`` rows on ``device``.
    """
    check_positive_int("n", n)
    check_positive_int("rows", rows)
    check_positive_int("frames", frames)
    check_audio_augment(p, time_steps, gain, None, 1)
    grid = math.gcd(frames, time_steps)
    tw, fw = max(1, frames // 8), max(1, rows // 8)
    gen = generator.device
    apply = torch.rand(n, 4, generator=generator, device=gen) < float(p)
    k = torch.randint(0, grid, (n,), generator=generator, device=gen)
    g = (2.0 * torch.rand(n, generator=generator, device=gen) - 1.0) * float(gain)
    t0 = torch.randint(0, frames - tw + 1, (n,), generator=generator, device=gen)
    f0 = torch.randint(0, rows - fw + 1, (n,), generator=generator, device=gen)
    none = torch.full_like(t0, -1)
    return AudioAugment(shift=torch.where(apply[:, 0], k * (frames // grid), 0).to(device),
                        gain=torch.where(apply[:, 1], g, 0.0).to(device),
                        time_cut=torch.where(apply[:, 2], t0, none).to(device),
                        freq_cut=torch.where(apply[:, 3], f0, none).to(device), time_width=tw, freq_width=fw)


def audio_augment(x: Tensor, aug: AudioAugment) -> Tensor:
    """Apply a drawn ``audio`` augmentation: time shift, then gain, then the cutouts.

    Parameters
    ----------
    x : Tensor
        ``(B, C, rows, frames)`` normalised features, channel 0 the log-magnitude.
    aug : AudioAugment
        ``B`` rows (:func:`draw_audio_augment`).

    Returns
    -------
    Tensor
        ``(B, C, rows, frames)``: output frame ``j`` of image ``b`` is input frame ``(j - shift_b) mod frames``, plus
        ``gain_b`` on channel 0; inside a cut band ``-1`` on channel 0 and ``0`` elsewhere. Differentiable in ``x``:
        the gradient is the output gradient, zeroed in the cut bands and rolled back by ``-shift_b``.
    """
    if x.dim() != 4:
        raise ParameterError(f"audio_augment expects (B, C, rows, frames) features, got shape {tuple(x.shape)}")
    b, c, r, f = x.shape
    for fld in fields(aug):
        value = getattr(aug, fld.name)
        if isinstance(value, Tensor) and tuple(value.shape) != (b,):
            raise ParameterError(f"augmentation {fld.name} of shape {tuple(value.shape)} must be ({b},)")
    dev = x.device
    shift, t0, f0 = (v.to(device=dev, dtype=torch.long) for v in (aug.shift, aug.time_cut, aug.freq_cut))
    cols = (torch.arange(f, device=dev)[None, :] - shift[:, None]) % f                         # (B, F)
    y = x.gather(3, cols[:, None, None, :].expand(b, c, r, f))
    offset = torch.zeros(b, c, device=dev, dtype=x.dtype)
    offset[:, 0] = aug.gain.to(device=dev, dtype=x.dtype)
    y = y + offset[:, :, None, None]
    t, fr = torch.arange(f, device=dev)[None, :], torch.arange(r, device=dev)[None, :]
    t_band = (t0[:, None] >= 0) & (t >= t0[:, None]) & (t < t0[:, None] + aug.time_width)      # (B, F)
    f_band = (f0[:, None] >= 0) & (fr >= f0[:, None]) & (fr < f0[:, None] + aug.freq_width)   # (B, R)
    cut = (t_band[:, None, :] | f_band[:, :, None])[:, None]                                  # (B, 1, R, F)
    fill = torch.zeros(1, c, 1, 1, device=dev, dtype=x.dtype)
    fill[:, 0] = -1.0
    return torch.where(cut, fill, y)


def ada_adjust(p: float, sign_mean: float, *, target: float, images: float, ada_images: int) -> float:
    """One ADA step (Karras et al. 2020): ``p + sign(r_t - target) * images / ada_images``, clamped to ``[0, 1]``.

    Parameters
    ----------
    p : float
        Current augmentation probability.
    sign_mean : float
        ``r_t = E[sign(D(real))]`` over the ``images`` real images the critic scored since the last step, in
        ``[-1, 1]``: near 1 when the critic separates the training images from everything (overfitting).
    target : float
        The ``r_t`` to hold (ADA: 0.6).
    images : float
        Real images behind ``sign_mean`` (all ranks).
    ada_images : int
        Images over which ``p`` can move from 0 to 1 (ADA: 500,000).

    Returns
    -------
    float
        The new probability.
    """
    step = math.copysign(1.0, sign_mean - target) if sign_mean != target else 0.0
    return min(1.0, max(0.0, float(p) + step * float(images) / float(ada_images)))
