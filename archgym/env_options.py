"""The keyword arguments an env factory accepts, with defaults and documented values.

Read from the factory's signature and its Google-style docstring (``Args:``), plus
:class:`~archgym.env.DSEEnv`'s own when the factory forwards ``**kwargs`` to it; used by
``archgym.make`` to name the accepted keys of a misspelt one and by ``archgym describe``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

__all__ = ["env_options"]

#: DSEEnv arguments a factory with ``**kwargs`` passes through (set by archgym itself).
_INTERNAL = {"env_id", "kwargs"}


def _arg_docs(fn: Callable[..., Any]) -> dict[str, str]:
    """Argument descriptions from a Google-style ``Args:`` section (continuation lines
    joined)."""
    doc = inspect.getdoc(fn) or ""
    out: dict[str, str] = {}
    in_args, current, indent = False, None, None
    for line in doc.splitlines():
        if re.match(r"^(Args|Arguments|Parameters):\s*$", line):
            in_args = True
            continue
        if in_args and re.match(r"^\S", line):  # the next section
            break
        if not in_args:
            continue
        m = re.match(r"^(\s+)(\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if m and (indent is None or len(m.group(1)) == indent):
            indent = len(m.group(1))
            current = m.group(2).lstrip("*")
            out[current] = m.group(3).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def env_options(factory: Callable[..., Any]) -> list[dict[str, Any]]:
    """The keyword arguments ``archgym.make`` accepts for an env built by ``factory``: its
    own parameters and, when it forwards ``**kwargs``, those of :class:`~archgym.env.DSEEnv`.

    Each entry: ``name``, ``default`` (``None`` when required), ``doc`` (from the docstring,
    which states accepted values) and ``via`` (``"factory"``, ``"DSEEnv"``, or ``"archgym"``
    for ``objective``/``constraints`` a factory does not take: ``archgym.make`` applies them).
    """
    from archgym.env import DSEEnv

    out: list[dict[str, Any]] = []
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return out
    docs = _arg_docs(factory)
    forwards = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name, p in params.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or name in _INTERNAL:
            continue
        default = None if p.default is p.empty else p.default
        out.append({"name": name, "default": default, "doc": docs.get(name, ""), "via": "factory"})
    have = {o["name"] for o in out}
    for name, doc in (
        (
            "objective",
            "Objective spec, applied by archgym.make (default: the cost model's first metric).",
        ),
        ("constraints", "Constraints such as 'area_mm2 <= 5', applied by archgym.make."),
    ):
        if name not in have and not forwards:  # archgym applies them (see registry.make)
            out.append({"name": name, "default": None, "doc": doc, "via": "archgym"})
    if forwards:
        env_docs = _arg_docs(DSEEnv)
        for name, p in inspect.signature(DSEEnv.__init__).parameters.items():
            if name in ("self", "space", "cost_model", "workload") or name in _INTERNAL:
                continue
            if name in have:
                continue
            default = None if p.default is p.empty else p.default
            out.append(
                {"name": name, "default": default, "doc": env_docs.get(name, ""), "via": "DSEEnv"}
            )
    return out
