"""Package a grid collection (``collect_kernels.py --grid``) as a shipped dataset (CPU only).

    python benchmarks/package_kernels.py /work/.device/2/h200_b.csv.gz \
        --meta /work/.device/1/h200_a.meta.json --meta /work/.device/2/h200_b.meta.json \
        --out archgym/envs/kernel/data/kernels_h200.parquet

A point whose result differs from the float32 reference by more than ``--max-rel-err``
(relative Frobenius error) did not compute the product: it becomes infeasible with the reason
``wrong result``, as a failed compile or launch does. Writes the Parquet file and
``<stem>.meta.json`` (the collection runs' metadata, the timing protocol and the totals).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from archgym.envs.kernel.measure.plan import RECORD_COLUMNS

TIMING = (
    "CUDA events; before each timed run a 256 MB in-place bitwise_not flushes the 60 MB L2; one "
    "run estimates the time, then clip(20 ms / estimate, 3, 20) runs are timed and the median "
    "kept (a first run over 50 ms is kept alone); compile and one warm-up run excluded. Vendor "
    "paths: latency_s is the median over 3 profiled calls of the summed device time of the "
    "kernels, memcpys and memsets inside one call (torch.profiler), call_s the event-timed call"
)


def package(frame: pd.DataFrame, max_rel_err: float) -> pd.DataFrame:
    """Records with wrong results marked infeasible; text columns as strings."""
    frame = frame[list(RECORD_COLUMNS)].copy()
    wrong = frame["feasible"].astype(bool) & (frame["rel_err"] > max_rel_err)
    frame.loc[wrong, "reason"] = [
        f"wrong result: relative error {e:.3g} against a float32 reference"
        for e in frame.loc[wrong, "rel_err"]
    ]
    frame.loc[wrong, "feasible"] = False
    frame.loc[wrong, ["latency_s", "tflops"]] = np.nan
    for c in (
        "op",
        "shape",
        "backend",
        "precision",
        "sparsity",
        "reason",
        "gpu",
        "kernels",
        "sanity",
    ):
        frame[c] = frame[c].fillna("").astype(str)
    frame["feasible"] = frame["feasible"].astype(bool)
    return frame


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records")
    ap.add_argument("--meta", action="append", default=[], help="run metadata (repeatable)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-rel-err", type=float, default=0.05)
    args = ap.parse_args(argv)
    raw = pd.read_csv(args.records, keep_default_na=False, na_values=[""], low_memory=False)
    frame = package(raw, args.max_rel_err)
    out = Path(args.out)
    frame.to_parquet(out, index=False, compression="zstd")
    runs = [json.loads(Path(m).read_text()) for m in args.meta]
    first = runs[0] if runs else {}
    meta = {
        k: first[k]
        for k in ("gpu", "gpu_key", "sms", "driver", "cuda", "torch", "triton")
        if k in first
    }
    meta.update(
        timing=TIMING,
        format="one row per point; columns archgym.envs.kernel.measure.plan.RECORD_COLUMNS",
        max_rel_err=args.max_rel_err,
        n_records=len(frame),
        n_feasible=int(frame["feasible"].sum()),
        n_wrong_result=int(frame["reason"].str.startswith("wrong result").sum()),
        n_shapes=int(frame["shape"].nunique()),
        runs=[
            {
                k: r[k]
                for k in ("date", "collected_with", "elapsed_s", "n_records", "planned_points")
                if k in r
            }
            for r in runs
        ],
        packaged_with="python benchmarks/package_kernels.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
    )
    out.with_name(out.name.split(".")[0] + ".meta.json").write_text(
        json.dumps(meta, indent=2) + "\n"
    )
    print(
        f"wrote {out}: {len(frame)} records, {meta['n_feasible']} feasible, {meta['n_wrong_result']} wrong results"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
