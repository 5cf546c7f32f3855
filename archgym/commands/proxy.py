"""``archgym proxy train|eval``: train a proxy cost model from logged runs, and report its
quality.

::

    archgym proxy train runs/sweep --env archgym/Systolic-v0 --target latency_s energy_j \\
            --model hist-gbm --out proxies/systolic.json [--acquire 200]
    archgym proxy eval proxies/systolic.json [runs/held-out]
    archgym run --env archgym/Systolic-v0 --cost-model proxy:proxies/systolic.json --agent tpe
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from archgym.commands._args import count, cv_folds, seed

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Add ``proxy`` with its ``train`` and ``eval`` subcommands."""
    from archgym.proxy._estimators import FAMILIES

    proxy = subparsers.add_parser("proxy", help="train and evaluate proxy cost models from runs")
    sub = proxy.add_subparsers(dest="proxy_command", required=True, parser_class=type(proxy))

    tr = sub.add_parser("train", help="train a proxy on run directories")
    tr.add_argument("run_dirs", nargs="+", help="run directories (or folders of runs)")
    tr.add_argument("--env", help="env id the runs must be of (default: theirs)")
    tr.add_argument("--target", nargs="+", help="metrics to predict (default: all of the source's)")
    tr.add_argument("--model", choices=FAMILIES, default="hist-gbm", help="model family")
    tr.add_argument(
        "--hparam",
        action="append",
        metavar="KEY=VALUE",
        help="model hyperparameter, e.g. max_iter=300 (repeatable)",
    )
    tr.add_argument("--out", required=True, help="proxy file to write (JSON)")
    tr.add_argument("--seed", type=seed, default=0, help="seed of the model and CV split")
    tr.add_argument(
        "--cv", type=cv_folds, default=5, help="cross-validation folds stored (0: none)"
    )
    tr.add_argument(
        "--acquire",
        type=count(0, 10_000_000),
        default=0,
        metavar="N",
        help="active learning: add N true evaluations chosen by the proxy",
    )
    tr.add_argument(
        "--acquire-batch",
        type=count(1, 1_000_000),
        default=50,
        help="designs per acquisition round",
    )
    tr.add_argument(
        "--acquire-out",
        help="run directory for the acquired evaluations "
        "(default: OUT without .json + '.acquired')",
    )
    tr.add_argument("--threads", type=count(1, 1024), default=1, help="threads while fitting")
    tr.add_argument("--json", action="store_true", help="print the summary as JSON")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="report a proxy's error, ranking quality and speed")
    ev.add_argument("proxy_file")
    ev.add_argument(
        "held_out",
        nargs="*",
        help="held-out run directories (default: k-fold CV on the training runs)",
    )
    ev.add_argument("--folds", type=count(2, 100), default=5, help="cross-validation folds")
    ev.add_argument("--top-k", type=count(1, 1_000_000), default=10, help="k of the top-k recall")
    ev.add_argument(
        "--speed-n", type=count(0, 10_000_000), default=2000, help="designs timed (0: skip)"
    )
    ev.add_argument("--threads", type=count(1, 1024), default=1, help="threads while refitting")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.set_defaults(func=cmd_eval)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def cmd_train(args: argparse.Namespace) -> int:
    """``archgym proxy train``."""
    from archgym.commands._args import parse_kv
    from archgym.proxy import acquire, format_report, train_proxy

    proxy = train_proxy(
        args.run_dirs,
        env_id=args.env,
        targets=args.target,
        model=args.model,
        hparams=parse_kv(args.hparam, "--hparam"),
        seed=args.seed,
        cv=args.cv,
        n_threads=args.threads,
    )
    active = None
    if args.acquire:
        proxy.save(args.out)  # acquisition reads the stored training runs
        out = args.acquire_out or (args.out.removesuffix(".json") + ".acquired")
        active = acquire(
            proxy,
            args.acquire,
            batch=args.acquire_batch,
            seed=args.seed,
            out=out,
            n_threads=args.threads,
        )
        proxy = active.proxy
    sha = proxy.save(args.out)
    summary = {"proxy": args.out, "sha256": sha, **proxy.describe(), "cv": proxy.payload["cv"]}
    if active is not None:
        summary["acquisition"] = proxy.payload["acquisition"]
    if args.json:
        print(json.dumps(_clean(summary), indent=2, default=str))
        return 0
    print(
        f"proxy of {proxy.env_id} ({args.model}, {proxy.payload['n_rows']} rows, targets "
        f"{', '.join(proxy.targets)}) -> {args.out}  sha256 {sha[:16]}"
    )
    if proxy.payload["cv"]:
        print(format_report(proxy.payload["cv"]))
    if active is not None:
        h = active.history
        print(
            f"active learning: {active.n_acquired} true evaluations logged to {active.run_dir}; "
            f"best true objective {h[0][1]:.6g} after {h[0][0]} -> {h[-1][1]:.6g} after {h[-1][0]}"
        )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``archgym proxy eval``."""
    from archgym.proxy import Proxy, evaluate_proxy, format_report

    proxy = Proxy.load(args.proxy_file)
    report = evaluate_proxy(
        proxy,
        args.held_out or None,
        folds=args.folds,
        top_k=args.top_k,
        speed_n=args.speed_n,
        n_threads=args.threads,
    )
    if args.json:
        print(json.dumps(_clean({"proxy": proxy.describe(), **report}), indent=2, default=str))
        return 0
    d = proxy.describe()
    print(
        f"proxy {args.proxy_file}: {d['env_id']}, {d['model']['family']} on {d['n_rows']} rows "
        f"from {d['source_cost_model'].get('name')} v{d['source_cost_model'].get('version')}"
    )
    print(format_report(report))
    return 0
