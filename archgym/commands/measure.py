"""``archgym measure kernels``: time GPU matrix kernels and write a kernel dataset.

    archgym measure kernels --plan-only                    # any machine: what would run
    archgym measure kernels --gpu --out my_gpu.csv.gz      # a CUDA machine: measure
    archgym measure calibrate my_gpu.csv.gz --gpu MY-GPU   # any machine: fit the roofline
                                                           # into ./calibration.json

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
        "--configs",
        type=count(1, 100_000),
        default=200,
        help="Triton tile configs per precision (all shapes)",
    )
    k.add_argument(
        "--phases",
        default="fp16,vendor,bf16,fp8",
        help="comma-separated, in priority order, of fp16,vendor,bf16,fp8,int8,int4,block",
    )
    k.add_argument(
        "--reps", type=count(1, 100_000), default=20, help="most timed reps per kernel (median)"
    )
    k.add_argument(
        "--workers",
        type=count(0, 4096),
        default=0,
        help="parallel Triton compile processes (0: cores - 2)",
    )
    k.add_argument(
        "--deadline", type=seconds, default=None, help="stop after this many seconds (resumable)"
    )
    k.add_argument("--resume", default="", help="records of an earlier, cut-short run to keep")
    k.add_argument("--limit", type=count(0), default=0, help="keep only the first N planned points")
    k.set_defaults(func=cmd_kernels)
    c = sub.add_parser(
        "calibrate", help="fit the analytical kernel model's constants on a records file"
    )
    c.add_argument("data", help="records file from `archgym measure kernels --gpu`")
    c.add_argument("--gpu", required=True, help="GPU name (a key of the spec table)")
    c.add_argument(
        "--gpu-spec",
        default="",
        metavar="FILE.json",
        help="GPUSpec fields of a GPU missing from the spec table (registered for this run)",
    )
    c.add_argument(
        "--folds", type=count(2, 1000), default=5, help="grouped K-fold by shape for the report"
    )
    c.add_argument(
        "--out",
        default="calibration.json",
        help="calibration JSON to write, or to add this GPU to (default: calibration.json in "
        "the current directory; the installed package's own file is never written). Use it "
        "with --env-opt calibration=FILE",
    )
    c.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Report held-out-shape errors, fit on all shapes, write the constants."""
    from archgym.envs.kernel.calibrate import calibrate
    from archgym.envs.kernel.env import _gpu_from_spec

    if args.gpu_spec:
        _gpu_from_spec(args.gpu_spec)
    return calibrate(args.gpu, args.data, args.folds, True, args.out)


def cmd_kernels(args: argparse.Namespace) -> int:
    """Plan the dense tile grid, and with ``--gpu`` measure it; returns the exit code."""
    import os

    from archgym.envs.kernel.measure.collect import run_pipelined, summarize_plan
    from archgym.envs.kernel.measure.grid import plan_grid
    from archgym.errors import ConfigError

    points = [p for _, p in plan_grid(args.seed, args.configs, phases=args.phases.split(","))]
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
    from archgym.envs.kernel.dataset import load_dataset
    from archgym.envs.kernel.gpus import gpu_from_device_name
    from archgym.envs.kernel.measure.plan import require_cuda

    torch = require_cuda()
    gpu = gpu_from_device_name(torch.cuda.get_device_name(0))
    resume = load_dataset(args.resume) if args.resume else None
    csv, meta = run_pipelined(
        points,
        args.out,
        gpu=gpu,
        reps=args.reps,
        seed=args.seed,
        workers=args.workers or max((os.cpu_count() or 4) - 2, 1),
        deadline_s=args.deadline,
        resume=resume,
    )
    print(f"wrote {csv} and {meta}")
    return 0
