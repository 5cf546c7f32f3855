"""Pareto fronts and hypervolume for minimisation problems.

Both are sub-quadratic in the number of points, so a run's summary stays a small fraction of
the run however many evaluations it holds:

* two objectives: one lexicographic sort and a running minimum, ``O(n log n)``;
* more: a lexicographic sort (a point can only be dominated by points before it), then the
  sorted points in blocks against the front found so far, ``O(n log n + n * front)``;
* hypervolume: an ``O(m log m)`` sweep in two dimensions, slicing (HSO) above that, always on
  the front (``m`` points) only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_mask", "hypervolume"]

#: Points compared against the front at a time (more objectives); bounds the temporary
#: ``(front, block, k)`` comparison arrays.
_BLOCK = 256
_MAX_CELLS = 1 << 22


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Bool mask of non-dominated rows of ``values`` (``(n, k)``, lower is better).

    Rows containing NaN are never on the front. Duplicated points are all kept.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        v = v.reshape(v.shape[0], -1) if v.ndim else v.reshape(1, 1)
    n = v.shape[0]
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    idx = np.flatnonzero(~np.any(np.isnan(v), axis=1))
    if idx.size == 0:
        return mask
    pts = v[idx]
    k = pts.shape[1]
    if k == 0:
        keep = np.ones(idx.size, dtype=bool)
    elif k == 1:
        keep = pts[:, 0] == pts[:, 0].min()
    elif k == 2:
        keep = _front_2d(pts)
    else:
        keep = _front_nd(pts)
    mask[idx[keep]] = True
    return mask


def _front_2d(pts: np.ndarray) -> np.ndarray:
    """Non-dominated mask of ``(n, 2)`` points by a sorted sweep, ``O(n log n)``."""
    x, y = pts[:, 0], pts[:, 1]
    order = np.lexsort((y, x))  # by x, then y
    xs, ys = x[order], y[order]
    starts = np.r_[True, xs[1:] != xs[:-1]]  # first point of each run of equal x
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    group_min = ys[first][group]  # smallest y with the same x (sorted first)
    running = np.minimum.accumulate(ys)
    before = np.r_[np.inf, running][first][group]  # smallest y of all smaller x
    keep_sorted = (ys < before) & (ys == group_min)
    keep = np.empty_like(keep_sorted)
    keep[order] = keep_sorted
    return keep


def _dominated_by(front: np.ndarray, block: np.ndarray) -> np.ndarray:
    """For each row of ``block``: is some row of ``front`` <= it everywhere and < somewhere?"""
    out = np.zeros(block.shape[0], dtype=bool)
    if front.shape[0] == 0:
        return out
    if block.shape[0] > 8 * front.shape[0]:  # many points, few dominators: column by column
        cols = np.ascontiguousarray(block.T)
        for f in front:
            le = cols[0] >= f[0]
            lt = cols[0] > f[0]
            for j in range(1, cols.shape[0]):
                le &= cols[j] >= f[j]
                lt |= cols[j] > f[j]
            out |= le & lt
        return out
    step = max(1, _MAX_CELLS // max(1, block.shape[0] * block.shape[1]))
    for s in range(0, front.shape[0], step):
        f = front[s : s + step, None, :]
        le = np.all(f <= block[None], axis=2)
        lt = np.any(f < block[None], axis=2)
        out |= np.any(le & lt, axis=0)
    return out


def _front_nd(pts: np.ndarray) -> np.ndarray:
    """Non-dominated mask of ``(n, k>2)`` points: sort, then blocks against the front.

    Large sets are first culled against the front of the points with the smallest rank sums
    (strong points that dominate most others), which leaves a small candidate set.
    """
    n = pts.shape[0]
    if n > 4 * _BLOCK:
        ranks = np.argsort(np.argsort(pts, axis=0, kind="stable"), axis=0, kind="stable")
        strong = np.argsort(ranks.sum(axis=1), kind="stable")[:_BLOCK]
        pivots = pts[strong][_front_sorted(pts[strong])]
        cand = np.flatnonzero(~_dominated_by(pivots, pts))
        keep = np.zeros(n, dtype=bool)
        keep[cand] = _front_sorted(pts[cand])
        return keep
    return _front_sorted(pts)


def _front_sorted(pts: np.ndarray) -> np.ndarray:
    order = np.lexsort(pts.T[::-1])  # lexicographic: column 0 first
    sp = pts[order]
    keep_sorted = np.zeros(sp.shape[0], dtype=bool)
    front = sp[:0]
    for s in range(0, sp.shape[0], _BLOCK):
        block = sp[s : s + _BLOCK]
        alive = ~_dominated_by(front, block)
        if alive.any():
            # inside the block only earlier points can dominate later ones; checking all
            # pairs is the same and simpler (a later point never dominates an earlier one)
            cand = block[alive]
            alive_idx = np.flatnonzero(alive)
            alive[alive_idx[_dominated_by(cand, cand)]] = False
        keep_sorted[s : s + _BLOCK] = alive
        if alive.any():
            front = np.concatenate([front, block[alive]])
    keep = np.empty_like(keep_sorted)
    keep[order] = keep_sorted
    return keep


def hypervolume(values: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by ``values`` and bounded by ``reference`` (minimisation).

    Exact: a sorted sweep for two objectives, recursive slicing over the first objective
    (HSO) above that, on the non-dominated points only; fine for fronts of a few thousand
    points and up to 4 objectives. Points not strictly better than the reference in every
    objective contribute nothing.
    """
    v = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if v.size == 0:
        return 0.0
    v = v[~np.any(np.isnan(v), axis=1)]
    v = v[np.all(v < ref, axis=1)]
    if v.shape[0] == 0:
        return 0.0
    v = np.unique(v[pareto_mask(v)], axis=0)
    return float(_hso(v, ref))


def _hv_2d(points: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by mutually non-dominated 2-D points (sorted sweep)."""
    pts = points[np.lexsort((points[:, 1], points[:, 0]))]
    ys = np.minimum.accumulate(pts[:, 1])
    xs_next = np.r_[pts[1:, 0], ref[0]]
    return float(np.sum((xs_next - pts[:, 0]) * (ref[1] - ys)))


def _hso(points: np.ndarray, ref: np.ndarray) -> float:
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    if points.shape[1] == 2:
        return _hv_2d(points, ref)
    order = np.argsort(points[:, 0], kind="stable")
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
