"""Every command that writes files, run with hostile names in a temporary root (issue 16).

The workspaces' channels are named to climb out of any folder
(``/../../…/<root>/outside/PWNED``), a configuration lists an ntuple outside
its data folder. Each command runs with every output option it has; the
whole root is listed before and after, and every file that appeared,
changed or vanished must lie in a path the command line named (the ``-o``
file, the ``--latex``/``--markdown``/``--save-toys`` files, the figure and
report folders). The inputs stay byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from higgs_pyhf.cli import main

ROOT = Path(__file__).resolve().parents[1] / "workspaces"
GENERATED = ROOT / "hzz4l_generated.json"
SYST = ROOT / "hzz4l_atlas_syst.json"
CONFIG = Path(__file__).resolve().parents[1] / "higgs_pyhf" / "data" / "config_atlas_ntuples.json"

pytestmark = pytest.mark.slow


def _state(root: Path) -> dict[Path, str]:
    """Every path under ``root`` → a fingerprint (kind and content)."""
    out: dict[Path, str] = {}
    for p in root.rglob("*"):
        if p.is_symlink():
            out[p] = f"link:{p.readlink()}"
        elif p.is_dir():
            out[p] = "dir"
        else:
            out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _hostile(src: Path, folder: Path, escape_to: Path) -> Path:
    """``src`` (with its provenance) whose every channel is named to climb out to ``escape_to``."""
    spec = json.loads(src.read_text())
    names = {}
    for i, ch in enumerate(spec["channels"]):
        names[ch["name"]] = "/.." * 12 + f"{escape_to}{i}"
        ch["name"] = names[ch["name"]]
    for obs in spec["observations"]:
        obs["name"] = names[obs["name"]]
    folder.mkdir(parents=True, exist_ok=True)
    ws = folder / src.name
    ws.write_text(json.dumps(spec))
    prov = src.with_name(src.stem + ".provenance.json")
    shutil.copy(prov, folder / prov.name)
    return ws


def test_no_command_writes_outside_the_paths_it_was_given(tmp_path, monkeypatch):
    root = tmp_path
    work = root / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    outside = root / "outside" / "PWNED"
    gen = _hostile(GENERATED, work / "in", outside)
    syst = _hostile(SYST, work / "in", outside)
    bad_config = work / "in" / "config.json"
    cfg = json.loads(CONFIG.read_text())
    cfg["samples"][0]["files"] = ["../../outside/evil.root"]
    bad_config.write_text(json.dumps(cfg))
    inputs = _state(work / "in")

    def check(args: list[object], named: list[str], *, code: int = 0) -> set[Path]:
        before = _state(root)
        res = CliRunner().invoke(main, ["--no-progress", *(str(a) for a in args)])
        assert res.exit_code == code, (args, res.stdout, res.stderr)
        if code:
            assert res.stderr.startswith("Error: "), res.stderr
        after = _state(root)
        changed = {p for p in after.keys() | before.keys() if after.get(p) != before.get(p)}
        allowed = [(work / n).resolve() for n in named]
        made_folders = {p for p in changed if after.get(p) == "dir" and before.get(p) is None}
        stray = sorted(
            str(p)
            for p in changed
            if not any(p == a or a in p.parents for a in allowed)
            and not (p in made_folders and any(p in a.parents for a in allowed))
        )
        assert stray == [], (args, stray)
        return changed

    # inputs: an ntuple outside the data folder is refused, the generated ones written inside
    check(["make-inputs", "bad", "--config", bad_config, "--scale", "0.02"], ["bad"], code=1)
    made = check(["make-inputs", "data", "--scale", "0.02"], ["data"])
    assert any(p.suffix == ".root" for p in made)
    data = ["--data-dir", "data"]
    check(["build-histograms", *data, "-o", "o/h.root"], ["o/h.root"])
    check(
        ["build-workspace", *data, "-o", "o/built.json"],
        ["o/built.json", "o/built.provenance.json"],
    )
    check(["cutflow", *data, "--markdown", "-o", "o/cutflow.json"], ["o/cutflow.json"])
    ntuple = next((work / "data" / "MC").glob("*.root"))  # read by worker processes: still an input
    check(["cutflow", *data, "--workers", "2", "-o", ntuple], [], code=1)

    # the likelihood studies
    check(["fit", gen, "-o", "o/fit.json"], ["o/fit.json"])
    check(["scan", gen, "--n-points", "5", "-o", "o/scan.json"], ["o/scan.json"])
    check(["contour", gen, "--n-points", "5", "-o", "o/contour.json"], ["o/contour.json"])
    check(["gof", gen, "-o", "o/gof.json"], ["o/gof.json"])
    check(["chi2-grid", gen, "-o", "o/chi2.json"], ["o/chi2.json"])
    check(
        ["compare", gen, "--markdown", "o/cmp.md", "-o", "o/cmp.json"], ["o/cmp.md", "o/cmp.json"]
    )
    sig = ["significance", gen, "--scan", "0", "4", "5", "--brazil", "--figdir", "f_sig"]
    check([*sig, "-o", "o/sig.json"], ["f_sig", "o/sig.json"])

    # diagnostics: the figures carry the channel names
    yields_out = ["--latex", "o/y.tex", "--markdown", "o/y.md", "--figdir", "f_y", "-o", "o/y.json"]
    changed = check(["yields", syst, *yields_out], ["o/y.tex", "o/y.md", "f_y", "o/y.json"])
    assert any(p.parent.name == "f_y" and p.suffix == ".png" for p in changed)
    check(["pulls", syst, "--figdir", "f_p", "-o", "o/pulls.json"], ["f_p", "o/pulls.json"])
    check(["impacts", syst, "--figdir", "f_i", "-o", "o/imp.json"], ["f_i", "o/imp.json"])
    check(["correlations", syst, "--figdir", "f_c", "-o", "o/cor.json"], ["f_c", "o/cor.json"])

    # report and plot
    plot = ["plot", gen, "--figdir", "f_plot", "--kind", "prefit", "--kind", "postfit"]
    check([*plot, "-o", "o/plot.json"], ["f_plot", "o/plot.json"])
    changed = check(["report", gen, "--quick", "--no-upper-limit", "-o", "rep"], ["rep"])
    assert any(p.name == "report.md" for p in changed)

    # toys
    toys = ["--figdir", "f_t", "--seed", "1"]
    check(
        ["toys", "gof", gen, "--ntoys", "100", "--save-toys", "o/t.npz", *toys, "-o", "o/tg.json"],
        ["o/t.npz", "f_t", "o/tg.json"],
    )
    check(
        ["toys", "coverage", gen, "--ntoys", "30", *toys, "-o", "o/tc.json"], ["f_t", "o/tc.json"]
    )
    check(["toys", "hypotest", gen, "--ntoys", "30", "-o", "o/th.json"], ["o/th.json"])
    region = ["toys", "contour", gen, "--ntoys", "20", "--n-points", "3", "--figdir", "f_t"]
    check([*region, "-o", "o/tr.json"], ["f_t", "o/tr.json"])
    table = ["toys", "coverage-table", gen, "--ntoys", "30", "--markdown", "o/ct.md"]
    check([*table, "-o", "o/ct.json"], ["o/ct.md", "o/ct.json"])

    assert _state(work / "in") == inputs
    assert not (root / "outside").exists()
