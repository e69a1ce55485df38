"""Data-parallel training under torchrun: 2 CPU processes (gloo) end with identical parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # torchrun with two ranks (~30 s)

SCRIPT = textwrap.dedent('''
    import os, sys
    import torch
    from gan_plugins.api import get_plugin
    from gan_plugins.training.distributed import leave_process_group
    from gan_plugins.training.trainer import Trainer
    from gan_plugins.config import resolve_config

    out = sys.argv[1]
    plugin = get_plugin("dcgan")
    cfg = resolve_config(plugin, loss="non-saturating", data="mnist",
                         overrides={"width": 4, "batch_size": 8, "sample_every": 0, "ckpt_every": 0, "steps": 3})
    trainer = Trainer(plugin, cfg, out, progress=False).setup()
    first = trainer.stream.next()
    trainer.stream.load_state_dict({"epoch": 0, "offset": 0})
    trainer.run()
    rank = int(os.environ["RANK"])
    state = {f"g.{k}": v for k, v in trainer.generator.state_dict().items()}
    state.update({f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()})
    state["first_batch"] = first
    torch.save(state, os.path.join(out, f"rank{rank}.pt"))
    leave_process_group()
''')


def _tail(res: subprocess.CompletedProcess) -> str:
    """The failing rank's own messages (torchrun's summary alone hides why a rank aborted)."""
    lines = [ln for ln in res.stderr.splitlines() if "torch/distributed/elastic" not in ln]
    return "\n".join(lines)[-6000:]


def _torchrun() -> list[str]:
    return [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node=2"]


def test_two_cpu_ranks_end_with_identical_parameters(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(_torchrun() + [str(script), str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=240)
    assert res.returncode == 0, _tail(res)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert not torch.equal(r0.pop("first_batch"), r1.pop("first_batch"))  # each rank reads its own shard
    assert r0.keys() == r1.keys()
    for key in r0:
        torch.testing.assert_close(r1[key], r0[key], rtol=0, atol=0, msg=key)
    # and training moved them: rank 0 wrote the only checkpoint and log
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "log.csv").is_file()


def test_torchrun_cli_train(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    loopgan = str(Path(sys.executable).with_name("loopgan"))
    res = subprocess.run(_torchrun() + ["--no-python", loopgan, "train", "dcgan", "--loss", "hinge", "--out",
                                        str(tmp_path / "run"), "--steps", "2", "--set", "width=4", "--set",
                                        "batch_size=8", "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, _tail(res)
    assert res.stdout.count("trained dcgan/hinge to step 2") == 1  # rank 0 only
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "last.pt", "log.csv",
                                                                     "samples", "tb"]


# A plugin with no batch-coupled layer (no batch norm, no minibatch std), so that W ranks x batch B and one process x
# batch W*B compute the same mean gradients. ``aug_noise`` > 0 adds instance noise to real batches from the *global*
# RNG, which differs per rank: only a resume that restores every rank's own RNG state continues such a run exactly.
MLP_PLUGIN = textwrap.dedent('''
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset


    class MLPPlugin:
        name = "mlp"
        output_kind = "image"

        def default_config(self):
            return {"z_dim": 4, "hidden": 16, "aug_noise": 0.0}

        def build(self, config):
            h = config["hidden"]
            g = nn.Sequential(nn.Linear(config["z_dim"], h), nn.Tanh(), nn.Linear(h, 16), nn.Unflatten(1, (1, 4, 4)))
            d = nn.Sequential(nn.Flatten(), nn.Linear(16, h), nn.Tanh(), nn.Linear(h, 1), nn.Flatten(0))
            return g, d

        def prepare(self, data, config):
            return {}

        def dataset(self, data, config, *, split):
            return TensorDataset(torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(5)))

        def features(self, batch, config, schedule_state):
            if config["aug_noise"]:
                return batch + config["aug_noise"] * torch.randn_like(batch)
            return batch

        def latent(self, n, config, *, device="cpu", generator=None):
            return torch.randn(n, config["z_dim"], device=device, generator=generator)

        def schedule(self, config):
            return None

        def apply_schedule(self, generator, discriminator, state):
            return None

        def save_samples(self, samples, out_dir, *, fmt, config):
            return []

        def save_grid(self, samples, path, config):
            return path


    plugin = MLPPlugin()
''')

MLP_SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mlp_plugin import plugin
    from gan_plugins.io.checkpoint import load_checkpoint
    from gan_plugins.training.distributed import leave_process_group
    from gan_plugins.training.trainer import Trainer
    from gan_plugins.config import resolve_config

    out, mode, batch, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    rank = int(os.environ.get("RANK", "0"))
    base = {"batch_size": batch, "sample_every": 0, "ckpt_every": 0, "log_every": 1, "n_critic": 2, "lr_g": 1e-2,
            "lr_d": 1e-2, "gp_every": 1, "drift": 0.01, "ema_decay": 0.9, **extra}

    def params(trainer):
        out = {f"g.{k}": v for k, v in trainer.generator.state_dict().items()}
        out.update({f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()})
        out.update({f"ema.{k}": v for k, v in trainer.ema.state_dict().items()})
        # the last (synchronised) generator gradients: Adam is invariant to the gradients' scale, so parameters
        # alone would not show a sum where the mean belongs
        out.update({f"grad.g.{k}": p.grad for k, p in trainer.generator.named_parameters()})
        out["augment_p"] = torch.tensor(trainer.augment_p, dtype=torch.float64)
        return out

    if mode == "equivalence":
        cfg = resolve_config(plugin, loss="wgan-gp", data="x", overrides=base)
        trainer = Trainer(plugin, cfg, os.path.join(out, "eq"), progress=False).setup()
        trainer.run(4)
        torch.save(params(trainer), os.path.join(out, f"eq_rank{rank}.pt"))
    else:  # resume: 4 steps straight vs 2 steps, checkpoint, a fresh trainer, 2 more
        cfg = resolve_config(plugin, loss="wgan-gp", data="x", overrides={**base, "aug_noise": 0.5})
        straight = Trainer(plugin, cfg, os.path.join(out, "straight"), progress=False).setup()
        straight.run(4)
        first = Trainer(plugin, cfg, os.path.join(out, "split"), progress=False).setup()
        first.run(2)
        state = load_checkpoint(os.path.join(out, "split", "last.pt"))
        second = Trainer(plugin, cfg, os.path.join(out, "split"), progress=False).setup()
        second.load_state_dict(state)
        second.run(4)
        torch.save({"straight": params(straight), "split": params(second)}, os.path.join(out, f"res_rank{rank}.pt"))
    leave_process_group()
''')


def _mlp_script(tmp_path: Path) -> Path:
    (tmp_path / "mlp_plugin.py").write_text(MLP_PLUGIN)
    script = tmp_path / "mlp_train.py"
    script.write_text(MLP_SCRIPT)
    return script


# R1 + audio augmentation + ADA: 3 critic updates a step, so ADA adjusts after updates 3, 7, 11 and a step-2
# checkpoint holds running sums; r_t must be the mean over both ranks' reals (else p, and the updates, differ)
ADA = {"n_critic": 3, "penalty": "r1", "gp_every": 2, "augment": "audio", "augment_p": 0.5, "ada_target": 0.6,
       "ada_images": 256}


@pytest.mark.parametrize("extra", [{}, ADA], ids=["wgan-gp", "r1-audio-ada"])
def test_two_ranks_of_batch_b_equal_one_process_of_batch_2b(tmp_path, extra):
    # data parallelism must be an implementation detail: the explicit all_reduce averages gradients (a sum without
    # the division by the world size, or a missing sync, changes the result), the sampler gives the ranks the union
    # of the single process's batch, and latents / penalty coefficients come from one global draw
    script = _mlp_script(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one"), "equivalence", "16", json.dumps(extra)],
                         capture_output=True, text=True, env=env, timeout=240)
    assert one.returncode == 0, _tail(one)
    two = subprocess.run(_torchrun() + [str(script), str(tmp_path / "two"), "equivalence", "8", json.dumps(extra)],
                         capture_output=True, text=True, env=env, timeout=240)
    assert two.returncode == 0, _tail(two)
    ref = torch.load(tmp_path / "one" / "eq_rank0.pt", weights_only=True)
    for rank in (0, 1):
        got = torch.load(tmp_path / "two" / f"eq_rank{rank}.pt", weights_only=True)
        assert got.keys() == ref.keys()
        for key in ref:
            torch.testing.assert_close(got[key], ref[key], rtol=1e-5, atol=1e-6, msg=f"rank {rank}: {key}")
    if extra:
        assert ref["augment_p"] != extra["augment_p"]  # p moved


@pytest.mark.parametrize("extra", [{}, ADA], ids=["wgan-gp", "r1-audio-ada"])
def test_resume_under_ddp_restores_every_ranks_rng(tmp_path, extra):
    script = _mlp_script(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(_torchrun() + [str(script), str(tmp_path), "resume", "8", json.dumps(extra)],
                         capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, _tail(res)
    for rank in (0, 1):
        both = torch.load(tmp_path / f"res_rank{rank}.pt", weights_only=True)
        for key, value in both["straight"].items():
            torch.testing.assert_close(both["split"][key], value, rtol=0, atol=1e-6, msg=f"rank {rank}: {key}")
    state = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    assert len(state["rng_ranks"]) == 2
    assert not torch.equal(state["rng_ranks"][0]["torch"], state["rng_ranks"][1]["torch"])


def test_leave_process_group_waits_for_every_rank_before_destroying(monkeypatch):
    # the order is the fix: a rank that destroys its group before the barrier can make a peer still in the last
    # collective abort (SIGABRT); outside torchrun nothing is called
    import gan_plugins.training.distributed as dist_mod

    calls = []
    monkeypatch.setattr(dist_mod.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist_mod.dist, "destroy_process_group", lambda: calls.append("destroy"))
    monkeypatch.setattr(dist_mod.dist, "is_initialized", lambda: False)
    dist_mod.leave_process_group()
    assert calls == []
    monkeypatch.setattr(dist_mod.dist, "is_initialized", lambda: True)
    dist_mod.leave_process_group()
    assert calls == ["barrier", "destroy"]


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_of_batch_b_equal_one_process_of_batch_2b(tmp_path):
    # a multi-node launch as on a cluster (docs/scaling.md): two torchrun agents, one process each, meeting at a c10d
    # rendezvous; the first hosts the store (is_host=1), both talk over loopback. Same equivalence as two local ranks.
    script = _mlp_script(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "GLOO_SOCKET_IFNAME": "lo"}
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one"), "equivalence", "16", "{}"],
                         capture_output=True, text=True, env=env, timeout=240)
    assert one.returncode == 0, _tail(one)
    port = _free_port()
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    nodes = [subprocess.Popen([torchrun, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                               "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"two-nodes-{port}",
                               "--rdzv-conf", f"is_host={int(node == 0)},join_timeout=120", "--local-addr",
                               "127.0.0.1", "--max-restarts", "0", str(script), str(tmp_path / "two"), "equivalence",
                               "8", "{}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for node in (0, 1)]
    results = []
    try:
        for proc in nodes:
            out, err = proc.communicate(timeout=240)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    finally:
        for proc in nodes:  # a node that never met its peer must not outlive the test
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for node, res in enumerate(results):
        assert res.returncode == 0, f"node {node}:\n{_tail(res)}"
    ref = torch.load(tmp_path / "one" / "eq_rank0.pt", weights_only=True)
    for rank in (0, 1):  # the rendezvous numbers the ranks; each node ran one of them
        got = torch.load(tmp_path / "two" / f"eq_rank{rank}.pt", weights_only=True)
        assert got.keys() == ref.keys()
        for key in ref:
            torch.testing.assert_close(got[key], ref[key], rtol=1e-5, atol=1e-6, msg=f"rank {rank}: {key}")
