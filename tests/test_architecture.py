"""Layout rules of the source tree, read from the code with ``ast`` (imports inside functions included):

(a) no import cycle among the modules of specrep/, gan_plugins/ and cli/ (installed as ``loopgan_cli``);
(b) at most :data:`MAX_FLAT_MODULES` modules directly in gan_plugins/ (the rest live in sub-packages by concern);
(c) a private name (``_x``, or a module ``_x``) is imported only from a module of the importer's own package folder;
(d) specrep, the DSP core, never imports gan_plugins or the CLI;
(e) every module imports.

The rules are checked by the same functions on the real tree and on small synthetic packages under ``tmp_path`` that
break each rule on purpose, so a rule that stopped reporting would fail too.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> the package name it installs as.
PACKAGES = {"specrep": "specrep", "gan_plugins": "gan_plugins", "cli": "loopgan_cli"}
MAX_FLAT_MODULES = 8


@dataclass(frozen=True)
class Import:
    """One imported name: the module it resolves to (a module of the tree, or None for a third-party one)."""

    importer: str
    target: str | None      # the tree's module that the statement loads (None: outside the tree)
    spelled: str            # as written, absolute: "gan_plugins.metrics.audio._HOP" or "numpy"
    name: str | None        # the name taken by ``from ... import name`` (None for ``import x``)
    line: int


def discover(root: Path, packages: Mapping[str, str]) -> dict[str, Path]:
    """Every module of the tree: dotted name -> file (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for folder, name in packages.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            parts = [name, *path.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_package(module: str, modules: Mapping[str, Path]) -> bool:
    return modules[module].name == "__init__.py"


def _resolve(dotted: str, modules: Mapping[str, Path]) -> str | None:
    """The longest prefix of ``dotted`` that is a module of the tree."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def imports_of(module: str, modules: Mapping[str, Path]) -> list[Import]:
    """Every import statement of ``module``, at any depth (functions, classes, ``try`` and ``if`` blocks)."""
    tree = ast.parse(modules[module].read_text(), filename=str(modules[module]))
    package = module if _is_package(module, modules) else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(module, _resolve(alias.name, modules), alias.name, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                # ``from pkg import sub`` loads the module pkg.sub; ``from mod import name`` loads mod
                target = full if full in modules else _resolve(source, modules)
                out.append(Import(module, target, full, alias.name, node.lineno))
    return out


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the tree's modules it imports (itself excluded)."""
    return {m: {i.target for i in imports_of(m, modules) if i.target not in (None, m)} for m in modules}


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module: ``[a, b, ..., a]``, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:   # Tarjan; the graphs here are ~100 modules, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(_cycle_through(comp, graph) for comp in components)


def _cycle_through(component: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest cycle from the component's first module back to itself, within the component (breadth first)."""
    start, inside = component[0], set(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if w in inside and w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in its component {component}")


def _folder(module: str, modules: Mapping[str, Path]) -> Path:
    return modules[module].parent


def private_imports(modules: Mapping[str, Path]) -> list[str]:
    """``importer:line takes spelled`` for every private name or private module taken from another package folder."""
    found = []
    for m in modules:
        for imp in imports_of(m, modules):
            if imp.target is None:
                continue
            private = [p for p in imp.spelled.split(".") if p.startswith("_") and not p.startswith("__")]
            if private and _folder(imp.target, modules) != _folder(m, modules):
                found.append(f"{m}:{imp.line} takes {imp.spelled}")
    return sorted(found)


def forbidden_imports(modules: Mapping[str, Path], lower: str, upper: Iterable[str]) -> list[str]:
    """``importer:line imports spelled`` for every import of an ``upper`` package from the ``lower`` package."""
    upper = tuple(upper)
    return [f"{m}:{imp.line} imports {imp.spelled}"
            for m in modules if m == lower or m.startswith(lower + ".")
            for imp in imports_of(m, modules)
            if imp.spelled.split(".")[0] in upper]


def flat_modules(root: Path, package_folder: str) -> list[str]:
    """The ``.py`` files directly in a package folder."""
    return sorted(p.name for p in (root / package_folder).glob("*.py"))


MODULES = discover(ROOT, PACKAGES)


# ------------------------------------------------------------------------------------------------ the real tree
def test_no_import_cycles():
    cycles = find_cycles(import_graph(MODULES))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_few_modules_directly_in_gan_plugins():
    flat = flat_modules(ROOT, "gan_plugins")
    assert len(flat) <= MAX_FLAT_MODULES, f"{len(flat)} modules directly in gan_plugins/ (at most " \
                                          f"{MAX_FLAT_MODULES}): {', '.join(flat)}"


def test_no_private_name_taken_from_another_package():
    found = private_imports(MODULES)
    assert not found, "private names imported across package folders:\n" + "\n".join(found)


def test_specrep_never_imports_gan_plugins_or_the_cli():
    found = forbidden_imports(MODULES, "specrep", ("gan_plugins", "loopgan_cli"))
    assert not found, "specrep depends on the layers above it:\n" + "\n".join(found)


def test_the_tree_is_discovered_whole():
    # a discovery that silently found nothing would pass every rule above
    assert {"specrep", "specrep.errors", "gan_plugins", "gan_plugins.api", "gan_plugins.models.schedule",
            "gan_plugins.data.loops.tempo", "loopgan_cli", "loopgan_cli.loopgan"} <= set(MODULES)
    assert len(MODULES) >= 60
    edges = import_graph(MODULES)
    assert "specrep.errors" in edges["gan_plugins.models.schedule"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports(module):
    importlib.import_module(module)


# ------------------------------------------------------------------------------------------------ the checks, checked
def _write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_planted_cycle_is_reported_with_its_modules(tmp_path):
    _write(tmp_path, {
        "core/__init__.py": "",
        "core/a.py": "from core.b import f\n",
        "core/b.py": "def f():\n    from .sub import c  # inside a function, relative\n    return c\n",
        "core/sub/__init__.py": "",
        "core/sub/c.py": "import core.a\nimport numpy\n",
        "core/d.py": "from core import a, b\n",             # imports the cycle but is not part of it
        "app/__init__.py": "",
        "app/x.py": "from core.d import thing\n",
        "app/y.py": "import app.x\n",
    })
    modules = discover(tmp_path, {"core": "core", "app": "app_pkg"})
    assert "app_pkg.x" in modules and "core.sub" in modules and "core.sub.c" in modules
    graph = import_graph(modules)
    assert graph["core.b"] == {"core.sub.c"} and graph["core.sub.c"] == {"core.a"}
    assert graph["core.d"] == {"core.a", "core.b"}
    assert find_cycles(graph) == [["core.a", "core.b", "core.sub.c", "core.a"]]
    # two separate cycles, one of them two modules long
    graph["app_pkg.y"].add("app_pkg")
    graph["app_pkg"] = {"app_pkg.y"}
    assert find_cycles(graph) == [["app_pkg", "app_pkg.y", "app_pkg"], ["core.a", "core.b", "core.sub.c", "core.a"]]
    # and none once the function-level import is gone
    graph["core.b"] = set()
    assert find_cycles(graph) == [["app_pkg", "app_pkg.y", "app_pkg"]]


def test_planted_private_imports_are_reported_and_same_folder_ones_allowed(tmp_path):
    _write(tmp_path, {
        "lib/__init__.py": "",
        "lib/metrics/__init__.py": "",
        "lib/metrics/audio.py": "_HOP = 256\n",
        "lib/metrics/rhythm.py": "from lib.metrics.audio import _HOP\nfrom .audio import _HOP as H\n",  # same folder
        "lib/metrics/_impl.py": "x = 1\n",
        "lib/data/__init__.py": "",
        "lib/data/tempo.py": "def f():\n    from ..metrics.audio import _HOP\n    return _HOP\n",
        "lib/data/other.py": "from lib.metrics import _impl\nfrom lib.metrics.audio import __doc__\n",
        "core/__init__.py": "",
        "core/phase.py": "_x = 1\n",
    })
    _write(tmp_path, {"lib/data/plot.py": "import core.phase\nfrom core.phase import _x\n"})
    modules = discover(tmp_path, {"lib": "lib", "core": "core"})
    assert private_imports(modules) == ["lib.data.other:1 takes lib.metrics._impl",
                                        "lib.data.plot:2 takes core.phase._x",
                                        "lib.data.tempo:2 takes lib.metrics.audio._HOP"]


def test_a_planted_upward_import_is_reported(tmp_path):
    _write(tmp_path, {
        "specrep/__init__.py": "",
        "specrep/io.py": "import numpy\n\ndef load():\n    from gan_plugins.api import get_plugin\n",
        "specrep/sub/__init__.py": "import loopgan_cli.main\n",
        "gan_plugins/__init__.py": "import specrep\n",
    })
    modules = discover(tmp_path, {"specrep": "specrep", "gan_plugins": "gan_plugins"})
    assert forbidden_imports(modules, "specrep", ("gan_plugins", "loopgan_cli")) == [
        "specrep.io:4 imports gan_plugins.api.get_plugin", "specrep.sub:1 imports loopgan_cli.main"]


def test_too_many_flat_modules_are_counted(tmp_path):
    _write(tmp_path, {f"pkg/m{i}.py": "" for i in range(MAX_FLAT_MODULES + 1)} | {"pkg/sub/a.py": ""})
    assert len(flat_modules(tmp_path, "pkg")) == MAX_FLAT_MODULES + 1


# ------------------------------------------------------------------------ the documented tree matches the disk
TREE_START, TREE_END = "<!-- tree:gan_plugins -->", "<!-- /tree -->"


def documented_tree(text: str) -> set[str]:
    """Paths named by the tree block of docs/architecture.md, relative to gan_plugins/: ``"api.py"``,
    ``"training/"``, ``"training/trainer.py"``, ``"apps/studio/"``, ``"apps/studio/state.py"``.

    A line indented by two spaces opens a folder when its first word ends in ``/`` (its other ``.py`` words are that
    folder's modules), else lists top-level modules; a deeper-indented line continues the folder above; ``name/ (a.py
    b.py)`` lists a sub-folder's modules. Words that are neither ``*.py`` nor ``*/`` are description.
    """
    block = text.split(TREE_START, 1)[1].split(TREE_END, 1)[0]
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("```")]
    assert lines and lines[0].strip() == "gan_plugins/", "the tree block must start with gan_plugins/"
    paths: set[str] = set()
    folder = ""
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip())
        words = line.replace("(", " ( ").replace(")", " ) ").split()
        if indent == 2:
            folder = words[0] if words[0].endswith("/") else ""
            if folder:
                paths.add(folder)
                words = words[1:]
        inner = ""
        for word in words:
            if word == "(":
                continue
            if word == ")":
                inner = ""
            elif word.endswith("/"):
                inner = word
                paths.add(folder + word)
            elif word.endswith(".py"):
                paths.add(folder + inner + word)
    return paths


def disk_tree(package: Path, documented: set[str]) -> set[str]:
    """What the tree block must name: every module directly in ``package`` and in each of its folders, every folder
    two levels deep, and the modules of a second-level folder whose modules the block lists at all."""
    paths = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    for sub in sorted(p for p in package.iterdir() if (p / "__init__.py").is_file()):
        paths.add(f"{sub.name}/")
        paths |= {f"{sub.name}/{p.name}" for p in sub.glob("*.py") if p.name != "__init__.py"}
        for subsub in sorted(p for p in sub.iterdir() if (p / "__init__.py").is_file()):
            key = f"{sub.name}/{subsub.name}/"
            paths.add(key)
            if any(d.startswith(key) and d != key for d in documented):
                paths |= {key + p.name for p in subsub.glob("*.py") if p.name != "__init__.py"}
    return paths


def test_architecture_doc_tree_matches_the_package_on_disk():
    documented = documented_tree((ROOT / "docs" / "architecture.md").read_text())
    on_disk = disk_tree(ROOT / "gan_plugins", documented)
    assert sorted(on_disk - documented) == [], "on disk but not in docs/architecture.md's tree"
    assert sorted(documented - on_disk) == [], "in docs/architecture.md's tree but not on disk"


def test_the_tree_check_sees_a_missing_and_an_invented_module(tmp_path):
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "", "pkg/sub/__init__.py": "", "pkg/sub/b.py": "",
                      "pkg/sub/deep/__init__.py": "", "pkg/sub/deep/c.py": ""})
    doc = f"{TREE_START}\n```\ngan_plugins/\n  a.py\n  sub/  b.py\n        deep/ (c.py)\n```\n{TREE_END}\n"
    assert documented_tree(doc) == disk_tree(tmp_path / "pkg", documented_tree(doc))
    missing = doc.replace("  sub/  b.py", "  sub/")
    assert disk_tree(tmp_path / "pkg", documented_tree(missing)) - documented_tree(missing) == {"sub/b.py"}
    invented = doc.replace("  a.py", "  a.py  z.py")
    assert documented_tree(invented) - disk_tree(tmp_path / "pkg", documented_tree(invented)) == {"z.py"}
