"""Fit the analytical model's register term to the compiler's register counts, and check it.

    python benchmarks/kernel_register_model.py      # benchmarks/data/h200_registers.csv.gz

The registers per thread of a Triton tile config (:func:`archgym.envs.kernel.analytical.
thread_registers`) have the form ``acc * (1 + mma_sync * [no wgmma]) + base + operand * words +
int4 * packed words`` (the accumulators, the thread's share of one K step's operand tiles, the
int4 unpacking). Its four coefficients are fitted here by least squares to what ptxas allocated
(``benchmarks/kernel_registers.py`` on the H200: Triton 3.6, sm_90), on the configs that neither
spill nor reach 255 registers (the allocation there is capped, not needed). Prints the fitted
coefficients next to the shipped :data:`~archgym.envs.kernel.analytical.REGISTER_MODEL`, the
register error, and how often the occupancy (CTAs per SM from registers, shared memory and
threads) agrees with the one from the compiler's own registers and shared memory, for the
shipped model and for analytical v6's fitted constant overhead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from archgym.envs.kernel.analytical import (
    REGISTER_MODEL,
    REGS_PER_THREAD_MAX,
    occupancy,
    thread_registers,
)
from archgym.envs.kernel.constraints import A_BYTES, B_BYTES, triton_smem_bytes
from archgym.envs.kernel.gpus import get_gpu

DATA = Path(__file__).resolve().parent / "data" / "h200_registers.csv.gz"
V6_H200_OVERHEAD = 124.222
"""``reg_overhead`` of the H200's analytical v6 calibration (``data/calibration.json`` before v7)."""


def terms(d: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model's columns of each config: accumulators and the three coefficient terms."""
    bm, bn, bk, w = (d[c].to_numpy(float) for c in ("block_m", "block_n", "block_k", "num_warps"))
    prec = d["precision"].to_numpy(str)
    a_b = np.array([A_BYTES[p] for p in prec])
    b_b = np.array([B_BYTES[p] for p in prec])
    acc = bm * bn / (32 * w)
    return {
        "acc": acc,
        "base": np.ones(len(d)),
        "operand": (bm * bk * a_b + bk * bn * b_b) / (128 * w),
        "mma_sync": np.where((bm >= 64) & (w >= 4), 0.0, acc),
        "int4": np.where(prec == "int4", bm * bk * 0.5 / (128 * w), 0.0),
    }


def fit(d: pd.DataFrame) -> dict[str, float]:
    """Least-squares coefficients of :data:`REGISTER_MODEL` on the uncapped configs of ``d``."""
    ok = (d["n_regs"] > 0) & (d["n_regs"] < REGS_PER_THREAD_MAX) & (d["n_spills"] == 0)
    t = terms(d[ok])
    names = list(REGISTER_MODEL)
    x = np.column_stack([t[n] for n in names])
    coef, *_ = np.linalg.lstsq(x, d.loc[ok, "n_regs"].to_numpy(float) - t["acc"], rcond=None)
    return dict(zip(names, coef.tolist(), strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--gpu", default="H200-SXM", help="the GPU the counts were compiled for")
    ap.add_argument(
        "--v6-overhead",
        type=float,
        default=V6_H200_OVERHEAD,
        help="v6's fitted register overhead to compare with (default: the H200's)",
    )
    args = ap.parse_args(argv)
    d = pd.read_csv(args.data)
    d = d[d["n_regs"] > 0].reset_index(drop=True)
    gpu = get_gpu(args.gpu)
    fitted = fit(d)
    n_fit = int(((d["n_regs"] < REGS_PER_THREAD_MAX) & (d["n_spills"] == 0)).sum())
    print(f"{len(d)} compiled configs ({args.data.name}), {n_fit} uncapped fitted:")
    for k, v in fitted.items():
        print(f"  {k:9s} fitted {v:8.3f}   shipped {REGISTER_MODEL[k]:8.3f}")
    bm, bn, bk, w, st = (
        d[c].to_numpy(float) for c in ("block_m", "block_n", "block_k", "num_warps", "num_stages")
    )
    prec = d["precision"].to_numpy(str)
    t = terms(d)
    regs = thread_registers(
        bm,
        bn,
        bk,
        w,
        np.array([A_BYTES[p] for p in prec]),
        np.array([B_BYTES[p] for p in prec]),
        prec == "int4",
        (bm >= 64) & (w >= 4),
    )
    err = np.abs(np.minimum(regs, REGS_PER_THREAD_MAX) - d["n_regs"].to_numpy())
    print(f"|registers - ptxas|: median {np.median(err):.1f}, p90 {np.quantile(err, 0.9):.1f}")
    smem = triton_smem_bytes(bm, bn, bk, st, w, prec)
    true = occupancy(d["n_regs"].to_numpy(float), d["shared_bytes"].to_numpy(float), w, gpu)
    v6 = args.v6_overhead
    rows = [("registers of the model (analytical v7)", regs, smem)]
    rows.append((f"v6's fitted overhead {v6:.1f} (same smem, granularity)", t["acc"] + v6, smem))
    rows.append(("ptxas registers, the rule's shared memory", d["n_regs"].to_numpy(float), smem))
    print("CTAs per SM against the compiler's (its registers and shared memory):")
    for label, r, s in rows:
        occ = occupancy(r, s, w, gpu)
        print(
            f"  {label:50s} equal {100 * np.mean(occ == true):5.1f} %, more "
            f"{100 * np.mean(occ > true):5.1f} %, fewer {100 * np.mean(occ < true):5.1f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
