"""Exception hierarchy of higgs_pyhf.

Every error a user can cause by bad input derives from :class:`HiggsPyhfError`;
the CLI turns them into a one-line ``Error: …`` message and exit code 1.
Messages say what was wrong, where, and what was expected.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ExecutionError",
    "FitError",
    "HiggsPyhfError",
    "HistogramError",
    "InputFileError",
    "OutputError",
    "SelectionError",
    "TemplateError",
    "WorkspaceError",
]


class HiggsPyhfError(Exception):
    """Base class of all errors raised by higgs_pyhf on bad input."""


class ConfigError(HiggsPyhfError):
    """A configuration file or value is invalid."""


class InputFileError(HiggsPyhfError):
    """A ROOT input file is missing, unreadable, or lacks a tree or branch."""


class SelectionError(HiggsPyhfError):
    """The event selection cannot be applied or leaves a sample empty."""


class HistogramError(HiggsPyhfError):
    """Histogram contents are invalid (NaN weights, wrong axes, ...)."""


class WorkspaceError(HiggsPyhfError):
    """A pyhf workspace is invalid or cannot be used as requested."""


class FitError(HiggsPyhfError):
    """A fit or statistical computation cannot be carried out."""


class TemplateError(HiggsPyhfError):
    """A binned template file is missing, malformed, or has another binning than the analysis."""


class OutputError(HiggsPyhfError):
    """An output path cannot be written (a directory, an input of the command, no permission)."""


class ExecutionError(HiggsPyhfError):
    """Work could not be run where asked (no Dask scheduler, a worker process died)."""
