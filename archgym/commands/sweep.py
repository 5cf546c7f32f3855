"""``archgym sweep FILE``: run every experiment of a TOML experiment file.

::

    archgym sweep experiments/lottery.toml --workers 2 --out runs/lottery          # local processes
    archgym sweep experiments/lottery.toml --executor dask --address tcp://sched:8786 --out runs/lottery
    archgym sweep experiments/lottery.toml --out runs/lottery --resume             # after a crash

The file is validated (and every env and agent built once) before anything runs. Exit code 0
when every experiment completed, 1 when some failed (each is recorded in
``OUT/results.jsonl`` with its error; ``--resume`` retries them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from archgym.commands._args import count, seconds
from archgym.limits import MAX_BUDGET, MAX_SEEDS

__all__ = ["add_parser", "cmd_sweep"]


def add_parser(subparsers: Any) -> None:
    """Register ``archgym sweep`` on the CLI's subparsers."""
    p = subparsers.add_parser("sweep", help="run a sweep of experiments from a TOML file")
    p.add_argument("file", help="experiment file, e.g. experiments/quickstart.toml")
    p.add_argument(
        "--out",
        required=True,
        help="sweep directory; its runs are kept in OUT/shards, one file per worker process "
        "(or see --run-dirs), and each is addressed as OUT/<experiment id> (archgym show, "
        "archgym.load_runs)",
    )
    p.add_argument(
        "--workers",
        type=count(1, 4096),
        default=2,
        help="worker processes of the local executor (or of a local Dask cluster)",
    )
    p.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local process pool (default) or Dask distributed",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Dask scheduler, e.g. tcp://host:8786 (default: a local Dask cluster)",
    )
    p.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        help="seconds to wait for the Dask scheduler to answer (default 10)",
    )
    p.add_argument(
        "--seeds",
        type=count(1, MAX_SEEDS),
        default=None,
        help="override [sweep] seeds (the number of seeds): scales the study",
    )
    p.add_argument(
        "--budget", type=count(1, MAX_BUDGET), default=None, help="override [sweep] budget"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep in --out: skip complete experiments, redo the rest",
    )
    p.add_argument(
        "--chunk",
        type=count(1, 10_000),
        default=None,
        help="experiments per task, run in turn by one worker with the env built once "
        "(default: up to 16, at least 8 tasks per worker; on Dask up to 32, at least 4; 1 "
        "balances long experiments best)",
    )
    p.add_argument(
        "--run-dirs",
        action="store_true",
        help="one run directory per experiment (manifest.json + records.jsonl, as `archgym run "
        "--out` writes) instead of OUT/shards; creates three files per experiment, which costs "
        "CPU (and time on network file systems)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and list, run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``archgym sweep``."""
    from archgym.errors import ConfigError
    from archgym.sweep import load_sweep, open_executor, run_sweep

    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, but got {args.workers}")
    overrides: dict[str, Any] = {}
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    if args.budget is not None:
        overrides["budget"] = args.budget
    spec = load_sweep(args.file, overrides=overrides)
    n_agents = len({i.agent_label for i in spec.items})
    n_envs = len({i.env_label for i in spec.items})
    n_settings = len({(i.agent_label, i.setting) for i in spec.items})
    print(
        f"archgym sweep {spec.name}: {len(spec.items)} experiments ({n_envs} envs, {n_agents} "
        f"agents, {n_settings} hyperparameter settings, seeds x envs) -> {args.out}",
        file=sys.stderr,
    )
    if args.dry_run:
        for it in spec.items:
            print(it.id)
        return 0
    with open_executor(args.executor, args.workers, args.address, args.timeout) as ex:
        res = run_sweep(
            spec,
            args.out,
            ex,
            resume=args.resume,
            progress=not args.quiet,
            chunk=args.chunk,
            layout="dirs" if args.run_dirs else "shards",
        )
    rate = (res.n_complete + res.n_failed) / res.wall_s if res.wall_s > 0 else 0.0
    print(
        f"done: {res.n_complete} completed, {res.n_skipped} already complete, {res.n_failed} "
        f"failed, in {res.wall_s:.1f} s ({rate:.1f} experiments/s)"
    )
    for eid, err in res.failures[:10]:
        print(f"  failed {eid}: {err}")
    if res.n_failed:
        print(f"  errors are in {res.out}/results.jsonl; rerun with --resume to retry them")
        return 1
    if spec.items:
        print(
            f"runs: archgym show {args.out}/{spec.items[0].id}  (archgym.load_runs('{args.out}'))"
        )
    print(f"report: archgym report {args.out} --out {args.out}/report")
    return 0
