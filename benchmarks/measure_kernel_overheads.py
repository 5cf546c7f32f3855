"""Launch cost and split-K reduction cost on a CUDA GPU, each as its own metric (device only).

    python benchmarks/measure_kernel_overheads.py --out overheads.csv     # on the GPU
    python benchmarks/measure_kernel_overheads.py --fit archgym/envs/kernel/data/kernels_h200_overheads.csv

Two things the Triton tile-config timings of ``collect_kernels.py`` contain but do not
separate (issue 11, third pass):

* ``launch``: one launch of an empty Triton kernel (one CTA, no memory traffic), event-timed
  back to back with the L2 flushed before each, median of 200: the fixed cost every kernel of
  a call pays on the device;
* ``splitk_reduce``: what a split-K point adds after its GEMM kernel -- ``out.sum(0).to(dtype)``
  on the ``(S, G, M, N)`` fp32 (int32 for int8) partials, two kernels, exactly the code the
  harness times (``archgym.envs.kernel.measure.runners``) -- for every dense shape of
  ``GRID_SHAPES`` and ``DECODE_SHAPES`` and ``S`` in 2, 4, 8, for the fp16/bf16 and the int8
  outputs. ``bytes`` is what the two kernels read and write (partials read, the fp32 (int64 for int32) sum
  written and read, the output written).

``--fit FILE`` (CPU) fits ``seconds = fixed + bytes / bandwidth`` per output type to the
reductions of a written file (least squares on the relative error) and prints both constants
and the fit's error.

Writes one CSV row per measurement: ``kind, shape, m, n, groups, split_k, out_dtype, bytes,
seconds, reps`` and ``<stem>.meta.json`` (GPU, versions, date).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

TIMING = (
    "CUDA events; before each timed run a 256 MB in-place bitwise_not flushes the L2; one run "
    "estimates the time, then clip(budget / estimate, 3, max) runs are timed and the median kept "
    "(archgym.envs.kernel.measure.plan.time_adaptive): launch budget 1 s, at most 200 runs; "
    "reductions 20 ms, at most 20; the tensors are made and the kernels compiled before timing"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="overheads.csv")
    ap.add_argument("--fit", default="", metavar="FILE", help="fit a written file (CPU only)")
    args = ap.parse_args(argv)
    if args.fit:
        if not os.path.isfile(args.fit):
            ap.error(f"--fit needs a file this script wrote, but {args.fit!r} is not a file")
        return fit(args.fit)

    import triton
    import triton.language as tl

    from archgym.envs.kernel.measure.grid import DECODE_SHAPES, GRID_SHAPES
    from archgym.envs.kernel.measure.plan import collection_metadata, require_cuda, time_adaptive
    from archgym.envs.kernel.space import named_workload

    torch = require_cuda()
    flush = torch.empty(256 * 1024 * 1024 // 4, dtype=torch.int32, device="cuda")

    @triton.jit
    def _empty(x_ptr, flag: tl.constexpr):  # type: ignore[no-untyped-def]
        if flag:
            tl.store(x_ptr, 1)

    x = torch.zeros(1, device="cuda", dtype=torch.int32)
    _empty[(1,)](x, False)
    torch.cuda.synchronize()
    rows = []
    launch, reps = time_adaptive(lambda: _empty[(1,)](x, False), flush, max_reps=200, budget_s=1)
    rows.append({"kind": "launch", "shape": "", "m": 0, "n": 0, "groups": 1, "split_k": 1,
                 "out_dtype": "", "bytes": 0, "seconds": launch, "reps": reps})  # fmt: skip
    print(f"empty Triton kernel launch: {launch * 1e6:.2f} us (median of {reps})", flush=True)
    for layer, tokens in (*GRID_SHAPES, *DECODE_SHAPES):
        wl = named_workload(layer, tokens)
        g, m, n = wl.groups, wl.m, wl.n
        for acc, outd, name in (
            (torch.float32, torch.float16, "fp16"),
            (torch.int32, torch.int32, "int32"),
        ):
            for split in (2, 4, 8):
                out = torch.ones((split, g, m, n), device="cuda", dtype=acc)
                sec, reps = time_adaptive(lambda o=out, d=outd: o.sum(0).to(d), flush, max_reps=20)
                # torch sums int32 into int64: partials read, the sum written and read, the output
                sum_b, out_b = (4, 2) if name == "fp16" else (8, 4)
                nbytes = g * m * n * (split * 4 + 2 * sum_b + out_b)
                rows.append({"kind": "splitk_reduce", "shape": wl.name, "m": m, "n": n,
                             "groups": g, "split_k": split, "out_dtype": name, "bytes": nbytes,
                             "seconds": sec, "reps": reps})  # fmt: skip
                del out
    import pandas as pd

    frame = pd.DataFrame(rows)
    out_path = Path(args.out)
    frame.to_csv(out_path, index=False)
    meta = collection_metadata(0, 0, 0, what=__doc__.splitlines()[0])
    for key in ("reps", "warmup", "seed"):  # per row in the reps column; nothing random
        meta.pop(key)
    meta["timing"] = TIMING
    meta["collected_with"] = "python benchmarks/measure_kernel_overheads.py " + " ".join(
        sys.argv[1:]
    )
    meta_path = out_path.with_name(out_path.name.split(".")[0] + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    red = frame[frame["kind"] == "splitk_reduce"]
    gbps = red["bytes"] / red["seconds"] / 1e9
    print(f"split-K reduction: {len(red)} timings, {red['seconds'].min() * 1e6:.1f} to "
          f"{red['seconds'].max() * 1e6:.1f} us; GB/s median {np.median(gbps):.0f}, max "
          f"{gbps.max():.0f}; wrote {out_path} and {meta_path}")  # fmt: skip
    return 0


def fit(path: str) -> int:
    """Print the launch time and the per-output-type reduction constants of a written file."""
    import pandas as pd

    frame = pd.read_csv(path)
    launch = frame.loc[frame["kind"] == "launch", "seconds"]
    print(f"{path}: empty Triton kernel launch {launch.median() * 1e6:.2f} us")
    from archgym.envs.kernel.calibrate import fit_reduction

    red = frame[frame["kind"] == "splitk_reduce"]
    for out_dtype, (fixed, bw) in fit_reduction(frame).items():
        grp = red[red["out_dtype"] == out_dtype]
        t = grp["seconds"].to_numpy(float)
        err = np.abs((fixed + grp["bytes"].to_numpy(float) / bw) / t - 1)
        print(
            f"split-K reduction to {out_dtype}: {fixed * 1e6:.2f} us + bytes / "
            f"{bw / 1e12:.2f} TB/s ({len(grp)} timings, {t.min() * 1e6:.1f} to "
            f"{t.max() * 1e6:.0f} us; |error| median {100 * np.median(err):.1f} %, max "
            f"{100 * err.max():.1f} %)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
