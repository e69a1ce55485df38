"""gan_plugins.testing.check_plugin: passes the built-in plugins, names what a broken one lacks or gets wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_plugins.api import PluginError, get_plugin
from gan_plugins.models.dcgan import DCGANPlugin
from gan_plugins.testing import (
    AUDIO_MEMBERS,
    CHECKS,
    CLI_MEMBERS,
    OPTIONAL_MEMBERS,
    PROTOCOL_MEMBERS,
    Check,
    PluginCheckFailed,
    check_plugin,
)
from specrep.errors import ParameterError


class Without:
    """A copy of ``base``'s plugin members except ``missing``: a plugin object whose author forgot one."""

    def __init__(self, base, missing: str) -> None:
        for member in (*PROTOCOL_MEMBERS, *AUDIO_MEMBERS, *CLI_MEMBERS, *OPTIONAL_MEMBERS):
            if member != missing and hasattr(base, member):
                setattr(self, member, getattr(base, member))


class UnseededNoise(DCGANPlugin):
    """DCGAN whose real features get noise from an RNG of its own, seeded by the OS: nothing a checkpoint holds."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def features(self, batch, config, schedule_state):
        noise = torch.from_numpy(self.rng.standard_normal(batch.shape).astype(np.float32))
        return batch + 0.05 * noise


def statuses(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_protocol_members_are_read_from_the_protocol_classes():
    assert PROTOCOL_MEMBERS == ("name", "output_kind", "default_config", "build", "prepare", "dataset", "features",
                                "latent", "schedule", "apply_schedule", "save_samples", "save_grid")
    assert AUDIO_MEMBERS == ("audio_features", "final_size", "render")


def test_gansynth_tiny_passes_every_check(tmp_path):
    report = check_plugin("gansynth", workdir=tmp_path)
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert set(statuses(report).values()) == {"ok"}
    assert "load_model" in report["sample"].reason  # registered: loaded the way loopgan sample loads it
    assert (tmp_path / "export" / "model.pt").is_file() and (tmp_path / "three" / "last.pt").is_file()
    assert report.raise_for_failures() is report


def test_dcgan_passes_and_audio_checks_are_skipped_as_not_applying():
    before = torch.get_rng_state()
    report = check_plugin("dcgan")
    assert report.ok, str(report)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's global RNG is left as it was
    got = statuses(report)
    assert all(got[c] == "ok" for c in ("protocol", "config", "build", "train", "resume", "sample"))
    for stage in ("render", "walk", "studio", "export"):
        assert report[stage] == Check(stage, "skipped", "an image plugin")


def test_an_audio_plugin_without_render_is_caught():
    report = check_plugin(Without(get_plugin("gansynth"), "render"))
    assert not report.ok
    protocol = report["protocol"]
    assert protocol.status == "failed" and "render" in protocol.reason and "audio" in protocol.reason
    got = statuses(report)
    assert all(got[c] == "ok" for c in ("train", "resume", "sample"))  # it still trains: only audio is missing
    assert all(got[c] == "skipped" for c in ("render", "walk", "studio", "export"))
    with pytest.raises(PluginCheckFailed, match="protocol: .*render"):
        report.raise_for_failures()


def test_a_plugin_missing_a_training_member_skips_everything_after_the_protocol():
    report = check_plugin(Without(DCGANPlugin(), "latent"))
    assert report["protocol"].status == "failed" and "missing latent" in report["protocol"].reason
    assert all(c.status == "skipped" and c.reason == "needs protocol" for c in report.checks[1:])


def test_a_plugin_without_formats_is_caught_because_loopgan_sample_reads_it():
    report = check_plugin(Without(DCGANPlugin(), "formats"))
    assert report["protocol"].status == "failed" and "formats" in report["protocol"].reason


def test_an_inexact_resume_is_caught():
    report = check_plugin(UnseededNoise())
    assert statuses(report)["train"] == "ok"
    resume = report["resume"]
    assert resume.status == "failed" and "3 straight steps" in resume.reason and "RNG" in resume.reason
    assert not report.ok


def test_without_smoke_config_the_data_and_overrides_are_used():
    plugin = Without(DCGANPlugin(), "smoke_config")
    report = check_plugin(plugin)
    assert report["config"].status == "failed" and "no smoke_config" in report["config"].reason
    report = check_plugin(plugin, data="mnist", overrides={"width": 4, "z_dim": 8})
    assert report.ok, str(report)
    assert report["config"].reason.startswith("data given: data mnist")


def test_unknown_names_and_statuses_are_refused():
    with pytest.raises(PluginError, match="unknown plugin 'nope'"):
        check_plugin("nope")
    with pytest.raises(ParameterError, match="status='fine'"):
        Check("train", "fine")
