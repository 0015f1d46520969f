"""The report's texts and legends say the numbers its table says (issue 15 item 7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from higgs_pyhf.report.figures import report_figure
from higgs_pyhf.report.inputs import read_inputs
from higgs_pyhf.report.reproduction import reproduction_table
from higgs_pyhf.report.sections import reproduction_rows, toys_section
from higgs_pyhf.report.stages import run_stages
from higgs_pyhf.report.studies import likelihood_coverage_toys

WORKSPACE = Path(__file__).resolve().parents[1] / "workspaces" / "hzz4l_atlas.json"


@pytest.fixture(scope="module")
def stages():
    inputs = read_inputs(WORKSPACE)
    res, skipped = run_stages(inputs, {"scan"})
    return inputs, res, skipped


@pytest.mark.parametrize(("name", "key"), [("scan_s_s", "s_s_1d"), ("scan_s_b", "s_b_1d")])
def test_scan_legend_gives_the_tables_parabola_number(stages, name, key):
    inputs, res, skipped = stages
    rows = reproduction_table(res["chi2_grid"], res["likelihood_fits"])
    cell = {r[0]: r[2] for r in reproduction_rows(rows)}
    quantity = (
        "s_s, one-parameter fit (s_b = 1)"
        if key == "s_s_1d"
        else "s_b, one-parameter fit (s_s = 1)"
    )
    best, err = (float(x) for x in re.match(r"([\d.]+) ± ([\d.]+)", cell[quantity]).groups())
    fig = report_figure(name, inputs, res, skipped)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    grid = texts[0]
    # the table's best ± error, to the legend's two digits, labelled as the report prints it
    assert f"as printed {best:.2f} ± {err:.2f}" in grid
    # the asymmetric interval is named for what it is: the parabola's roots
    assert "parabola's two roots" in grid
    shade = [t for t in texts if "interval" in t]
    assert len(shade) == 1
    assert "as printed" not in shade[0]


def test_toys_section_quotes_the_likelihood_toys_not_wilks(stages):
    inputs, _, _ = stages
    cov = likelihood_coverage_toys(inputs.model, inputs.data, ntoys=2000, seed=5)
    text = toys_section({}, {"likelihood": cov}, {"coverage_likelihood": 5})
    lo, hi = cov.critical_value_band
    assert f"give {cov.critical_value:.2f} [{lo:.2f}, {hi:.2f}], near Wilks' 2.30" in text
    assert "give Wilks'" not in text
