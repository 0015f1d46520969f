"""higgs_pyhf: HistFactory statistics on a batched engine, and the ATLAS Open Data H→ZZ*→4ℓ model.

Pipeline (one package or module per stage)::

    build {config → inputs → selection → histograms → workspace}
      → workspace (load, validate) → inference {fit, scan, chi2grid, toys} → plotting → report → cli

The Python face (imported on first use, so ``import higgs_pyhf`` stays cheap)::

    import higgs_pyhf

    ws = higgs_pyhf.load_workspace("ws.json")  # or higgs_pyhf.workspace_from_hists(...)
    r = higgs_pyhf.fit(ws)  # r.to_dict() is the JSON of `python -m higgs_pyhf fit ws.json`
    higgs_pyhf.impacts(ws), higgs_pyhf.scan(ws), higgs_pyhf.significance(ws), ...
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: The studies, one per command (:mod:`higgs_pyhf.api`).
_API = (
    "load_workspace",
    "model_and_data",
    "fit",
    "scan",
    "contour",
    "cls",
    "significance",
    "gof",
    "pulls",
    "impacts",
    "correlations",
    "yields",
    "gof_toys",
    "coverage_toys",
    "hypotest_toys",
    "toy_contour",
    "toy_upper_limit",
)
#: The figures (:mod:`higgs_pyhf.plotting`).
_PLOTS = (
    "plot_stacked",
    "plot_yields",
    "plot_prediction",
    "plot_brazil",
    "plot_toy_contour",
    "plot_scan_1d",
    "plot_scan_2d",
    "plot_pulls",
    "plot_impacts",
    "plot_correlations",
    "plot_gof",
    "plot_coverage",
    "plot_coverage_table",
    "save_figure",
)

__all__ = sorted(["__version__", "workspace_from_hists", *_API, *_PLOTS])


def __getattr__(name: str) -> Any:
    """Import a public function on first use (PEP 562), so ``import higgs_pyhf`` stays cheap."""
    module: Any
    if name in _API:
        from . import api as module
    elif name in _PLOTS:
        from . import plotting as module
    elif name == "workspace_from_hists":
        from .build import hist_workspace as module
    else:
        msg = f"module 'higgs_pyhf' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, "__doc__", "__file__", "__name__", "__path__", "__version__"})
