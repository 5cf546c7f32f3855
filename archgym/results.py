"""What an environment hands back for a batch of evaluated designs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.cost_model import Evaluations

__all__ = ["Results"]


@dataclass
class Results:
    """A batch of evaluated designs, with everything an agent or the store needs.

    Attributes:
        designs: The (validated, canonical) designs, in order.
        evals: Raw cost-model output (metrics, feasibility, reasons).
        values: ``(n, k)`` objective values in minimisation form; NaN where infeasible.
        violations: ``(n, c)`` constraint violations (0 = satisfied; inf = infeasible).
        reward: ``(n,)`` scalar rewards (higher is better).
        eval_time_s: Wall time the cost model took for the whole batch.
    """

    designs: list[dict[str, Any]]
    evals: Evaluations
    values: np.ndarray
    violations: np.ndarray
    reward: np.ndarray
    eval_time_s: float = 0.0

    def __len__(self) -> int:
        return len(self.designs)

    @property
    def feasible(self) -> np.ndarray:
        """Bool ``(n,)``: the cost model could build the design."""
        return self.evals.feasible

    @property
    def admissible(self) -> np.ndarray:
        """Bool ``(n,)``: feasible and within every constraint."""
        ok = self.evals.feasible.copy()
        if self.violations.shape[1]:
            ok &= np.all(self.violations == 0, axis=1)
        return ok

    def subset(self, idx: Sequence[int]) -> Results:
        """The rows ``idx``, in that order."""
        ix = np.asarray(idx, dtype=int)
        ev = self.evals
        sub = Evaluations(
            metrics={k: v[ix] for k, v in ev.metrics.items()},
            feasible=ev.feasible[ix],
            reasons=[ev.reasons[i] for i in ix],
            extras=[ev.extras[i] for i in ix] if ev.extras is not None else None,
        )
        return Results(
            designs=[self.designs[i] for i in ix],
            evals=sub,
            values=self.values[ix],
            violations=self.violations[ix],
            reward=self.reward[ix],
            eval_time_s=self.eval_time_s * len(ix) / max(len(self), 1),
        )
