"""Generic trainer: config resolution, exact resume, divergence handling, logs and samples."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest
import torch

from gan_plugins.api import get_plugin
from gan_plugins.config import parse_overrides, resolve_config
from gan_plugins.io.checkpoint import load_checkpoint
from gan_plugins.training import losses as losses_mod
from gan_plugins.training.losses import AdversarialLoss, get_loss
from gan_plugins.training.trainer import TrainingDiverged, train
from specrep.errors import ParameterError

TINY = {"width": 4, "batch_size": 8, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 4}


def _losses(run):
    with open(run / "log.csv") as fh:
        return [(int(r["step"]), float(r["loss_d"]), float(r["loss_g"])) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("loss", ["non-saturating", "wgan-gp"])
def test_resume_continues_exactly(tmp_path, loss):
    straight = train("dcgan", data="mnist", loss=loss, out=tmp_path / "a", steps=6, overrides=TINY, progress=False)
    train("dcgan", data="mnist", loss=loss, out=tmp_path / "b", steps=3, overrides=TINY, progress=False)
    resumed = train("dcgan", data="mnist", loss=loss, out=tmp_path / "b", steps=6, resume=True, progress=False)
    assert resumed.step == straight.step == 6
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert [s for s, *_ in b] == list(range(1, 7))
    torch.testing.assert_close(torch.tensor(b), torch.tensor(a), rtol=0, atol=1e-6)
    sa, sb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for key in ("generator", "discriminator", "ema"):
        for name, value in sa[key].items():
            torch.testing.assert_close(sb[key][name], value, rtol=0, atol=1e-6, msg=f"{key}.{name}")


def test_resume_drops_log_rows_written_after_the_checkpoint(tmp_path):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=2, overrides=TINY, progress=False)
    with open(tmp_path / "log.csv", "a") as fh:  # as if a killed run had logged step 3 past its checkpoint
        fh.write("3,9,9,0,0,0,0,0,0\n")
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=4, resume=True, progress=False)
    assert [s for s, *_ in _losses(tmp_path)] == [1, 2, 3, 4]
    assert _losses(tmp_path)[2][1] != 9.0


def test_checkpoint_holds_the_full_state(tmp_path):
    train("dcgan", data="mnist", loss="wgan", out=tmp_path, steps=2, overrides=TINY, progress=False)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 2 and state["config"]["loss"] == "wgan" and state["config"]["n_critic"] == 5
    assert {"generator", "discriminator", "ema", "opt_g", "opt_d", "rng", "stream", "schedule"} <= set(state)
    assert set(state["rng"]) >= {"torch", "numpy", "python"}
    # 2 generator steps x 5 critic steps x 8 images consumed from the stream
    assert state["stream"]["epoch"] * 4000 + state["stream"]["offset"] == 2 * 5 * 8
    assert json.loads((tmp_path / "config.json").read_text())["clip"] == 0.01
    params = [v for k, v in state["discriminator"].items() if "running" not in k and v.is_floating_point()]
    assert max(p.abs().max().item() for p in params) <= 0.01 + 1e-7  # weight clipping applied


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=1, overrides=TINY, progress=False)
    with pytest.raises(ParameterError, match="--resume"):
        train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=1, overrides=TINY, progress=False)
    with pytest.raises(ParameterError, match="trained as dcgan/hinge"):
        train("dcgan", data="mnist", loss="lsgan", out=tmp_path, steps=2, resume=True, progress=False)


def test_resume_may_start_a_phase_with_new_rates_and_ema_and_records_it(tmp_path):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=2, overrides=TINY, progress=False)
    lr_d = load_checkpoint(tmp_path / "last.pt")["config"]["lr_d"]
    # the stored width may be repeated (the original command + --resume); lr_g and ema_decay start a new phase
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=4, resume=True, progress=False,
          overrides={"width": TINY["width"], "lr_g": 5e-5, "ema_decay": 0.9999})
    state = load_checkpoint(tmp_path / "last.pt")
    assert [g["lr"] for g in state["opt_g"]["param_groups"]] == [5e-5]  # the optimiser steps with the new rate
    assert [g["lr"] for g in state["opt_d"]["param_groups"]] == [lr_d]
    assert state["config"]["lr_g"] == 5e-5 and state["config"]["ema_decay"] == 0.9999
    assert json.loads((tmp_path / "config.json").read_text())["ema_decay"] == 0.9999
    phases = [json.loads(line) for line in (tmp_path / "phases.jsonl").read_text().splitlines()]
    assert phases == [{"step": 2, "lr_g": [2e-4, 5e-5], "ema_decay": [0.999, 0.9999]}]
    # a plain resume afterwards keeps the phase's settings and records nothing new
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=5, resume=True, progress=False)
    state = load_checkpoint(tmp_path / "last.pt")
    assert [g["lr"] for g in state["opt_g"]["param_groups"]] == [5e-5] and state["step"] == 5
    assert len((tmp_path / "phases.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("over, match", [({"width": 8}, "width"), ({"lr_g": 0}, "lr_g"), ({"lr_d": "fast"}, "lr_d"),
                                         ({"ema_decay": 1.0}, "ema_decay"), ({"eval_every": -1}, "eval_every"),
                                         ({"nonsense": 1}, "nonsense")])
def test_resume_refuses_to_change_the_model_and_bad_phase_values(tmp_path, over, match):
    train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=1, overrides=TINY, progress=False)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(ParameterError, match=match):
        train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=2, resume=True, progress=False, overrides=over)
    assert (tmp_path / "last.pt").read_bytes() == before and not (tmp_path / "phases.jsonl").exists()
    with pytest.raises(ParameterError, match="config file"):
        cfg = tmp_path / "c.json"
        cfg.write_text('{"lr_g": 1e-4}')
        train("dcgan", data="mnist", loss="hinge", out=tmp_path, steps=2, resume=True, progress=False,
              config_file=cfg)


@pytest.mark.slow  # ~2 s: trains twice
def test_evaluations_and_sample_grids_do_not_change_training(tmp_path):
    """A probe that evaluates and draws grids every step trains the weights of a bare ``loopgan train`` (the bundled
    dcgan-mnist's command relies on it)."""
    from gan_plugins.metrics.mnist import MnistEvaluator

    plug = get_plugin("dcgan")
    over = {**TINY, "augment": "translation"}
    cfg = resolve_config(plug, loss="non-saturating", data="mnist", overrides=over)
    ev = MnistEvaluator(lambda n, g: plug.latent(n, cfg, generator=g), n_samples=64)
    probed = train("dcgan", data="mnist", loss="non-saturating", out=tmp_path / "a", steps=3, evaluator=ev,
                   overrides={**over, "eval_every": 1, "sample_every": 1, "ckpt_every": 1}, progress=False)
    train("dcgan", data="mnist", loss="non-saturating", out=tmp_path / "b", steps=3, overrides=over, progress=False)
    assert len(probed.evals) == 3 and (tmp_path / "a" / "samples").is_dir()
    sa, sb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for key in ("generator", "discriminator", "ema"):
        for name, value in sa[key].items():
            torch.testing.assert_close(sb[key][name], value, rtol=0, atol=0, msg=f"{key}.{name}")


def _all_tensors(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _all_tensors(v, f"{prefix}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _all_tensors(v, f"{prefix}[{i}]")


@pytest.mark.parametrize("nan_at,ckpt_every,last_good,how", [(5, 2, 4, "scale"), (5, 1, 4, "scale"),
                                                              (6, 4, 4, "scale"), (5, 2, 4, "value")])
def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, nan_at, ckpt_every, last_good, how):
    calls = {"n": 0}
    base = get_loss("hinge")

    def flaky_d(d_real, d_fake):  # hinge has n_critic 1: call n is step n
        calls["n"] += 1
        loss = base.d_loss(d_real, d_fake)
        if calls["n"] < nan_at:
            return loss
        # "scale": NaN everywhere (value and gradients, so the weights too); "value": a NaN critic loss whose
        # gradients stay finite, so only loss_d shows it
        return loss * float("nan") if how == "scale" else loss + torch.tensor(float("nan"))

    monkeypatch.setitem(losses_mod._LOSSES, "flaky",
                        AdversarialLoss("flaky", flaky_d, base.g_loss, dict(base.defaults)))
    with pytest.raises(TrainingDiverged, match=f"diverged at step {nan_at}.*last good checkpoint"):
        train("dcgan", data="mnist", loss="flaky", out=tmp_path / "bad", steps=10,
              overrides={**TINY, "ckpt_every": ckpt_every}, progress=False)
    state = load_checkpoint(tmp_path / "bad" / "last.pt")
    assert state["step"] == last_good
    floats = [(name, t) for name, t in _all_tensors(state) if t.is_floating_point()]
    assert any(name.startswith(".opt_d") for name, _ in floats)  # optimiser moments are checked too
    assert not [name for name, t in floats if not torch.isfinite(t).all()]
    # and it is exactly the state a clean run reaches at that step (not a half-updated or later one)
    train("dcgan", data="mnist", loss="hinge", out=tmp_path / "good", steps=last_good, overrides=TINY,
          progress=False)
    good = load_checkpoint(tmp_path / "good" / "last.pt")
    for key in ("generator", "discriminator", "ema"):
        for name, value in good[key].items():
            torch.testing.assert_close(state[key][name], value, rtol=0, atol=1e-6, msg=f"{key}.{name}")


def test_logs_tensorboard_and_sample_grids(tmp_path):
    train("dcgan", data="mnist", loss="lsgan", out=tmp_path, steps=4,
          overrides={**TINY, "sample_every": 2, "log_every": 2}, progress=False)
    assert [r[0] for r in _losses(tmp_path)] == [2, 4]
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.png")) == ["step_0000002.png", "step_0000004.png"]
    assert any((tmp_path / "tb").iterdir())


def test_config_precedence_and_validation(tmp_path):
    plugin = get_plugin("dcgan")
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("width = 8\nlr_g = 0.001\n")
    cfg = resolve_config(plugin, loss="wgan-gp", data="mnist", config_file=cfg_file, overrides={"lr_g": 0.5})
    assert (cfg["width"], cfg["lr_g"], cfg["gp_weight"], cfg["d_norm"]) == (8, 0.5, 10.0, "none")
    with pytest.raises(ParameterError, match="'nope' is not a setting"):
        resolve_config(plugin, loss="hinge", data="mnist", overrides={"nope": 1})
    with pytest.raises(ParameterError, match="steps=0"):
        resolve_config(plugin, loss="hinge", data="mnist", overrides={"steps": 0})
    assert parse_overrides(["a=3", "b=1e-4", "c=[1,2]", "d=batch"]) == {"a": 3, "b": 1e-4, "c": [1, 2], "d": "batch"}
    with pytest.raises(ParameterError, match="key=value"):
        parse_overrides(["oops"])


def test_lazy_gradient_penalty_every_kth_critic_update_with_k_times_the_weight(tmp_path, monkeypatch):
    weights = []
    real_gp = losses_mod.gradient_penalty

    def spy(critic, real, fake, **kwargs):  # the trainer also passes alpha (its shared noise generator's draw)
        weights.append(kwargs["weight"])
        return real_gp(critic, real, fake, **kwargs)

    monkeypatch.setitem(losses_mod._PENALTIES, "gp", dataclasses.replace(losses_mod._PENALTIES["gp"], fn=spy))
    # wgan-gp: 5 critic updates per step, so 2 steps = updates 0..9, penalised at 0, 4 and 8
    train("dcgan", data="mnist", loss="wgan-gp", out=tmp_path, steps=2, overrides={**TINY, "gp_every": 4},
          progress=False)
    assert weights == [40.0, 40.0, 40.0]
    with open(tmp_path / "log.csv") as fh:
        penalties = [float(r["penalty"]) for r in csv.DictReader(fh)]
    assert penalties[0] > 0 and penalties[1] == 0  # logged: the step's last critic update (4: penalised, 9: not)
    with pytest.raises(ParameterError, match="gp_every"):
        resolve_config(get_plugin("dcgan"), loss="wgan-gp", data="mnist", overrides={"gp_every": 0})


class _Ramp:
    """A fade-in schedule: alpha goes 0 -> 1 over 4 steps."""

    def at(self, step):
        return {"stage": 1, "alpha": min(1.0, step / 4)}


def test_plugin_schedule_and_feature_transform_are_used_and_checkpointed(tmp_path):
    from gan_plugins.models.dcgan import DCGANPlugin
    from gan_plugins.training.trainer import Trainer

    seen = {"apply": [], "features": []}

    class Scheduled(DCGANPlugin):
        def schedule(self, config):
            return _Ramp()

        def apply_schedule(self, generator, discriminator, state):
            seen["apply"].append(state["alpha"])

        def features(self, batch, config, schedule_state):
            seen["features"].append(schedule_state["alpha"])
            return batch * schedule_state["alpha"]

    plugin = Scheduled()
    cfg = resolve_config(plugin, loss="hinge", data="mnist", overrides={**TINY, "steps": 3})
    Trainer(plugin, cfg, tmp_path, progress=False).run()
    assert seen["features"] == [0.0, 0.25, 0.5]
    assert seen["apply"] == [0.0, 0.0, 0.25, 0.25, 0.5, 0.5]  # generator and EMA copy each step
    assert load_checkpoint(tmp_path / "last.pt")["schedule"] == {"stage": 1, "alpha": 0.75}
    header = (tmp_path / "log.csv").read_text().splitlines()[0]
    assert header.endswith("stage,alpha,seconds")


@pytest.mark.cuda
def test_cuda_amp_step(tmp_path):
    res = train("dcgan", data="mnist", loss="wgan-gp", out=tmp_path, steps=2, overrides={**TINY, "amp": True},
                progress=False)
    state = load_checkpoint(tmp_path / "last.pt")
    assert res.step == 2 and all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


def test_renamed_settings_are_read_under_their_new_names(tmp_path):
    from gan_plugins.config import upgrade_config

    with pytest.warns(DeprecationWarning) as caught:
        got = upgrade_config({"gl_iter": 4, "mel_n_iter": 2, "z_dim": 8}, source="--set")
    assert sorted(str(w.message) for w in caught) == ["--set key 'gl_iter' is now called 'gl_n_iter'",
                                                       "--set key 'mel_n_iter' is now called 'mel_nnls_iter'"]
    assert got == {"gl_n_iter": 4, "mel_nnls_iter": 2, "z_dim": 8}
    with pytest.raises(ParameterError, match="both 'gl_iter' and its new name 'gl_n_iter'"):
        upgrade_config({"gl_iter": 4, "gl_n_iter": 5})
    # a stored config (a checkpoint of an older version) is upgraded silently
    assert upgrade_config({"mel_n_iter": 0}) == {"mel_nnls_iter": 0}


@pytest.mark.parametrize(("over", "match"), [
    ({"penalty": "r2"}, "penalty='r2' is not one of gp, r1"),
    ({"r1_gamma": 1.0}, "r1_gamma=1.0 weighs penalty 'r1', not 'gp'"),
    ({"penalty": "r1", "r1_gamma": -1.0}, "r1_gamma=-1.0"),
    ({"penalty": "r1", "gp_weight": 10.0}, "gp_weight=10.0 weighs penalty 'gp'"),
])
def test_penalty_settings_are_validated(over, match):
    plugin = get_plugin("dcgan")
    with pytest.raises(ParameterError, match=match):
        resolve_config(plugin, loss="hinge", data="mnist", overrides=over)
    # wgan-gp's own gp_weight (a loss default, not given) does not stand in the way of R1
    cfg = resolve_config(plugin, loss="wgan-gp", data="mnist", overrides={"penalty": "r1", "gp_every": 16})
    assert (cfg["penalty"], cfg["r1_gamma"], cfg["gp_weight"]) == ("r1", None, 10.0)
    assert resolve_config(plugin, loss="hinge", data="mnist")["penalty"] == "gp"


def test_r1_audio_augmentation_and_ada_resume_exactly_from_step_2(tmp_path):
    plugin = get_plugin("gansynth")
    data, tiny = plugin.smoke_config(tmp_path / "data")
    # 3 critic updates a step: ADA adjusts after updates 3, 7, 11 (steps 2, 3, 4); the step-2 checkpoint holds the
    # p of one adjustment and the sums of updates 4 and 5; R1 (gamma from the heuristic) on updates 0, 2, 4, ...
    over = {**tiny, "batch_size": 4, "log_every": 1, "sample_every": 0, "ckpt_every": 0, "grid_size": 2,
            "n_critic": 3, "penalty": "r1", "gp_every": 2, "augment": "audio", "augment_p": 0.5, "ada_target": 0.6,
            "ada_images": 256}
    kw = {"data": data, "loss": "non-saturating", "progress": False}
    straight = train("gansynth", out=tmp_path / "a", steps=4, overrides=over, **kw)
    train("gansynth", out=tmp_path / "b", steps=2, overrides=over, **kw)
    resumed = train("gansynth", out=tmp_path / "b", steps=4, resume=True, **kw)
    cols = ("loss_d", "loss_g", "penalty", "augment_p")
    a = torch.tensor([[r[c] for c in cols] for r in straight.history], dtype=torch.float64)
    b = torch.tensor([[r[c] for c in cols] for r in resumed.history], dtype=torch.float64)
    torch.testing.assert_close(b, a[2:], rtol=0, atol=0)
    assert (a[:, 2] > 0).tolist() == [True, False, True, False]  # logged: updates 2, 5, 8, 11; R1 on even ones
    assert len(set(a[:, 3].tolist())) == 4 and 0 < a[-1, 3] < 1  # p moved at steps 2, 3 and 4 (by 16 / 256)
    sa, sb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert sa["ada"] == sb["ada"]
    for key in ("generator", "discriminator", "ema"):
        for name, value in sa[key].items():
            torch.testing.assert_close(sb[key][name], value, rtol=0, atol=0, msg=f"{key}.{name}")
