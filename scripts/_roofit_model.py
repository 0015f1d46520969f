"""A pyhf spec as a RooFit HistFactory model (for the benchmarks; needs ``import ROOT``).

Built with ROOT's HistFactory API (Measurement → Channel → Sample), the
same model as pyhf's: lumi (Gaussian, σ from the measurement), normfactors,
normsys (OverallSys), histosys (HistoSys), staterror (Gaussian γ per bin,
no pruning threshold) and shapesys (ShapeSys, Poisson γ per bin, τ = 1/rel²
as pyhf's). Normfactor bounds are the measurement's (pyhf's [0, 10] if unset). The interpolation codes are set to pyhf's defaults
after the build: OverallSys code 1 (exponential) and HistoSys code 0
(piecewise linear); ROOT's own defaults differ (see ``interp_codes``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Every ROOT object handed to HistFactory stays alive here: HistFactory keeps
#: raw pointers to them, and a Python-side delete crashes the interpreter.
_KEEP: list[Any] = []


def _hist(ROOT: Any, name: str, values: Any) -> Any:
    vals = np.asarray(values, dtype=float)
    h = ROOT.TH1D(name, name, vals.size, 0.0, float(vals.size))
    h.SetDirectory(0)
    for i, v in enumerate(vals):
        h.SetBinContent(i + 1, float(v))
    return h


def _relative(err: Any, nominal: np.ndarray) -> np.ndarray:
    """``err / nominal``, 0 where the nominal is 0 (no uncertainty on an empty bin)."""
    err = np.asarray(err, dtype=float)
    return np.divide(err, nominal, out=np.zeros_like(err), where=nominal != 0)


def build(spec: dict[str, Any]) -> tuple[Any, Any, Any, dict[str, int]]:
    """(workspace, model config, observed data, ROOT's default codes found) for ``spec``."""
    import ROOT

    HF = ROOT.RooStats.HistFactory
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    meas_cfg = spec["measurements"][0]["config"]
    lumi = next((p for p in meas_cfg["parameters"] if p["name"] == "lumi"), None)
    meas = HF.Measurement("meas", "meas")
    meas.SetPOI(meas_cfg["poi"])
    # HistFactory writes its model files; keep them out of the working directory
    meas.SetOutputFilePrefix(str(Path(tempfile.mkdtemp(prefix="hf_benchmark_")) / "model"))
    meas.SetLumi(1.0)
    meas.SetLumiRelErr(float(lumi["sigmas"][0]) if lumi else 0.02)
    bounds = {p["name"]: p["bounds"][0] for p in meas_cfg["parameters"] if "bounds" in p}
    obs = {o["name"]: o["data"] for o in spec["observations"]}
    keep = _KEEP
    keep.append(meas)
    for ch in spec["channels"]:
        # HistFactory refuses channel names that start with a digit
        channel = HF.Channel(("ch_" if ch["name"][0].isdigit() else "") + ch["name"])
        keep.append(channel)
        data = _hist(ROOT, f"data_{ch['name']}", obs[ch["name"]])
        keep.append(data)
        channel.SetData(data)
        channel.SetStatErrorConfig(0.0, "Gaussian")
        for s in ch["samples"]:
            nominal = np.asarray(s["data"], dtype=float)
            hist = _hist(ROOT, f"{ch['name']}_{s['name']}", nominal)
            keep.append(hist)
            sample = HF.Sample(s["name"])
            keep.append(sample)
            sample.SetHisto(hist)
            sample.SetNormalizeByTheory(False)
            for m in s["modifiers"]:
                kind, name = m["type"], m["name"]
                if kind == "normfactor":
                    lo_b, hi_b = bounds.get(name, (0.0, 10.0))
                    sample.AddNormFactor(name, 1.0, float(lo_b), float(hi_b))
                elif kind == "lumi":
                    sample.SetNormalizeByTheory(True)
                elif kind == "normsys":
                    sample.AddOverallSys(name, float(m["data"]["lo"]), float(m["data"]["hi"]))
                elif kind == "histosys":
                    lo = _hist(ROOT, f"{ch['name']}_{s['name']}_{name}_lo", m["data"]["lo_data"])
                    hi = _hist(ROOT, f"{ch['name']}_{s['name']}_{name}_hi", m["data"]["hi_data"])
                    keep += [lo, hi]
                    hs = HF.HistoSys()
                    hs.SetName(name)
                    hs.SetHistoLow(lo)
                    hs.SetHistoHigh(hi)
                    keep.append(hs)
                    sample.AddHistoSys(hs)
                elif kind == "staterror":
                    err = _hist(
                        ROOT, f"{ch['name']}_{s['name']}_staterr", _relative(m["data"], nominal)
                    )
                    keep.append(err)
                    sample.GetStatError().Activate(True)
                    sample.GetStatError().SetUseHisto(True)
                    sample.GetStatError().SetErrorHist(err)
                elif kind == "shapesys":
                    rel = _hist(
                        ROOT, f"{ch['name']}_{s['name']}_{name}", _relative(m["data"], nominal)
                    )
                    shape = HF.ShapeSys()
                    shape.SetName(name)
                    shape.SetConstraintType(HF.Constraint.Poisson)
                    shape.SetErrorHist(rel)
                    keep += [rel, shape]
                    sample.AddShapeSys(shape)
                else:
                    msg = f"modifier type {kind} not mapped to HistFactory"
                    raise ValueError(msg)
            channel.AddSample(sample)
        meas.AddChannel(channel)
    ws = HF.MakeModelAndMeasurementFast(meas)
    keep.append(ws)
    found: dict[str, int] = {}
    for func in ws.allFunctions():
        if func.InheritsFrom("RooStats::HistFactory::FlexibleInterpVar"):
            found["OverallSys"] = (
                int(func.interpolationCodes()[0]) if len(func.interpolationCodes()) else -1
            )
            func.setAllInterpCodes(1)
        elif func.InheritsFrom("PiecewiseInterpolation"):
            found["HistoSys"] = (
                int(func.interpolationCodes()[0]) if len(func.interpolationCodes()) else -1
            )
            func.setAllInterpCodes(0)
    mc = ws.obj("ModelConfig")
    return ws, mc, ws.data("obsData"), found


def make_nll(mc: Any, data: Any) -> Any:
    """The NLL of ``mc``'s pdf on ``data``, cpu evaluation backend, global observables held."""
    import ROOT

    nll = mc.GetPdf().createNLL(
        data,
        ROOT.RooFit.EvalBackend("cpu"),
        ROOT.RooFit.GlobalObservables(mc.GetGlobalObservables()),
    )
    _KEEP.append(nll)
    return nll


def fit(nll: Any, eps: float = 1e-3) -> tuple[Any, int]:
    """Migrad and Hesse with Minuit2 on ``nll``; (fit result, worst status).

    ``eps`` is Minuit's tolerance (EDM < 0.002 · eps · up): 1e-3 instead of
    RooFit's default 1, whose minima differ from the true one by ~0.01σ.
    """
    import ROOT

    minim = ROOT.RooMinimizer(nll)
    minim.setMinimizerType("Minuit2")
    minim.setPrintLevel(-1)
    minim.setStrategy(1)
    minim.setEps(eps)
    status = int(minim.migrad())
    status = max(status, int(minim.hesse()))
    res = minim.save()
    _KEEP.append(res)
    return res, status
