"""The README's reproduction table ("What the main job gives"), regenerated from the code.

The table is the one ``report`` writes at the top of ``report.md``: every
number printed in the student report, computed with the report's method and
with the Poisson likelihood on the shipped real workspace, with the report's
default toys (10⁴ per study) and seed. The README's prose sentence "With the
likelihood the toys give …" quotes the likelihood's critical value.

Usage (from the repository root)::

    python scripts/readme_numbers.py            # print the table
    python scripts/readme_numbers.py --write    # replace the README's table and sentence
    python scripts/readme_numbers.py --check    # exit 1 if the README differs

``tests/test_readme_numbers.py`` runs the check: the cells of the rows
without toys must match to the printed digits (the same text), the toy row
within the toys' statistical tolerance (:func:`toy_numbers_agree`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
WORKSPACE = ROOT / "workspaces" / "hzz4l_atlas.json"
#: The first line of the README's table (its header row).
_HEADER_START = "| quantity | report (printed) |"
#: The README sentence that quotes the likelihood's critical value.
_SENTENCE = re.compile(r"With the\s+likelihood the toys give (\d+\.\d+)")
#: Key of the toy row (its numbers vary with the toys).
TOY_ROW = "critical value d of the 68% region"
_NUMBER = re.compile(r"\d+\.\d+")


def generated_table(workspace: Path = WORKSPACE) -> tuple[str, float]:
    """(the Markdown table, the likelihood's critical value) as the code gives them now."""
    from higgs_pyhf.report.inputs import read_inputs
    from higgs_pyhf.report.markdown import md_table
    from higgs_pyhf.report.reproduction import reproduce
    from higgs_pyhf.report.sections import REPRODUCTION_HEADERS, reproduction_rows

    inputs = read_inputs(workspace)
    rep = reproduce(inputs.signal, inputs.background, inputs.observed)
    crit = float(rep.row("critical_value").likelihood[0])
    return md_table(REPRODUCTION_HEADERS, reproduction_rows(rep)), crit


def readme_table(text: str) -> str:
    """The reproduction table of the README text (header to the last row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(_HEADER_START))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end])


def readme_sentence_value(text: str) -> float:
    """The critical value quoted by the README's sentence."""
    m = _SENTENCE.search(text)
    if m is None:
        msg = "README.md: no sentence 'With the likelihood the toys give …'"
        raise ValueError(msg)
    return float(m.group(1))


def rows(table: str) -> dict[str, list[str]]:
    """Row cells keyed by the quantity (the header and the rule skipped)."""
    out = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        out[cells[0]] = cells[1:]
    return out


def toy_numbers_agree(printed: str, now: str) -> bool:
    """Two toy cells agree: same text but the numbers, each within the band half-width printed.

    A cell reads ``d [lo, hi] (N toys); …``: the tolerance of every number is
    the larger of the two cells' band half-widths (the statistical error of
    the toy quantile, ~1σ), so a change of seed-level size passes and a shift
    of the method does not.
    """
    a, b = _NUMBER.findall(printed), _NUMBER.findall(now)
    if _NUMBER.sub("#", printed) != _NUMBER.sub("#", now) or len(a) < 3:
        return False
    tol = max(0.5 * (float(x[2]) - float(x[1])) for x in (a, b)) + 0.005
    return all(abs(float(x) - float(y)) <= tol for x, y in zip(a, b, strict=True))


def differences(text: str, table: str, crit: float) -> list[str]:
    """What in the README ``text`` differs from the code's ``table`` and critical value."""
    have, want = rows(readme_table(text)), rows(table)
    out = []
    if list(have) != list(want):
        out.append(f"rows differ: README {list(have)} vs code {list(want)}")
    for key, cells in want.items():
        old = have.get(key)
        if old is None:
            continue
        for col, (x, y) in enumerate(zip(old, cells, strict=True)):
            same = toy_numbers_agree(x, y) if key.startswith(TOY_ROW) and col in (1, 3) else x == y
            if not same:
                out.append(f"{key!r}, column {col + 2}: README {x!r}, code {y!r}")
    quoted = readme_sentence_value(text)
    if abs(quoted - crit) > 0.05:
        out.append(f"the sentence quotes {quoted}, the code gives {crit:.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print, write or check the README's reproduction table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--write", action="store_true", help="replace the table in README.md")
    what.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    args = parser.parse_args(argv)
    table, crit = generated_table()
    text = README.read_text(encoding="utf-8")
    if args.write:
        text = text.replace(readme_table(text), table)
        text = _SENTENCE.sub(lambda m: m.group(0).replace(m.group(1), f"{crit:.2f}"), text)
        README.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        diff = differences(text, table, crit)
        for d in diff:
            print(d, file=sys.stderr)
        return 1 if diff else 0
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
