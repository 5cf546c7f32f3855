"""The variance-reduction scoring of benchmarks/kernel_rank_cv.py (hand-built groups)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from kernel_rank_cv import score_ensembles  # noqa: E402

_N = 20  # the benchmark scores groups of >= 20 configs


def _frame() -> pd.DataFrame:
    """Two held-out groups (folds 0 and 1) of 20 configs; config i takes 1 + 0.05 i seconds,
    so config 10 is 50 % slower than the best (config 0)."""
    parts = []
    for fold, shape in enumerate(("a@16", "b@16")):
        i = np.arange(_N)
        lat = 1.0 + 0.05 * i
        parts.append(
            pd.DataFrame(
                {
                    "shape": shape,
                    "op": "gemm",
                    "precision": "fp16",
                    "sparsity": "dense",
                    "backend": "triton",
                    "fold": fold,
                    "latency_s": lat,
                    "block_m": 16 * (1 + i),
                    "block_n": 64,
                    "block_k": 64,
                    "group_m": 8,
                    "num_warps": 4,
                    "num_stages": 3,
                    "split_k": 1,
                    "v6": lat,  # a perfect regression: v6 alone picks the best
                    "ana": lat,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_ensemble_is_the_mean_of_its_members() -> None:
    # member 0 scores config 10 at 30: its key log(1.5) - 0.02 * 30 = -0.195 < log(1.0) = 0, so
    # alone it picks config 10 (regret 50 %); the mean of three members (10) gives
    # log(1.5) - 0.2 = 0.205 > 0, so the ensemble picks the best (regret 0). A sum of the
    # scores (30) would pick config 10 again.
    df = _frame()
    ten = (df["latency_s"] - 1.5).abs() < 1e-12
    df["bag8@0"] = np.where(ten, 30.0, 0.0)
    df["bag8@1"] = 0.0
    df["bag8@2"] = 0.0
    lines, table = score_ensembles(df)
    single = next(x for x in lines if x.startswith("  bag8 single members (3 seeds)"))
    assert "worst 0.0-50.0 %" in single
    assert table["bag8 x3"].tolist() == [0.0, 0.0]
    assert "bag8 x5" not in table  # only three members saved
    assert table["v6"].tolist() == [0.0, 0.0]


def test_averaged_boosters_take_the_slower_of_mean_and_median() -> None:
    # config 1 (1.05 s): the members' log residuals average log(0.5) for the mean boosters
    # (log 0.25 and 0) and for the median boosters (log 0.5 twice), so its key is 0.525 s and
    # it is picked (regret 5 %). With the median boosters at 0 the slower of the two averages
    # is 0 and config 0 is picked; a min of the two, or the mean boosters alone, would still
    # pick config 1.
    df = _frame()
    one = df.index[(df["latency_s"] - 1.05).abs() < 1e-12]
    for s in (0, 1):
        df[f"v6mf@{s}.mean"] = 0.0
        df[f"v6mf@{s}.med"] = 0.0
    df.loc[one, "v6mf@0.mean"] = np.log(0.25)
    df.loc[one, "v6mf@1.mean"] = 0.0  # average log(0.5): 1.05 * 0.5 < 1.0
    df.loc[one, "v6mf@0.med"] = np.log(0.5)
    df.loc[one, "v6mf@1.med"] = np.log(0.5)
    _, table = score_ensembles(df)
    assert np.allclose(table["v6mf x2"], 5.0)  # config 1: 1.05 / 1.0 - 1
    df.loc[one, ["v6mf@0.med", "v6mf@1.med"]] = 0.0
    _, table = score_ensembles(df)
    assert np.allclose(table["v6mf x2"], 0.0)
