"""Lazy import of optional dependencies with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from archgym.errors import MissingDependencyError


def optional_import(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an error that gives the pip command that installs it.

    Args:
        module: The importable module name, e.g. ``"scalesim"``.
        extra: The archgym extra that provides it, e.g. ``"scalesim"``.

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"optional dependency {module!r} is required here but is not installed "
            f'({exc}); install it with: pip install "archgym[{extra}]"'
        ) from exc
