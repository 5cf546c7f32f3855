"""Collect the shipped kernel dataset on a CUDA GPU (device-side driver).

    python benchmarks/collect_kernels.py --plan-only           # CPU: what would run
    python benchmarks/collect_kernels.py --out kernels_h100.csv.gz --workers 14 --deadline 420
    # a supplement: one part of the seed-0 plan, plus the full plan of extra shapes
    python benchmarks/collect_kernels.py --select backend=triton --select precision=fp8 \
        --extra-shapes llama-7b.qkv@2048,gpt2.lm_head@1024 --extra-seed 1 --out supp.csv.gz

Writes ``<out>`` (gzip CSV in archgym's record format) and ``<stem>.meta.json`` (GPU,
driver, CUDA, torch and triton versions, date, timing protocol).
"""

from __future__ import annotations

import argparse
import json
import sys

from archgym.envs.kernel.measure.collect import run_collection, summarize_plan
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
    args = ap.parse_args(argv)
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
