"""Merge a supplementary kernel collection into the shipped dataset (CPU only).

    python benchmarks/merge_kernels.py SUPP.csv.gz --collected-with "python benchmarks/..."

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

import pandas as pd

from archgym.envs.kernel.dataset import DATASETS
from archgym.envs.kernel.measure.collect import merge_records

_SHARED = (
    "gpu",
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("supplement", help="gzip CSV written by benchmarks/collect_kernels.py")
    ap.add_argument("--collected-with", required=True, help="the command that collected it")
    ap.add_argument("--dataset", default=str(DATASETS["H100-SXM"]), help="shipped file to extend")
    args = ap.parse_args(argv)
    base_path = Path(args.dataset)
    meta_path = base_path.with_name(base_path.name.split(".")[0] + ".meta.json")
    supp_path = Path(args.supplement)
    supp_meta_path = supp_path.with_name(supp_path.name.split(".")[0] + ".meta.json")
    base, meta = pd.read_parquet(base_path), json.loads(meta_path.read_text())
    supp = pd.read_csv(supp_path, keep_default_na=False, na_values=[""])
    supp["reason"] = supp["reason"].fillna("").astype(str)
    supp_meta = json.loads(supp_meta_path.read_text())
    for k in ("gpu", "driver", "cuda", "torch", "triton", "reps", "warmup"):
        if meta.get(k) != supp_meta.get(k):
            print(f"note: {k} differs: {meta.get(k)!r} (shipped) vs {supp_meta.get(k)!r}")
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
    merged.to_parquet(base_path, index=False)
    meta_path.write_text(json.dumps(out_meta, indent=2, sort_keys=True) + "\n")
    print(
        f"{len(base)} + {len(supp)} records ({n_replaced} replaced) -> {len(merged)}, "
        f"{out_meta['n_feasible']} timed; wrote {base_path} and {meta_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
