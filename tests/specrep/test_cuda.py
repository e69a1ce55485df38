"""CUDA checks: run wherever a GPU exists (skipped otherwise by conftest)."""

import pytest
import torch

import specrep

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("name", specrep.available_chains())
def test_chains_on_cuda_match_cpu(guitar, name):
    wave = guitar[:32000]
    kw = {"n_iter": 8} if name.endswith("gl") else {}
    if name == "gansynth":
        wave = torch.nn.functional.pad(wave, (0, 64000 - wave.shape[-1]))
    cpu = specrep.chain(name, **kw)
    gpu = specrep.chain(name, **kw).cuda()
    f_cpu, f_gpu = cpu(wave), gpu(wave.cuda())
    assert f_gpu.device.type == "cuda"
    assert torch.allclose(f_gpu.cpu(), f_cpu, atol=1e-3)
    back = gpu.inverse(f_gpu, length=wave.shape[-1])
    assert back.device.type == "cuda" and torch.isfinite(back).all()
    if name == "mag-if":
        assert ((back.cpu() - wave).norm() / wave.norm()).item() <= 1e-4


def test_griffin_lim_batched_on_cuda(guitar):
    p = specrep.STFTParams(16000, 1024, 256)
    mag = specrep.functional.stft(guitar.cuda().expand(4, -1), p).abs()
    wave = specrep.griffin_lim(mag, p, n_iter=16, init="pghi", length=guitar.shape[-1])
    assert wave.shape == (4, guitar.shape[-1]) and wave.device.type == "cuda"
