"""Pick rules for the learned kernel model, compared by inner CV on training shapes only.

    python benchmarks/kernel_pick_rules.py --gaps-only     # sampling floor of each GPU's data
    python benchmarks/kernel_pick_rules.py --gpu H200-SXM  # inner CV of the pick rules
    python benchmarks/kernel_pick_rules.py --gpu H200-SXM --without-reduction  # v4's features

Development protocol (the outer held-out folds of ``bench_kernel_fidelity.py`` are never looked
at): take the training shapes of outer fold 0 (5-fold grouped by shape), run a grouped 4-fold
CV on them, fit per inner fold the calibration and four boosters on the log residual
``log(measured / analytical)`` -- squared error, and quantile 0.25 / 0.5 / 0.75 -- and score
each pick rule by the regret of its argmin per held-out group (the benchmark's definition):

* ``mean``: the squared-error booster alone (``pick="mean"``);
* ``q50``: the median booster (robust to outlying timings);
* ``q75``, ``mean+0.5spread``, ``mean+spread``: risk-averse picks that avoid configs predicted
  fast with a wide inter-quantile spread;
* ``avg(mean,q50)``, ``max(mean,q50)``: two-model blends; ``max(mean,q50)`` is the shipped
  pick (kernel-learned v5, ``pick="max-median"``) on the Triton rows, whose regret is scored
  (the shipped model keeps ``mean`` on the vendor rows, so their |error| printed here differs).

The features are the shipped ones (v5: with the measured split-K reduction,
:func:`archgym.envs.kernel.learned.splitk_reduce_s`); ``--without-reduction`` drops those two
columns (v4's features), the comparison that chose v5.

Printed first is the **sampling floor**: per Triton group, the gap between the fastest and the
second-fastest timed config. A pick that is not the measured best costs at least that gap, so
where many groups have a gap over 10 %, a p90 regret of 10 % needs a top-1 hit in nearly all
of them.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from _timing import shipped_gpu_option

from archgym.envs.kernel.analytical import path_keys
from archgym.envs.kernel.calibrate import ROW_COLUMNS, fit_calibration
from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.learned import BOOSTER_PARAMS, features

QUANTILES = (0.25, 0.5, 0.75)


def sampling_floor(frame: pd.DataFrame) -> str:
    """Gap between the best and second-best timed Triton config per group of >= 20 configs."""
    tri = frame[frame["backend"] == "triton"]
    gaps, sizes = [], []
    for _, grp in tri.groupby(["shape", "op", "precision", "sparsity"]):
        if len(grp) < 20:
            continue
        s = np.sort(grp["latency_s"].to_numpy())
        gaps.append(s[1] / s[0] - 1)
        sizes.append(len(grp))
    g = 100 * np.asarray(gaps)
    q = np.quantile(g, [0.5, 0.75, 0.9])
    return (
        f"{len(g)} groups, median {np.median(sizes):.0f} timed configs; second-best gap median "
        f"{q[0]:.1f} %, p75 {q[1]:.1f} %, p90 {q[2]:.1f} %, worst {g.max():.1f} %; groups with a "
        f"gap over 10 %: {100 * np.mean(g > 10):.0f} %"
    )


def inner_cv(
    frame: pd.DataFrame, gpu: str, seed: int = 0, without_reduction: bool = False
) -> pd.DataFrame:
    """Inner 4-fold predictions of every booster on outer fold 0's training shapes."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    spec = get_gpu(gpu)
    tr, _ = next(GroupKFold(n_splits=5).split(frame, groups=frame["shape"]))
    df = frame.iloc[tr].copy()
    cols = ["mean", *(f"q{q}" for q in QUANTILES)]
    for c in cols:
        df[c] = np.nan
    df["fold"] = -1
    # the shipped booster's settings (archgym.envs.kernel.learned.fit_kernel_model)
    kw = {"max_iter": 300, "random_state": seed, **BOOSTER_PARAMS}
    for i, (a, b) in enumerate(GroupKFold(n_splits=4).split(df, groups=df["shape"])):
        train, test = df.iloc[a], df.iloc[b]
        calib = fit_calibration(train, spec, seed=seed)
        ftr = features({k: train[k].to_numpy() for k in ROW_COLUMNS}, spec, calib)
        fte = features({k: test[k].to_numpy() for k in ROW_COLUMNS}, spec, calib)
        y = np.log(train["latency_s"].to_numpy()) - np.log(ftr["ana"])
        if without_reduction:  # the last two columns: the split-K reduction's share
            ftr["x"], fte["x"] = ftr["x"][:, :-2], fte["x"][:, :-2]
        with threadpool_limits(1):
            boosters = {"mean": HistGradientBoostingRegressor(**kw)}
            for q in QUANTILES:
                boosters[f"q{q}"] = HistGradientBoostingRegressor(
                    loss="quantile",
                    quantile=q,
                    **kw,
                )
            for name, b_ in boosters.items():
                b_.fit(ftr["x"], y)
                df.loc[test.index, name] = fte["ana"] * np.exp(b_.predict(fte["x"]))
        df.loc[test.index, "fold"] = i
    df["path"] = path_keys(df["backend"], df["sparsity"], df["precision"], df["op"])
    return df


def score_rules(df: pd.DataFrame) -> list[str]:
    """One line per pick rule (:func:`score_line`)."""
    lm, l25, l50, l75 = (np.log(df[c]) for c in ("mean", "q0.25", "q0.5", "q0.75"))
    rules = {
        "mean": lm,
        "q50": l50,
        "q75": l75,
        "mean+0.5spread": lm + 0.5 * (l75 - l25),
        "mean+spread": lm + (l75 - l25),
        "avg(mean,q50)": (lm + l50) / 2,
        "max(mean,q50)": np.maximum(lm, l50),
    }
    return [score_line(f"{name:15s}", df, np.exp(v)) for name, v in rules.items()]


def score_line(label: str, df: pd.DataFrame, pred: pd.Series | np.ndarray) -> str:
    """One scored line of predicted latencies ``pred`` of ``df``'s rows: Spearman, regret
    median / p90 / worst, top-1, median |error| of Triton and vendor rows."""
    sys.path.insert(0, "benchmarks")
    from bench_kernel_fidelity import ranking

    d = df.copy()
    d["lrn"] = pred
    d["ana"] = d["lrn"]  # ranking() scores both columns; only lrn is printed
    r = ranking(d)
    reg = 100 * r["lrn_regret"]
    err = 100 * (d["lrn"] / d["latency_s"] - 1).abs()
    tri = d["backend"] == "triton"
    return (
        f"  {label} Spearman {r['lrn_rho'].median():.3f}; regret median "
        f"{reg.median():.2f} %, p90 {reg.quantile(0.9):.2f} %, worst {reg.max():.1f} %; "
        f"top-1 {100 * r['lrn_top1'].mean():.0f} %; |error| Triton "
        f"{err[tri].median():.1f} %, vendor {err[~tri].median():.1f} % ({len(r)} groups)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped_gpu_option(ap)
    ap.add_argument("--gaps-only", action="store_true", help="print the sampling floor only")
    ap.add_argument(
        "--without-reduction", action="store_true", help="v4's features (no split-K reduction)"
    )
    args = ap.parse_args(argv)
    for gpu in args.gpu or sorted(DATASETS):
        frame = trusted_rows(load_dataset(DATASETS[gpu], gpu))
        print(f"{gpu} sampling floor: {sampling_floor(frame)}", flush=True)
        if args.gaps_only:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        df = inner_cv(frame, gpu, without_reduction=args.without_reduction)
        print(f"{gpu} inner 4-fold CV on outer fold 0's training shapes "
              f"({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU):")  # fmt: skip
        print("\n".join(score_rules(df)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
