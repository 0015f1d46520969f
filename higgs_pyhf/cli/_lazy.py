"""Commands loaded when they are run: ``--help`` and ``--version`` import no command module.

Each command module imports what its commands need (pyhf, the engine,
matplotlib, the report) inside the command, and the group imports a command
module only to run or describe one of its commands. ``--help`` of the group
shows the one-line help of :data:`COMMANDS` (a test checks it against the
commands' own docstrings).
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["COMMANDS", "LazyCommands", "command_module"]

#: command name → (module of higgs_pyhf.cli, the first sentence of its help)
COMMANDS: dict[str, tuple[str, str]] = {
    "build-histograms": ("build", "Read, select and histogram every sample (templates included); write the m4l histograms."),
    "build-workspace": ("build", "Build the pyhf workspace (signal × s_s, background × s_b, observed data) with its provenance."),
    "chi2-grid": ("compare", "The seed report's χ² grid method on WORKSPACE (a pyhf JSON file)."),
    "cls": ("published", "Asymptotic CLs of WORKSPACE at --test-poi, as `pyhf cls` (on the engine)."),
    "compare": ("compare", "Compare the report's grid χ², χ² minimizations and the Poisson likelihood on WORKSPACE."),
    "contour": ("infer", "2D Δ(−2lnL) grid of two parameters with the 2.30/5.99 contours' 68% intervals (figure: contour_X_Y.png)."),
    "correlations": ("diagnostics", "The post-fit correlation matrix, pruned to the parameters correlated above --threshold."),
    "cutflow": ("build", "Events after each cut: data per period and final state (raw), MC per sample (weighted)."),
    "fit": ("infer", "Maximum-likelihood fit of WORKSPACE (the batched engine): values, Hesse and Minos errors, correlations."),
    "gof": ("infer", "Goodness of fit: Pearson χ² p-values before/after the fit, saturated-model p-value."),
    "grid": ("published", "CLs at --test-poi of every signal point: BKGONLY with each patch of PATCH_DIR or --patchset."),
    "impacts": ("diagnostics", "Pre- and post-fit impacts on the POI of every other free parameter (ranking), grouped, stat/syst."),
    "make-inputs": ("build", "Write GENERATED open-data-shaped ntuples to DIRECTORY (MC/…, Data/…)."),
    "plot": ("report", "Draw the report's figures of WORKSPACE beside their likelihood counterparts; print the paths as JSON."),
    "pulls": ("diagnostics", "Post-fit pulls (θ̂ − θ₀)/σ_prefit and constraints σ_postfit/σ_prefit of the nuisances."),
    "report": ("report", "Reproduce the seed report on WORKSPACE, redo it with the likelihood; write OUTDIR/report.md, results.json and PNGs."),
    "scan": ("infer", "1D Δ(−2lnL) scan of one parameter of WORKSPACE with its interval (figure: scan_NAME.png)."),
    "significance": ("infer", "Discovery p0 and Z, CLs at --poi-value, and the CLs upper limit with its expected band."),
    "toys": ("toys", "Pseudo-experiments: goodness of fit, coverage, toy CLs/p0, toy-calibrated regions."),
    "yields": ("diagnostics", "Pre-/post-fit yields per sample and channel with uncertainties; figures with bands."),
}  # fmt: skip


def command_module(name: str) -> Any:
    """The module of higgs_pyhf.cli named ``name``, imported now (plain imports, one per area)."""
    if name == "build":
        from . import build

        return build
    if name == "infer":
        from . import infer

        return infer
    if name == "published":
        from . import published

        return published
    if name == "diagnostics":
        from . import diagnostics

        return diagnostics
    if name == "compare":
        from . import compare

        return compare
    if name == "report":
        from . import report

        return report
    if name == "toys":
        from . import toys

        return toys
    msg = f"no command module {name!r}"
    raise ValueError(msg)


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ``...`` marking the cut."""
    if len(text) <= limit:
        return text
    words = text.split()
    out = ""
    for word in words:
        if len(out) + len(word) + 4 > limit:
            break
        out = f"{out} {word}" if out else word
    return out + "..."


class LazyCommands(click.Group):
    """A click group whose commands are imported from :data:`COMMANDS` when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The names of all commands (without importing them)."""
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module now."""
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module = command_module(COMMANDS[cmd_name][0])
        for cmd in module.COMMANDS:
            self.add_command(cmd)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        """The command list of ``--help`` from :data:`COMMANDS` (no command module imported)."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _shorten(COMMANDS[name][1], limit)) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
