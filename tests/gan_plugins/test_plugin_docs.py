"""docs/plugins.md documents every member of the plugin protocol, and its minimal plugin passes check_plugin."""

from __future__ import annotations

import re
from pathlib import Path

from gan_plugins.testing import AUDIO_MEMBERS, CLI_MEMBERS, OPTIONAL_MEMBERS, PROTOCOL_MEMBERS, check_plugin

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"


def documented_members(text: str) -> set[str]:
    """Names in the first column of the doc's member tables: ``| `name` | ...``."""
    return set(re.findall(r"^\| `([A-Za-z_]+)` \|", text, re.M))


def test_every_protocol_member_has_a_row_in_the_doc():
    members = {*PROTOCOL_MEMBERS, *AUDIO_MEMBERS, *CLI_MEMBERS, *OPTIONAL_MEMBERS}
    missing = sorted(members - documented_members(DOC.read_text()))
    assert missing == [], f"protocol members without a row in docs/plugins.md: {missing}"


def test_the_optional_members_are_the_ones_the_api_names():
    api = (ROOT / "gan_plugins" / "api.py").read_text()
    for name in OPTIONAL_MEMBERS:
        assert f"``{name}" in api, name


def test_a_member_missing_from_the_doc_is_found():
    text = DOC.read_text().replace("| `render` |", "| render |")
    assert "render" not in documented_members(text) and "final_size" in documented_members(text)


def test_the_docs_entry_point_group_is_the_registrys():
    from gan_plugins.api import ENTRY_POINT_GROUP

    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in DOC.read_text()


def test_the_minimal_plugin_of_the_doc_passes_check_plugin(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (source,) = [b for b in blocks if "class BlobsPlugin" in b]
    assert len(source.strip().splitlines()) <= 70  # "a minimal plugin in about 60 lines"
    namespace: dict = {}
    exec(compile(source, "blobs_plugin.py", "exec"), namespace)  # noqa: S102 - the doc's own example
    report = check_plugin(namespace["plugin"], workdir=tmp_path)
    assert report.ok, str(report)
    assert [c.status for c in report.checks[:6]] == ["ok"] * 6
