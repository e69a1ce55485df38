"""examples/wavegan, a plugin shipped as its own distribution: it builds and installs offline into this environment,
``loopgan plugins`` lists it, and its own tests (which run ``gan_plugins.testing.check_plugin`` on it) pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "wavegan"
#: offline: no index, no isolated build environment (this environment's setuptools builds it), no dependencies
OFFLINE = ("--no-deps", "--no-build-isolation", "--no-index", "--quiet")


def _run(args: list[str], *, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_distribution_builds_a_wheel_offline_with_its_entry_point(tmp_path):
    source = tmp_path / "wavegan"  # a copy: the in-tree build folders of setuptools stay out of the checkout
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = _run([sys.executable, "-m", "pip", "wheel", *OFFLINE, str(source), "-w", str(tmp_path / "wheels")],
                 cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheels").glob("wavegan_plugin-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = zf.read(entry_points).decode()
    assert {"wavegan_plugin/__init__.py", "wavegan_plugin/networks.py", "wavegan_plugin/plugin.py"} <= names
    lines = [line.strip() for line in text.splitlines()]
    group = lines.index("[specrep.gan_plugins]")
    assert lines[group + 1] == "wavegan = wavegan_plugin.plugin:plugin"


def test_installed_it_is_listed_and_its_own_tests_pass():
    installed = _run([sys.executable, "-m", "pip", "install", *OFFLINE, "-e", str(EXAMPLE)], cwd=ROOT)
    assert installed.returncode == 0, installed.stderr
    listed = _run([sys.executable, "-m", "loopgan_cli.loopgan", "plugins"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    row = next((line.split() for line in listed.stdout.splitlines() if line.startswith("wavegan ")), None)
    assert row is not None, listed.stdout
    assert row[1:3] == ["wavegan-plugin", "0.1.0"] and row[-1] == "ok"
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=EXAMPLE)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
