"""Per-GPU against joint (H100 + H200) learned kernel models, by inner CV on training shapes.

    python benchmarks/kernel_joint_cv.py

Development protocol (the outer held-out folds of ``bench_kernel_fidelity.py`` are never looked
at): the two GPUs' trusted rows are pooled and split 5-fold grouped by **shape name** -- a
shape measured on both GPUs falls in one fold for both, so no held-out shape is seen through
the other GPU -- and only outer fold 0's training shapes are used. On them, a grouped 4-fold
CV (again by shape over both GPUs) fits per inner fold each GPU's calibration on that GPU's
training rows, and these boosters on ``log(measured / analytical)``:

* ``own``: one booster per GPU on its own rows (the shipped v4 model);
* ``joint``: one booster on both GPUs' rows, each row's features computed with its own GPU's
  spec and calibration, plus the GPU's spec as features (:func:`gpu_columns`);
* ``joint-eq``: the same, the rows weighted so that each GPU carries the same total weight;
* ``joint-h200cal``: the same as ``joint``, but every row's analytical features use the H200
  calibration (one set of fitted constants for both Hopper parts, the GPU differing only by
  its spec).

Each is scored per GPU by the regret of its argmin per held-out group (the benchmark's
definition, ``bench_kernel_fidelity.ranking``), Spearman and |error|.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from archgym.envs.kernel.analytical import path_keys
from archgym.envs.kernel.calibrate import ROW_COLUMNS, fit_calibration
from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.learned import BOOSTER_PARAMS, features, gpu_columns

GPUS = ("H100-SXM", "H200-SXM")


def _x(part: pd.DataFrame, gpu: str, calib: dict) -> tuple[np.ndarray, np.ndarray]:
    spec = get_gpu(gpu)
    f = features({k: part[k].to_numpy() for k in ROW_COLUMNS}, spec, calib)
    return np.column_stack([f["x"], *gpu_columns(spec, len(part))]), f["ana"]


def inner_cv(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    tr, _ = next(GroupKFold(n_splits=5).split(frame, groups=frame["shape"]))
    df = frame.iloc[tr].copy()
    names = ("own", "joint", "joint-eq", "joint-h200cal")
    for c in names:
        df[c] = np.nan
    df["fold"] = -1
    kw = {"max_iter": 300, "random_state": seed, **BOOSTER_PARAMS}
    for i, (a, b) in enumerate(GroupKFold(n_splits=4).split(df, groups=df["shape"])):
        t0 = time.perf_counter()
        train, test = df.iloc[a], df.iloc[b]
        cal = {g: fit_calibration(train[train["gpu"] == g], g, seed=seed) for g in GPUS}
        xs, ys, ws, xs_h, tests = [], [], [], [], {}
        for g in GPUS:
            tr_g, te_g = train[train["gpu"] == g], test[test["gpu"] == g]
            x, ana = _x(tr_g, g, cal[g])
            y = np.log(tr_g["latency_s"].to_numpy()) - np.log(ana)
            with threadpool_limits(1):
                own = HistGradientBoostingRegressor(**kw).fit(x, y)
            xt, at = _x(te_g, g, cal[g])
            xh, ah = _x(tr_g, g, cal["H200-SXM"])
            xth, ath = _x(te_g, g, cal["H200-SXM"])
            df.loc[te_g.index, "own"] = at * np.exp(own.predict(xt))
            xs.append(x)
            ys.append(y)
            ws.append(np.full(len(y), 1.0 / len(y)))
            xs_h.append((xh, np.log(tr_g["latency_s"].to_numpy()) - np.log(ah)))
            tests[g] = (te_g.index, xt, at, xth, ath)
        x, y = np.vstack(xs), np.concatenate(ys)
        w = np.concatenate(ws)
        w *= len(w) / w.sum()
        xh = np.vstack([p[0] for p in xs_h])
        yh = np.concatenate([p[1] for p in xs_h])
        with threadpool_limits(1):
            joint = HistGradientBoostingRegressor(**kw).fit(x, y)
            joint_eq = HistGradientBoostingRegressor(**kw).fit(x, y, sample_weight=w)
            joint_h = HistGradientBoostingRegressor(**kw).fit(xh, yh)
        for _g, (idx, xt, at, xth, ath) in tests.items():
            df.loc[idx, "joint"] = at * np.exp(joint.predict(xt))
            df.loc[idx, "joint-eq"] = at * np.exp(joint_eq.predict(xt))
            df.loc[idx, "joint-h200cal"] = ath * np.exp(joint_h.predict(xth))
        df.loc[test.index, "fold"] = i
        print(f"inner fold {i}: {len(train)} train / {len(test)} test rows, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    df["path"] = path_keys(df["backend"], df["sparsity"], df["precision"], df["op"])
    return df


def score(df: pd.DataFrame) -> list[str]:
    sys.path.insert(0, "benchmarks")
    from kernel_pick_rules import score_line

    out = []
    for g in GPUS:
        part = df[df["gpu"] == g]
        for name in ("own", "joint", "joint-eq", "joint-h200cal"):
            out.append(score_line(f"{g} {name:14s}", part, part[name]))
    return out


def main(argv: list[str] | None = None) -> int:
    # no options: --help prints the docstring's first line, any argument is refused (exit 2)
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    frame = pd.concat([trusted_rows(load_dataset(DATASETS[g], g)) for g in GPUS], ignore_index=True)
    t0, c0 = time.perf_counter(), time.process_time()
    df = inner_cv(frame)
    print(f"inner 4-fold CV on pooled outer fold 0's training shapes "
          f"({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU):")  # fmt: skip
    print("\n".join(score(df)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
