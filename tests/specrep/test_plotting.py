"""Spectrogram figures: the dB picture, one panel's axes, and a sheet written whole."""

import os

import numpy as np
import pytest
import torch

from specrep.errors import ParameterError
from specrep.params import STFTParams
from specrep.plotting import SpectrogramPanel, draw_spectrogram, plot_spectrogram_sheet, spectrogram_db, subplots

SR = 8000


def _sine(freq, amp=0.5, n=4096, dtype=np.float32):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / SR)).astype(dtype)


def test_spectrogram_db_shape_peak_and_level():
    params = STFTParams(SR, 256, 64)
    db = spectrogram_db(np.stack([_sine(1000), _sine(1000, amp=0.05)]), params)
    assert db.shape == (2, 129, 1 + 4096 // 64) and db.dtype == np.float32
    assert int(db[0, :, 30].argmax()) == 32  # 1000 Hz = bin 1000 / (8000 / 256)
    assert db[0, 32, 30] - db[1, 32, 30] == pytest.approx(20.0, abs=0.01)  # 10x amplitude
    assert spectrogram_db(torch.from_numpy(_sine(1000, dtype=np.float64)), params).dtype == np.float64
    short = spectrogram_db(_sine(1000, n=100), params)  # shorter than half a frame: zero padding, no error
    assert short.shape == (129, 2) and np.isfinite(short).all()


def test_draw_spectrogram_axes_in_seconds_and_khz_or_indices():
    fig, (a, b) = subplots(1, 2, figsize=(6, 2))
    image = np.arange(12.0).reshape(3, 4)
    im = draw_spectrogram(a, SpectrogramPanel(image, "t", seconds=2.0, max_khz=4.0, vmin=0, vmax=20))
    assert im.get_extent() == [0.0, 2.0, 0.0, 4.0] and im.get_clim() == (0, 20) and a.get_ylabel() == "kHz"
    assert a.get_title() == "t" and im.origin == "lower"
    im = draw_spectrogram(b, SpectrogramPanel(image, cmap="twilight", ticks=False))
    assert im.get_clim() == (0.0, 11.0) and im.get_cmap().name == "twilight" and not b.axison
    with pytest.raises(ParameterError, match="rows, frames"):
        draw_spectrogram(a, SpectrogramPanel(np.zeros((2, 3, 4))))


def test_sheet_writes_a_png_whole_with_empty_cells(tmp_path):
    panels = [SpectrogramPanel(np.random.default_rng(i).standard_normal((8, 16)), f"#{i}") for i in range(3)]
    path = plot_spectrogram_sheet([panels[0], None, *panels[1:]], tmp_path / "s" / "sheet.png", columns=3,
                                  panel_size=(2.0, 1.5), title="three", dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(path).size == (300, 150)  # 3 x 2 panels of 2 x 1.5 inches at 50 dpi
    assert os.listdir(path.parent) == ["sheet.png"]
    with pytest.raises(ParameterError, match="at least one panel"):
        plot_spectrogram_sheet([None], tmp_path / "x.png", columns=1)
