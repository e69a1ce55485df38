"""Filtered x2 resampling of feature maps ``(B, C, H, W)`` for the GANSynth networks.

Nearest-neighbour upsampling repeats every row and column, so the generator's output carries a period-2 pattern
(each pair of frames starts identical) that its convolutions must learn to undo; 2x2 average pooling in the critic
is a weak low-pass and folds content just below Nyquist back into the band (aliasing). Pons et al. 2021
("Upsampling artifacts in neural audio synthesis") and StyleGAN2 (Karras et al. 2020, after Zhang 2019, "Making
convolutional networks shift-invariant again") filter both with the binomial FIR ``[1, 3, 3, 1]``:

- :class:`Upsample2d` ``"blur"``: zero insertion x2, then the separable 2-D kernel ``outer(k, k) / 16`` with
  ``k = [1, 3, 3, 1]`` (StyleGAN2's ``upfirdn2d`` with gain 4: the kernel sums to 4 = the up factor squared, so a
  constant map stays that constant). Output row ``2i`` is ``(x[i-1] + 3 x[i]) / 4``, row ``2i+1`` is
  ``(3 x[i] + x[i+1]) / 4`` (the same along columns).
- :class:`Downsample2d` ``"blur"``: the kernel ``outer(k, k) / 64`` (sums to 1), then stride 2: output row ``i`` is
  ``(x[2i-1] + 3 x[2i] + 3 x[2i+1] + x[2i+2]) / 8``; its response at angular frequency ``w`` is ``|cos(w/2)|**3``
  per axis against ``|cos(w/2)|`` for the 2x2 average.

Edges: the input is padded by one row and column on each side by **edge replication** before filtering, so both
outputs are exactly ``(2H, 2W)`` / ``(H/2, W/2)`` and a constant map gives that constant everywhere, the borders
included. (Circular padding would also keep constants, but would mix the highest mel bands into the lowest and a
loop's zero-padded tail into its first frames.) With edge replication the ``"blur"`` upsampler equals bilinear
interpolation with ``align_corners=False`` (:class:`Upsample2d` ``"linear"``, which PyTorch computes by clamping the
source index at the border): the linear-interpolation kernel *is* ``[1, 3, 3, 1] / 4`` at a factor of 2; the two
modes are one function computed by an FIR and by ``F.interpolate``. The filters are non-persistent buffers (not in
state dicts, so checkpoints of nearest / average-pooling networks load strictly into blurred ones and back) and
run depthwise (each of the ``B * C`` maps filtered on its own); nothing in ``forward`` branches on the data, so the
modules trace to TorchScript and ONNX for any batch, channel count and size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specrep.errors import check_choice, check_positive_float

__all__ = ["BLUR_TAPS", "DOWNSAMPLE_MODES", "UPSAMPLE_MODES", "Downsample2d", "Upsample2d", "blur_kernel"]

#: modes of :class:`Upsample2d` and :class:`Downsample2d`
UPSAMPLE_MODES = ("nearest", "blur", "linear")
DOWNSAMPLE_MODES = ("avg", "blur")
#: the binomial FIR of StyleGAN2's resampling filters
BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)


def blur_kernel(gain: float, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The separable 2-D kernel ``outer(k, k)`` of :data:`BLUR_TAPS`, scaled to sum to ``gain``, shape ``(1, 1, 4, 4)``
    (1 to low-pass at the same rate, 4 after x2 zero insertion)."""
    check_positive_float("gain", gain)
    k = torch.tensor(BLUR_TAPS, dtype=torch.float64)
    k2 = torch.outer(k, k)
    return (k2 * (float(gain) / k2.sum())).to(dtype).view(1, 1, 4, 4)


def _one_channel(x: Tensor) -> Tensor:
    """``(B, C, H, W)`` -> ``(B * C, 1, H + 2, W + 2)``, edges replicated: every map filtered on its own, which is the
    depthwise (``groups=C``) convolution with a kernel of static shape ``(1, 1, 4, 4)`` (ONNX needs it static; a
    ``groups=C`` weight expanded to the input's channels is not)."""
    return F.pad(x.reshape(-1, 1, x.shape[-2], x.shape[-1]), (1, 1, 1, 1), mode="replicate")


class Upsample2d(nn.Module):
    """x2 upsampling ``(B, C, H, W)`` -> ``(B, C, 2H, 2W)``, same dtype and device.

    Parameters
    ----------
    mode : {"nearest", "blur", "linear"}
        ``"nearest"``: each value repeated 2 x 2 (``F.interpolate(scale_factor=2, mode="nearest")``, bit for bit).
        ``"blur"``: zero insertion then the ``[1, 3, 3, 1]`` FIR with gain 4, edges replicated (module docstring).
        ``"linear"``: bilinear, ``align_corners=False`` (the same function as ``"blur"``, see the module docstring).

    Raises
    ------
    ParameterError
        If ``mode`` is not one of :data:`UPSAMPLE_MODES`.
    """

    def __init__(self, mode: str = "nearest") -> None:
        super().__init__()
        check_choice("upsample", mode, UPSAMPLE_MODES)
        self.mode = mode
        if mode == "blur":
            self.register_buffer("kernel", blur_kernel(4.0), persistent=False)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.mode == "linear":
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        b, c, h, w = x.shape
        # a stride-2 transposed convolution is zero insertion + the FIR; padding 3 of the replicated (H + 2, W + 2)
        # map keeps exactly (2H, 2W)
        y = F.conv_transpose2d(_one_channel(x), self.kernel.to(x.dtype), stride=2, padding=3)
        return y.view(b, c, 2 * h, 2 * w)


class Downsample2d(nn.Module):
    """x2 downsampling ``(B, C, H, W)`` -> ``(B, C, H // 2, W // 2)`` (``H``, ``W`` even), same dtype and device.

    Parameters
    ----------
    mode : {"avg", "blur"}
        ``"avg"``: means of 2 x 2 cells (``F.avg_pool2d(x, 2)``, bit for bit). ``"blur"``: the ``[1, 3, 3, 1]``
        low-pass (kernel sums to 1, edges replicated) then stride 2: anti-aliased (module docstring).

    Raises
    ------
    ParameterError
        If ``mode`` is not one of :data:`DOWNSAMPLE_MODES`.
    """

    def __init__(self, mode: str = "avg") -> None:
        super().__init__()
        check_choice("downsample", mode, DOWNSAMPLE_MODES)
        self.mode = mode
        if mode == "blur":
            self.register_buffer("kernel", blur_kernel(1.0), persistent=False)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "avg":
            return F.avg_pool2d(x, 2)
        b, c, h, w = x.shape
        y = F.conv2d(_one_channel(x), self.kernel.to(x.dtype), stride=2)
        return y.view(b, c, h // 2, w // 2)
