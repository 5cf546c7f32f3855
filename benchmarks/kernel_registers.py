"""Registers, spills and shared memory that the compiler gives each Triton tile config (GPU side).

    python benchmarks/kernel_registers.py --plan-only            # CPU: how many configs
    python benchmarks/kernel_registers.py --workers 14 --out benchmarks/data/h200_registers.csv.gz

Every distinct (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages, precision) of the Triton rows of the
shipped datasets (both GPUs) and of ``benchmarks/data/h200_tail.csv.gz`` is compiled for the
local GPU, as a dense GEMM of 8192 x 8192 x 8192 (split-K 1, GROUP_M 8: index arithmetic only),
without a launch (:func:`archgym.envs.kernel.measure.runners.compile_resources`). ``n_regs`` and
``n_spills`` are what ptxas allocated per thread (CUDA's ``cuFuncGetAttribute``, read back by
Triton when it loads the binary), ``shared_bytes`` the shared memory Triton allocates. These
are the compiler's figures, not timings: the analytical model's register term
(:func:`archgym.envs.kernel.analytical.thread_registers`) is checked against them
(``benchmarks/kernel_register_model.py``). Writes a gzip CSV and ``<stem>.meta.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from archgym.envs.kernel.dataset import DATASETS, load_dataset

TILE = ["block_m", "block_n", "block_k", "num_warps", "num_stages", "precision"]
TAIL = Path(__file__).resolve().parent / "data" / "h200_tail.csv.gz"


def configs() -> pd.DataFrame:
    """The distinct Triton tile configs of the shipped data and the tail file, sorted."""
    parts = [load_dataset(DATASETS[g], g) for g in sorted(DATASETS)]
    if TAIL.exists():
        parts.append(pd.read_csv(TAIL))
    rows = pd.concat([p[p["backend"] == "triton"][TILE] for p in parts])
    rows = rows.drop_duplicates().sort_values(TILE).reset_index(drop=True)
    for c in TILE[:-1]:
        rows[c] = rows[c].astype(int)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="registers.csv.gz")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=480.0, help="seconds for all compiles")
    ap.add_argument("--plan-only", action="store_true")
    args = ap.parse_args(argv)
    cfg = configs()
    print(f"{len(cfg)} distinct Triton tile configs", flush=True)
    if args.plan_only:
        return 0
    import concurrent.futures as cf
    import multiprocessing as mp

    import torch
    import triton

    from archgym.envs.kernel.measure.runners import compile_resources

    points = [
        {
            **r,
            "op": "gemm",
            "sparsity": "dense",
            "m": 8192,
            "n": 8192,
            "k": 8192,
            "groups": 1,
            "split_k": 1,
            "group_m": 8,
        }  # fmt: skip
        for r in cfg.to_dict("records")
    ]
    chunks = [list(range(i, len(points), args.workers * 4)) for i in range(args.workers * 4)]
    t0 = time.monotonic()
    results: dict[int, dict] = {}
    pool = cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=mp.get_context("spawn"))
    futs = {pool.submit(compile_resources, [points[i] for i in c]): c for c in chunks if c}
    try:
        for fut in cf.as_completed(futs, timeout=args.timeout):
            for i, r in zip(futs[fut], fut.result(), strict=True):
                results[i] = r
    except cf.TimeoutError:
        print(f"stopped at the {args.timeout:.0f} s limit", flush=True)
    pool.shutdown(wait=False, cancel_futures=True)
    elapsed = time.monotonic() - t0
    out = cfg.loc[sorted(results)].copy()
    for col in ("n_regs", "n_spills", "shared_bytes", "error"):
        out[col] = [results[i][col] for i in sorted(results)]
    out.to_csv(args.out, index=False)
    ok = out["n_regs"] >= 0
    print(f"{len(out)} compiled in {elapsed:.0f} s ({ok.sum()} loaded, {(~ok).sum()} not)")
    meta = {
        "gpu": torch.cuda.get_device_name(),
        "triton": triton.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(elapsed, 1),
        "n_configs": int(len(cfg)),
        "n_done": int(len(out)),
        "collected_with": "python benchmarks/kernel_registers.py " + " ".join(argv or sys.argv[1:]),
    }
    Path(str(args.out).replace(".csv.gz", "") + ".meta.json").write_text(
        json.dumps(meta, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
