"""Packaging and scripts as a new user meets them: the editable install prints no setuptools banner, and each
script's usage lines name only flags the script has."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What pip does with a build backend (pyproject_hooks' in-process hook): run it with warnings recorded and show
#: every UserWarning it raised (pip shows them even with --quiet for a local folder).
_PROBE = """
import json, sys, warnings
from setuptools import build_meta
with warnings.catch_warnings(record=True) as caught:
    build_meta.build_editable(sys.argv[1])
print(json.dumps([[w.category.__name__, str(w.message).splitlines()[0]] for w in caught
                  if issubclass(w.category, UserWarning)]))
"""


def _makefile_filter() -> str:
    """The PYTHONWARNINGS filter ``make setup`` installs with (``EDITABLE_NOTE := ...``)."""
    text = (ROOT / "Makefile").read_text()
    assert 'PYTHONWARNINGS="$(EDITABLE_NOTE)" $(BIN)/python -m pip install' in text
    return re.search(r"^EDITABLE_NOTE := (.+)$", text, re.M).group(1).strip()


def _project_copy(tmp_path: Path, pyproject: str | None = None) -> Path:
    src = tmp_path / "src"
    for name in ("specrep", "gan_plugins", "cli"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pt"))
    shutil.copy(ROOT / "README.md", src)
    (src / "pyproject.toml").write_text(pyproject or (ROOT / "pyproject.toml").read_text())
    return src


def _build_warnings(src: Path, pythonwarnings: str | None) -> list[list[str]]:
    out = src.parent / "wheel"
    out.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if pythonwarnings:
        env["PYTHONWARNINGS"] = pythonwarnings
    res = subprocess.run([sys.executable, "-c", _PROBE, str(out)], cwd=src, env=env, capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list(out.glob("*.editable-*.whl"))) == 1
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_editable_install_shows_no_setuptools_banner(tmp_path):
    pytest.importorskip("setuptools")
    src = _project_copy(tmp_path)
    # the configuration itself raises nothing: no deprecated license table, no data folder "would be ignored"
    assert _build_warnings(src, None) == [["InformationOnly", "Editable installation."]]
    assert _build_warnings(src, _makefile_filter()) == []  # and make setup's filter drops exactly that note


def test_the_makefile_filter_still_shows_real_deprecations(tmp_path):
    pytest.importorskip("setuptools")
    old = (ROOT / "pyproject.toml").read_text().replace('license = "MIT"', 'license = { text = "MIT" }')
    found = _build_warnings(_project_copy(tmp_path, old), _makefile_filter())
    assert [c for c, _ in found] == ["SetuptoolsDeprecationWarning"], found


def _usage_flags(path: Path) -> set[str]:
    """The ``--flags`` that the module docstring's command lines pass to this very script (up to a pipe)."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    own = f"{path.parent.name}/{path.name}"
    commands = re.sub(r"\\\n\s*", " ", doc).splitlines()  # join continued lines
    return {f for line in commands if own in line
            for f in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line.split(own, 1)[1].split("|")[0])}


@pytest.mark.parametrize("path", sorted([*ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_usage_names_only_its_own_flags(path):
    source = path.read_text()
    missing = sorted(f for f in _usage_flags(path) if f'"{f}"' not in source)
    assert not missing, f"{path.name}'s docstring shows {missing}, which its parser does not define"
