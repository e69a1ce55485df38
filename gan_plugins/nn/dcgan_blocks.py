"""Shared convolutional building blocks for the GAN plugins.

Blocks take their normalisation by name so one class serves both a batch-normed DCGAN discriminator and the
normalisation-free critic that WGAN-GP requires (batch norm makes the per-sample gradient penalty ill-defined).
"""

from __future__ import annotations

from torch import nn

from specrep.errors import check_choice, check_positive_int

__all__ = ["DownBlock", "UpBlock", "dcgan_init_", "norm2d"]

NORMS = ("batch", "layer", "none")


def norm2d(kind: str, channels: int) -> nn.Module:
    """Normalisation layer for ``(B, channels, H, W)`` maps.

    Parameters
    ----------
    kind : {"batch", "layer", "none"}
        ``batch`` -> BatchNorm2d; ``layer`` -> GroupNorm with one group (per-sample, safe under a gradient penalty);
        ``none`` -> identity.
    channels : int > 0
    """
    check_choice("norm", kind, NORMS)
    check_positive_int("channels", channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class DownBlock(nn.Sequential):
    """Strided 4x4 convolution that halves H and W, then normalisation and LeakyReLU(0.2).

    ``(B, in_ch, H, W) -> (B, out_ch, H/2, W/2)`` for even H, W.
    """

    def __init__(self, in_ch: int, out_ch: int, *, norm: str = "batch", slope: float = 0.2) -> None:
        check_positive_int("in_ch", in_ch)
        check_positive_int("out_ch", out_ch)
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=norm != "batch"),
            norm2d(norm, out_ch),
            nn.LeakyReLU(slope),
        )


class ConvBlock(nn.Sequential):
    """3x3 convolution at the same resolution, then normalisation and an activation (``slope`` 0: ReLU, else
    LeakyReLU): the refinement layer DCGAN variants add between resolution changes.

    ``(B, in_ch, H, W) -> (B, out_ch, H, W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, *, norm: str = "batch", slope: float = 0.0) -> None:
        check_positive_int("in_ch", in_ch)
        check_positive_int("out_ch", out_ch)
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=norm != "batch"),
            norm2d(norm, out_ch),
            nn.LeakyReLU(slope) if slope else nn.ReLU(),
        )


class UpBlock(nn.Sequential):
    """Transposed 4x4 convolution that doubles H and W, then normalisation and ReLU.

    ``(B, in_ch, H, W) -> (B, out_ch, 2H, 2W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, *, norm: str = "batch") -> None:
        check_positive_int("in_ch", in_ch)
        check_positive_int("out_ch", out_ch)
        super().__init__(
            nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=norm != "batch"),
            norm2d(norm, out_ch),
            nn.ReLU(),
        )


def dcgan_init_(module: nn.Module) -> nn.Module:
    """Initialise in place as in Radford et al. (2016): conv/linear weights N(0, 0.02), norm scales N(1, 0.02).

    Returns the module for chaining.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module
