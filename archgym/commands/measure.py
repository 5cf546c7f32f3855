"""``archgym measure kernels``: time GPU matrix kernels and write a kernel dataset.

    archgym measure kernels --plan-only                    # any machine: what would run
    archgym measure kernels --gpu --out my_gpu.csv.gz      # a CUDA machine: measure

The records (gzip CSV in the format of ``archgym.envs.kernel.measure.plan.RECORD_COLUMNS``)
and a ``.meta.json`` with the GPU, driver, CUDA, torch and triton versions land at ``--out``;
``KernelLearnedCostModel(dataset=...)`` trains on them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from archgym.commands._args import count, seconds, seed

__all__ = ["add_parser", "cmd_kernels"]


def add_parser(subparsers: Any) -> None:
    """Register ``archgym measure ...`` on the CLI's subparsers."""
    ms = subparsers.add_parser("measure", help="measure real hardware")
    sub = ms.add_subparsers(dest="measure_command", required=True)
    k = sub.add_parser("kernels", help="time Triton / PyTorch matrix kernels on this GPU")
    k.add_argument("--gpu", action="store_true", help="run on the local CUDA GPU")
    k.add_argument("--plan-only", action="store_true", help="print the plan and exit (no GPU)")
    k.add_argument("--out", default="kernels.csv.gz", help="records file (.csv.gz)")
    k.add_argument("--seed", type=seed, default=0, help="plan, operand and mask seed")
    k.add_argument(
        "--configs-per-case", type=count(1, 100_000), default=20, help="tile configs per case"
    )
    k.add_argument(
        "--reps", type=count(1, 100_000), default=20, help="timed reps per kernel (median)"
    )
    k.add_argument(
        "--workers", type=count(1, 4096), default=8, help="parallel Triton compile processes"
    )
    k.add_argument("--deadline", type=seconds, default=None, help="stop after this many seconds")
    k.add_argument("--limit", type=count(0), default=0, help="keep only the first N planned points")
    k.set_defaults(func=cmd_kernels)


def cmd_kernels(args: argparse.Namespace) -> int:
    """Plan, and with ``--gpu`` measure; returns the exit code."""
    from archgym.envs.kernel.measure.collect import run_collection, summarize_plan
    from archgym.envs.kernel.measure.plan import plan_collection
    from archgym.errors import ConfigError

    points = plan_collection(args.seed, args.configs_per_case)
    if args.limit:
        points = points[: args.limit]
    print(json.dumps(summarize_plan(points), indent=1))
    if args.plan_only:
        return 0
    if not args.gpu:
        raise ConfigError(
            "`archgym measure kernels` runs kernels only with --gpu "
            "(or pass --plan-only to see the plan)"
        )
    csv, meta = run_collection(
        points,
        args.out,
        reps=args.reps,
        seed=args.seed,
        workers=args.workers,
        deadline_s=args.deadline,
    )
    print(f"wrote {csv} and {meta}")
    return 0
