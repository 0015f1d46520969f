"""A workspace's model for the engine, read from its JSON without pyhf.

:func:`spec_model` returns a :class:`SpecModel`: the compiled arrays
(``compiled``, which :func:`~.compile.compile_model` hands back as they are)
and a ``config`` with the parts of pyhf's ``_ModelConfig`` interface that the
fits use (parameter order, slices, names, inits, bounds, fixed parameters,
POI, channels, samples, auxiliary data). Anything else (``logpdf``,
``expected_data``, the rest of ``config``) is delegated to the pyhf model of
the same specification, built on first use: the object behaves as pyhf's
model everywhere, and only costs pyhf's import where pyhf's own code is
needed.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ...errors import FitError
from .compile import GLOBAL_TYPES, CompiledModel, compile_layout
from .layout import Layout
from .likelihood import twice_nll
from .spec_layout import NotNative, spec_layout

__all__ = ["NotNative", "SpecConfig", "SpecModel", "spec_model"]


class SpecConfig:
    """pyhf's ``model.config`` interface of a :class:`SpecModel` (the rest is pyhf's)."""

    def __init__(self, owner: SpecModel, lay: Layout, poi: str) -> None:
        self._owner = owner
        self._lay = lay
        self.channels = list(lay.channels)
        self.samples = list(lay.samples)
        self.channel_slices = dict(lay.channel_slices)
        self.channel_nbins = {c: sl.stop - sl.start for c, sl in lay.channel_slices.items()}
        self.modifiers = sorted(
            {
                (m["name"], m["type"])
                for ch in lay.spec_channels.values()
                for sample in ch["samples"]
                for m in sample["modifiers"]
            }
        )
        self.par_order = list(lay.par_order)
        self.parameters = sorted(lay.par_order)
        self.npars = int(lay.init.size)
        self.nmaindata = sum(self.channel_nbins.values())
        self.auxdata = [float(x) for x in lay.auxdata]
        self.nauxdata = len(self.auxdata)
        self.auxdata_order = [c[0] for c in lay.constraints]
        self.poi_name = poi
        self.poi_index = lay.par_slices[poi].start
        self.modifier_settings = {
            "normsys": {"interpcode": lay.normsys_code},
            "histosys": {"interpcode": lay.histosys_code},
        }

    def par_slice(self, name: str) -> slice:
        """Slice of parameter ``name`` in the parameter vector."""
        return self._lay.par_slices[name]

    def suggested_init(self) -> list[float]:
        """Initial values (pyhf's ``suggested_init``)."""
        return [float(x) for x in self._lay.init]

    def suggested_bounds(self) -> list[tuple[float, float]]:
        """Bounds (pyhf's ``suggested_bounds``)."""
        return [(float(lo), float(hi)) for lo, hi in self._lay.bounds]

    def suggested_fixed(self) -> list[bool]:
        """Fixed parameters (pyhf's ``suggested_fixed``)."""
        return [bool(x) for x in self._lay.fixed]

    @property
    def par_names(self) -> list[str]:
        """Parameter names as pyhf writes them (vector parameters as ``name[i]``, even of one bin)."""
        out: list[str] = []
        for name in self.par_order:
            sl = self.par_slice(name)
            if self._lay.types.get(name) in GLOBAL_TYPES:
                out.append(name)
            else:
                out.extend(f"{name}[{i}]" for i in range(sl.stop - sl.start))
        return out

    def param_set(self, name: str) -> Any:
        """The parameter set ``name``: size, constraint and pdf type here, the rest pyhf's."""
        return _ParamSet(self, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._owner.pyhf_model.config, name)


class _ParamSet:
    """A parameter set of a :class:`SpecConfig` (pyhf's ``param_set`` for anything else)."""

    def __init__(self, config: SpecConfig, name: str) -> None:
        lay = config._lay
        sl = lay.par_slices[name]
        kinds = {c[0]: c[1] for c in lay.constraints}
        self._config = config
        self.name = name
        self.n_parameters = sl.stop - sl.start
        self.is_scalar = lay.types.get(name) in GLOBAL_TYPES
        self.constrained = name in kinds
        self.pdf_type = kinds.get(name)
        self.suggested_fixed = config.suggested_fixed()[sl]

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._config._owner.pyhf_model.config.param_set(self.name), attr)


class SpecModel:
    """A workspace's model for the engine, with pyhf's model behind it on demand.

    Attributes:
        compiled: the engine's arrays.
        config: :class:`SpecConfig`.
        spec: the workspace specification it was read from.
    """

    def __init__(
        self,
        spec: dict[str, Any],
        lay: Layout,
        compiled: CompiledModel,
        poi: str,
        measurement: str | None,
        source: str,
    ) -> None:
        self.spec = spec
        self.compiled = compiled
        self.config = SpecConfig(self, lay, poi)
        self._measurement = measurement
        self._source = source

    @cached_property
    def pyhf_model(self) -> Any:
        """The pyhf model of the same specification (built on first use)."""
        from ...workspace import model_and_data

        model, _ = model_and_data(
            self.spec, measurement=self._measurement, validate=False, source=self._source
        )
        return model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "pyhf_model":
            raise AttributeError(name)
        return getattr(self.pyhf_model, name)


def spec_model(
    spec: dict[str, Any], *, measurement: str | None = None, source: str = "workspace"
) -> tuple[SpecModel, np.ndarray]:
    """The engine's model and the observed data of a validated specification, without pyhf.

    Args:
        spec: a specification that passed the schema and the project's checks.
        measurement: measurement name; the first one by default.
        source: how messages name the specification.

    Returns:
        ``(model, data)`` with data = main bins followed by auxiliary data.

    Raises:
        NotNative: where the model needs pyhf (an unusual or invalid workspace,
            or one the engine does not evaluate); build it with pyhf instead.
    """
    lay, data, poi = spec_layout(spec, measurement)
    try:
        cm = compile_layout(lay)
    except FitError as err:
        raise NotNative(str(err)) from None
    if np.any(cm.init < cm.bounds[:, 0]) or np.any(cm.init > cm.bounds[:, 1]):
        msg = "inits outside their bounds"
        raise NotNative(msg)
    with np.errstate(all="ignore"):
        value = float(twice_nll(cm, cm.init[None, :], data[None, :])[0])
    if not np.isfinite(value):
        msg = "the likelihood is not finite at the inits"
        raise NotNative(msg)
    return SpecModel(spec, lay, cm, poi, measurement, source), data
