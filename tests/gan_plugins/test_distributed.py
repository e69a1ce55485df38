"""Data-parallel training under torchrun: 2 CPU processes (gloo) end with identical parameters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

SCRIPT = textwrap.dedent('''
    import os, sys
    import torch
    from gan_plugins.api import get_plugin
    from gan_plugins.train import Trainer, resolve_config

    out = sys.argv[1]
    plugin = get_plugin("dcgan")
    cfg = resolve_config(plugin, loss="non-saturating", data="mnist",
                         overrides={"width": 4, "batch_size": 8, "sample_every": 0, "ckpt_every": 0, "steps": 3})
    trainer = Trainer(plugin, cfg, out, progress=False)
    first = trainer.stream.next()
    trainer.stream.load_state_dict({"epoch": 0, "offset": 0})
    trainer.run()
    rank = int(os.environ["RANK"])
    state = {f"g.{k}": v for k, v in trainer.generator.state_dict().items()}
    state.update({f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()})
    state["first_batch"] = first
    torch.save(state, os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()
''')


def _torchrun() -> list[str]:
    return [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node=2"]


def test_two_cpu_ranks_end_with_identical_parameters(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(_torchrun() + [str(script), str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
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
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("trained dcgan/hinge to step 2") == 1  # rank 0 only
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "last.pt", "log.csv",
                                                                     "samples", "tb"]
