"""The build package's data flow: every module imports only modules of earlier stages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


def _build_flow(args: list[str]) -> tuple[set[tuple[str, str]], list[str]]:
    """Run ``build-workspace`` in-process and trace the build modules' calls.

    Returns:
        The climbs (a call from a build module into one of a later stage,
        along any call chain) and the stage modules whose functions
        ``pipeline.build_inputs`` calls, in order (repeats of the same module
        merged). Methods and properties of the results it holds (a cutflow's
        ``to_json``, ``config.ntuple_samples``) read what a stage made; they
        are not counted as going back to that stage.
    """
    import sys

    from click.testing import CliRunner

    from higgs_pyhf.cli import main

    rank = {f"higgs_pyhf.build.{m}": i for i, m in enumerate(m for _, ms in STAGES for m in ms)}
    stack: list[tuple[object, str]] = []
    climbs: set[tuple[str, str]] = set()
    called: list[str] = []

    def profile(frame, event, _arg):  # type: ignore[no-untyped-def]
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module in rank and not frame.f_code.co_name.startswith("<"):
            if stack and stack[-1][1] != module:
                if rank[module] > rank[stack[-1][1]]:
                    climbs.add((stack[-1][1], module))
                if "." not in frame.f_code.co_qualname and all(
                    m.endswith(".pipeline") for _, m in stack
                ):
                    called.append(module.rsplit(".", 1)[1])
            stack.append((frame, module))
        elif event == "return" and stack and stack[-1][0] is frame:
            stack.pop()

    sys.setprofile(profile)
    try:
        result = CliRunner().invoke(main, ["--no-progress", "build-workspace", *args])
    finally:
        sys.setprofile(None)
    assert result.exit_code == 0, result.output
    merged = [m for i, m in enumerate(called) if i == 0 or called[i - 1] != m]
    return climbs, merged


@pytest.mark.parametrize("options", [[], ["--systematics"]], ids=["report-model", "systematics"])
def test_a_build_flows_down_the_stages(generated_inputs, tmp_path, options):
    climbs, called = _build_flow(
        ["--data-dir", str(generated_inputs), "-o", str(tmp_path / "w.json"), *options]
    )
    assert climbs == set()
    returns = [m for i, m in enumerate(called) if m in called[:i]]
    assert len(returns) <= 2, called
    assert called.index("histograms") < called.index(
        "detailed_workspace" if options else "report_workspace"
    )
