"""``archgym proxy train|eval|verify``: train a proxy cost model from logged runs, report its
quality, and check a proxy-found design on the true model.

::

    archgym proxy train runs/sweep --env archgym/Systolic-v0 --target latency_s energy_j \\
            --model hist-gbm --out proxies/systolic.json [--acquire 200]
    archgym proxy eval proxies/systolic.json [runs/held-out]
    archgym proxy verify runs/on-proxy          # best and front re-scored on the true model
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
    tr.add_argument(
        "--target",
        nargs="+",
        help="metrics to predict (default: the env's report metrics, e.g. latency_s energy_j "
        "area_mm2; 'all': every metric of the source cost model)",
    )
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
    _progress_flags(tr)
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="report a proxy's error, ranking quality and speed")
    ev.add_argument("proxy_file", help="proxy file written by `archgym proxy train`")
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
    _progress_flags(ev)
    ev.set_defaults(func=cmd_eval)

    ve = sub.add_parser(
        "verify",
        help="re-score a proxy-driven run's best and Pareto designs on the true cost model",
        description="Re-evaluate the best design and the Pareto front of a run searched on a "
        "proxy (--cost-model proxy:FILE) with the true cost model, and print the proxy's error "
        "on them.",
    )
    ve.add_argument("run_dir", help="run directory of a search on a proxy")
    ve.add_argument(
        "--env", help="env id of the true model (default: the run's env, its own cost model)"
    )
    ve.add_argument(
        "--env-opt",
        action="append",
        metavar="KEY=VALUE",
        help="env argument of the true env, overriding the run's (repeatable)",
    )
    ve.add_argument(
        "--cost-model", help="true cost model (default: the env's default, e.g. scalesim)"
    )
    ve.add_argument("--json", action="store_true", help="print the comparison as JSON")
    ve.set_defaults(func=cmd_verify)


def _progress_flags(p: Any) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--progress",
        action="store_true",
        help="always show the progress bar (default: only when stderr is a terminal)",
    )
    g.add_argument("--quiet", action="store_true", help="never show the progress bar")


def _progress(args: argparse.Namespace) -> bool | None:
    """``True`` (asked), ``False`` (``--quiet``), ``None`` (on a terminal only)."""
    return True if args.progress else False if args.quiet else None


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
        progress=_progress(args),
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
        progress=_progress(args),
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


def verify_run(
    run_dir: str,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    cost_model: str | None = None,
) -> dict[str, Any]:
    """Re-score the best design and the Pareto front of ``run_dir`` on the true model.

    Returns ``{"run", "true_env", "true_cost_model", "designs": [...], "summary"}``; each
    design has its ``eval_id``, ``role`` (``best``/``front``), the recorded (proxy) and true
    metrics, the relative error per metric, and the proxy's and true objective values.

    Raises:
        ConfigError: The run has no admissible design, or the true env cannot be built.
    """
    import numpy as np

    from archgym.errors import ConfigError
    from archgym.runner import Experiment, summarize_records
    from archgym.store import read_manifest, read_records

    manifest = read_manifest(run_dir)
    records, _ = read_records(run_dir)
    exp = Experiment(**manifest["experiment"])
    run_env = exp.make_env()
    summary = summarize_records(records, run_env)
    if summary["best"] is None:
        raise ConfigError(f"run {run_dir} has no admissible design to verify")
    kwargs = {k: v for k, v in exp.env_kwargs.items() if k != "cost_model"}
    kwargs.update(env_kwargs or {})
    if cost_model:
        kwargs["cost_model"] = cost_model
    if exp.objective is not None:
        kwargs["objective"] = exp.objective
    if exp.constraints:
        kwargs["constraints"] = list(exp.constraints)
    from archgym.registry import make

    true_env = make(env_id or exp.env, **kwargs)
    by_id = {r["eval_id"]: r for r in records}
    chosen = [(summary["best"]["eval_id"], "best")]
    chosen += [
        (row["eval_id"], "front") for row in summary["pareto"] if row["eval_id"] != chosen[0][0]
    ]
    designs = [by_id[i]["design"] for i, _ in chosen]
    res = true_env.evaluate(designs)
    true_obj = true_env.objective.values(res.evals)
    names = [m for m in true_env.cost_model.metric_names if m in by_id[chosen[0][0]]["metrics"]]
    out = []
    for k, (eid, role) in enumerate(chosen):
        rec = by_id[eid]
        proxy_m = {m: rec["metrics"].get(m) for m in names}
        true_m = {m: float(res.evals.metrics[m][k]) for m in names}
        err = {
            m: (proxy_m[m] - true_m[m]) / abs(true_m[m])
            if proxy_m[m] is not None and true_m[m] not in (0.0,) and np.isfinite(true_m[m])
            else None
            for m in names
        }
        out.append(
            {
                "eval_id": eid,
                "role": role,
                "feasible_true": bool(res.evals.feasible[k]),
                "proxy_metrics": proxy_m,
                "true_metrics": true_m,
                "relative_error": err,
                "proxy_objective": rec.get("objective"),
                "true_objective": [float(v) for v in true_obj[k]],
            }
        )
    errs = {
        m: [abs(d["relative_error"][m]) for d in out if d["relative_error"][m] is not None]
        for m in names
    }
    best_p, best_t = out[0]["proxy_objective"], out[0]["true_objective"]
    return {
        "run": str(run_dir),
        "proxy_cost_model": manifest.get("cost_model"),
        "true_env": true_env.env_id,
        "true_cost_model": f"{true_env.cost_model.name} v{true_env.cost_model.version}",
        "objective": list(true_env.objective.labels),
        "designs": out,
        "summary": {
            "n_designs": len(out),
            "max_abs_relative_error": {m: max(v) if v else None for m, v in errs.items()},
            "best_objective_relative_error": [
                (p - t) / abs(t) if p is not None and t else None
                for p, t in zip(best_p or [], best_t, strict=False)
            ],
        },
    }


def cmd_verify(args: argparse.Namespace) -> int:
    """``archgym proxy verify``."""
    from archgym.commands._args import parse_kv

    rep = verify_run(args.run_dir, args.env, parse_kv(args.env_opt, "--env-opt"), args.cost_model)
    if args.json:
        print(json.dumps(_clean(rep), indent=2, default=str))
        return 0
    print(
        f"run {rep['run']}: {len(rep['designs'])} designs (best + Pareto front) re-scored on "
        f"{rep['true_env']} with {rep['true_cost_model']}; objective {', '.join(rep['objective'])}"
    )
    metrics = [m for m, v in rep["summary"]["max_abs_relative_error"].items() if v is not None]
    show = metrics[:6]
    head = f"  {'eval':>6} {'role':<5} " + " ".join(f"{m[:18]:>19}" for m in show)
    print(head + "   (proxy -> true, error)")
    for d in rep["designs"]:
        cells = []
        for m in show:
            e = d["relative_error"][m]
            cells.append(f"{'n/a' if e is None else f'{e:+.1%}':>19}")
        feas = "" if d["feasible_true"] else "  INFEASIBLE on the true model"
        print(f"  {d['eval_id']:>6} {d['role']:<5} " + " ".join(cells) + feas)
    b = rep["designs"][0]
    for label, p, t, e in zip(
        rep["objective"],
        b["proxy_objective"] or [],
        b["true_objective"],
        rep["summary"]["best_objective_relative_error"],
        strict=False,
    ):
        err = "n/a" if e is None else f"{e:+.2%}"
        print(f"best design's {label}: proxy {p:.6g}, true {t:.6g} (proxy error {err})")
    worst = ", ".join(
        f"{m} {v:.1%}" for m, v in rep["summary"]["max_abs_relative_error"].items() if v is not None
    )
    print(f"largest |error| over these designs: {worst}")
    return 0
