"""DCGAN plugin (Radford et al., 2016) for small images: 28x28 MNIST by default, any ``(C, H, W)`` by config.

Registered through the ``specrep.gan_plugins`` entry point ``dcgan = "gan_plugins.models.dcgan:plugin"``.

Generator: ``z (B, z_dim) -> Linear -> (B, width*2^(L-1), H/2^L, W/2^L) -> L-1 UpBlocks -> ConvTranspose -> tanh``.
Discriminator: ``(B, C, H, W) -> conv (no norm) -> L-1 DownBlocks (norm = config d_norm) -> Linear -> (B,)`` raw
logits. ``d_norm`` comes from the loss defaults (``none`` for WGAN-GP).

``extra_convs = k`` (default 0, the architecture above) adds ``k`` 3x3 same-resolution :class:`ConvBlock` layers at
every resolution of both networks except the image's own: in the generator after the linear layer's map and after
each UpBlock, in the discriminator after the first convolution and after each DownBlock. Depth rather than width:
with 2 resolution changes (28 -> 14 -> 7) each network has only 2 convolutions, and doubling ``width`` did not make
the generated digits more readable (docs/results/mnist-losses.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import Dataset

from gan_plugins.api import PluginError
from gan_plugins.data.mnist.digits import BUNDLED, MnistDataset
from gan_plugins.nn.dcgan_blocks import ConvBlock, DownBlock, UpBlock, dcgan_init_, norm2d
from specrep.errors import ParameterError, check_choice, check_positive_int

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "DCGANPlugin", "ImageArrayDataset", "image_grid", "plugin"]


def _shape(image_shape, n_layers: int) -> tuple[int, int, int]:
    if not isinstance(image_shape, (list, tuple)) or len(image_shape) != 3:
        raise ParameterError(f"image_shape={image_shape!r} must be [channels, height, width]")
    c, h, w = (int(v) for v in image_shape)
    for name, v in (("channels", c), ("height", h), ("width", w)):
        check_positive_int(f"image_shape {name}", v)
    check_positive_int("n_layers", n_layers)
    step = 2**n_layers
    if h % step or w % step:
        raise ParameterError(f"image_shape={[c, h, w]} must have height and width divisible by 2**n_layers={step}")
    return c, h, w


def _check_extra(extra_convs: int) -> None:
    if isinstance(extra_convs, bool) or not isinstance(extra_convs, int) or extra_convs < 0:
        raise ParameterError(f"extra_convs={extra_convs!r} must be an integer >= 0")


class DCGANGenerator(nn.Module):
    """``(B, z_dim) -> (B, C, H, W)`` in ``[-1, 1]``."""

    def __init__(self, *, z_dim: int = 64, width: int = 32, image_shape=(1, 28, 28), n_layers: int = 2,
                 norm: str = "batch", extra_convs: int = 0) -> None:
        super().__init__()
        check_positive_int("z_dim", z_dim)
        check_positive_int("width", width)
        _check_extra(extra_convs)
        c, h, w = _shape(image_shape, n_layers)
        top = width * 2 ** (n_layers - 1)
        self.base = (top, h // 2**n_layers, w // 2**n_layers)
        self.fc = nn.Linear(z_dim, top * self.base[1] * self.base[2], bias=False)
        self.fc_norm = nn.Sequential(norm2d(norm, top), nn.ReLU(),
                                     *(ConvBlock(top, top, norm=norm) for _ in range(extra_convs)))
        ups: list[nn.Module] = []
        for i in range(n_layers - 1):
            out = width * 2 ** (n_layers - 2 - i)
            ups += [UpBlock(out * 2, out, norm=norm), *(ConvBlock(out, out, norm=norm) for _ in range(extra_convs))]
        self.ups = nn.Sequential(*ups)
        self.to_image = nn.ConvTranspose2d(width, c, 4, stride=2, padding=1)
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        x = self.fc(z).view(z.shape[0], *self.base)
        return torch.tanh(self.to_image(self.ups(self.fc_norm(x))))


class DCGANDiscriminator(nn.Module):
    """``(B, C, H, W) -> (B,)`` raw logits."""

    def __init__(self, *, width: int = 32, image_shape=(1, 28, 28), n_layers: int = 2, norm: str = "batch",
                 extra_convs: int = 0) -> None:
        super().__init__()
        check_positive_int("width", width)
        _check_extra(extra_convs)
        c, h, w = _shape(image_shape, n_layers)
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        layers += [ConvBlock(width, width, norm=norm, slope=0.2) for _ in range(extra_convs)]
        for i in range(n_layers - 1):
            out = width * 2 ** (i + 1)
            layers += [DownBlock(out // 2, out, norm=norm),
                       *(ConvBlock(out, out, norm=norm, slope=0.2) for _ in range(extra_convs))]
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(width * 2 ** (n_layers - 1) * (h // 2**n_layers) * (w // 2**n_layers), 1)
        dcgan_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x).flatten(1)).squeeze(1)


class ImageArrayDataset(Dataset):
    """Images from a ``.npy`` array ``(N, H, W)`` or ``(N, C, H, W)``: uint8 in 0..255 or floats in [0, 1].

    Items are ``(image,)`` with ``image`` ``(C, H, W)`` float32 in ``[-1, 1]``; :attr:`images` holds them all.
    """

    def __init__(self, path: str | Path) -> None:
        arr = np.load(path, mmap_mode="r")
        if arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != 4:
            raise ParameterError(f"{path}: image array of shape {arr.shape} must be (N, H, W) or (N, C, H, W)")
        x = torch.from_numpy(np.asarray(arr, dtype=np.float32))
        self.images = x / 127.5 - 1.0 if arr.dtype == np.uint8 else x * 2.0 - 1.0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor]:
        return (self.images[i],)


def image_grid(images: Tensor, *, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile ``images`` ``(N, C, H, W)`` in ``[-1, 1]`` into one uint8 array ``(rows*(H+pad)+pad, ..., C or none)``."""
    n, c, h, w = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    grid = np.zeros((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = x[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


class DCGANPlugin:
    """The DCGAN family as a :class:`gan_plugins.api.GanPlugin`."""

    name = "dcgan"
    output_kind = "image"
    formats = ("png", "npy")

    def default_config(self) -> dict[str, Any]:
        return {"z_dim": 64, "width": 32, "image_shape": [1, 28, 28], "n_layers": 2, "g_norm": "batch",
                "extra_convs": 0}

    def smoke_config(self, folder: Path) -> tuple[str, dict[str, Any]]:
        """Bundled digits and a 4-channel-wide model: the tiny setting of the smoke test."""
        return BUNDLED, {"width": 4, "z_dim": 8}

    def build(self, config: Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
        g = DCGANGenerator(z_dim=config["z_dim"], width=config["width"], image_shape=config["image_shape"],
                           n_layers=config["n_layers"], norm=config["g_norm"],
                           extra_convs=config.get("extra_convs", 0))
        d = DCGANDiscriminator(width=config["width"], image_shape=config["image_shape"], n_layers=config["n_layers"],
                               norm=config.get("d_norm", "batch"), extra_convs=config.get("extra_convs", 0))
        return g, d

    def prepare(self, data: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Nothing to fit: images are used as stored (``image_shape`` is checked by :meth:`dataset`)."""
        return {}

    def dataset(self, data: str, config: Mapping[str, Any], *, split: str) -> Dataset:
        ds = ImageArrayDataset(data) if str(data).endswith(".npy") else MnistDataset(data or BUNDLED, split=split)
        got, want = list(ds.images.shape[1:]), list(config["image_shape"])
        if got != want:
            raise ParameterError(f"data {data!r} holds images of shape {got}; set image_shape={got}")
        return ds

    def features(self, batch: Tensor, config: Mapping[str, Any], schedule_state: Mapping[str, Any]) -> Tensor:
        return batch

    def latent(self, n: int, config: Mapping[str, Any], *, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, config["z_dim"], device=device, generator=generator)

    def schedule(self, config: Mapping[str, Any]) -> None:
        return None

    def apply_schedule(self, generator: nn.Module, discriminator: nn.Module, state: Mapping[str, Any]) -> None:
        return None

    def save_samples(self, samples: Tensor, out_dir: Path, *, fmt: str, config: Mapping[str, Any]) -> list[Path]:
        if fmt not in self.formats:
            raise PluginError(f"plugin {self.name!r} renders images: --format {fmt} is not one of "
                              f"{', '.join(self.formats)}")
        check_choice("format", fmt, self.formats)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if fmt == "npy":
            path = out_dir / "samples.npy"
            np.save(path, ((samples.detach().float().cpu().clamp(-1, 1) + 1) / 2).numpy())
            return [path]
        paths = []
        for i, img in enumerate(samples):
            path = out_dir / f"sample_{i:05d}.png"
            Image.fromarray(image_grid(img[None], pad=0)).save(path)
            paths.append(path)
        return paths

    def save_grid(self, samples: Tensor, path: Path, config: Mapping[str, Any]) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = image_grid(samples)
        img = Image.fromarray(arr).resize((arr.shape[1] * 2, arr.shape[0] * 2), Image.NEAREST)
        img.save(path)
        return path


plugin = DCGANPlugin()
