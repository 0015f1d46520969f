"""The ``cutflow`` command: events after each cut, data per period and final state, MC per sample."""

from __future__ import annotations

from typing import Any

import click

from .._io import write_text
from ..build.cutflows import read_data_cutflows, total_cutflow
from ..build.histograms import build_histograms
from ..build.provenance import describe_inputs
from ._common import emit_json, output_option
from ._inputs import ChunkProgress, input_options, resolve_inputs

__all__ = ["cutflow_cmd"]


def _markdown_cutflows(doc: dict[str, Any]) -> str:
    lines = [f"# Cut flow: {doc['data_label']}", ""]
    for sel, block in doc["data"].items():
        lines += [f"## Data, selection `{sel}`", ""]
        periods = [*block["periods"], block["total"]]
        lines.append("| " + " | ".join(["cut", *(p["period"] for p in periods)]) + " |")
        lines.append("|" + "---|" * (len(periods) + 1))
        for i, row in enumerate(block["total"]["cuts"]):
            cells = [row["cut"]]
            for p in periods:
                ev = p["cuts"][i]["events"]
                cells.append(
                    f"{p['cuts'][i]['total']} ({ev['4e']}/{ev['2e2mu']}/{ev['4mu']}/{ev['other']})"
                )
            lines.append("| " + " | ".join(cells) + " |")
        cells = ["in m4l range"]
        for p in periods:
            r = p["in_range"]
            cells.append(f"{r['total']} ({r['4e']}/{r['2e2mu']}/{r['4mu']}/{r['other']})")
        lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "Cells: all (4e/2e2μ/4μ/other); other = not exactly four leptons or mixed 3+1 flavours.",
            "",
        ]
    return "\n".join(lines) + "\n"


@click.command("cutflow")
@input_options
@click.option(
    "--markdown",
    is_flag=True,
    help="Print Markdown tables (data per period and final state) instead of JSON.",
)
@output_option()
def cutflow_cmd(
    step_size: int | str,
    workers: int,
    scheduler: str | None,
    markdown: bool,
    output: str | None,
    **options: Any,
) -> None:
    """Events after each cut: data per period and final state (raw), MC per sample (weighted).

    Without --selection both selections are shown. On the shipped real data
    no MC file is needed (MC templates have no cut flow).
    """
    options.pop("allow_selection_mismatch")
    explicit = options["selection"]
    selections = (explicit,) if explicit else ("report", "intended")
    with ChunkProgress("chunks") as bar, resolve_inputs(**options) as inp:
        info = describe_inputs(inp.config, inp.directory, marker=inp.marker)
        flows = read_data_cutflows(
            inp.config, inp.directory, selections=selections, step_size=step_size
        )
        mc: dict[str, Any] = {}
        mc_config = inp.config._replace(
            samples=tuple(s for s in inp.config.ntuple_samples if not s.is_data)
        )
        for sel in selections if mc_config.samples else ():
            hs = build_histograms(
                mc_config,
                inp.directory,
                selection=sel,
                step_size=step_size,
                workers=workers,
                scheduler=scheduler,
                progress=bar.update,
                on_plan=bar.plan,
                require_events=False,
            )
            mc[sel] = [cf.to_json() for cf in hs.cutflows.values()]
    data = {}
    for sel in selections:
        mine = [f for f in flows if f.selection == sel]
        data[sel] = {
            "periods": [f.to_json() for f in mine],
            "total": total_cutflow(mine).to_json(),
        }
    doc = {
        "data_label": info["data_label"],
        "generated": info["generated"],
        "lumi_fb": inp.config.lumi_fb,
        "range_gev": [inp.config.edges[0], inp.config.edges[-1]],
        "selections": list(selections),
        "data": data,
        "mc": mc,
    }
    if markdown:
        text = _markdown_cutflows(doc)
        if output is None:
            click.echo(text, nl=False)
        else:
            write_text(output, text)
        return
    emit_json(doc, output)
