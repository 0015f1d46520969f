"""The build package's data flow: every module imports only modules of earlier stages."""

from __future__ import annotations

import ast
from pathlib import Path

from higgs_pyhf.build import STAGES

BUILD = Path(__file__).resolve().parent.parent / "higgs_pyhf" / "build"


def _build_imports(path: Path) -> set[str]:
    """Modules of higgs_pyhf.build that ``path`` imports anywhere (top level, functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import ...
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x
                found.update(a.name for a in node.names)
            elif node.module and node.module.startswith("higgs_pyhf.build."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("higgs_pyhf.build."):
                    found.add(a.name.split(".")[2])
    return found


def test_stages_list_every_module_once():
    listed = [m for _, modules in STAGES for m in modules]
    on_disk = sorted(p.stem for p in BUILD.glob("*.py") if p.stem != "__init__")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)


def test_imports_run_downward_only():
    order = {m: i for i, m in enumerate(m for _, modules in STAGES for m in modules)}
    upward = []
    for module, rank in order.items():
        for imported in _build_imports(BUILD / f"{module}.py"):
            assert imported in order, f"{module} imports unknown build module {imported}"
            if order[imported] >= rank:
                upward.append(f"{module} -> {imported}")
    assert upward == []


def test_modules_stay_readable():
    long = {p.name: n for p in BUILD.glob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
