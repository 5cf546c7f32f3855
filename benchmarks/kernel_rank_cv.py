"""A ranking loss for the learned kernel model's pick, by inner CV on training shapes only.

    python benchmarks/kernel_rank_cv.py                          # both GPUs, every variant
    python benchmarks/kernel_rank_cv.py --gpu H100-SXM --fold 2 --save DIR   # one inner fold
    python benchmarks/kernel_rank_cv.py --score DIR              # score the saved folds

Development protocol (the outer held-out folds of ``bench_kernel_fidelity.py`` are never looked
at), as ``kernel_pick_rules.py``: outer fold 0's training shapes (5-fold grouped by shape), a
grouped 4-fold CV on them; per inner fold the calibration is fitted on the inner training rows
and the shipped features (:func:`archgym.envs.kernel.learned.features`) computed with it.
Fitted per inner fold:

* ``v6``: the shipped pick, the slower of the squared-error and the median (quantile 0.5)
  ``HistGradientBoostingRegressor`` on ``log(measured / analytical)`` (kernel-learned@6);
* LightGBM rankers (``lambdarank`` or ``rank_xendcg``) on the Triton rows, one query per
  (shape, op, precision, sparsity) group, relevance grade
  ``max(0, G - ceil(log(t / t_best) / log(1 + step)))``: the group's fastest config gets ``G``,
  each ``step`` slower one grade less (:data:`RANKERS` lists the gradings and objectives).

Each ranker is scored three ways (the latency the model reports stays the regression's):
``rank`` picks the ranker's argmax; ``top-k`` picks the ranker's best among v6's ``k``
fastest predictions; ``blend`` orders by the mean of the two within-group ranks. Scores are
the benchmark's (``bench_kernel_fidelity.ranking``): median Spearman, regret median / p90 /
worst of the pick, top-1.

Each ranker is also blended per design, ``log(v6 latency) - w * score`` for each weight ``w`` of
:data:`BLEND_WEIGHTS` (``lin<w>``; a group's offset of the score changes no pick, so the blend
is a property of one design, unlike the rank mean). Result (2026-12-02, the 16-core device, 104
jobs in 155 s; H100 148 / H200 279 held-out groups; regret median / p90 / worst): v6 0.00 /
18.69 / 84.5 ; 3.29 / 15.41 / 53.4 %. ``lr-2%x20 lin0.02`` 0.00 / 10.53 / 84.5 ; 1.80 / 10.78 /
50.9 % -- adopted as kernel-learned@7's ``pick="ranked"``. Every lambdarank ranker at ``w =
0.02`` lowers the H200 median and both GPUs' p90 without a worse worst case, but for the 1 %
grading (H100 worst 107 %); the rankers alone, top-k and larger weights lose on H100 (the module
docstring of :mod:`archgym.envs.kernel.learned` lists them).

The folds are independent jobs (``--fold``, ``--save``: one ``.npz`` of predictions per GPU
and fold, no pickle), so a machine with many cores can run them at once; ``--score`` reads them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _timing import shipped_gpu_option

from archgym.envs.kernel.analytical import path_keys
from archgym.envs.kernel.calibrate import ROW_COLUMNS, fit_calibration
from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.learned import BOOSTER_PARAMS, RANKER_PARAMS, features

GROUP = ["shape", "op", "precision", "sparsity"]
#: name -> (objective, grade step, G, learning rate, leaves, start): ``start="ana"`` starts the
#: ranker's score at ``-log(analytical latency)`` (LightGBM's ``init_score``), so its trees
#: learn a correction of the analytical order; ``None`` starts it at 0.
RANKERS: dict[str, tuple[str, float, int, float, int, str | None]] = {
    "lr-2%x20": ("lambdarank", 0.02, 20, 0.05, 63, None),
    "lr-5%x10": ("lambdarank", 0.05, 10, 0.05, 63, None),
    "lr-10%x6": ("lambdarank", 0.10, 6, 0.05, 63, None),
    "lr-20%x4": ("lambdarank", 0.20, 4, 0.05, 63, None),
    "lr-1%x30": ("lambdarank", 0.01, 30, 0.05, 63, None),
    "xe-5%x10": ("rank_xendcg", 0.05, 10, 0.05, 63, None),
    "xe-2%x20": ("rank_xendcg", 0.02, 20, 0.05, 63, None),
    "lr-10%x6-l15": ("lambdarank", 0.10, 6, 0.05, 15, None),
    "lr-5%x10-ana": ("lambdarank", 0.05, 10, 0.05, 63, "ana"),
    "lr-10%x6-ana": ("lambdarank", 0.10, 6, 0.05, 63, "ana"),
    "lr-2%x20-ana": ("lambdarank", 0.02, 20, 0.05, 63, "ana"),
    "xe-5%x10-ana": ("rank_xendcg", 0.05, 10, 0.05, 63, "ana"),
}
#: LightGBM settings of every ranker besides what its entry in :data:`RANKERS` sets
#: (deterministic): those of the shipped ranker, ``RANKER_PARAMS``.
RANK_PARAMS: dict[str, Any] = {
    k: v
    for k, v in RANKER_PARAMS.items()
    if k not in ("objective", "learning_rate", "num_leaves", "grade_step", "grade_top", "weight")
}
TOPK = (3, 5, 10)
BLEND_WEIGHTS = (0.02, 0.05, 0.1, 0.2)


def outer_train(gpu: str) -> pd.DataFrame:
    """Outer fold 0's training rows of ``gpu``'s shipped data, index reset."""
    from sklearn.model_selection import GroupKFold

    frame = trusted_rows(load_dataset(DATASETS[gpu], gpu))
    tr, _ = next(GroupKFold(n_splits=5).split(frame, groups=frame["shape"]))
    return frame.iloc[tr].reset_index(drop=True)


def grades(latency: np.ndarray, group: np.ndarray, step: float, top: int) -> np.ndarray:
    """Integer relevance per row: ``top`` for its group's fastest, one less per ``step``."""
    best = pd.Series(latency).groupby(group).transform("min").to_numpy()
    g = top - np.ceil(np.log(latency / best) / np.log1p(step) - 1e-9)
    return np.maximum(g, 0).astype(int)


def fit_fold(df: pd.DataFrame, gpu: str, fold: int, names: list[str], seed: int = 0) -> dict:
    """Predictions on inner fold ``fold``'s held-out rows: ``v6`` latency and ranker scores."""
    import lightgbm as lgb
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    spec = get_gpu(gpu)
    a, b = list(GroupKFold(n_splits=4).split(df, groups=df["shape"]))[fold]
    train, test = df.iloc[a], df.iloc[b]
    calib = fit_calibration(train, spec, seed=seed)
    ftr = features({k: train[k].to_numpy() for k in ROW_COLUMNS}, spec, calib)
    fte = features({k: test[k].to_numpy() for k in ROW_COLUMNS}, spec, calib)
    out: dict[str, np.ndarray] = {"index": b}
    if "v6" in names:
        y = np.log(train["latency_s"].to_numpy()) - np.log(ftr["ana"])
        kw = {"max_iter": 300, "random_state": seed, **BOOSTER_PARAMS}
        with threadpool_limits(1):
            mean = HistGradientBoostingRegressor(**kw).fit(ftr["x"], y)
            med = HistGradientBoostingRegressor(loss="quantile", quantile=0.5, **kw)
            med.fit(ftr["x"], y)
            z = np.maximum(mean.predict(fte["x"]), med.predict(fte["x"]))
        out["v6"] = fte["ana"] * np.exp(z)
    tri = (train["backend"] == "triton").to_numpy()
    key = train[GROUP].astype(str).agg("|".join, axis=1).to_numpy()[tri]
    order = np.argsort(key, kind="stable")  # LightGBM wants each query's rows contiguous
    xr = ftr["x"][tri][order]
    _, sizes = np.unique(key[order], return_counts=True)
    lat = train["latency_s"].to_numpy()[tri][order]
    ana_tr = ftr["ana"][tri][order]
    for name in names:
        if name == "v6":
            continue
        objective, step, top, lr, leaves, start = RANKERS[name]
        label = grades(lat, key[order], step, top)
        model = lgb.LGBMRanker(
            objective=objective,
            learning_rate=lr,
            num_leaves=leaves,
            random_state=seed,
            **RANK_PARAMS,
        )
        init = -np.log(ana_tr) if start == "ana" else None
        model.fit(xr, label, group=sizes, init_score=init)
        s = model.predict(fte["x"], num_threads=1)
        out[name] = s - np.log(fte["ana"]) if start == "ana" else s
    return out


def _rank_in_group(values: pd.Series, group: pd.Series) -> np.ndarray:
    return values.groupby(group).rank(method="first").to_numpy()


def score(df: pd.DataFrame) -> list[str]:
    """One line per variant (module docstring), on the Triton rows of ``df``."""
    sys.path.insert(0, "benchmarks")
    from bench_kernel_fidelity import ranking

    df = df[df["backend"] == "triton"].copy()
    grp = df[GROUP].astype(str).agg("|".join, axis=1)
    keys: dict[str, np.ndarray] = {"v6": df["v6"].to_numpy()}
    r6 = _rank_in_group(df["v6"], grp)
    for name in (c for c in RANKERS if c in df):
        rr = _rank_in_group(-df[name], grp)
        keys[f"{name} rank"] = rr
        for k in TOPK:  # ranker's order among v6's k fastest, then v6's order
            inner = _rank_in_group(pd.Series(np.where(r6 <= k, rr, np.inf), index=df.index), grp)
            keys[f"{name} top-{k}"] = np.where(r6 <= k, inner, r6)
        keys[f"{name} blend"] = r6 + rr + 1e-6 * r6
        for w in BLEND_WEIGHTS:  # per design: a group's offset of the score changes no pick
            keys[f"{name} lin{w}"] = np.log(df["v6"].to_numpy()) - w * df[name].to_numpy()
    lines = []
    for label, key in keys.items():
        d = df.copy()
        d["lrn"] = key
        d["ana"] = key
        r = ranking(d)
        reg = 100 * r["lrn_regret"]
        lines.append(
            f"  {label:18s} Spearman {r['lrn_rho'].median():.3f}; regret median "
            f"{reg.median():.2f} %, p90 {reg.quantile(0.9):.2f} %, worst {reg.max():.1f} %; "
            f"top-1 {100 * r['lrn_top1'].mean():.0f} % ({len(r)} groups)"
        )
    return lines


def _save(path: Path, out: dict) -> None:
    np.savez(path, **{k: np.asarray(v) for k, v in out.items()})


def _collect(gpu: str, directory: Path) -> pd.DataFrame:
    df = outer_train(gpu)
    df["fold"] = -1
    for f in sorted(directory.glob(f"{gpu}_fold*.npz")):
        with np.load(f, allow_pickle=False) as z:
            idx = z["index"]
            df.loc[idx, "fold"] = int(f.stem.split("fold")[1].split("_")[0])
            for name in z.files:
                if name != "index":
                    df.loc[idx, name] = z[name]
    df = df[df["fold"] >= 0]
    df["path"] = path_keys(df["backend"], df["sparsity"], df["precision"], df["op"])
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped_gpu_option(ap)
    ap.add_argument("--fold", type=int, choices=range(4), help="one inner fold only")
    ap.add_argument("--variant", action="append", default=[], help="v6 or a RANKERS name")
    ap.add_argument("--save", type=Path, help="write each fold's predictions here (.npz)")
    ap.add_argument("--score", type=Path, help="score the folds saved in this folder")
    args = ap.parse_args(argv)
    gpus = args.gpu or sorted(DATASETS)
    names = args.variant or ["v6", *RANKERS]
    bad = [v for v in names if v != "v6" and v not in RANKERS]
    if bad:
        ap.error(f"unknown --variant {bad}; known: v6, {', '.join(RANKERS)}")
    if args.score is not None:
        for gpu in gpus:
            df = _collect(gpu, args.score)
            print(f"{gpu} inner 4-fold CV on outer fold 0's training shapes "
                  f"({df['fold'].nunique()} folds saved):")  # fmt: skip
            print("\n".join(score(df)), flush=True)
        return 0
    directory = args.save
    if directory is None:
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="kernel_rank_cv_"))
    directory.mkdir(parents=True, exist_ok=True)
    for gpu in gpus:
        df = outer_train(gpu)
        for fold in [args.fold] if args.fold is not None else range(4):
            t0, c0 = time.perf_counter(), time.process_time()
            tag = "_".join(n.replace("%", "pc") for n in names) if args.variant else "all"
            out = fit_fold(df, gpu, fold, names)
            _save(directory / f"{gpu}_fold{fold}_{tag}.npz", out)
            print(f"{gpu} fold {fold} ({', '.join(names)}): {time.perf_counter() - t0:.0f} s "
                  f"wall, {time.process_time() - c0:.0f} s CPU", flush=True)  # fmt: skip
    if args.save is None:
        return main([*sum((["--gpu", g] for g in gpus), []), "--score", str(directory)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
