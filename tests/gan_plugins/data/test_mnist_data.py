"""MNIST data: bundled split, IDX files (raw and gzip), clear errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from gan_plugins.data.mnist.digits import MnistDataset, MnistFileError, load_mnist, read_idx


def _write_idx(path, arr, *, compress=False):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_bundled_split_is_fixed_stratified_and_disjoint():
    xtr, ytr = load_mnist(split="train")
    xte, yte = load_mnist(split="test")
    assert xtr.shape == (4000, 28, 28) and xte.shape == (1000, 28, 28)
    assert np.bincount(yte.numpy()).tolist() == [100] * 10
    assert np.bincount(ytr.numpy()).tolist() == [400] * 10
    train_rows = {r.tobytes() for r in xtr.numpy()}
    assert sum(r.tobytes() in train_rows for r in xte.numpy()) <= 5  # a few MNIST duplicates at most
    again, _ = load_mnist(split="test")
    assert (again == xte).all()


def test_dataset_scales_to_minus_one_one():
    ds = MnistDataset(split="test")
    assert ds.images.shape == (1000, 1, 28, 28)
    assert ds.images.min().item() == -1.0 and ds.images.max().item() == 1.0


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder(tmp_path, compress):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for part, n in (("train", 7), ("t10k", 3)):
        _write_idx(tmp_path / f"{part}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), compress=compress)
        _write_idx(tmp_path / f"{part}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, (n,)), compress=compress)
    x, y = load_mnist(tmp_path, split="train")
    assert x.shape == (7, 28, 28) and y.shape == (7,)
    assert load_mnist(tmp_path, split="test")[0].shape == (3, 28, 28)
    assert load_mnist(tmp_path, split="all")[0].shape == (10, 28, 28)
    assert (read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}") == x.numpy()).all()


def test_missing_and_corrupt_idx_files(tmp_path):
    with pytest.raises(MnistFileError, match="missing MNIST IDX file train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(MnistFileError, match="neither 'mnist'"):
        load_mnist(tmp_path / "nowhere")
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")
    with pytest.raises(MnistFileError, match="truncated inside its IDX header"):
        read_idx(tmp_path / "bad")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(MnistFileError, match="bad magic"):
        read_idx(tmp_path / "text")
