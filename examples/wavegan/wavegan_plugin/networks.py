"""WaveGAN's networks (Donahue et al. 2019, Table 1 and 2), with the depth and width as settings.

Generator: ``z (B, z_dim)`` -> dense -> ``(B, 16d, seed_length)`` -> ReLU -> ``layers`` transposed 1-D convolutions
(kernel 25, stride 4: each multiplies the length by 4) with ReLU between them and tanh after the last ->
``(B, 1, seed_length * 4**layers)``. Widths halve at every layer: ``d * 2**(layers-1)``, ..., ``d``, then 1
(the paper's ``layers = 5``: 16d, 8d, 4d, 2d, d, 1 with ``d = 64`` and a seed of 16 for 16384 samples).

Critic: the mirror: ``layers`` 1-D convolutions (kernel 25, stride 4), each followed by leaky ReLU (0.2) and, except
after the last, phase shuffle; then a dense layer to one logit. Phase shuffle (section 3.3) shifts each example's
activations by its own random offset in ``[-n, n]`` samples, filling the edge by reflection, so the critic cannot
tell real from generated audio by the phase of the generator's periodic transposed-convolution artefacts; the paper
uses ``n = 2``. No normalisation in the critic (WGAN-GP's gradient penalty is per example).

Both networks take and give the workbench's 4-D features ``(B, 1, 1, samples)`` (a waveform is a one-row image, as
:class:`gan_plugins.io.model.Model` and the trainer read features ``(B, C, H, W)``); inside they are 1-D.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from specrep.errors import ParameterError, check_positive_int

__all__ = ["STRIDE", "PhaseShuffle", "WaveGANDiscriminator", "WaveGANGenerator", "check_architecture"]

#: length factor of every (transposed) convolution, the paper's
STRIDE = 4


def check_architecture(*, model_size: int, layers: int, kernel_size: int, seed_length: int) -> None:
    """Validate the shared settings of both networks; raises :class:`~specrep.errors.ParameterError` with the
    setting's name.

    ``kernel_size`` must be odd and at least 5 (padding ``(k - 3) / 2`` with stride 4 then maps a length ``L`` to
    exactly ``4 L`` in the generator and ``L / 4`` in the critic).
    """
    check_positive_int("model_size", model_size)
    check_positive_int("layers", layers)
    check_positive_int("seed_length", seed_length)
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 5 or kernel_size % 2 == 0:
        raise ParameterError(f"kernel_size={kernel_size!r} must be an odd integer >= 5 (the paper's is 25)")


def _widths(model_size: int, layers: int) -> list[int]:
    """Channels from the seed to the last hidden layer: ``d * 2**(layers-1)``, ..., ``d``."""
    return [model_size * 2 ** (layers - 1 - i) for i in range(layers)]


class PhaseShuffle(nn.Module):
    """Shift each example of ``(B, C, T)`` by its own offset ``k`` drawn uniformly from ``[-n, n]``: ``out[b, :, t]
    = x[b, :, t - k_b]``, the ``|k_b|`` samples shifted in taken by reflection at the edge. Identity in eval mode and
    for ``n = 0``.

    The offsets come from the global torch RNG (of ``x``'s device), which the trainer seeds and checkpoints, so a
    resumed run draws the same offsets.

    Raises
    ------
    ParameterError
        If ``n`` is not an integer >= 0.
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ParameterError(f"phase_shuffle={n!r} must be an integer >= 0 (the paper's is 2)")
        self.n = n

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.n == 0:
            return x
        b, c, t = x.shape
        if t <= self.n:
            raise ParameterError(f"phase shuffle by up to {self.n} samples needs more than {self.n}, got {t}")
        k = torch.randint(-self.n, self.n + 1, (b, 1), device=x.device)
        padded = F.pad(x, (self.n, self.n), mode="reflect")
        index = torch.arange(t, device=x.device)[None, :] + self.n - k  # (B, T) positions in the padded signal
        return padded.gather(2, index[:, None, :].expand(b, c, t))


class WaveGANGenerator(nn.Module):
    """``(B, z_dim)`` -> waveforms ``(B, 1, 1, seed_length * 4**layers)`` in [-1, 1] (module docstring).

    Raises
    ------
    ParameterError
        For a non-positive size or an even or too small ``kernel_size``.
    """

    def __init__(self, *, z_dim: int = 100, model_size: int = 64, layers: int = 5, kernel_size: int = 25,
                 seed_length: int = 16) -> None:
        super().__init__()
        check_positive_int("z_dim", z_dim)
        check_architecture(model_size=model_size, layers=layers, kernel_size=kernel_size, seed_length=seed_length)
        ch = [*_widths(model_size, layers), 1]
        self.seed_shape = (ch[0], seed_length)
        self.samples = seed_length * STRIDE**layers
        self.dense = nn.Linear(z_dim, ch[0] * seed_length)
        pad = (kernel_size - 3) // 2
        self.ups = nn.ModuleList(nn.ConvTranspose1d(ch[i], ch[i + 1], kernel_size, stride=STRIDE, padding=pad,
                                                    output_padding=1) for i in range(layers))

    def forward(self, z: Tensor) -> Tensor:
        x = F.relu(self.dense(z).view(z.shape[0], *self.seed_shape))
        for i, up in enumerate(self.ups):
            x = up(x)
            x = torch.tanh(x) if i == len(self.ups) - 1 else F.relu(x)
        return x.unsqueeze(2)


class WaveGANDiscriminator(nn.Module):
    """Waveforms ``(B, 1, 1, seed_length * 4**layers)`` -> raw logits ``(B,)`` (module docstring).

    Raises
    ------
    ParameterError
        As :class:`WaveGANGenerator`, or for a ``phase_shuffle`` that is not an integer >= 0.
    """

    def __init__(self, *, model_size: int = 64, layers: int = 5, kernel_size: int = 25, seed_length: int = 16,
                 phase_shuffle: int = 2) -> None:
        super().__init__()
        check_architecture(model_size=model_size, layers=layers, kernel_size=kernel_size, seed_length=seed_length)
        ch = [1, *reversed(_widths(model_size, layers))]
        self.samples = seed_length * STRIDE**layers
        pad = (kernel_size - 3) // 2
        self.convs = nn.ModuleList(nn.Conv1d(ch[i], ch[i + 1], kernel_size, stride=STRIDE, padding=pad)
                                   for i in range(layers))
        self.shuffle = PhaseShuffle(phase_shuffle)
        self.out = nn.Linear(ch[-1] * seed_length, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != 1 or x.shape[3] != self.samples:
            raise ParameterError(f"critic input of shape {tuple(x.shape)}; expected (B, 1, 1, {self.samples})")
        x = x[:, :, 0]
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if i < len(self.convs) - 1:
                x = self.shuffle(x)
        return self.out(x.flatten(1)).squeeze(1)
