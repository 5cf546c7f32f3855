"""Pareto fronts and hypervolume for minimisation problems."""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_mask", "hypervolume"]


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Bool mask of non-dominated rows of ``values`` (``(n, k)``, lower is better).

    Rows containing NaN are never on the front. Duplicated points are all kept.
    """
    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    ok = ~np.any(np.isnan(v), axis=1)
    mask = ok.copy()
    idx = np.flatnonzero(ok)
    pts = v[idx]
    for j, i in enumerate(idx):
        others = pts
        dominated = np.any(np.all(others <= pts[j], axis=1) & np.any(others < pts[j], axis=1))
        if dominated:
            mask[i] = False
    return mask if n else np.zeros(0, dtype=bool)


def hypervolume(values: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by ``values`` and bounded by ``reference`` (minimisation).

    Exact, by recursive slicing over the first objective (HSO); fine for fronts of a few
    hundred points and up to 4 objectives. Points not strictly better than the reference in
    every objective contribute nothing.
    """
    v = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if v.size == 0:
        return 0.0
    v = v[~np.any(np.isnan(v), axis=1)]
    v = v[np.all(v < ref, axis=1)]
    if v.shape[0] == 0:
        return 0.0
    v = v[pareto_mask(v)]
    return float(_hso(v, ref))


def _hso(points: np.ndarray, ref: np.ndarray) -> float:
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    order = np.argsort(points[:, 0])
    pts = points[order]
    total = 0.0
    for i in range(pts.shape[0]):
        upper = pts[i + 1, 0] if i + 1 < pts.shape[0] else ref[0]
        width = upper - pts[i, 0]
        if width <= 0:
            continue
        sub = pts[: i + 1, 1:]
        sub = sub[pareto_mask(sub)]
        total += width * _hso(sub, ref[1:])
    return total
