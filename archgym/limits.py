"""Size limits: values that would not fit in memory or time are refused before anything runs.

A typo such as ``seeds = 100000000`` or ``--agent-opt popsize=99999999999`` used to run for
minutes (or exhaust memory) before failing. Each limit below is far above any real use and
far below what breaks; an error names the value, the computed size, the limit and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from archgym.errors import ConfigError

__all__ = [
    "MAX_SEED",
    "MAX_BUDGET",
    "MAX_BATCH_SIZE",
    "MAX_HPARAM_COUNT",
    "MAX_SEEDS",
    "MAX_SAMPLES",
    "MAX_GRID",
    "MAX_EXPERIMENTS",
    "check_count",
    "check_hparams",
]

#: Seeds are 32-bit (NumPy's legacy state, Optuna's samplers and torch take no more).
MAX_SEED = 2**32 - 1
#: Evaluations of one run: its records are kept in memory (a few kB each).
MAX_BUDGET = 10_000_000
#: Designs asked per round (one vectorised cost-model call holds them all).
MAX_BATCH_SIZE = 1_000_000
#: Largest integer hyperparameter (population sizes, ant counts, hidden widths, bins...).
MAX_HPARAM_COUNT = 1_000_000
#: Seeds of one sweep.
MAX_SEEDS = 100_000
#: Random hyperparameter draws per grid point of one agent entry.
MAX_SAMPLES = 100_000
#: Grid points (the product of the grid's list lengths) of one agent entry.
MAX_GRID = 1_000_000
#: Experiments of one sweep (each is a run directory and an entry of sweep.json).
MAX_EXPERIMENTS = 500_000


def check_count(what: str, value: int, limit: int, fix: str = "") -> None:
    """Raise :class:`ConfigError` if ``value`` exceeds ``limit``.

    Raises:
        ConfigError: ``{what} is {value}, over the limit of {limit}; {fix}``.
    """
    if value > limit:
        hint = f"; {fix}" if fix else ""
        raise ConfigError(f"{what} is {value:,}, over the limit of {limit:,}{hint}")


def check_hparams(agent: str, hparams: Mapping[str, Any]) -> None:
    """Refuse hyperparameter values no agent can use: integers below 0 or above
    :data:`MAX_HPARAM_COUNT` (counts and sizes), and NaN or infinite floats.

    Raises:
        ConfigError: Names the agent, the hyperparameter, the value and the rule.
    """
    for key, value in hparams.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if value < 0:
                raise ConfigError(
                    f"agent {agent!r}: hyperparameter {key!r} must be >= 0 (a count or a size), "
                    f"but got {value}"
                )
            check_count(
                f"agent {agent!r}: hyperparameter {key!r}",
                value,
                MAX_HPARAM_COUNT,
                "a count or size this large would not fit in memory or time",
            )
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"agent {agent!r}: hyperparameter {key!r} must be a finite number, but got {value}"
            )
        elif isinstance(value, str) and value.strip().lower().lstrip("+-") in (
            "nan",
            "inf",
            "infinity",
        ):
            raise ConfigError(
                f"agent {agent!r}: hyperparameter {key!r} must be a finite number, but got {value!r}"
            )
