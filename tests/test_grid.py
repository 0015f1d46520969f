"""``grid``: a signal grid of the published sbottom likelihoods, its table and its contour."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_cls import REGRESSION, RTOL_EXP_PUBLISHED, RTOL_OBS

from higgs_pyhf.cli import main
from higgs_pyhf.errors import WorkspaceError
from higgs_pyhf.inference.cls import hypotest
from higgs_pyhf.inference.grid import values_from_name
from higgs_pyhf.spec.patches import Patch, apply_patches, digest
from higgs_pyhf.workspace import model_and_data

POINTS = ["1300_205_60", "1400_950_60", "1500_850_60", "1000_131_1", "1300_1050_60", "1600_550_60"]


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def region_a(sbottom, tmp_path_factory):
    """RegionA's BkgOnly.json and six of its patches, written to a temporary folder."""
    d = tmp_path_factory.mktemp("grid")
    bkg = d / "BkgOnly.json"
    bkg.write_text(json.dumps(sbottom.json("RegionA/BkgOnly.json")), encoding="utf-8")
    patches = d / "patches"
    patches.mkdir()
    for p in POINTS:
        member = f"RegionA/patch.sbottom_{p}.json"
        (patches / f"patch.sbottom_{p}.json").write_text(
            json.dumps(sbottom.json(member)), encoding="utf-8"
        )
    return bkg, patches


def test_values_from_name():
    assert values_from_name("patch.DS_360_200_Staus.json") == (360.0, 200.0)
    assert values_from_name("patch.sbottom_1300_205_60.json") == (1300.0, 205.0, 60.0)
    assert values_from_name("patch.sbottom_1300_205_60.json", r"_(\d+)_(\d+)_") == (1300.0, 205.0)
    assert values_from_name("p_2.5_x_7.json", r"\d+\.\d+|\d+") == (2.5, 7.0)
    with pytest.raises(WorkspaceError, match="not a regular expression"):
        values_from_name("p.json", "(")


def test_grid_from_a_folder(region_a, tmp_path):
    bkg, patches = region_a
    out = tmp_path / "res" / "grid.json"
    code, _, err = _run(
        "grid", str(bkg), str(patches), "-o", str(out), "--csv", "--figdir", str(tmp_path / "f")
    )
    assert code == 0, err
    obj = json.loads(out.read_text())
    assert obj["n_points"] == len(POINTS)
    assert obj["poi"] == "mu_SIG"
    by_name = {p["name"]: p for p in obj["points"]}
    for key in [k for k in REGRESSION if k[0] == "A"]:
        p = by_name[f"patch.sbottom_{key[1]}.json"]
        assert p["values"] == [float(v) for v in key[1].split("_")]
        obs, exp = REGRESSION[key]
        assert p["CLs_obs"] == pytest.approx(obs, rel=RTOL_OBS)
        assert p["CLs_exp"] == pytest.approx(exp, rel=RTOL_EXP_PUBLISHED)
        assert p["fit_status"]["converged"] is True
    lines = (tmp_path / "res" / "grid.csv").read_text().splitlines()
    assert lines[0].startswith("name,value 1 of the file name,value 2")
    assert len(lines) == 1 + len(POINTS)
    row = next(r.split(",") for r in lines if "1400_950_60" in r)
    assert float(row[4]) == by_name["patch.sbottom_1400_950_60.json"]["CLs_obs"]
    png = tmp_path / "f" / "exclusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grid_point_is_the_single_point_cls(sbottom, region_a, tmp_path):
    """A point not among the regression points: grid (2 workers) = cls of the patched workspace."""
    bkg, patches = region_a
    out = tmp_path / "grid.json"
    code, _, err = _run("grid", str(bkg), str(patches), "-o", str(out), "--workers", "2")
    assert code == 0, err
    point = next(p for p in json.loads(out.read_text())["points"] if "1600_550_60" in p["name"])
    member = "RegionA/patch.sbottom_1600_550_60.json"
    spec = apply_patches(sbottom.json("RegionA/BkgOnly.json"), [Patch("p", sbottom.json(member))])
    ref = hypotest(*model_and_data(spec))
    assert point["CLs_obs"] == pytest.approx(ref.cls_observed, rel=1e-9)
    assert point["CLs_exp"] == pytest.approx(list(ref.cls_expected), rel=1e-9)


@pytest.mark.slow  # an upper limit per signal point
def test_grid_from_a_patchset_with_limits(sbottom, region_a, tmp_path):
    bkg, _ = region_a
    bkg_spec = sbottom.json("RegionA/BkgOnly.json")
    ps = {
        "metadata": {
            "name": "sbottom",
            "references": {},
            "description": "two points",
            "digests": {"sha256": digest(bkg_spec)},
            "labels": ["m_sbottom", "m_neutralino2"],
        },
        "patches": [
            {
                "metadata": {"name": p, "values": [int(v) for v in p.split("_")[:2]]},
                "patch": sbottom.json(f"RegionA/patch.sbottom_{p}.json"),
            }
            for p in ("1300_205_60", "1300_1050_60")
        ],
        "version": "1.0.0",
    }
    ps_path = tmp_path / "ps.json"
    ps_path.write_text(json.dumps(ps), encoding="utf-8")
    out = tmp_path / "grid.json"
    code, _, err = _run("grid", str(bkg), "--patchset", str(ps_path), "-o", str(out), "--limits")
    assert code == 0, err
    obj = json.loads(out.read_text())
    assert obj["labels"] == ["m_sbottom", "m_neutralino2"]
    p = obj["points"][0]
    assert p["values"] == [1300.0, 205.0]
    limit = p["upper_limit"]["observed"]
    assert 1.0 < limit < 10.0  # CLs(μ = 1) = 0.24: not excluded at μ = 1
    # the limit is where the observed CLs crosses 0.05 (an independent hypothesis test there)
    spec = apply_patches(bkg_spec, [Patch("p", ps["patches"][0]["patch"])])
    at_limit = hypotest(*model_and_data(spec), test_poi=limit)
    assert at_limit.cls_observed == pytest.approx(0.05, rel=1e-3)


def test_grid_patch_that_does_not_apply(region_a, tmp_path):
    bkg, patches = region_a
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    ops = json.loads((patches / "patch.sbottom_1300_205_60.json").read_text())
    ops.append({"op": "replace", "path": "/channels/9/name", "value": "x"})
    (bad_dir / "patch.bad_1_2.json").write_text(json.dumps(ops), encoding="utf-8")
    out = tmp_path / "grid.json"
    code, _, err = _run("grid", str(bkg), str(bad_dir), "-o", str(out))
    assert code == 1  # no point could be tested
    assert "no point of the grid could be tested" in err
    assert "patch.bad_1_2.json does not apply" in err
    assert "replace /channels/9/name" in err
    assert not out.exists()


def test_grid_keeps_the_points_it_could_test(sbottom, region_a, tmp_path):
    """RegionB ships a patch without signal (1500_1495_60): listed with its error, the rest tested."""
    bkg = sbottom.write("RegionB/BkgOnly.json", tmp_path)
    folder = tmp_path / "b"
    folder.mkdir()
    for point in ("1400_550_60", "1500_1495_60"):
        member = f"RegionB/patch.sbottom_{point}.json"
        (folder / f"patch.sbottom_{point}.json").write_text(
            json.dumps(sbottom.json(member)), encoding="utf-8"
        )
    out = tmp_path / "grid.json"
    code, _, err = _run("grid", str(bkg), str(folder), "-o", str(out), "--csv")
    assert code == 0, err
    assert "1 of 2 points could not be tested" in err
    good, bad = json.loads(out.read_text())["points"]
    assert good["CLs_obs"] == pytest.approx(REGRESSION[("B", "1400_550_60")][0], rel=RTOL_OBS)
    assert bad["CLs_obs"] is None
    assert "mu_SIG" in bad["error"]
    row = (tmp_path / "grid.csv").read_text().splitlines()[2].split(",")
    assert row[0] == "patch.sbottom_1500_1495_60.json"
    assert row[4:] == [""] * 6
