"""A learned accuracy surrogate trained on a NAS table (``accuracy="proxy"``).

Features are hand-made and defined for the *full* search space, so the surrogate also
predicts architectures outside the table (extrapolation: trust it less there). The model is
scikit-learn's ``HistGradientBoostingRegressor`` with a fixed ``random_state``; it is fitted in
memory from the table (about a second), never unpickled from disk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from archgym.envs.nas.arch import MAX_BLOCKS, plan_network
from archgym.envs.nas.compress import Compression, parse_sparsity

__all__ = ["featurize", "AccuracySurrogate", "FEATURE_NAMES"]

_ACTS = ("relu", "gelu", "silu", "hardswish")
_DOWNS = ("none", "stride", "maxpool")


def _names() -> list[str]:
    names = ["num_blocks", *(f"act_{a}" for a in _ACTS), "log_params", "log_macs", "final_size"]
    for i in range(1, MAX_BLOCKS + 1):
        names += [
            f"b{i}_active",
            f"b{i}_log_width",
            f"b{i}_kernel",
            f"b{i}_expand",
            f"b{i}_skip",
            *(f"b{i}_down_{d}" for d in _DOWNS),
        ]
    names += ["density", "is_nm", "is_block", "is_unstructured", "weight_bits", "scope_all"]
    return names


FEATURE_NAMES = tuple(_names())


def featurize(
    designs: Sequence[Mapping[str, Any]], in_channels: int, in_size: int, ndim: int, n_classes: int
) -> np.ndarray:
    """Designs (architecture + ``sparsity``/``weight_bits``/``scope``) -> ``(n, F)`` floats.

    Architecture and compression features are memoised per distinct value, so featurising a
    whole table (tens of thousands of rows, ~1,000 architectures) takes about a second.
    """
    from archgym.envs.nas.arch import arch_key

    arch_memo: dict[str, list[float]] = {}
    comp_memo: dict[tuple[str, int, str], list[float]] = {}
    rows = []
    for d in designs:
        key = arch_key(d)
        fa = arch_memo.get(key)
        if fa is None:
            fa = arch_memo[key] = _arch_features(d, in_channels, in_size, ndim, n_classes)
        ck = (str(d["sparsity"]), int(d["weight_bits"]), str(d["scope"]))
        fc = comp_memo.get(ck)
        if fc is None:
            kind, _, _ = parse_sparsity(ck[0])
            comp = Compression(*ck)
            fc = comp_memo[ck] = [
                comp.density,
                float(kind == "nm"),
                float(kind == "block"),
                float(kind == "unstructured"),
                float(comp.weight_bits),
                float(comp.scope == "all"),
            ]
        rows.append(fa + fc)
    return np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))


def _arch_features(
    d: Mapping[str, Any], in_channels: int, in_size: int, ndim: int, n_classes: int
) -> list[float]:
    plan = plan_network(d, in_channels, in_size, ndim, n_classes)
    n = int(d["num_blocks"])
    f: list[float] = [n, *(float(d["activation"] == a) for a in _ACTS)]
    f += [
        math.log(max(plan.params, 1)),
        math.log(max(plan.macs, 1)),
        float(plan.layers[-2].out_size) if plan.feasible else 0.0,
    ]
    for i in range(1, MAX_BLOCKS + 1):
        if i <= n:
            f += [
                1.0,
                math.log2(int(d[f"b{i}_width"])),
                int(d[f"b{i}_kernel"]),
                int(d[f"b{i}_expand"]),
                float(bool(d[f"b{i}_skip"])),
                *(float(d[f"b{i}_down"] == x) for x in _DOWNS),
            ]
        else:
            f += [0.0] * (5 + len(_DOWNS))
    return f


class AccuracySurrogate:
    """Gradient-boosted regression of validation accuracy on :func:`featurize` features.

    Args:
        seed: ``random_state`` of the regressor.
        max_iter: Boosting iterations.
    """

    def __init__(self, seed: int = 0, max_iter: int = 150, max_rows: int = 20_000) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.seed = seed
        self.max_rows = max_rows
        self.model = HistGradientBoostingRegressor(
            max_iter=max_iter,
            learning_rate=0.1,
            max_leaf_nodes=31,
            max_bins=63,
            early_stopping=False,
            random_state=seed,
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> AccuracySurrogate:
        """Fit on features ``x`` and accuracies ``y`` (NaN rows dropped; at most ``max_rows``
        rows, a seeded random subset, to keep fitting to seconds). Single-threaded."""
        from threadpoolctl import threadpool_limits

        ok = np.flatnonzero(np.isfinite(y))
        if len(ok) > self.max_rows:
            ok = np.sort(np.random.default_rng(self.seed).choice(ok, self.max_rows, replace=False))
        with threadpool_limits(1):
            self.model.fit(x[ok], y[ok])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted accuracy, clipped to ``[0, 1]``."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return np.clip(self.model.predict(x), 0.0, 1.0)
