"""DNN workloads as layers lowered to GEMMs, in SCALE-Sim's topology conventions.

::

    from archgym import workloads
    wl = workloads.get("resnet50")      # a Workload: name + tuple of Layer
    wl.as_arrays()["m"]                  # per-layer GEMM M, for vectorised cost models
    workloads.names()                    # every built-in name
    workloads.from_torch(model, x)       # trace a torch module into a Workload
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

from archgym.errors import ConfigError
from archgym.workloads._layer import Layer, Workload
from archgym.workloads._tables import BUILDERS
from archgym.workloads._torch import from_torch

__all__ = ["Layer", "Workload", "as_workload", "get", "names", "from_torch"]


def names() -> list[str]:
    """Names of the built-in workloads, sorted."""
    return sorted(BUILDERS)


@cache
def get(name: str) -> Workload:
    """The built-in workload called ``name`` (case, ``_`` and ``-`` are ignored).

    Raises:
        ConfigError: ``name`` is unknown; the message suggests the closest names and lists
            all of them.
    """
    squash = {x.replace("_", "").replace("-", ""): x for x in names()}
    key = str(name).lower().replace("_", "").replace("-", "")
    try:  # spellings without separators are accepted ("mobilenetv2" for "mobilenet_v2")
        builder = BUILDERS[name] if name in BUILDERS else BUILDERS[squash[key]]
    except KeyError:
        close = difflib.get_close_matches(name, names(), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"unknown workload {name!r}.{hint} Known workloads: {', '.join(names())} "
            f"(see archgym.workloads.names())"
        ) from None
    return builder()


def as_workload(workload: Any, who: str = "cost model") -> Workload:
    """A :class:`Workload` from a workload, a built-in name (see :func:`get`) or one
    :class:`Layer`; ``who`` names the caller in the error for anything else.

    Raises:
        ConfigError: ``workload`` is none of those, or an unknown name.
    """
    if isinstance(workload, Workload):
        return workload
    if isinstance(workload, Layer):
        return Workload(workload.name, (workload,))
    if isinstance(workload, str):
        return get(workload)
    raise ConfigError(
        f"{who}: workload must be a Workload, a workload name or a Layer, but got "
        f"{type(workload).__name__}; see archgym.workloads.names()"
    )
