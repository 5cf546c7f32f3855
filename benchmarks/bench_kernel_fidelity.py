"""Fidelity of the kernel cost models against the shipped H100 measurements.

    python benchmarks/bench_kernel_fidelity.py [--dataset PATH]

Shapes in HELD_OUT are removed before training the learned model; on them it prints:
* learned model: median |predicted/measured - 1| of latency (target <= 10 %) and the median
  Spearman correlation across the Triton tile configs of one shape/op/precision/pattern
  (target >= 0.9);
* analytical model: median |predicted/measured - 1| overall (target <= 30 %) and per pattern
  and precision (it is not trained, so the same figures on all shapes are printed too).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from archgym.envs.kernel.analytical import analytic_terms
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.learned import (
    DATASET,
    features,
    fit_kernel_model,
    load_dataset,
    predict_log_ratio,
)
from archgym.envs.kernel.space import KernelWorkload

HELD_OUT = (
    "llama-7b.ffn_down@2048",
    "gpt2.ffn_up@4096",
    "llama-70b.qkv@512",
    "mixtral.expert_down@512",
    "bert-base.attn_out@4096",
)
_DESIGN = (
    "backend",
    "precision",
    "sparsity",
    "density",
    "sparse_block",
    "block_m",
    "block_n",
    "block_k",
    "group_m",
    "num_warps",
    "num_stages",
    "split_k",
)


def predict(frame, gpu, model=None):  # type: ignore[no-untyped-def]
    """Analytical and (if ``model``) learned latency for every row of ``frame``."""
    ana = np.empty(len(frame))
    lrn = np.empty(len(frame))
    pos = {ix: i for i, ix in enumerate(frame.index)}
    for (op, m, n, k, g), grp in frame.groupby(["op", "m", "n", "k", "groups"], sort=False):
        wl = KernelWorkload(str(op), int(m), int(n), int(k), int(g))
        cols = {c: grp[c].to_numpy() for c in _DESIGN}
        rows = [pos[ix] for ix in grp.index]
        with np.errstate(all="ignore"):
            ana[rows] = analytic_terms(cols, wl, gpu)["latency_s"]
        if model is not None:
            x, lat_a = features(cols, wl, gpu)
            lrn[rows] = lat_a * np.exp(predict_log_ratio(model, x))
    return ana, lrn


def main(argv: list[str] | None = None) -> int:
    from scipy.stats import spearmanr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(DATASET))
    args = ap.parse_args(argv)
    gpu = get_gpu("H100-SXM")
    df = load_dataset(args.dataset)
    df = df[df["feasible"].astype(bool) & (df["latency_s"] > 0)].copy()
    test_mask = df["shape"].isin(HELD_OUT)
    train, test = df[~test_mask], df[test_mask].copy()
    print(
        f"dataset: {len(df)} feasible records, {df['shape'].nunique()} shapes; "
        f"train {len(train)}, held-out {len(test)} ({len(HELD_OUT)} shapes)"
    )
    model = fit_kernel_model(train, gpu, seed=0)
    test["ana"], test["lrn"] = predict(test, gpu, model)
    test["err_l"] = (test["lrn"] / test["latency_s"] - 1).abs()
    test["err_a"] = (test["ana"] / test["latency_s"] - 1).abs()
    rhos = []
    tri = test[test["backend"] == "triton"]
    for _, grp in tri.groupby(["shape", "op", "precision", "sparsity"]):
        if len(grp) >= 5:
            rhos.append(spearmanr(grp["lrn"], grp["latency_s"]).statistic)
    print("\nlearned model on held-out shapes")
    print(f"  median |latency error| = {100 * test['err_l'].median():.1f} %  (target <= 10 %)")
    print(
        f"  Spearman across tile configs: median {np.median(rhos):.3f}, mean "
        f"{np.mean(rhos):.3f} over {len(rhos)} groups  (target >= 0.9)"
    )
    print(
        "  per backend: "
        + ", ".join(
            f"{b} {100 * e:.1f} %" for b, e in test.groupby("backend")["err_l"].median().items()
        )
    )
    print("\nanalytical model on held-out shapes")
    print(f"  median |latency error| = {100 * test['err_a'].median():.1f} %  (target <= 30 %)")
    df["ana"], _ = predict(df, gpu)
    df["err_a"] = (df["ana"] / df["latency_s"] - 1).abs()
    print(
        f"analytical model on all {len(df)} records: median |latency error| = "
        f"{100 * df['err_a'].median():.1f} %"
    )
    table = df.groupby(["sparsity", "precision", "backend"])["err_a"].agg(["median", "count"])
    table["median"] = (100 * table["median"]).round(1)
    print("  per pattern / precision / backend (median error %, records):")
    print(table.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
