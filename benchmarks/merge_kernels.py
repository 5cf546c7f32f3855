"""Merge a supplementary kernel collection into the shipped dataset (CPU only).

    python benchmarks/merge_kernels.py SUPP.csv.gz --collected-with "python benchmarks/..."
    # re-timings: each re-timed point's latency becomes the median of its timings
    python benchmarks/merge_kernels.py R1.csv.gz --median R2.csv.gz --collected-with "..."

Reads ``archgym/envs/kernel/data/kernels_h100.parquet`` (or ``--dataset``) and its ``.meta.json``, lays the records
of ``SUPP.csv.gz`` over them (:func:`archgym.envs.kernel.measure.collect.merge_records`: a
re-measured design replaces its old row) and rewrites both files. The metadata keeps one
entry per collection run under ``runs`` and the totals at the top level.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from archgym.envs.kernel.dataset import DATASETS
from archgym.envs.kernel.measure.collect import merge_records

_SHARED = (
    "gpu",
    "gpu_key",
    "max_rel_err",
    "packaged_with",
    "sms",
    "driver",
    "cuda",
    "torch",
    "triton",
    "reps",
    "warmup",
    "flush_bytes",
    "timing",
    "format",
)
_PER_RUN = (
    "date",
    "collected_with",
    "elapsed_s",
    "planned_points",
    "n_records",
    "n_feasible",
    "partial",
    "seed",
)


def _runs(meta: dict) -> list[dict]:
    if "runs" in meta:
        return list(meta["runs"])
    return [{k: meta[k] for k in _PER_RUN if k in meta}]


def _read(path: str | Path) -> pd.DataFrame:
    """A collection's gzip CSV ("" is missing; text such as "NA" stays text)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def median_of_timings(base: pd.DataFrame, retimes: list[pd.DataFrame]) -> pd.DataFrame:
    """``base`` with each point timed again in every frame of ``retimes`` set to the median
    of all its timings (``tflops`` follows); other rows unchanged."""
    from archgym.envs.kernel.measure.collect import point_key

    times = [
        {point_key(r): float(r["latency_s"]) for r in f.to_dict("records") if r["feasible"]}
        for f in retimes
    ]
    out = base.copy()
    lat = out["latency_s"].to_numpy(float).copy()
    for i, rec in enumerate(out.to_dict("records")):
        if not rec["feasible"]:
            continue
        key = point_key(rec)
        if all(key in t for t in times):
            lat[i] = float(np.median([lat[i]] + [t[key] for t in times]))
    out["tflops"] = out["tflops"] * out["latency_s"] / lat
    out["latency_s"] = lat
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("supplement", help="gzip CSV written by benchmarks/collect_kernels.py")
    ap.add_argument("--collected-with", required=True, help="the command that collected it")
    ap.add_argument("--dataset", default=str(DATASETS["H100-SXM"]), help="shipped file to extend")
    ap.add_argument(
        "--median",
        action="append",
        default=[],
        metavar="FILE",
        help="SUPP and these files re-time points already in the dataset: each such point's "
        "latency_s (and tflops) becomes the median of its shipped and re-measured timings",
    )
    args = ap.parse_args(argv)
    base_path = Path(args.dataset)
    meta_path = base_path.with_name(base_path.name.split(".")[0] + ".meta.json")
    supp_path = Path(args.supplement)
    supp_meta_path = supp_path.with_name(supp_path.name.split(".")[0] + ".meta.json")
    base, meta = pd.read_parquet(base_path), json.loads(meta_path.read_text())
    supp = _read(supp_path)
    supp["reason"] = supp["reason"].fillna("").astype(str)
    if "max_rel_err" in meta:  # a packaged dataset: wrong results become infeasible
        from package_kernels import package

        supp = package(supp, float(meta["max_rel_err"]))
    supp_meta = json.loads(supp_meta_path.read_text())
    for k in ("gpu", "driver", "cuda", "torch", "triton", "reps", "warmup"):
        if meta.get(k) != supp_meta.get(k):
            print(f"note: {k} differs: {meta.get(k)!r} (shipped) vs {supp_meta.get(k)!r}")
    if args.median:
        merged = median_of_timings(base, [supp] + [_read(f) for f in args.median])
        n_replaced = int(
            (~np.isclose(merged["latency_s"], base["latency_s"], rtol=0, equal_nan=True)).sum()
        )
    else:
        merged = merge_records(base, supp)
        n_replaced = len(base) + len(supp) - len(merged)
    run = {k: supp_meta[k] for k in _PER_RUN if k in supp_meta}
    run["collected_with"] = args.collected_with
    run["replaced_records"] = n_replaced
    out_meta = {k: meta[k] for k in _SHARED if k in meta}
    out_meta["runs"] = _runs(meta) + [run]
    out_meta["n_records"] = len(merged)
    out_meta["n_feasible"] = int(merged["feasible"].sum())
    out_meta["partial"] = any(r.get("partial", False) for r in out_meta["runs"])
    if "n_wrong_result" in meta:
        wrong = merged["reason"].astype(str).str.startswith("wrong result")
        out_meta["n_wrong_result"] = int(wrong.sum())
    if "n_shapes" in meta:
        out_meta["n_shapes"] = int(merged["shape"].nunique())
    merged.to_parquet(base_path, index=False, compression="zstd")
    meta_path.write_text(json.dumps(out_meta, indent=2, sort_keys=True) + "\n")
    print(
        f"{len(base)} + {len(supp)} records ({n_replaced} replaced) -> {len(merged)}, "
        f"{out_meta['n_feasible']} timed; wrote {base_path} and {meta_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
