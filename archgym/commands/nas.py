"""``archgym nas build-table``: build (or resume) a tabular NAS benchmark.

Example (the command that built the shipped digits table; see ``archgym/envs/nas/data/README.md``)::

    archgym nas build-table --task digits --records runs/nas/digits.jsonl \\
        --out archgym/envs/nas/data/digits.parquet --workers 16

It trains every architecture of the table space once (one torch thread per worker process),
evaluates the 48 compression settings on each, appends one JSON line per architecture to
``--records`` (re-running skips finished architectures) and packs the Parquet table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from archgym.commands._args import count, fraction, seconds
from archgym.limits import MAX_SEED

__all__ = ["add_parser", "main"]


def add_parser(subparsers: Any) -> None:
    """Register ``archgym nas ...`` on the CLI's subparsers."""
    nas = subparsers.add_parser("nas", help="neural-architecture-search tables")
    sub = nas.add_subparsers(dest="nas_command", required=True)
    b = sub.add_parser("build-table", help="train the table space and write a tabular benchmark")
    b.add_argument(
        "--task", default="digits", choices=["digits", "mnist1d"], help="dataset of the table"
    )
    b.add_argument("--out", required=True, help="Parquet table to write, e.g. digits.parquet")
    b.add_argument(
        "--records",
        default=None,
        help="JSON-lines progress file (default: OUT with .records.jsonl); resumable",
    )
    b.add_argument(
        "--workers", type=count(1, 4096), default=1, help="worker processes (1 torch thread each)"
    )
    b.add_argument(
        "--limit", type=count(1), default=None, help="measure at most this many architectures"
    )
    b.add_argument(
        "--time-limit",
        type=seconds,
        default=None,
        help="stop starting new architectures after this many seconds",
    )
    b.add_argument(
        "--seed",
        type=count(0, MAX_SEED - 1),
        default=0,
        help="training seed of the reported accuracies",
    )
    b.add_argument("--epochs", type=count(1, 100_000), default=15, help="dense training epochs")
    b.add_argument(
        "--noise-fraction",
        type=fraction,
        default=0.1,
        help="fraction of architectures also trained with seed+1 (seed noise)",
    )
    b.add_argument(
        "--mnist1d-cache",
        default=None,
        help="npz with x,y of MNIST-1D (for machines without the mnist1d package)",
    )
    b.add_argument("--no-pack", action="store_true", help="only append records")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_build_table)


def cmd_build_table(args: argparse.Namespace) -> int:
    from pathlib import Path

    from archgym.envs.nas.build import build_records, pack_table
    from archgym.envs.nas.oracle import OracleConfig
    from archgym.envs.nas.train import TrainConfig

    cfg = OracleConfig(
        seed=args.seed,
        noise_seed=args.seed + 1,
        noise_fraction=args.noise_fraction,
        train=TrainConfig(epochs=args.epochs),
    )
    out = Path(args.out)
    _check_table_path(out)
    records = Path(args.records) if args.records else out.with_suffix(".records.jsonl")
    bar = None
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(desc=f"nas {args.task}", unit="arch")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    n = build_records(
        records,
        task=args.task,
        workers=args.workers,
        cfg=cfg,
        limit=args.limit,
        time_limit_s=args.time_limit,
        mnist1d_cache=args.mnist1d_cache,
        progress=progress,
    )
    if bar is not None:
        bar.close()
    print(f"wrote {n} new architecture records to {records}")
    if not args.no_pack:
        cmd = "archgym " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        meta = pack_table(records, out, args.task, cfg, command=cmd)
        print(
            f"packed {meta['rows']} rows ({meta['architectures']} architectures) into {out}; "
            f"seed noise {meta['noise']}"
        )
    return 0


def _check_table_path(out: Any) -> None:
    """``--out`` may be replaced only if it is missing or a Parquet table (a rebuild): any
    other file there is the user's, never overwritten."""
    from archgym.errors import StoreError

    if out.is_dir():
        raise StoreError(f"--out {out} is a directory; name the Parquet file to write")
    if out.exists():
        with open(out, "rb") as fh:
            magic = fh.read(4)
        if magic != b"PAR1":
            raise StoreError(
                f"--out {out} exists and is not a Parquet table; build-table replaces only a "
                "table it wrote: choose another --out or move the file away"
            )


def main(argv: list[str] | None = None) -> int:
    """Run ``nas`` subcommands without the rest of the CLI (``python -m archgym.commands.nas``)."""
    parser = argparse.ArgumentParser(prog="archgym")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
