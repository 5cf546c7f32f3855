"""Where the time of a large run goes: evaluation, storage, summary (issue 15, failure 4).

    python benchmarks/store.py                          # 100,000 evaluations, 3 repeats
    python benchmarks/store.py --evals 20000 --repeat 5 --batch-size 50

One run of ``--evals`` evaluations (archgym/Systolic-v0 on ResNet-18, random search, three
objectives: latency, energy, area, as the built-in experiment) through ``run_experiment``
into a run directory, with each phase timed where it happens:

* *evaluation*: ``DSEEnv.evaluate`` (validation, the cost model, the objective);
* *storage*: ``RunStore.append`` / ``set_status`` / ``close`` (records to JSON, writes, fsync);
* *summary*: ``summarize_records`` (best design, Pareto front, hypervolume);
* *agent*: the rest of the run (``ask`` / ``tell``, the loop);
* *show*: ``archgym show`` on the finished run (read + validate every record, summarise).

Each figure is CPU time of this process (``time.process_time``) next to the wall clock, over
``--repeat`` runs, minimum and median. Target: the summary is < 5 % of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _timing import load_line, positive_int

PHASES = ("evaluation", "storage", "summary", "agent", "total", "show")


class _Clock:
    """Accumulates CPU and wall seconds per phase."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[name] += time.process_time() - c0
            self.wall[name] += time.perf_counter() - w0

    def wrap(self, owner: Any, attr: str, name: str) -> Callable[[], None]:
        """Time every call of ``owner.attr`` as ``name``; returns the undo."""
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return original(*args, **kwargs)

        setattr(owner, attr, timed)
        return lambda: setattr(owner, attr, original)


def one_run(evals: int, batch: int, out: Path) -> tuple[dict[str, float], dict[str, float]]:
    import archgym.runner as runner
    from archgym.cli import main
    from archgym.env import DSEEnv
    from archgym.store import RunStore

    clock = _Clock()
    undo = [
        clock.wrap(DSEEnv, "evaluate", "evaluation"),
        clock.wrap(RunStore, "append", "storage"),
        clock.wrap(RunStore, "set_status", "storage"),
        clock.wrap(RunStore, "close", "storage"),
        clock.wrap(runner, "summarize_records", "summary"),
    ]
    try:
        exp = runner.Experiment(
            env="archgym/Systolic-v0",
            env_kwargs={"workload": "resnet18"},
            agent="random",
            budget=evals,
            seed=0,
            batch_size=batch,
            objective=["latency_s", "energy_j", "area_mm2"],
        )
        with clock.phase("total"):
            res = runner.run_experiment(exp, out=out)
    finally:
        for u in undo:
            u()
    # the summary runs inside set_status's caller, not inside set_status: no double count
    for d in (clock.cpu, clock.wall):
        d["agent"] = d["total"] - d["evaluation"] - d["storage"] - d["summary"]
    with clock.phase("show"), contextlib.redirect_stdout(io.StringIO()):
        code = main(["show", str(out), "--json"])
    if code != 0 or res.n_evaluations != evals:
        raise SystemExit(f"store.py: error: the run did not complete ({code}, {res.n_evaluations})")
    return dict(clock.cpu), dict(clock.wall)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--evals", type=positive_int, default=100_000, help="evaluations per run")
    ap.add_argument("--batch-size", type=positive_int, default=100, help="designs per agent ask")
    ap.add_argument("--repeat", type=positive_int, default=3, help="runs (min and median printed)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()
    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="archgym-bench-store-"))
        try:
            c, w = one_run(args.evals, args.batch_size, tmp / "run")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for k in PHASES:
            cpu[k].append(c.get(k, 0.0))
            wall[k].append(w.get(k, 0.0))
    share = [s / t for s, t in zip(cpu["summary"], cpu["total"], strict=True)]
    result = {
        "evals": args.evals,
        "batch_size": args.batch_size,
        "repeat": args.repeat,
        "cpu_s": {k: {"min": min(v), "median": statistics.median(v)} for k, v in cpu.items()},
        "wall_s": {k: {"min": min(v), "median": statistics.median(v)} for k, v in wall.items()},
        "summary_share_of_run_cpu": {"min": min(share), "median": statistics.median(share)},
        "load": load_line(),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(
        f"{args.evals:,} evaluations (batch {args.batch_size}), {args.repeat} runs; {load_line()}"
    )
    print(
        f"{'phase':<12} {'CPU min':>9} {'CPU median':>11} {'wall min':>9} {'wall median':>12}  share of run CPU"
    )
    med_total = statistics.median(cpu["total"])
    for k in PHASES:
        c, w = cpu[k], wall[k]
        pct = (
            f"{100 * statistics.median(c) / med_total:6.2f} %" if k not in ("total", "show") else ""
        )
        print(
            f"{k:<12} {min(c):9.3f} {statistics.median(c):11.3f} {min(w):9.3f} {statistics.median(w):12.3f}  {pct}"
        )
    ok = statistics.median(share) < 0.05
    print(
        f"summary share of the run (median): {100 * statistics.median(share):.2f} % "
        f"(target < 5 %: {'met' if ok else 'NOT met'})"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
