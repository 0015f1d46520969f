"""``cls`` (API and CLI) against pyhf's regression points of the published sbottom likelihoods."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator

import numpy as np
import pyhf
import pytest
from click.testing import CliRunner

from higgs_pyhf.cli import main
from higgs_pyhf.errors import FitError
from higgs_pyhf.inference.cls import CLsOutcome, hypotest
from higgs_pyhf.spec.patches import Patch, apply_patches, digest
from higgs_pyhf.workspace import model_and_data

#: pyhf's regression values (tests/test_regression.py of pyhf; μ = 1, q̃μ, asymptotics).
REGRESSION = {
    ("A", "1300_205_60"): (
        0.24443627759085326,
        [0.09022509053507759, 0.1937839194960632, 0.38432344933992, 0.6557757334303531, 0.8910420971601081],
    ),
    ("A", "1400_950_60"): (
        0.021373283911064852,
        [0.0026445531093281147, 0.013976126501170727, 0.06497105816950004, 0.23644030478043676, 0.5744785776763938],
    ),
    ("A", "1500_850_60"): (
        0.045367205665400624,
        [0.00598431785676406, 0.026102240062850574, 0.10093641492218848, 0.31019245951964736, 0.6553623337518385],
    ),
    ("B", "1400_550_60"): (
        0.9744675266677597,
        [0.9338879894557114, 0.9569045303300702, 0.9771296335437559, 0.9916370124133669, 0.9983701133999316],
    ),
    ("C", "1600_850_60"): (
        0.711023707425625,
        [0.2955492909588046, 0.4446885457298284, 0.6371473864200973, 0.8336149623750603, 0.9585901381554178],
    ),
}  # fmt: skip
#: Relative tolerance of pyhf's regression test for the observed CLs.
RTOL_OBS = 1e-5
#: For the expected band the published numbers carry the convergence error of
#: pyhf's default optimizer (SLSQP): on A 1400_950_60 they differ by up to
#: 5e-5 from pyhf itself run with a converged optimizer (Minuit, tolerance
#: 1e-6, strategy 2), which the engine matches to 1.5e-5
#: (test_expected_band_matches_converged_pyhf). Against the published band: 1e-4.
RTOL_EXP_PUBLISHED = 1e-4
RTOL_EXP = 1.5e-5

POINTS = sorted(REGRESSION)


def _member(region: str, point: str) -> tuple[str, str]:
    return f"Region{region}/BkgOnly.json", f"Region{region}/patch.sbottom_{point}.json"


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args), input=stdin)
    return res.exit_code, res.stdout, res.stderr


@contextlib.contextmanager
def converged_pyhf() -> Iterator[None]:
    """pyhf with a converged optimizer (its default SLSQP stops at about 1e-4 of CLs)."""
    backend, optimizer = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-7, strategy=2))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyhf warns about q with the POI bounded at 0
            yield
    finally:
        pyhf.set_backend(backend, optimizer)


def _check(observed: float, expected: list[float], key: tuple[str, str]) -> None:
    obs, exp = REGRESSION[key]
    assert observed == pytest.approx(obs, rel=RTOL_OBS)
    assert expected == pytest.approx(exp, rel=RTOL_EXP_PUBLISHED)


@pytest.mark.parametrize("key", POINTS)
def test_regression_points_api(sbottom, key):
    bkg, patch = _member(*key)
    spec = apply_patches(sbottom.json(bkg), [Patch(patch, sbottom.json(patch))])
    model, data = model_and_data(spec)
    res = hypotest(model, data)
    _check(res.cls_observed, list(res.cls_expected), key)
    assert res.fit_status.converged
    assert res.fit_status.fallback == 0
    back = CLsOutcome.from_json(res.to_json())
    assert back._replace(timing=res.timing) == res


@pytest.mark.parametrize("key", POINTS)
def test_regression_points_cli(sbottom, tmp_path, key):
    bkg, patch = (sbottom.write(m, tmp_path) for m in _member(*key))
    code, out, err = _run("cls", str(bkg), "-p", str(patch))
    assert code == 0, err
    obj = json.loads(out)
    assert list(obj)[:2] == ["CLs_exp", "CLs_obs"]  # pyhf's keys, in pyhf's (sorted) order
    _check(obj["CLs_obs"], obj["CLs_exp"], key)
    assert obj["fit_status"]["converged"] is True
    assert obj["timing"]["cpu_s"] > 0
    assert obj["timing"]["wall_s"] > 0


@pytest.mark.slow
def test_expected_band_matches_converged_pyhf(sbottom):
    """The point with the largest distance to the published band, against pyhf with Minuit."""
    bkg, patch = _member("A", "1400_950_60")
    spec = apply_patches(sbottom.json(bkg), [Patch(patch, sbottom.json(patch))])
    model, data = model_and_data(spec)
    ours = hypotest(model, data)
    with converged_pyhf():
        obs, exp = pyhf.infer.hypotest(1.0, data, model, return_expected_set=True)
    assert ours.cls_observed == pytest.approx(float(obs), rel=RTOL_OBS)
    assert list(ours.cls_expected) == pytest.approx([float(v) for v in exp], rel=RTOL_EXP)


@pytest.mark.slow
def test_published_band_carries_the_default_optimizers_stopping_error(sbottom):
    """Why the published band is matched to 1e-4, not 1.5e-5: its fits are not at the minimum.

    The expected band is computed on Asimov data made from the μ = 0 fit to
    the observed data. pyhf's default optimizer (SLSQP) stops that fit above
    the minimum that the engine and pyhf with Minuit both reach; the Asimov
    data, hence the band, inherit the difference at first order.
    """
    from higgs_pyhf.inference.fit import fit

    bkg, patch = _member("A", "1400_950_60")
    spec = apply_patches(sbottom.json(bkg), [Patch(patch, sbottom.json(patch))])
    model, data = model_and_data(spec)
    ours = fit(model, data, fixed={"mu_SIG": 0.0}).twice_nll
    backend, optimizer = pyhf.get_backend()
    try:
        pyhf.set_backend("numpy", "scipy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, slsqp = pyhf.infer.mle.fixed_poi_fit(0.0, data, model, return_fitted_val=True)
    finally:
        pyhf.set_backend(backend, optimizer)
    with converged_pyhf():
        _, minuit = pyhf.infer.mle.fixed_poi_fit(0.0, data, model, return_fitted_val=True)
    assert ours == pytest.approx(float(minuit), abs=1e-7)
    assert float(slsqp) - ours > 3e-7  # measured 9e-7: SLSQP stopped above the minimum


@pytest.mark.parametrize(
    ("test_stat", "test_poi"), [("qtilde", 0.5), ("qtilde", 2.0), ("q", 0.5), ("q", 2.0)]
)
def test_test_statistics_match_pyhf(test_stat, test_poi):
    model = pyhf.simplemodels.uncorrelated_background(
        signal=[5.0, 8.0], bkg=[50.0, 40.0], bkg_uncertainty=[6.0, 5.0]
    )
    data = np.array([53.0, 47.0, *model.config.auxdata])
    ours = hypotest(model, data, test_poi=test_poi, test_stat=test_stat)
    with converged_pyhf():
        obs, exp = pyhf.infer.hypotest(
            test_poi, data, model, test_stat=test_stat, return_expected_set=True
        )
    assert ours.cls_observed == pytest.approx(float(obs), rel=1e-7)
    assert list(ours.cls_expected) == pytest.approx([float(v) for v in exp], rel=1e-7)


def test_bad_test_poi_and_statistic():
    model = pyhf.simplemodels.uncorrelated_background(
        signal=[5.0], bkg=[50.0], bkg_uncertainty=[6.0]
    )
    data = np.array([53.0, *model.config.auxdata])
    with pytest.raises(FitError, match="outside its bounds"):
        hypotest(model, data, test_poi=11.0)
    with pytest.raises(FitError, match="test statistic"):
        hypotest(model, data, test_stat="q0")


def test_workspace_and_patch_from_stdin(sbottom, tmp_path):
    bkg_m, patch_m = _member("A", "1300_205_60")
    bkg, patch = sbottom.write(bkg_m, tmp_path), sbottom.write(patch_m, tmp_path)
    _, ref, _ = _run("cls", str(bkg), "-p", str(patch))
    code, out, err = _run("cls", "-", "-p", str(patch), stdin=bkg.read_text())
    assert code == 0, err
    assert json.loads(out)["CLs_obs"] == json.loads(ref)["CLs_obs"]
    code, out, err = _run("cls", str(bkg), "-p", "-", stdin=patch.read_text())
    assert code == 0, err
    assert json.loads(out)["CLs_exp"] == json.loads(ref)["CLs_exp"]
    code, _, err = _run("cls", "-", "-p", "-", stdin=patch.read_text())
    assert code == 1
    assert "only one input" in err


def test_patch_that_does_not_apply(sbottom, tmp_path):
    bkg = sbottom.write("RegionA/BkgOnly.json", tmp_path)
    ops = sbottom.json("RegionA/patch.sbottom_1300_205_60.json")
    ops[2] = {"op": "remove", "path": "/channels/7"}
    bad = tmp_path / "bad_patch.json"
    bad.write_text(json.dumps(ops), encoding="utf-8")
    out = tmp_path / "out.json"
    code, stdout, err = _run("cls", str(bkg), "-p", str(bad), "-o", str(out))
    assert code == 1
    assert stdout == ""
    assert err.startswith("Error: patch ")
    assert "bad_patch.json" in err
    assert "operation 2 (remove /channels/7)" in err
    assert not out.exists()
    assert "Traceback" not in err


def test_output_onto_a_patch_is_refused(sbottom, tmp_path):
    bkg, patch = (sbottom.write(m, tmp_path) for m in _member("A", "1300_205_60"))
    before = patch.read_bytes()
    code, _, err = _run("cls", str(bkg), "-p", str(patch), "-o", str(patch))
    assert code == 1
    assert "is an input" in err
    assert patch.read_bytes() == before


def _patchset(sbottom, points: list[str], bkg_spec) -> dict:
    return {
        "metadata": {
            "name": "sbottom",
            "references": {"hepdata": "ins1748602"},
            "description": "test patchset",
            "digests": {"sha256": digest(bkg_spec)},
            "labels": ["m_sb", "m_chi2", "m_chi1"],
        },
        "patches": [
            {
                "metadata": {"name": f"sbottom_{p}", "values": [int(v) for v in p.split("_")]},
                "patch": sbottom.json(f"RegionA/patch.sbottom_{p}.json"),
            }
            for p in points
        ],
        "version": "1.0.0",
    }


def test_patchset_is_pyhfs_format_and_its_digest_is_checked(sbottom, tmp_path):
    bkg_spec = sbottom.json("RegionA/BkgOnly.json")
    ps = _patchset(sbottom, ["1300_205_60", "1400_950_60"], bkg_spec)
    pyhf.PatchSet(ps).verify(bkg_spec)  # pyhf accepts it: same format, same digest
    ps_path = tmp_path / "patchset.json"
    ps_path.write_text(json.dumps(ps), encoding="utf-8")
    bkg = sbottom.write("RegionA/BkgOnly.json", tmp_path)
    code, out, err = _run(
        "cls", str(bkg), "--patchset", str(ps_path), "--patch", "sbottom_1400_950_60"
    )
    assert code == 0, err
    _check(json.loads(out)["CLs_obs"], json.loads(out)["CLs_exp"], ("A", "1400_950_60"))

    code, _, err = _run("cls", str(bkg), "--patchset", str(ps_path), "--patch", "nope")
    assert code == 1
    assert "has no patch 'nope'" in err
    other = sbottom.write("RegionB/BkgOnly.json", tmp_path)
    code, _, err = _run(
        "cls", str(other), "--patchset", str(ps_path), "--patch", "sbottom_1300_205_60"
    )
    assert code == 1
    assert "sha256 digest" in err
    assert "RegionB_BkgOnly.json" in err


@pytest.mark.parametrize(
    "command",
    [
        ["fit"],
        ["gof"],
        ["pulls"],
        # 200 toy fits of the sbottom model
        pytest.param(["toys", "hypotest", "--ntoys", "200"], marks=pytest.mark.slow),
    ],
)
def test_every_workspace_command_takes_patches(sbottom, tmp_path, command):
    """`CMD BkgOnly -p patch` gives what `CMD` gives on the workspace patched by jsonpatch."""
    import jsonpatch

    bkg_m, patch_m = _member("A", "1500_850_60")
    bkg, patch = sbottom.write(bkg_m, tmp_path), sbottom.write(patch_m, tmp_path)
    patched = tmp_path / "patched.json"
    patched.write_text(
        json.dumps(jsonpatch.apply_patch(sbottom.json(bkg_m), sbottom.json(patch_m))),
        encoding="utf-8",
    )
    code, ref, err = _run(*command, str(patched))
    assert code == 0, err
    code, out, err = _run(*command, str(bkg), "-p", str(patch))
    assert code == 0, err
    assert _untimed(json.loads(out)) == _untimed(json.loads(ref))


def _untimed(obj):
    """``obj`` without its ``timing`` entries (what a computation cost differs run to run)."""
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if k != "timing"}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def test_significance_reports_a_limit_beyond_the_poi_range(sbottom, tmp_path):
    """RegionB 1400_550_60: CLs ≈ 0.97 at μ = 1 and above 0.05 up to μ = 10 (the POI bound)."""
    bkg, patch = (sbottom.write(m, tmp_path) for m in _member("B", "1400_550_60"))
    code, out, err = _run("significance", str(bkg), "-p", str(patch))
    assert code == 0, err
    obj = json.loads(out)
    obs, exp = REGRESSION[("B", "1400_550_60")]
    assert obj["cls"]["cls_observed"] == pytest.approx(obs, rel=RTOL_OBS)
    assert obj["cls"]["cls_expected"] == pytest.approx(exp, rel=RTOL_EXP_PUBLISHED)
    assert 0 <= obj["discovery"]["p0_observed"] <= 1
    limit = obj["upper_limit"]
    assert limit["observed"] is None
    assert limit["expected"] == [None] * 5
    beyond = limit["beyond_range"]
    assert beyond["limits"] == ["observed", "-2sigma", "-1sigma", "median", "+1sigma", "+2sigma"]
    assert beyond["bound"] == 10.0
    assert "above 0.05" in beyond["reason"]
    # what was computed is kept: CLs at the bound, above the level for every curve
    assert limit["cls_observed"][-1] > 0.05
    assert min(row[-1] for row in limit["cls_expected"]) > 0.05


def test_upper_limit_partly_beyond_the_scan():
    from higgs_pyhf.inference.limits import UpperLimitResult, upper_limit

    model = pyhf.simplemodels.uncorrelated_background(
        signal=[5.0, 8.0], bkg=[50.0, 40.0], bkg_uncertainty=[6.0, 5.0]
    )
    data = np.array([53.0, 47.0, *model.config.auxdata])
    full = upper_limit(model, data)
    inside = max(full.observed, full.expected[2])
    assert inside < full.expected[3]
    cut = 0.5 * (inside + full.expected[3])  # above the observed and median limits, below +1σ
    with pytest.raises(FitError, match="does not cross"):
        upper_limit(model, data, scan=np.linspace(0.0, cut, 41))
    part = upper_limit(model, data, scan=np.linspace(0.0, cut, 41), allow_beyond=True)
    assert part.missing == ("+1sigma", "+2sigma")
    assert part.bound == pytest.approx(cut)
    assert np.isnan(part.expected[3])
    assert np.isnan(part.expected[4])
    assert part.observed == pytest.approx(full.observed, rel=1e-2)
    assert list(part.expected[:3]) == pytest.approx(list(full.expected[:3]), rel=1e-2)
    back = UpperLimitResult.from_json(json.loads(json.dumps(part.to_json()).replace("NaN", "null")))
    assert back.missing == part.missing
    assert back.bound == part.bound


def test_group_help_lists_every_command_without_importing_it():
    """The lazy command table matches the commands' own help and modules."""
    import subprocess
    import sys

    import click

    from higgs_pyhf.cli._lazy import COMMANDS

    ctx = click.Context(main)
    for name, (module, text) in COMMANDS.items():
        cmd = main.get_command(ctx, name)
        assert cmd is not None, name
        assert cmd.callback is not None
        assert cmd.callback.__module__.endswith(module) or name == "cutflow"
        assert cmd.get_short_help_str(limit=1000) == text
    code = (
        "import sys; from higgs_pyhf.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pyhf', 'numba', 'matplotlib', 'scipy', 'higgs_pyhf.cli.infer') "
        "if m in sys.modules]\nprint(heavy, file=sys.stderr)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "cls" in res.stdout
    assert res.stderr.strip() == "[]"
