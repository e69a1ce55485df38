"""Progressive-GAN building blocks (Karras et al. 2018) used by GANSynth and the progressive plugin.

- Equalised learning rate: weights are stored ~N(0, 1) and scaled at run time by He's constant
  ``gain / sqrt(fan_in)``, so Adam's per-parameter step sizes are equal across layers.
- Pixel norm: each feature vector (over channels) normalised to unit RMS.
- Minibatch standard deviation: one extra channel with the mean per-group std, a cheap cue against mode collapse.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrep.errors import check_positive_int

__all__ = ["EqualizedConv2d", "EqualizedLinear", "PixelNorm", "MinibatchStdDev"]


class EqualizedLinear(nn.Module):
    """``(B, in_features) -> (B, out_features)`` with run-time He scaling."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqualizedConv2d(nn.Module):
    """``(B, in_ch, H, W) -> (B, out_ch, H, W)`` ('same' padding, odd kernel) with run-time He scaling."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, *, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        check_positive_int("in_ch", in_ch)
        check_positive_int("out_ch", out_ch)
        check_positive_int("kernel_size", kernel_size)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.scale = gain / math.sqrt(in_ch * kernel_size * kernel_size)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """``x / sqrt(mean_c(x^2) + eps)`` over dim 1. Shape-preserving."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Append the mean standard deviation over groups of ``group_size`` samples as one channel.

    ``(B, C, H, W) -> (B, C + 1, H, W)``; ``B`` need not be divisible by the group size (the largest divisor of
    ``B`` not above it is used), so any batch size and per-sample gradient penalties keep working.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        check_positive_int("group_size", group_size)
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        while b % g:
            g -= 1
        y = x.reshape(g, -1, c, h, w)
        std = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))  # (B / g,)
        feat = std.reshape(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(b, 1, h, w)
        return torch.cat([x, feat], dim=1)
