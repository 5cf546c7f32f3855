"""How well does the NAS accuracy surrogate rank architectures it has not seen?

Splits the shipped table's architectures 80/20 (seeded), fits
:class:`archgym.envs.nas.surrogate.AccuracySurrogate` on the rows of the 80 %, and reports Kendall tau
and Spearman rho between predicted and measured validation accuracy on the held-out 20 %:

* ``dense``: one point per held-out architecture (float weights, no pruning);
* ``all``: every feasible (architecture, sparsity, bits, scope) point of the held-out ones;
* ``ceiling``: two training seeds of the same architectures ranked against each other (dense),
  from the table's metadata -- a surrogate fitted to seed-0 numbers can exceed it.

Run: ``python benchmarks/nas_surrogate.py [--task digits] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.stats import kendalltau, spearmanr

from archgym.envs.nas.datasets import TASK_SHAPES
from archgym.envs.nas.surrogate import AccuracySurrogate, featurize
from archgym.envs.nas.table import default_table_path, load_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="digits")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t = load_table(default_table_path(args.task))
    df = t.df[t.df["feasible"]].reset_index(drop=True)
    keys = np.array(sorted(df["key"].unique()))
    rng = np.random.default_rng(args.seed)
    held = set(rng.choice(keys, size=len(keys) // 5, replace=False))
    test_mask = df["key"].isin(held).to_numpy()
    x = featurize(df.to_dict("records"), *TASK_SHAPES[args.task])
    y = df["val_accuracy"].to_numpy(float)
    t0 = time.perf_counter()
    model = AccuracySurrogate(seed=args.seed).fit(x[~test_mask], y[~test_mask])
    fit_s = time.perf_counter() - t0
    pred = model.predict(x[test_mask])
    sub = df[test_mask].assign(pred=pred)
    dense = sub[
        (sub["sparsity"] == "dense") & (sub["weight_bits"] == 32) & (sub["scope"] == "inner")
    ]

    def rank(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        return {
            "kendall_tau": float(kendalltau(a, b).statistic),
            "spearman": float(spearmanr(a, b).statistic),
            "n": len(a),
        }

    report = {
        "task": args.task,
        "train_architectures": len(keys) - len(held),
        "heldout_architectures": len(held),
        "fit_s": round(fit_s, 2),
        "dense": rank(dense["pred"].to_numpy(), dense["val_accuracy"].to_numpy()),
        "all": rank(sub["pred"].to_numpy(), sub["val_accuracy"].to_numpy()),
        "all_mae": float(np.mean(np.abs(sub["pred"] - sub["val_accuracy"]))),
        "ceiling_seed_to_seed_dense": t.meta.get("noise", {}),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
