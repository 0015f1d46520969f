"""The WORKSPACE argument of every command, with its signal patches.

``@workspace_input`` gives a command the argument ``WORKSPACE`` (a file, or
``-`` for standard input) and the options

- ``-p/--patch FILE`` (repeatable): JSON Patches applied in order, as
  ``pyhf cls WORKSPACE -p patch.json``;
- ``--patchset PS --patch NAME``: the patch called NAME of a pyhf patchset,
  after checking the patchset's digest against WORKSPACE.

The command receives ``workspace`` as a :class:`WorkspaceInput`: the path as
given (a ``str``, for the provenance and the figure labels) carrying the
patched, validated specification in ``.spec``. Patch and patchset files are
inputs of the command for the output guard, like the workspace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..errors import WorkspaceError
from ._common import refuse_overwriting_inputs

__all__ = ["WorkspaceInput", "load_input", "workspace_input"]


class WorkspaceInput(str):
    """A workspace path as given on the command line, with its patched specification.

    Attributes:
        spec: the workspace after the patches, validated.
        patches: names of the patches applied, in order.
        source: a description for messages (``BkgOnly.json + patch.x.json``).
    """

    spec: dict[str, Any]
    patches: tuple[str, ...]
    source: str

    def model_and_data(self, measurement: str | None = None) -> tuple[Any, Any]:
        """The model and the observed data (main bins, then auxdata) of the specification.

        The model is read from the JSON without pyhf where the workspace allows
        (:func:`~higgs_pyhf.workspace.engine_model_and_data`); it answers pyhf's
        model interface either way.
        """
        from ..workspace import engine_model_and_data

        return engine_model_and_data(self.spec, measurement=measurement, source=self.source)


def load_input(
    workspace: str,
    patches: Sequence[str] = (),
    patchset: str | None = None,
) -> WorkspaceInput:
    """Read the workspace and the patches, apply them and validate the result once.

    Args:
        workspace: the workspace file (``-``: standard input).
        patches: patch files, or with ``patchset`` the name of one of its patches.
        patchset: a pyhf patchset file.

    Returns:
        The path with the specification (see :class:`WorkspaceInput`).

    Raises:
        WorkspaceError: for unreadable or invalid files, a patch that does not
            apply, or a patchset made for another workspace.
    """
    from ..spec.patches import apply_patches, load_patch, load_patchset, read_json, verify_digests
    from ..workspace import load_workspace, validate_spec

    dashes = [x for x in (workspace, *patches, patchset) if x == "-"]
    if len(dashes) > 1:
        msg = "only one input can be read from standard input ('-')"
        raise WorkspaceError(msg)
    base = "stdin" if workspace == "-" else workspace
    if patchset is not None:
        if len(patches) != 1:
            msg = f"--patchset {patchset} needs exactly one --patch NAME (the patch to apply), got {len(patches)}"
            raise WorkspaceError(msg)
        ps = load_patchset(patchset)
        chosen = [ps.get(patches[0])]
    else:
        chosen = [load_patch(p) for p in patches]
    if workspace != "-" and not chosen:
        spec = load_workspace(workspace)
        source = base
    else:
        spec = read_json(workspace, "workspace")
        if patchset is not None:
            verify_digests(ps, spec, base)
        spec = apply_patches(spec, chosen)
        source = " + ".join([base, *(p.source for p in chosen)])
        validate_spec(spec, source=source)
    out = WorkspaceInput(workspace)
    out.spec = spec
    out.patches = tuple(p.name for p in chosen)
    out.source = source
    return out


def workspace_input(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add WORKSPACE, ``-p/--patch`` and ``--patchset``; hand the command a :class:`WorkspaceInput`."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        refuse_overwriting_inputs(lambda **_kw: None)(**kwargs)
        patches = tuple(kwargs.pop("patch", ()) or ())
        patchset = kwargs.pop("patchset", None)
        kwargs["workspace"] = load_input(kwargs["workspace"], patches, patchset)
        return func(**kwargs)

    wrapper = click.option(
        "--patchset",
        type=click.Path(dir_okay=False, allow_dash=True),
        default=None,
        metavar="PS",
        help="A pyhf patchset (its digest is checked against WORKSPACE); give the patch with --patch NAME.",
    )(wrapper)
    wrapper = click.option(
        "-p",
        "--patch",
        "patch",
        multiple=True,
        metavar="FILE|NAME",
        help="JSON Patch applied to WORKSPACE (repeatable, in order; '-' for stdin); with --patchset the name of its patch.",
    )(wrapper)
    return click.argument("workspace", type=click.Path(dir_okay=False, allow_dash=True))(wrapper)
