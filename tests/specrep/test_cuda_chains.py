"""specrep chains on CUDA in float32 and float64, and their gradients (skipped without a CUDA device by conftest).

The CUDA results are compared with the same chain on the CPU in float64: each chain's forward features, the
round trip of the phase-keeping (IF) chains, the gradient of a loss on the features w.r.t. the waveform, and
``gradcheck`` of the STFT and of an IF chain's inverse on the device itself.
"""

import pytest
import torch
from torch.autograd import gradcheck

import specrep

pytestmark = pytest.mark.cuda
DEVICE = "cuda"
#: forward tolerance per dtype (relative to the largest feature, and the absolute IF error in units of pi at loud
#: bins): float32 FFTs agree with float64 to about 1e-5 of full scale on the CPU, cuFFT likewise; float64 to rounding
RTOL = {torch.float32: 1e-4, torch.float64: 1e-10}
CHAIN_KW = {"sample_rate": 8000, "n_fft": 256, "hop_length": 64}


def _wave(name: str, dtype: torch.dtype, guitar: torch.Tensor) -> torch.Tensor:
    wave = guitar[:8000]
    if name == "gansynth":  # the preset's fixed layout: 64000 samples at 16 kHz
        wave = torch.nn.functional.pad(guitar[:32000], (0, 32000))
    return wave.to(dtype)


def _chain(name: str) -> specrep.Chain:
    return specrep.chain(name) if name == "gansynth" else specrep.chain(name, **CHAIN_KW)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", specrep.available_chains())
def test_chain_forward_on_device_matches_cpu_float64(guitar, name, dtype):
    wave = _wave(name, dtype, guitar)
    ref = _chain(name).double()(wave.double())
    dev = _chain(name).to(device=DEVICE, dtype=dtype)
    feats = dev(wave.to(DEVICE))
    assert feats.device.type == torch.device(DEVICE).type and feats.dtype == dtype
    assert feats.shape == ref.shape and torch.isfinite(feats).all()
    got = feats.double().cpu()
    if dtype == torch.float64:
        err = (got - ref).abs().max().item()
        assert err <= RTOL[dtype] * (1.0 + ref.abs().max().item()), f"{name}: max error {err:.3g}"
        return
    # float32: the log magnitude everywhere; the instantaneous frequency (channel 1 of IF chains, in units of pi)
    # modulo 2 (a phase step of +-pi may round either way) and where the bin holds energy (log magnitude in the top
    # 30 % of its range): at near-silent bins the phase is rounding noise on any device
    mag_err = (got[..., 0, :, :] - ref[..., 0, :, :]).abs().max().item()
    assert mag_err <= RTOL[dtype] * (1.0 + ref[..., 0, :, :].abs().max().item()), f"{name}: log-magnitude {mag_err:.3g}"
    if ref.shape[-3] == 2:
        logmag = ref[..., 0, :, :]
        loud = logmag >= logmag.min() + 0.7 * (logmag.max() - logmag.min())
        wrapped = torch.remainder(got[..., 1, :, :] - ref[..., 1, :, :] + 1.0, 2.0) - 1.0
        assert loud.sum() > 0 and wrapped[loud].abs().max().item() <= RTOL[dtype], name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", ["mag-if", "mel-if"])
def test_if_chain_round_trip_on_device(guitar, name, dtype):
    wave = _wave(name, dtype, guitar).to(DEVICE)
    chain = _chain(name).to(device=DEVICE, dtype=dtype)
    back = chain.inverse(chain(wave), length=wave.shape[-1])
    assert back.device == wave.device and back.dtype == dtype and torch.isfinite(back).all()
    rel = ((back - wave).norm() / wave.norm()).item()
    if name == "mag-if":  # exact up to the dtype's rounding
        assert rel <= (1e-4 if dtype == torch.float32 else 1e-8)
    else:  # the mel inverse is a least-squares fit, the same on every device
        cpu = _chain(name).double()
        ref = cpu.inverse(cpu(wave.double().cpu()), length=wave.shape[-1])
        assert abs(rel - ((ref - wave.double().cpu()).norm() / wave.double().cpu().norm()).item()) <= 1e-3


@pytest.mark.parametrize("name", specrep.available_chains())
def test_gradient_through_chain_on_device_matches_cpu(guitar, name):
    def grad_of(device: str) -> torch.Tensor:
        wave = _wave(name, torch.float64, guitar).to(device).requires_grad_(True)
        feats = _chain(name).to(device=device, dtype=torch.float64)(wave)
        weights = torch.linspace(-1.0, 1.0, feats.numel(), dtype=torch.float64, device=device).reshape(feats.shape)
        (grad,) = torch.autograd.grad((feats * weights).sum(), wave)
        return grad.cpu()

    ref, got = grad_of("cpu"), grad_of(DEVICE)
    assert torch.isfinite(got).all() and ref.abs().max() > 0
    assert (got - ref).norm() <= 1e-8 * ref.norm(), name


def test_gradcheck_on_device():
    p = specrep.STFTParams(sample_rate=8000, n_fft=16, hop_length=4)
    torch.manual_seed(0)
    wave = torch.randn(2, 40, dtype=torch.float64, device=DEVICE, requires_grad=True)
    stft = specrep.STFT(p).to(DEVICE)
    assert gradcheck(lambda x: torch.view_as_real(stft(x)), (wave,))
    chain = specrep.chain("mag-if", sample_rate=8000, n_fft=16, hop_length=4).to(device=DEVICE, dtype=torch.float64)
    feats = chain(wave).detach().requires_grad_(True)
    assert gradcheck(lambda f: chain.inverse(f, length=40), (feats,))
