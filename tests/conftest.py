"""Shared fixtures: real recordings bundled with audioflux, and the CUDA marker."""

from __future__ import annotations

import pytest
import torch

import specrep


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def recordings():
    """Real recordings at 16 kHz, at most 4 s each: name -> float32 tensor (time,)."""
    out = {}
    for name in ("guitar_chord1", "voice", "chord_metronome1"):
        wave, _ = specrep.io.load(f"example:{name}", sample_rate=16000, duration=4.0)
        out[name] = torch.from_numpy(wave)
    return out


@pytest.fixture(scope="session")
def guitar(recordings):
    return recordings["guitar_chord1"]
