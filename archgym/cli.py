"""``archgym`` command line: run, list, show, and subcommands from ``archgym.commands``.

Exit codes: 0 success; 1 the run failed (a broken backend, an unexpected error); 2 bad input
(unknown name, malformed option, invalid design or experiment); 3 a run-store problem
(unwritable ``--out``, corrupt records, a run that cannot be resumed); 130 interrupted.
Errors print one line ``archgym: error: ...`` to stderr, never a traceback (set
``ARCHGYM_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import os
import pkgutil
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from archgym.commands._args import parse_kv
from archgym.errors import ArchGymError, ConfigError, StoreError

__all__ = ["main", "DEFAULT_EXPERIMENT", "parse_kv"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: What ``archgym run`` does with no options: a 200-evaluation TPE search of a systolic array
#: for ResNet-18 on the env's own default objective (energy-delay product), exactly what
#: ``archgym run --env archgym/Systolic-v0`` does.
DEFAULT_EXPERIMENT: dict[str, Any] = {
    "env": "archgym/Systolic-v0",
    "env_kwargs": {},
    "agent": "tpe",
    "budget": 200,
    "seed": 0,
    "objective": None,
    "constraints": [],
}

_OBJECTIVE_HELP = (
    "objective (default: the env's, see `archgym describe ENV`): a metric ('latency_s'), "
    "'min:METRIC' or 'max:METRIC', 'edp', a product ('energy_j*latency_s'), a weighted sum "
    "('weighted:latency_s=1,energy_j=0.5'), targets ('target:latency_s=1e-3,area_mm2=5'); "
    "repeat the flag for a Pareto search"
)


def _int_at_least(minimum: int, what: str) -> Any:
    """An argparse type: an integer >= ``minimum``, else a message naming the rule."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a {what} integer, but got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {what} integer, but got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "positive")
_nonneg_int = _int_at_least(0, "non-negative")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with one line, like every bad input
        self.print_usage(sys.stderr)
        print(f"archgym: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (built-in commands plus discovered subcommands)."""
    parser = _Parser(prog="archgym", description="Design-space exploration gym for ML systems.")
    from archgym import __version__

    parser.add_argument(
        "--version", action="version", version=f"archgym {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run one search experiment (default: the built-in one)")
    run.add_argument("--env", help=f"env id (default {DEFAULT_EXPERIMENT['env']})")
    run.add_argument(
        "--env-opt",
        action="append",
        metavar="KEY=VALUE",
        help="env argument, e.g. workload=bert_base (repeatable)",
    )
    run.add_argument(
        "--cost-model", help="replace the env's cost model, e.g. scalesim or proxy:FILE"
    )
    run.add_argument("--agent", help=f"agent name (default {DEFAULT_EXPERIMENT['agent']})")
    run.add_argument(
        "--agent-opt",
        action="append",
        metavar="KEY=VALUE",
        help="agent hyperparameter, e.g. n_startup_trials=20 (repeatable)",
    )
    run.add_argument("--objective", action="append", metavar="SPEC", help=_OBJECTIVE_HELP)
    run.add_argument("--constraint", action="append", help="e.g. 'area_mm2 <= 10' (repeatable)")
    run.add_argument("--budget", type=_positive_int, help="number of evaluations (default 200)")
    run.add_argument("--batch-size", type=_positive_int, help="designs per agent ask (default 1)")
    run.add_argument("--seed", type=_nonneg_int, help="random seed (default 0)")
    run.add_argument("--out", help="run directory for the records (default: in memory only)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("list", help="list envs, agents and cost models")
    lst.add_argument("--json", action="store_true", help="print the listing as JSON")
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="summarise a run directory")
    show.add_argument("run_dir", help="run directory written by `archgym run --out`")
    show.add_argument(
        "--json", action="store_true", help="print the summary and the manifest as JSON"
    )
    show.set_defaults(func=cmd_show)

    import archgym.commands as commands

    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"archgym.commands.{info.name}")
        add = getattr(module, "add_parser", None)
        if add is not None:
            add(sub)
    return parser


def _experiment_from_args(args: argparse.Namespace) -> Any:
    from archgym.runner import Experiment

    base = {**DEFAULT_EXPERIMENT, "env": args.env or DEFAULT_EXPERIMENT["env"]}
    env_kwargs = dict(base.get("env_kwargs", {}))
    env_kwargs.update(parse_kv(args.env_opt, "--env-opt"))
    if args.cost_model:
        env_kwargs["cost_model"] = args.cost_model
    objective: Any = base.get("objective")
    if args.objective:
        objective = args.objective[0] if len(args.objective) == 1 else list(args.objective)
    constraints = list(args.constraint) if args.constraint else list(base.get("constraints", []))
    return Experiment(
        env=base["env"],
        env_kwargs=env_kwargs,
        agent=args.agent if args.agent is not None else DEFAULT_EXPERIMENT["agent"],
        agent_kwargs=parse_kv(args.agent_opt, "--agent-opt"),
        budget=args.budget or DEFAULT_EXPERIMENT["budget"],
        seed=args.seed if args.seed is not None else DEFAULT_EXPERIMENT["seed"],
        batch_size=args.batch_size or 1,
        objective=objective,
        constraints=constraints,
    )


def _progress_bar(enabled: bool) -> tuple[Any, Any]:
    if not enabled:
        return None, None
    from tqdm import tqdm

    # The bar appears on the first update, so a run that fails before it starts prints only
    # its error line; disable=None turns it off when stderr is not a terminal (logs, CI).
    bar = tqdm(
        total=0,
        unit="eval",
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        disable=None,
        delay=float("inf"),
    )

    def update(done: int, budget: int, infeasible: int) -> None:
        bar.total = budget
        bar.n = done
        bar.set_postfix(infeasible=infeasible, refresh=False)
        bar.refresh()

    return update, bar


def _fmt_table(rows: Sequence[dict[str, Any]], max_rows: int = 15) -> str:
    """Rows of dicts as a right-aligned text table (floats to 4 significant digits), without
    pandas: a plain ``archgym run`` then never imports it."""
    if not rows:
        return "  (empty)"
    shown = rows[:max_rows]
    cols = list(dict.fromkeys(k for r in shown for k in r))

    def cell(v: Any) -> str:
        if v is None:
            return "None"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    table = [cols, *([cell(r.get(c)) for c in cols] for r in shown)]
    widths = [max(len(line[i]) for line in table) for i in range(len(cols))]
    lines = [" ".join(x.rjust(w) for x, w in zip(line, widths, strict=True)) for line in table]
    extra = f"\n  ... {len(rows) - max_rows} more" if len(rows) > max_rows else ""
    return "\n".join("  " + line for line in lines) + extra


def _objective_line(result: Any) -> str | None:
    ob = getattr(result, "objective", None)
    if not ob:
        return None
    text = f"Objective: {', '.join(ob['objectives'])}"
    if ob.get("constraints"):
        text += f"; constraints: {', '.join(ob['constraints'])}"
    cm = getattr(result, "cost_model", "")
    return text + (f"; cost model {cm}" if cm else "")


def _shown_objective(label: str, v: Any) -> str:
    """An objective value as the user reads it (a maximised metric un-negated)."""
    if not isinstance(v, (int, float)):
        return str(v)
    return f"{-v:.6g}" if label.startswith("max:") else f"{v:.6g}"


def _print_result(result: Any, header: str) -> None:
    from archgym.outcomes import format_outcomes

    print(header)
    line = _objective_line(result)
    if line:
        print(line)
    if getattr(result, "outcomes", None):
        print("\n".join(format_outcomes(result.outcomes)))
    best = result.best
    if best is None:
        print("No admissible design found (every evaluation was infeasible or broke a constraint).")
    else:
        value = ", ".join(
            f"{label} = {_shown_objective(label, v)}"
            for label, v in (best.get("objective") or {}).items()
        )
        print(f"Best design (evaluation #{best['eval_id']})" + (f": {value}" if value else ":"))
        for k, v in best["design"].items():
            print(f"  {k:>16} = {v}")
        print("Its metrics:")
        for k, v in best["metrics"].items():
            print(f"  {k:>22} = {v:.6g}" if isinstance(v, float) else f"  {k:>22} = {v}")
    front = result.pareto_rows
    print(f"Pareto front over {', '.join(result.pareto_metrics)} ({len(front)} designs):")
    print(_fmt_table(front))
    if getattr(result, "hypervolume", None) is not None:
        print(
            f"Hypervolume of the front (minimisation form, reference = worst admissible "
            f"value + 10 % per objective): {result.hypervolume:.6g}"
        )
    if result.run_dir is not None:
        print(f"Records: {result.run_dir}/records.jsonl  (archgym.load_runs('{result.run_dir}'))")


def _run_label(result: Any, env_kwargs: dict[str, Any]) -> str:
    """`` (workload, GPU)`` from the run, falling back to the ``workload`` option."""
    parts = [p for p in (getattr(result, "workload", ""), getattr(result, "hardware", "")) if p]
    return f" ({', '.join(parts)})" if parts else _workload_label(env_kwargs)


def _workload_label(env_kwargs: dict[str, Any]) -> str:
    workload = env_kwargs.get("workload")
    return f" ({workload})" if isinstance(workload, str) and workload else ""


_EXPERIMENT_FLAGS = (
    "env",
    "env_opt",
    "cost_model",
    "agent",
    "agent_opt",
    "objective",
    "constraint",
    "seed",
    "batch_size",
)


def _resumed_experiment(args: argparse.Namespace) -> Any:
    """``--resume --out DIR`` with no experiment flags: the experiment recorded in DIR
    (``--budget`` may extend it)."""
    from pathlib import Path

    from archgym.runner import Experiment
    from archgym.store import read_manifest

    if not args.resume:
        return None
    if not (Path(args.out) / "manifest.json").exists():
        if any(getattr(args, flag) not in (None, []) for flag in _EXPERIMENT_FLAGS):
            return None  # an experiment is given: resume it, or start it in an empty --out
        raise StoreError(
            f"--resume: {args.out} holds no run to resume (no manifest.json); without "
            "experiment flags there is nothing to continue: drop --resume to start a new run"
        )
    if any(getattr(args, flag) not in (None, []) for flag in _EXPERIMENT_FLAGS):
        return None  # flags given: they must match the recorded run (checked by the runner)
    recorded = dict(read_manifest(args.out).get("experiment", {}))
    if args.budget:
        recorded["budget"] = args.budget
    return Experiment(**recorded)


def cmd_run(args: argparse.Namespace) -> int:
    """``archgym run``."""
    from archgym.runner import run_experiment

    if args.out is not None and not args.out.strip():
        raise ConfigError("--out must name a run directory, but got an empty string")
    if args.resume and not args.out:
        raise ConfigError("--resume needs --out naming the run directory to continue")
    exp = _resumed_experiment(args) or _experiment_from_args(args)
    update, bar = _progress_bar(not (args.quiet or args.json))
    try:
        result = run_experiment(exp, out=args.out, resume=args.resume, progress=update)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
        return EXIT_OK
    _print_result(
        result,
        f"archgym run: {exp.env}{_run_label(result, exp.env_kwargs)}, agent {exp.agent}, "
        f"seed {exp.seed}: {result.n_evaluations} evaluations in {result.wall_s:.2f} s",
    )
    return _no_admissible_exit(result)


def _no_admissible_exit(result: Any) -> int:
    """``EXIT_FAILED`` with a line naming why when a finished run found no admissible design
    (every evaluation infeasible, or a constraint never met), else ``EXIT_OK``."""
    if result.best is not None or result.status != "complete" or not result.n_evaluations:
        return EXIT_OK
    c = getattr(result, "outcomes", None) or {}
    if c.get("never_met"):
        why = (
            f"constraint(s) {', '.join(repr(x) for x in c['never_met'])} never met by any of the "
            f"{c['feasible']} feasible designs; relax the bound or change the design space"
        )
    elif c.get("feasible", 0) == 0:
        top = c.get("infeasible_reasons") or []
        why = "every evaluation was infeasible" + (f" (most often: {top[0][0]})" if top else "")
    else:
        why = "no feasible design met all constraints at once"
    print(
        f"archgym: error: no admissible design in {result.n_evaluations} evaluations: {why}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def cmd_list(args: argparse.Namespace) -> int:
    """``archgym list``."""
    from archgym.registry import list_agents, list_cost_models, list_envs

    groups = {"envs": list_envs(), "agents": list_agents(), "cost_models": list_cost_models()}
    for spec in groups["envs"].values():  # a plugin's description is its factory's docstring
        if spec.source != "archgym":
            with contextlib.suppress(ArchGymError):
                spec.load()
    if args.json:
        print(
            json.dumps(
                {g: {k: s.description for k, s in specs.items()} for g, specs in groups.items()}
            )
        )
        return EXIT_OK
    for title, specs in groups.items():
        print(f"{title.replace('_', ' ')}:")
        width = max((len(k) for k in specs), default=0)
        for name, spec in specs.items():
            print(f"  {name:<{width}}  {spec.description}")
    return EXIT_OK


def _shown_status(run_dir: str, manifest: dict[str, Any]) -> str:
    """The manifest's status, except that a ``running`` run no process holds is stopped."""
    from archgym.store import is_live

    status = str(manifest.get("status", "?"))
    if status == "running" and not is_live(run_dir):
        return "stopped (no process is writing it; --resume continues it)"
    return status


def cmd_show(args: argparse.Namespace) -> int:
    """``archgym show RUN_DIR``."""
    from archgym.runner import Experiment, RunResult, summarize_records
    from archgym.store import read_manifest, read_records

    _refuse_sweep_dir(args.run_dir)
    manifest = read_manifest(args.run_dir)
    records, _ = read_records(args.run_dir, manifest)
    try:
        exp = Experiment(**manifest["experiment"])
    except (KeyError, TypeError, ArchGymError) as exc:
        raise StoreError(
            f"{args.run_dir}/manifest.json does not describe an experiment "
            f"({type(exc).__name__}: {exc}); it was not written by this archgym, or was edited"
        ) from None
    try:
        env = exp.make_env()
    except ArchGymError as exc:  # e.g. a moved proxy file, a missing extra, no GPU here
        print(
            f"archgym: note: cannot rebuild the env ({exc}); showing the recorded best only",
            file=sys.stderr,
        )
        from types import SimpleNamespace

        from archgym.outcomes import count_outcomes

        recorded = (manifest.get("env", {}) or {}).get("objective", {}) or {}
        summary: dict[str, Any] = {
            "best": manifest.get("best"),
            "pareto": [],
            "pareto_metrics": [],
            # what the records alone tell: counts, the recorded objective
            "outcomes": count_outcomes(
                records, SimpleNamespace(constraints=recorded.get("constraints", []))
            ),
            "objective": recorded or None,
            "cost_model": _recorded_model(manifest),
        }
    else:
        summary = summarize_records(records, env)
        from archgym.runner import _explained

        summary.update(_explained(records, env))
    result = RunResult(
        run_dir=args.run_dir,
        n_evaluations=len(records),
        best=summary["best"],
        pareto_rows=summary["pareto"],
        pareto_metrics=summary["pareto_metrics"],
        status=_shown_status(args.run_dir, manifest),
        wall_s=_recorded_wall_s(records),
        outcomes=summary.get("outcomes"),
        objective=summary.get("objective"),
        cost_model=summary.get("cost_model", ""),
    )
    if args.json:
        print(json.dumps({**result.to_dict(), "manifest": manifest}, default=str))
        return EXIT_OK
    _print_result(
        result,
        f"Run {args.run_dir}: {manifest['env_id']}, agent {manifest['agent']}, seed "
        f"{manifest['seed']}, status {result.status}, {len(records)}/{manifest['budget']} "
        f"evaluations, {result.wall_s:.2f} s of run time",
    )
    return EXIT_OK


def _recorded_model(manifest: dict[str, Any]) -> str:
    """``name vVERSION`` of the cost model a manifest records (``""`` if none)."""
    from types import SimpleNamespace

    from archgym.runner import _model_label

    cm = (manifest.get("env", {}) or {}).get("cost_model") or {}
    if not isinstance(cm, dict) or "name" not in cm:
        return ""
    return _model_label(SimpleNamespace(name=cm["name"], version=cm.get("version", "?")))


def _recorded_wall_s(records: list[dict[str, Any]]) -> float:
    """Total wall time of a run from its records: ``t_s`` counts from the start of each
    session (a resume starts a new one), so the sessions' last times are summed."""
    total, last = 0.0, 0.0
    for r in records:
        t = r.get("t_s")
        if not isinstance(t, (int, float)):
            continue
        if t < last:  # a new session
            total += last
        last = float(t)
    return total + last


def _refuse_sweep_dir(path: str) -> None:
    """A sweep directory is not a run: point to ``archgym report`` and its runs."""
    from pathlib import Path

    from archgym.store import _find_runs

    p = Path(path)
    if (p / "results.jsonl").exists() and not (p / "manifest.json").exists():
        try:
            runs = _find_runs([p])[:1]
        except ArchGymError:  # no run yet, or an unreadable shard: no example then
            runs = []
        example = f"; or show one of its runs: archgym show {runs[0]}" if runs else ""
        raise ConfigError(
            f"{path} is a sweep directory, not a run: summarise it with "
            f"`archgym report {path} --out {p / 'report'}`{example}"
        )


def _interrupt_hint(args: argparse.Namespace) -> str:
    """What Ctrl-C left behind, for the command that was interrupted."""
    if getattr(args, "command", None) == "run":
        if getattr(args, "out", None):
            return (
                f"records written so far are kept in {args.out} (continue with "
                f"`archgym run --out {args.out} --resume`)"
            )
        return "the run was in memory only, nothing was kept (use --out DIR to keep records)"
    if getattr(args, "command", None) == "sweep":
        return (
            f"finished experiments are kept in {args.out} (continue with the same command "
            "plus --resume)"
        )
    if getattr(args, "command", None) == "proxy":
        return "no proxy file was written; nothing to resume (run the command again)"
    return "stopped"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``archgym`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *(argv or [])])
    import logging

    logging.getLogger("optuna").setLevel(logging.WARNING)  # the app, not the library, decides
    warnings.filterwarnings("ignore", module="optuna")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"archgym: interrupted; {_interrupt_hint(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (`archgym ... | head`): stop quietly
        with contextlib.suppress(OSError, ValueError):  # so the final flush cannot fail
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except StoreError as exc:
        if os.environ.get("ARCHGYM_DEBUG"):
            raise
        print(f"archgym: error: {exc}", file=sys.stderr)
        return EXIT_STORE
    except (
        FileNotFoundError,
        FileExistsError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
    ) as exc:  # a path the user gave cannot be read or written
        if os.environ.get("ARCHGYM_DEBUG"):
            raise
        print(
            f"archgym: error: cannot use {exc.filename or 'a path'}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_STORE
    except OSError as exc:
        if os.environ.get("ARCHGYM_DEBUG"):
            raise
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):  # full or read-only disk
            print(
                f"archgym: error: cannot write {exc.filename or ''}: {exc.strerror}",
                file=sys.stderr,
            )
            return EXIT_STORE
        print(
            f"archgym: error: {type(exc).__name__}: {exc} (set ARCHGYM_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except ArchGymError as exc:
        if os.environ.get("ARCHGYM_DEBUG"):
            raise
        code = EXIT_FAILED if type(exc).__name__ == "BackendError" else EXIT_USAGE
        print(f"archgym: error: {exc}", file=sys.stderr)
        return code
    except Exception as exc:  # noqa: BLE001 - the CLI reports, never tracebacks
        if os.environ.get("ARCHGYM_DEBUG"):
            raise
        print(
            f"archgym: error: {type(exc).__name__}: {exc} (set ARCHGYM_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
