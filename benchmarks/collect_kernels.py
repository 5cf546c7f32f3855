"""Collect the shipped kernel dataset on a CUDA GPU (device-side driver).

    python benchmarks/collect_kernels.py --plan-only           # CPU: what would run
    python benchmarks/collect_kernels.py --out kernels_h100.csv.gz --workers 14 --deadline 420
    # a supplement: one part of the seed-0 plan, plus the full plan of extra shapes
    python benchmarks/collect_kernels.py --select backend=triton --select precision=fp8 \
        --extra-shapes llama-7b.qkv@2048,gpt2.lm_head@1024 --extra-seed 1 --out supp.csv.gz

    # the dense tile grid (second dataset, H200): priority phases, compile and time at once,
    # resumable from a cut-short file
    python benchmarks/collect_kernels.py --grid --workers 14 --deadline 540 --out h200.csv.gz
    python benchmarks/collect_kernels.py --grid --resume h200.csv.gz --out h200b.csv.gz

    # denser near the optimum: untimed neighbours of each group's fastest configs
    python benchmarks/collect_kernels.py --near archgym/envs/kernel/data/kernels_h200.parquet \
        --workers 14 --deadline 480 --out h200_near.csv.gz

Writes ``<out>`` (gzip CSV in archgym's record format) and ``<stem>.meta.json`` (GPU,
driver, CUDA, torch and triton versions, date, timing protocol).
"""

from __future__ import annotations

import argparse
import json
import sys

from archgym.envs.kernel.measure.collect import run_collection, run_pipelined, summarize_plan
from archgym.envs.kernel.measure.grid import PHASES, plan_grid
from archgym.envs.kernel.measure.plan import plan_collection


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="kernels.csv.gz")
    ap.add_argument("--plan-only", action="store_true", help="print the plan; needs no GPU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs-per-case", type=int, default=20)
    ap.add_argument("--pool-size", type=int, default=36)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--compile-timeout", type=float, default=200.0)
    ap.add_argument("--deadline", type=float, default=None, help="seconds for the whole run")
    ap.add_argument("--limit", type=int, default=0, help="keep only the first N points")
    ap.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="keep only plan points whose COLUMN equals VALUE (repeatable, ANDed)",
    )
    ap.add_argument(
        "--extra-shapes",
        default="",
        help="comma-separated LAYER@TOKENS; their full plan (seed --extra-seed) is "
        "appended after --select is applied to the main plan",
    )
    ap.add_argument("--extra-seed", type=int, default=1)
    ap.add_argument("--grid", action="store_true", help="the dense tile-grid plan (plan_grid)")
    ap.add_argument("--configs", type=int, default=200, help="--grid: tile configs per precision")
    ap.add_argument("--phases", default=",".join(PHASES), help="--grid: phases, in order")
    ap.add_argument("--resume", default="", help="--grid: records of an earlier, cut-short run")
    ap.add_argument("--gpu-key", default="", help="--grid: GPU name for the gpu column")
    ap.add_argument("--stride", type=int, default=1, help="--grid: keep every STRIDE-th point")
    ap.add_argument(
        "--shapes",
        default="grid",
        help="--grid: 'grid' (GRID_SHAPES), 'decode' (DECODE_SHAPES) or LAYER@TOKENS,...",
    )
    ap.add_argument(
        "--near",
        default="",
        metavar="DATA",
        help="plan_near on this measured dataset (or several, comma-separated, read as one): "
        "neighbours of each group's fastest configs",
    )
    ap.add_argument("--near-top", type=int, default=6, help="--near: fastest configs per group")
    ap.add_argument("--near-per-group", type=int, default=40, help="--near: points per group")
    ap.add_argument(
        "--retime-top",
        type=int,
        default=0,
        help="--near: instead, time again the N fastest timed configs of each group (repeat "
        "spread near the optimum)",
    )
    ap.add_argument(
        "--retime-outliers",
        type=float,
        default=0.0,
        metavar="RATIO",
        help="--near: instead, time again every Triton point slower than RATIO x the fastest of "
        "its timed one-step neighbours on the same shape (one-off slow timings)",
    )
    args = ap.parse_args(argv)
    if args.grid or args.near:
        return grid_main(args)
    points = select_points(
        plan_collection(args.seed, args.configs_per_case, args.pool_size), args.select
    )
    if args.extra_shapes:
        shapes = [parse_shape(s) for s in args.extra_shapes.split(",") if s]
        points += plan_collection(
            args.extra_seed, args.configs_per_case, args.pool_size, shapes=shapes
        )
    if args.limit:
        points = points[: args.limit]
    print(json.dumps(summarize_plan(points), indent=1), flush=True)
    if args.plan_only:
        return 0
    csv, meta = run_collection(
        points,
        args.out,
        reps=args.reps,
        warmup=args.warmup,
        seed=args.seed,
        workers=args.workers,
        compile_timeout_s=args.compile_timeout,
        deadline_s=args.deadline,
        log=lambda s: print(s, flush=True),
    )
    print(f"wrote {csv} and {meta}")
    import pandas as pd

    df = pd.read_csv(csv)
    print(f"{int(df.feasible.sum())}/{len(df)} feasible")
    print(df.groupby(["backend", "sparsity", "precision"]).feasible.agg(["sum", "count"]))
    print(df.loc[~df.feasible, "reason"].str[:120].value_counts().head(15).to_string())
    bad = df.loc[~df.feasible, "reason"]
    for head, full in bad.groupby(bad.str[:120]).first().items():  # one full text per cause
        print(f"--- full text of {head[:60]!r}:\n{full}")
    return 0


def grid_main(args: argparse.Namespace) -> int:
    """Plan (and unless --plan-only, measure) the dense tile grid or the ``--near`` points."""
    import time

    t0 = time.process_time(), time.perf_counter()
    if args.near:
        import pandas as pd

        from archgym.envs.kernel.dataset import load_dataset
        from archgym.envs.kernel.measure.grid import plan_near

        data = pd.concat([load_dataset(p) for p in args.near.split(",") if p], ignore_index=True)
        if args.retime_outliers:
            points = outlier_points(data, args.retime_outliers)
        elif args.retime_top:
            points = retime_points(data, args.retime_top)
        else:
            points = plan_near(data, args.near_top, args.near_per_group)
    else:
        plan = plan_grid(
            args.seed, args.configs, shapes=grid_shapes(args.shapes), phases=args.phases.split(",")
        )
        points = [p for _, p in plan][:: args.stride]
    if args.limit:
        points = points[: args.limit]
    print(json.dumps(summarize_plan(points), indent=1), flush=True)
    print(
        f"planned in {time.process_time() - t0[0]:.1f} s CPU, {time.perf_counter() - t0[1]:.1f} s wall"
    )
    if args.plan_only:
        return 0
    import pandas as pd

    from archgym.envs.kernel.gpus import gpu_from_device_name
    from archgym.envs.kernel.measure.plan import require_cuda

    torch = require_cuda()
    gpu = args.gpu_key or gpu_from_device_name(torch.cuda.get_device_name(0))
    resume = (
        pd.read_csv(args.resume, keep_default_na=False, na_values=[""]) if args.resume else None
    )
    csv, meta = run_pipelined(
        points,
        args.out,
        gpu=gpu,
        reps=args.reps,
        seed=args.seed,
        workers=args.workers,
        deadline_s=args.deadline,
        resume=resume,
        log=lambda s: print(s, flush=True),
        meta_extra={
            "collected_with": "python benchmarks/collect_kernels.py " + " ".join(sys.argv[1:])
        },
    )
    return report(csv)


def report(csv: object) -> int:
    """Print what a collection produced: counts, failures, checks, sanity flags."""
    import pandas as pd

    df = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    print(f"wrote {csv}: {int(df.feasible.sum())}/{len(df)} feasible")
    print(df.groupby(["backend", "sparsity", "precision"]).feasible.agg(["sum", "count"]))
    bad = df.loc[~df.feasible.astype(bool), "reason"].astype(str)
    print(bad.str[:110].value_counts().head(12).to_string())
    err = df[df.feasible.astype(bool)].groupby(["backend", "sparsity", "precision"]).rel_err
    print("rel_err max per path:\n" + err.max().to_string())
    flagged = df[df.sanity.astype(str) != ""]
    for (sp, prec), grp in flagged.groupby(["sparsity", "precision"]):
        print(
            f"SANITY {sp} {prec}: {len(grp)} rows, e.g. {grp.iloc[0].shape}: {grp.iloc[0].sanity}; "
            f"kernels {grp.iloc[0].kernels}"
        )


def retime_points(frame: object, top: int) -> list[dict]:
    """The ``top`` fastest timed dense Triton configs of each (shape, op, precision) group,
    as plan points, round-robin over the groups."""
    from archgym.envs.kernel.measure.grid import TILE_NAMES
    from archgym.envs.kernel.space import WORKLOAD_COLUMNS

    cols = [*WORKLOAD_COLUMNS, "backend", "precision", "sparsity", "density", "sparse_block"]
    tri = frame[  # type: ignore[index]
        (frame["backend"] == "triton") & (frame["sparsity"] == "dense") & frame["feasible"]  # type: ignore[index]
    ]
    per = [
        grp.nsmallest(top, "latency_s")[cols + list(TILE_NAMES)].to_dict("records")
        for _, grp in tri.groupby(["shape", "op", "precision"], sort=True)
    ]
    return [p[i] for i in range(top) for p in per if i < len(p)]


def outlier_points(frame: object, ratio: float) -> list[dict]:
    """Timed Triton points slower than ``ratio`` x the fastest timed one-step neighbour (one
    tile parameter one grid value away, :func:`archgym.envs.kernel.measure.grid.plan_near`'s
    steps) of the same shape, precision and pattern: candidates for a one-off slow timing.
    Chosen from the measurements alone (no model)."""
    from archgym.envs.kernel.measure.grid import TILE_NAMES, one_step
    from archgym.envs.kernel.space import WORKLOAD_COLUMNS

    cols = [*WORKLOAD_COLUMNS, "backend", "precision", "sparsity", "density", "sparse_block"]
    tri = frame[(frame["backend"] == "triton") & frame["feasible"]]  # type: ignore[index]
    out = []
    for _, grp in tri.groupby(["shape", "op", "precision", "sparsity", "density"], sort=True):
        cfgs = [tuple(int(v) for v in r) for r in grp[list(TILE_NAMES)].to_numpy()]
        lat = dict(zip(cfgs, grp["latency_s"].to_numpy(), strict=True))
        for row, cfg in zip(grp[cols + list(TILE_NAMES)].to_dict("records"), cfgs, strict=True):
            steps = one_step(dict(zip(TILE_NAMES, cfg, strict=True)))
            keys = (tuple(o[t] for t in TILE_NAMES) for o in steps)
            near = [lat[o] for o in keys if o in lat]
            if near and lat[cfg] > ratio * min(near):
                out.append(row)
    return out


def grid_shapes(text: str) -> tuple[tuple[str, int], ...]:
    """``--shapes``: ``"grid"``, ``"decode"`` or comma-separated ``LAYER@TOKENS``."""
    from archgym.envs.kernel.measure.grid import DECODE_SHAPES, GRID_SHAPES

    named = {"grid": GRID_SHAPES, "decode": DECODE_SHAPES}
    if text in named:
        return named[text]
    return tuple(parse_shape(s) for s in text.split(",") if s)


def parse_shape(text: str) -> tuple[str, int]:
    """``"llama-7b.qkv@2048"`` -> ``("llama-7b.qkv", 2048)``."""
    layer, _, tokens = text.partition("@")
    if not tokens.isdigit():
        raise SystemExit(f"bad shape {text!r}: write LAYER@TOKENS, e.g. llama-7b.qkv@2048")
    return layer, int(tokens)


def select_points(points: list[dict], rules: list[str]) -> list[dict]:
    """Plan points matching every ``COLUMN=VALUE`` rule (values compared as text)."""
    for rule in rules:
        col, _, val = rule.partition("=")
        points = [p for p in points if str(p[col]) == val]
    return points


if __name__ == "__main__":
    sys.exit(main())
