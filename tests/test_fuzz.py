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


@pytest.mark.slow  # fuzz study (hypothesis)
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


# ------------------------------------------------------------ structural mutations (issue 16)

#: Names a mutant gives a channel, sample or modifier: path-like, empty, long, non-ASCII,
#: and the names already in use (a rename onto one makes a duplicate).
HOSTILE_NAMES = [
    "/../../../../../../tmp/PWNED",
    "../outside",
    "a/b",
    "",
    " ",
    "x" * 300,
    "μ→ü",
    "s_s",
    "s_b",
    "lumi",
    "signal",
    "background",
    "hzz4l_m4l",
]
N_STRUCTURAL = 150  # per shipped workspace


def _extreme_modifier(rng: random.Random, nominal: list[float]) -> dict[str, Any]:
    n = len(nominal)
    return rng.choice(
        [
            {"name": "extreme_ns", "type": "normsys", "data": {"hi": 1e6, "lo": 1e-6}},
            {"name": "flat_ns", "type": "normsys", "data": {"hi": 1.0, "lo": 1.0}},
            {"name": "zero_ns", "type": "normsys", "data": {"hi": 0.0, "lo": 0.0}},
            {
                "name": "extreme_hs",
                "type": "histosys",
                "data": {"hi_data": [v * 1e6 for v in nominal], "lo_data": [0.0] * n},
            },
            {"name": "zero_stat", "type": "staterror", "data": [0.0] * n},
            {"name": "huge_shape", "type": "shapesys", "data": [100.0 * v + 1.0 for v in nominal]},
            {"name": "free_shape", "type": "shapefactor", "data": None},
        ]
    )


def structural_mutation(doc: Any, rng: random.Random) -> tuple[str, Any]:
    """One structural mutation of a copy of ``doc``: ``(kind, mutant)``."""
    doc = copy.deepcopy(doc)
    channel = rng.choice(doc["channels"])
    sample = rng.choice(channel["samples"])
    kind = rng.choice(
        [
            "duplicate sample",
            "duplicate modifier",
            "duplicate channel",
            "renamed copy of a sample",
            "rename sample",
            "rename modifier",
            "rename channel",
            "extreme modifier",
            "dead parameter",
            "dead sample",
        ]
    )
    if kind == "duplicate sample":
        channel["samples"].append(copy.deepcopy(sample))
    elif kind == "duplicate modifier":
        sample["modifiers"].append(copy.deepcopy(rng.choice(sample["modifiers"])))
    elif kind == "duplicate channel":
        doc["channels"].append(copy.deepcopy(channel))
        doc["observations"].append(copy.deepcopy(doc["observations"][0]))
    elif kind == "renamed copy of a sample":
        twin = copy.deepcopy(sample)
        twin["name"] = sample["name"] + "_copy"
        channel["samples"].append(twin)
    elif kind == "rename sample":
        sample["name"] = rng.choice(HOSTILE_NAMES)
    elif kind == "rename modifier":
        rng.choice(sample["modifiers"])["name"] = rng.choice(HOSTILE_NAMES)
    elif kind == "rename channel":
        old, new = channel["name"], rng.choice(HOSTILE_NAMES)
        channel["name"] = new
        if rng.random() < 0.7:  # usually the observation follows
            for obs in doc["observations"]:
                if obs["name"] == old:
                    obs["name"] = new
    elif kind == "extreme modifier":
        sample["modifiers"].append(_extreme_modifier(rng, sample["data"]))
    elif kind == "dead parameter":
        sample["modifiers"].append({"name": "dead", "type": "normfactor", "data": None})
        sample["data"] = [0.0] * len(sample["data"])
    else:  # a sample without events: its normfactor (maybe the POI) has no effect
        sample["data"] = [0.0] * len(sample["data"])
    return kind, doc


@pytest.mark.slow  # fuzz study against pyhf
@pytest.mark.parametrize("name", ["hzz4l_atlas.json", "hzz4l_atlas_syst.json"])
def test_structural_mutants_are_refused_or_fitted_as_pyhf_evaluates_them(tmp_path, name):
    """Duplicates, hostile names, extreme modifiers, dead parameters: an Error or pyhf's number.

    Every mutant either is refused (exit 1, one ``Error:`` line, no output)
    or is fitted (exit 0), and then the engine's −2lnL at its best fit equals
    pyhf's ``-2 logpdf`` at that point (rel. 1e-9): no mutant is evaluated
    otherwise than pyhf evaluates it. Nothing is written outside ``-o``.
    """
    base = json.loads((WORKSPACES / name).read_text())
    rng = random.Random(f"structural-{name}")
    outcomes: Counter[str] = Counter()
    runner = CliRunner()
    for i in range(N_STRUCTURAL):
        kind, doc = structural_mutation(base, rng)
        path = tmp_path / f"s{i}.json"
        path.write_text(json.dumps(doc))
        out = tmp_path / f"fit{i}.json"
        before = set(tmp_path.iterdir())
        r = runner.invoke(main, ["fit", str(path), "-o", str(out)])
        assert "Traceback" not in r.output + r.stderr, (i, kind, r.stderr)
        assert r.exit_code in (0, 1), (i, kind, r.exit_code, r.stderr)
        if r.exit_code == 1:
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1, (i, kind, r.stderr)
            assert lines[0].startswith("Error: "), (i, kind, lines[0])
            assert "internal error" not in lines[0], (i, kind, lines[0])
            assert not out.exists()
            outcomes["refused"] += 1
            continue
        assert set(tmp_path.iterdir()) - before == {out}, (i, kind)
        _strict_json(out.read_text())
        model, data = model_and_data(path)
        result = fit(model, data)
        pyhf_twice_nll = -2.0 * float(model.logpdf(result.bestfit, data)[0])
        assert result.twice_nll == pytest.approx(pyhf_twice_nll, rel=1e-9, abs=1e-9), (i, kind)
        outcomes["fitted"] += 1
    assert outcomes["refused"] + outcomes["fitted"] == N_STRUCTURAL
    # both outcomes occur: duplicates are refused, renamed copies and extreme modifiers fitted
    assert outcomes["refused"] > 0
    assert outcomes["fitted"] > 0
    print(f"{name}: {dict(outcomes)}")  # the counts for the closing note (pytest -s)
