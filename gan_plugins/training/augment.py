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
"""

from __future__ import annotations

import torch
from torch import Tensor

from specrep.errors import ParameterError

__all__ = ["AUGMENTATIONS", "check_augment", "random_offsets", "translate"]

#: Names accepted by the trainer's ``augment`` setting ("" = no augmentation).
AUGMENTATIONS = ("", "translation")


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
