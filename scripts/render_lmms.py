"""Render LMMS's bundled demo projects to WAV and write their stated tempi to a manifest (issue 12's real corpus).

Usage (not part of CI; needs the Debian/Ubuntu ``lmms`` package: ``apt-get install -y lmms``)::

    .venv/bin/python scripts/render_lmms.py runs/lmms            # every *.mmpz under /usr/share/lmms/projects
    .venv/bin/python scripts/render_lmms.py runs/lmms --projects /usr/share/lmms/projects/demos

For every project ``P.mmpz`` it runs ``lmms dump P.mmpz`` (the project's XML) and reads the song's ``bpm`` and time
signature from ``<head>`` (``bpm`` is an attribute, or a ``<bpm value=...>`` child in newer files), then
``QT_QPA_PLATFORM=offscreen lmms [--allowroot] render P.mmpz -f wav -s 44100 -o OUT/audio/<name>.wav``. The
manifest ``OUT/manifest.json`` lists per project: ``name``, ``project`` (path), ``wav`` (relative to OUT),
``bpm``, ``timesig`` ([numerator, denominator]), ``seconds`` (rendered duration), ``render_s`` (wall time) and
``error`` (null, or why it failed). Projects already rendered (WAV present and listed with the same project file)
are kept, so an interrupted run resumes. The rendered audio stays outside the repository (licences, size): the
recipe is what is versioned. LMMS's copyright file (``/usr/share/doc/lmms-common/copyright``) gives each
project's licence (GPL-2+, Artistic-2, BSD-2, CC-BY-SA-3).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import soundfile as sf

from specrep.io import atomic_path, atomic_write

DEFAULT_PROJECTS = Path("/usr/share/lmms/projects")


def lmms_command(*args: str) -> list[str]:
    """``lmms ARGS`` with ``--allowroot`` when running as root (LMMS refuses root otherwise)."""
    root = ["--allowroot"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return ["lmms", *root, *args]


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def project_tempo(project: Path) -> tuple[float, list[int]]:
    """The song's tempo (BPM) and time signature from ``lmms dump``."""
    out = subprocess.run(lmms_command("dump", str(project)), capture_output=True, env=_env(), timeout=120,
                         check=True).stdout
    text = out.decode("utf-8", "replace")
    start = text.find("<?xml")
    if start < 0:
        start = text.find("<")
    root = ET.fromstring(text[start:])
    head = root.find("head")
    if head is None:
        raise ValueError("no <head> in the project")
    bpm = head.get("bpm")
    if bpm is None:
        child = head.find("bpm")
        bpm = None if child is None else child.get("value")
    if bpm is None:
        raise ValueError("the project states no bpm")
    num = int(head.get("timesig_numerator", 4))
    den = int(head.get("timesig_denominator", 4))
    return float(bpm), [num, den]


def safe_name(project: Path, root: Path) -> str:
    rel = project.relative_to(root).with_suffix("").as_posix()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__"))


def render(project: Path, wav: Path, sample_rate: int, timeout: float) -> None:
    with atomic_path(wav) as tmp:  # a temporary name ending in .wav: lmms goes by the suffix
        subprocess.run(lmms_command("render", str(project), "-f", "wav", "-s", str(sample_rate), "-o", str(tmp)),
                       capture_output=True, env=_env(), timeout=timeout, check=True)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RuntimeError("lmms wrote no audio")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (outside the repository or git-ignored, e.g. runs/lmms)")
    ap.add_argument("--projects", type=Path, default=DEFAULT_PROJECTS, help="folder searched for *.mmpz")
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per project")
    args = ap.parse_args(argv)
    projects = sorted(args.projects.rglob("*.mmpz"))
    if not projects:
        print(f"render_lmms: no *.mmpz under {args.projects} (apt-get install -y lmms)", file=sys.stderr)
        return 2
    manifest_path = args.out / "manifest.json"
    old = {}
    if manifest_path.is_file():
        old = {e["project"]: e for e in json.loads(manifest_path.read_text())["projects"]}
    entries = []
    for i, project in enumerate(projects):
        name = safe_name(project, args.projects)
        wav = args.out / "audio" / f"{name}.wav"
        entry = {"name": name, "project": str(project), "wav": wav.relative_to(args.out).as_posix(), "bpm": None,
                 "timesig": None, "seconds": None, "render_s": None, "error": None}
        prev = old.get(str(project))
        if prev and not prev.get("error") and wav.is_file():
            entries.append(prev)
            print(f"[{i + 1}/{len(projects)}] {name}: kept", flush=True)
            continue
        t0 = time.perf_counter()
        try:
            entry["bpm"], entry["timesig"] = project_tempo(project)
            render(project, wav, args.sample_rate, args.timeout)
            entry["seconds"] = round(sf.info(str(wav)).duration, 3)
        except (subprocess.SubprocessError, OSError, ValueError, RuntimeError, ET.ParseError) as exc:
            detail = getattr(exc, "stderr", None)
            detail = detail.decode("utf-8", "replace").strip().splitlines()[-1:] if detail else []
            entry["error"] = f"{type(exc).__name__}: {exc}" + (f" ({detail[0]})" if detail else "")
        entry["render_s"] = round(time.perf_counter() - t0, 1)
        entries.append(entry)
        print(f"[{i + 1}/{len(projects)}] {name}: bpm {entry['bpm']}, {entry['seconds']} s, "
              f"{entry['render_s']} s wall" + (f", ERROR {entry['error']}" if entry["error"] else ""), flush=True)
        with atomic_write(manifest_path, "w") as fh:
            fh.write(json.dumps({"sample_rate": args.sample_rate, "projects_root": str(args.projects),
                                 "projects": entries + [old[str(p)] for p in projects[i + 1:] if str(p) in old]},
                                indent=1))
    with atomic_write(manifest_path, "w") as fh:
        fh.write(json.dumps({"sample_rate": args.sample_rate, "projects_root": str(args.projects),
                             "projects": entries}, indent=1))
    ok = [e for e in entries if not e["error"]]
    minutes = sum(e["seconds"] for e in ok) / 60
    print(f"rendered {len(ok)}/{len(entries)} projects, {minutes:.1f} min of audio -> {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
