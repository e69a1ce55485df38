"""GANSynth on CUDA end to end (skipped without a CUDA device by conftest): a 20-step run under bf16 autocast
(``amp=True``: on CUDA), then sampling, a latent walk and export from it, each compared with the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_plugins.api import get_plugin
from gan_plugins.config import resolve_config
from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.io.model import load_model
from gan_plugins.latent.render import render_walk
from gan_plugins.latent.walks import make_walk
from gan_plugins.training.trainer import Trainer

pytestmark = pytest.mark.cuda
DEVICE = "cuda"
STEPS = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 20-step tiny GANSynth run (mel-if: decoding has no random phase, so devices can be compared)."""
    folder = tmp_path_factory.mktemp("cuda_run")
    plugin = get_plugin("gansynth")
    data, overrides = plugin.smoke_config(folder)
    cfg = resolve_config(plugin, loss="wgan-gp", data=data,
                         overrides={**overrides, "representation": "mel-if", "batch_size": 4, "amp": True,
                                    "sample_every": 0, "ckpt_every": 0, "log_every": 1, "grid_size": 4})
    trainer = Trainer(plugin, cfg, folder / "run", progress=False).setup()
    assert trainer.device.type == torch.device(DEVICE).type
    assert trainer.amp == (trainer.device.type == "cuda")  # amp=True autocasts on CUDA only
    result = trainer.run(STEPS)
    return folder / "run", result


def test_twenty_amp_steps_train_finite_weights(run):
    run_dir, result = run
    assert result.step == STEPS and not result.diverged
    losses = [row["loss_d"] for row in result.history]
    assert len(losses) == STEPS and np.isfinite(losses).all() and np.ptp(losses) > 0
    state = load_checkpoint(run_dir / "last.pt")
    for part in ("generator", "discriminator", "ema"):
        assert all(torch.isfinite(v).all() for v in state[part].values() if v.is_floating_point()), part


def test_sampling_on_device_matches_cpu(run):
    run_dir, _ = run
    dev, cpu = load_model(run_dir, device=DEVICE), load_model(run_dir)
    assert dev.device.type == torch.device(DEVICE).type
    z = cpu.latent(6, seed=3)
    f_dev, f_cpu = dev.generate(z), cpu.generate(z)
    assert f_dev.device.type == "cpu" and torch.isfinite(f_dev).all()  # results come back on the CPU
    assert (f_dev - f_cpu).norm() <= 1e-3 * f_cpu.norm()  # float32 inference: cuDNN vs CPU kernels
    loops_dev, loops_cpu = dev.decode(z, rescale=True), cpu.decode(z, rescale=True)
    assert loops_dev.shape == (6, cpu.loop_samples) and np.isfinite(loops_dev).all()
    assert np.abs(loops_dev).max() <= 1.0 + 1e-6
    assert np.linalg.norm(loops_dev - loops_cpu) <= 1e-2 * np.linalg.norm(loops_cpu)


def test_walk_on_device_matches_cpu(run):
    run_dir, _ = run
    dev, cpu = load_model(run_dir, device=DEVICE), load_model(run_dir)
    walks = [render_walk(m, make_walk("spline", m.z_dim, seed=0), 1.0, progress=False) for m in (dev, cpu)]
    a, b = walks
    assert a.wave.shape == b.wave.shape and np.isfinite(a.wave).all()
    np.testing.assert_allclose(a.latents, b.latents, rtol=0, atol=1e-6)  # the path is computed the same way
    assert np.linalg.norm(a.wave - b.wave) <= 1e-2 * np.linalg.norm(b.wave)


def test_export_of_a_device_trained_run_runs_on_the_device(run, tmp_path):
    from gan_plugins.apps.export import export_model, reference_audio

    run_dir, _ = run
    meta = export_model(run_dir, tmp_path / "gen.pt", fmt="torchscript")
    z = torch.randn(3, meta["z_dim"], generator=torch.Generator().manual_seed(1))
    ref = reference_audio(run_dir, z)
    graph_cpu = torch.jit.load(meta["path"])
    graph_dev = torch.jit.load(meta["path"], map_location=DEVICE)
    with torch.no_grad():
        out_cpu, out_dev = graph_cpu(z), graph_dev(z.to(DEVICE))
    assert out_dev.device.type == torch.device(DEVICE).type and out_dev.shape == (3, meta["loop_samples"])
    assert (out_cpu - ref).norm() <= 1e-4 * ref.norm()  # the file reproduces the model
    assert (out_dev.cpu() - ref).norm() <= 1e-2 * ref.norm()  # and the same file runs on the device
