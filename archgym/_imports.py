"""Lazy import of optional dependencies with an install hint."""

from __future__ import annotations

import importlib
from pathlib import Path
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
            f"({exc}); install it with: {install_hint(extra)}"
        ) from exc


def install_hint(extra: str) -> str:
    """The pip command that adds archgym's ``extra``: from the source checkout archgym runs
    from (an editable install: ``pip install -e "/path/to/archgym[extra]"``), else from the
    package index."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        is_checkout = pyproject.is_file() and 'name = "archgym"' in pyproject.read_text()
    except OSError:
        is_checkout = False
    if is_checkout:
        here = Path.cwd().resolve()
        where = "." if here == root else str(root)
        return f'pip install -e "{where}[{extra}]"'
    return f'pip install "archgym[{extra}]"'
