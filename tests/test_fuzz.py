"""Mutation fuzzing of the shipped workspaces: bad input gives one ``Error:`` line, never a traceback.

Seeded mutations of ``hzz4l_atlas.json`` and ``hzz4l_atlas_syst.json`` (flipped
types, deleted keys, NaN/None/strings/huge numbers, changed list lengths)
are fed to ``fit`` through the CLI and to the library loader. Every outcome
must be exit 0 with strict JSON on stdout, or exit 1 with a single
``Error:`` line and nothing on stdout; the library raises only
:class:`~higgs_pyhf.errors.HiggsPyhfError`.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from higgs_pyhf.cli import main
from higgs_pyhf.errors import HiggsPyhfError
from higgs_pyhf.inference.fit import fit
from higgs_pyhf.workspace import model_and_data

WORKSPACES = Path(__file__).resolve().parents[1] / "workspaces"
N_MUTANTS = 150  # per shipped workspace
REPLACEMENTS: list[Any] = [None, "x", math.nan, math.inf, -1, 0, 1e308, -1e308, [], {}, True, "NaN"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


def mutate(doc: Any, rng: random.Random) -> Any:
    """One random mutation of a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    paths = [p for p in _paths(doc) if p]
    path = rng.choice(paths)
    parent = _parent(doc, path)
    key = path[-1]
    kind = rng.choice(["replace", "delete", "resize", "flip"])
    value = parent[key]
    if kind == "delete":
        del parent[key]
    elif kind == "resize" and isinstance(value, list):
        if value and rng.random() < 0.5:
            value.pop(rng.randrange(len(value)))
        else:
            value.append(copy.deepcopy(value[0]) if value else 1.0)
    elif kind == "flip" and isinstance(value, int | float) and not isinstance(value, bool):
        parent[key] = str(value)
    else:
        parent[key] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return doc


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        msg = f"non-strict JSON token {token}"
        raise ValueError(msg)

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("name", ["hzz4l_atlas.json", "hzz4l_atlas_syst.json"])
def test_mutated_workspaces_never_give_a_traceback(tmp_path, name):
    base = json.loads((WORKSPACES / name).read_text())
    rng = random.Random(f"fuzz-{name}")
    outcomes: Counter[str] = Counter()
    runner = CliRunner()
    for i in range(N_MUTANTS):
        doc = mutate(base, rng)
        path = tmp_path / f"m{i}.json"
        path.write_text(json.dumps(doc))
        out = tmp_path / f"fit{i}.json"
        r = runner.invoke(main, ["fit", str(path), "-o", str(out)])
        assert "Traceback" not in r.output, (i, r.output)
        assert r.exit_code in (0, 1), (i, r.output)
        if r.exit_code == 1:
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1, (i, r.stderr)
            assert lines[0].startswith("Error: "), (i, lines[0])
            assert not out.exists()
            outcomes["refused"] += 1
        else:
            _strict_json(out.read_text())
            outcomes["fitted"] += 1
        # the library: only our exceptions escape
        try:
            model, data = model_and_data(path)
            fit(model, data)
        except HiggsPyhfError:
            pass
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert leftovers == [], (i, leftovers)
    assert outcomes["refused"] > N_MUTANTS // 3  # most mutations break the workspace
    assert sum(outcomes.values()) == N_MUTANTS
