"""Argument parsing shared by ``archgym`` and its subcommands."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archgym.errors import ConfigError

__all__ = ["parse_kv"]


def parse_kv(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """Parse ``key=value`` options; values are JSON when they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} must look like key=value, but got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
