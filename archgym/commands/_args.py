"""Argument parsing shared by ``archgym`` and its subcommands: ``key=value`` options, and
number types under which a malformed or out-of-range value is a usage error (exit 2) naming
the rule and the value, before anything runs."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from archgym.errors import ConfigError
from archgym.limits import MAX_SEED

__all__ = ["parse_kv", "count", "seed", "seconds", "fraction", "cv_folds"]


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


def count(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """An integer in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, but got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, but got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"must be <= {maximum:,}, but got {value:,} (it would not fit in memory or time)"
            )
        return value

    return parse


#: A seed: an integer in [0, 2**32 - 1].
seed = count(0, MAX_SEED)


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, but got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"must be a positive, finite number of seconds, but got {text!r}"
        )
    return value


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], but got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], but got {text!r}")
    return value


def cv_folds(text: str) -> int:
    """Cross-validation folds: 0 (none) or 2 to 100."""
    value = count(0, 100)(text)
    if value == 1:
        raise argparse.ArgumentTypeError("must be 0 (no cross-validation) or >= 2, but got 1")
    return value
