"""Targets that are another target scaled by a design parameter.

A source model often reports one quantity in two units: Accelerator-v2's ``latency_s`` is
``cycles / (clock_mhz * 1e6)`` on every design. Fitting both spends a second ensemble (a
third of the proxy's trees there) on an identity the records already show, and its errors
need not agree with the first. :func:`find_ratio` finds such a target in the training rows
(exactly, to ``rtol``), and the proxy then predicts it from the other target's prediction:
``target = of * param ** power * scale``, the parameter read back from its feature column.

On Accelerator-v2 (10,000 records, seeds 1/2 of ``benchmarks/proxy.py``) latency's own model
had a held-out nRMSE of 0.799 %; predicted from cycles it is 0.719 %, with 4,118 fewer node
steps per design (12,220 -> 8,102).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["find_ratio", "apply_ratio", "DECODE"]

#: How a numeric parameter's feature column is turned back into the parameter's value.
DECODE = {"log2": "exp2", "value": "none"}


def find_ratio(
    frame: Any,
    target: str,
    others: Sequence[str],
    numeric_features: Mapping[str, tuple[int, str]],
    rows: np.ndarray,
    rtol: float = 1e-9,
) -> dict[str, Any] | None:
    """``{"of", "param", "feature_index", "decode", "power", "scale"}`` when, on every given
    row, ``target == of * param ** power * scale`` (``power`` +1 or -1, one ``scale``, a
    parameter that takes more than one value on those rows), else ``None``.

    Args:
        frame: Records (metrics and design parameters as columns).
        target: The target metric.
        others: Targets it may be derived from (fitted ones), tried in order.
        numeric_features: ``{param: (feature index, "log2" or "value")}`` of the numeric
            design parameters (see :meth:`~archgym.proxy.FeatureEncoder.numeric_features`).
        rows: Boolean mask of the rows to check (feasible, finite).
        rtol: Largest relative deviation of a row from the common scale.
    """
    if not rows.any():
        return None
    y = frame[target].to_numpy(dtype=float)[rows]
    if not (np.isfinite(y).all() and (y > 0).all()):
        return None
    for of in others:
        base = frame[of].to_numpy(dtype=float)[rows]
        if not (np.isfinite(base).all() and (base > 0).all()):
            continue
        for param, (index, how) in numeric_features.items():
            q = frame[param].to_numpy(dtype=float)[rows]
            # a parameter the rows hold constant fits any scale: nothing says the target
            # follows it, and a design with another value would be scaled by it anyway
            if not (np.isfinite(q).all() and (q > 0).all()) or q.min() == q.max():
                continue
            for power in (-1, 1):
                r = y / (base * q**power)
                scale = float(np.median(r))
                if np.all(np.abs(r / scale - 1.0) <= rtol):
                    return {
                        "of": of,
                        "param": param,
                        "feature_index": int(index),
                        "decode": DECODE[how],
                        "power": power,
                        "scale": scale,
                    }
    return None


def apply_ratio(spec: Mapping[str, Any], of_pred: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``of_pred * param ** power * scale``, the parameter decoded from column
    ``spec["feature_index"]`` of the feature matrix ``X``."""
    q = X[:, int(spec["feature_index"])]
    if spec["decode"] == "exp2":
        q = np.exp2(q)
    return of_pred * q ** float(spec["power"]) * float(spec["scale"])
