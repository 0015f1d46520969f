"""The README's reproduction table and its critical-value sentence are what the code gives now."""

from __future__ import annotations

from pathlib import Path

import pytest
from _helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    return load_script("readme_numbers")


@pytest.fixture(scope="module")
def generated(script):
    return script.generated_table()


def test_readme_table_matches_the_code(script, generated):
    table, crit = generated
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.differences(text, table, crit) == []
    # every row of the report, each non-toy cell the same text to the printed digits
    have, want = script.rows(script.readme_table(text)), script.rows(table)
    assert len(want) == 12
    toy = [k for k in want if k.startswith(script.TOY_ROW)]
    assert len(toy) == 1
    for key in want:
        if key not in toy:
            assert have[key] == want[key]


def test_the_check_sees_a_stale_number(script, generated):
    table, crit = generated
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # a non-toy number off in its last printed digit
    stale = text.replace("| 1.59785 |", "| 1.59786 |", 1)
    assert stale != text
    assert any("column 3" in d for d in script.differences(stale, table, crit))
    # the toy row as the README had it before (2.31 [2.27, 2.34]): beyond the toys' tolerance
    row = script.rows(table)[next(k for k in script.rows(table) if k.startswith(script.TOY_ROW))]
    old = text.replace(row[3], "2.31 [2.27, 2.34] (10000 toys); Wilks: 2.30", 1)
    assert any("column 5" in d for d in script.differences(old, table, crit))
    # within the band's half-width: the same toy result
    lik = row[3]
    nudged = lik.replace(lik.split()[0], f"{float(lik.split()[0]) + 0.01:.2f}", 1)
    assert script.toy_numbers_agree(lik, nudged)
    assert not script.toy_numbers_agree(lik, lik.replace("Wilks", "Pearson"))
