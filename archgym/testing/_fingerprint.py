"""Output fingerprints: a short hash of what a cost model or an env returns on a fixed seeded
sample of designs, so that a change of results without a version bump is caught.

``tests/data/fingerprints.json`` pins one per ``(cost model name, version)`` and per env id;
``tests/test_versions.py`` recomputes them and ``tests/update_fingerprints.py`` adds the new
versions' to the file after a deliberate, versioned change (earlier versions stay pinned).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from archgym.cost_model import CostModel
from archgym.space import DesignSpace

__all__ = ["cost_model_fingerprint", "env_fingerprint"]

#: Significant digits kept before hashing (robust to last-bit differences between BLAS builds).
DIGITS = 9


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rounded(values: np.ndarray) -> list[Any]:
    return [None if not np.isfinite(v) else float(f"{v:.{DIGITS}g}") for v in values.tolist()]


def cost_model_fingerprint(
    model: CostModel, space: DesignSpace, workload: Any = None, n: int = 64, seed: int = 0
) -> str:
    """Hash of the metrics, feasibility and reasons of ``n`` designs sampled with ``seed``."""
    designs = space.sample(np.random.default_rng(seed), n)
    out = model.evaluate(space.to_columns(designs), workload)
    return _digest(
        {
            "metrics": {k: _rounded(v) for k, v in out.metrics.items()},
            "feasible": out.feasible.tolist(),
            "reasons": out.reasons,
        }
    )


def env_fingerprint(env: Any, n: int = 64, seed: int = 0) -> str:
    """Hash of an env's space, default objective and the rewards and objective values of
    ``n`` designs sampled with ``seed`` (what an agent on the env would see)."""
    designs = env.space.sample(np.random.default_rng(seed), n)
    res = env.evaluate(designs)
    return _digest(
        {
            "space": env.space.fingerprint(),
            "objective": str(env.objective.spec),
            "rewards": _rounded(np.asarray(res.reward, dtype=float)),
            "objectives": _rounded(np.asarray(res.values, dtype=float).ravel()),
        }
    )
