"""Shared pieces of the conformance suites: the report, the error, and a cost-model wrapper
that makes some evaluations infeasible on purpose."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.cost_model import CostModel, Evaluations, designs_to_columns
from archgym.errors import ArchGymError

__all__ = ["ConformanceError", "ConformanceReport", "FlakyCostModel", "canonical"]


class ConformanceError(ArchGymError, AssertionError):
    """A conformance check failed; the message names the check, what was expected and what
    happened."""


@dataclass
class ConformanceReport:
    """What a suite checked.

    Attributes:
        subject: The agent or env checked (and the env it ran on).
        passed: Names of the checks that passed, in order.
        skipped: Check name -> why it did not apply.
    """

    subject: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        skipped = "; ".join(f"{k} ({v})" for k, v in self.skipped.items())
        return f"{self.subject}: passed {', '.join(self.passed)}" + (
            f"; skipped {skipped}" if skipped else ""
        )


def canonical(design: Mapping[str, Any]) -> str:
    """A stable string for a design (for trajectory comparison)."""
    return json.dumps(dict(design), sort_keys=True, default=repr)


def fail(check: str, subject: str, message: str) -> ConformanceError:
    """The error for a failed check."""
    return ConformanceError(f"[{check}] {subject}: {message}")


class FlakyCostModel(CostModel):
    """Wraps a cost model and marks about ``rate`` of the designs infeasible (NaN metrics,
    reason ``"injected by FlakyCostModel"``), chosen by a hash of the design so the same
    design is always treated alike. Used to check that agents cope with infeasible results.

    Args:
        inner: The real cost model.
        rate: Fraction of designs to fail, in ``[0, 1]``.
    """

    def __init__(self, inner: CostModel, rate: float = 0.3) -> None:
        self.inner = inner
        self.rate = float(rate)
        self.name = f"flaky({inner.name})"  # type: ignore[misc]
        self.version = inner.version  # type: ignore[misc]
        self.metrics = inner.metrics  # type: ignore[misc]

    def _fails(self, columns: Mapping[str, np.ndarray], i: int) -> bool:
        key = json.dumps(
            {k: np.asarray(v)[i].item() for k, v in columns.items()}, sort_keys=True, default=str
        )
        h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")
        return h / 2**32 < self.rate

    def evaluate(self, designs: Any, workload: Any = None) -> Evaluations:
        columns, n = designs_to_columns(designs)
        out = self.inner.evaluate(designs, workload)
        bad = np.array([self._fails(columns, i) for i in range(n)], dtype=bool)
        metrics = {k: np.where(bad, np.nan, v) for k, v in out.metrics.items()}
        reasons = [
            "injected by FlakyCostModel" if b else r for b, r in zip(bad, out.reasons, strict=True)
        ]
        return Evaluations(metrics, out.feasible & ~bad, reasons, out.extras)

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        return self.evaluate(columns, workload)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "inner": self.inner.describe()}


def failed_evaluations(n: int, metric_names: Sequence[str], reason: str) -> Evaluations:
    """``n`` evaluations that all failed (what a crashed simulator call yields)."""
    return Evaluations.infeasible(n, metric_names, reason)
