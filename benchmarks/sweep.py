"""Sweep throughput and archgym's own overhead with cheap agents.

    python benchmarks/sweep.py --n 2000 --workers 2            # local process pool
    python benchmarks/sweep.py --n 400 --executors dask        # Dask LocalCluster (127.0.0.1)

1. *Work*: on a sample of the experiments, run the bare loop a hand-written script would
   run (build env and agent, ``ask -> evaluate -> tell`` for the budget), serially in this
   process; then the same experiments through ``run_experiment`` with a run store. Their
   difference is the store + runner cost per experiment.
2. *Sweep*: all ``--n`` experiments through ``archgym.sweep.run_sweep`` on each executor.
   Overhead fraction = 1 - (n x mean work per experiment) / (sweep wall x workers): every
   CPU-second not spent in the agents and the cost model (store, runner, executor, worker
   start-up, idle tails).
3. *ArchGym scale*: 21,000 experiments x 100 evaluations, extrapolated linearly from the
   measured sweep wall time (experiments are independent and identical in cost on average).

Prints one JSON object. The experiments are a lottery-style mix of the cheap agents
(random-walk, ga, aco, random) on archgym/Accelerator-v0 (ResNet-18, EDP), budget 100.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

TOML = """
[sweep]
name = "bench"
budget = {budget}
seeds = {seeds}
objective = "edp"

[[envs]]
id = "archgym/Accelerator-v0"
kwargs = {{ workload = "resnet18" }}
label = "accel"

[[agents]]
name = "random-walk"
samples = 8
random = {{ explore = {{ low = 0.0, high = 0.5 }}, patience = {{ low = 5, high = 200, log = true }} }}

[[agents]]
name = "ga"
samples = 6
random = {{ population_size = {{ low = 4, high = 64, log = true }}, mutation_prob = {{ low = 0.05, high = 1.0 }} }}

[[agents]]
name = "aco"
samples = 5
random = {{ ant_count = {{ low = 2, high = 64, log = true }}, greediness = {{ low = 0.0, high = 0.9 }} }}

[[agents]]
name = "random"
"""
SETTINGS = 8 + 6 + 5 + 1


def _pure(exp: object) -> None:
    from archgym.registry import make_agent

    env = exp.make_env()  # type: ignore[attr-defined]
    agent = make_agent(
        exp.agent,
        env.space,
        seed=exp.seed,
        n_objectives=1,  # type: ignore[attr-defined]
        n_constraints=0,
        **exp.agent_kwargs,
    )  # type: ignore[attr-defined]
    done = 0
    while done < exp.budget:  # type: ignore[attr-defined]
        designs = agent.ask(1)
        res = env.evaluate(designs)
        agent.tell(res.designs, res)
        done += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="experiments in the sweep (rounded up)")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--sample", type=int, default=80, help="experiments timed serially for the work"
    )
    ap.add_argument("--executors", default="local,dask")
    ap.add_argument("--keep", default=None, help="keep the sweep directories here")
    args = ap.parse_args()

    from archgym.runner import run_experiment
    from archgym.sweep import load_sweep, open_executor, run_sweep

    seeds = -(-args.n // SETTINGS)
    spec = load_sweep("bench.toml", text=TOML.format(budget=args.budget, seeds=seeds))
    items = spec.items
    root = Path(args.keep or tempfile.mkdtemp(prefix="archgym-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    # 1. work per experiment, serially (sample spread over agents and settings)
    step = max(1, len(items) // args.sample)
    sample = [it.experiment for it in items[::step]][: args.sample]
    for exp in sample[:4]:
        _pure(exp)  # warm caches (workload tables, imports)
    work = stored = 0.0
    for i, exp in enumerate(sample):  # interleaved, so a changing machine load hits both alike
        t = time.perf_counter()
        _pure(exp)
        work += time.perf_counter() - t
        t = time.perf_counter()
        run_experiment(exp, out=root / "serial" / str(i))
        stored += time.perf_counter() - t
    work /= len(sample)
    stored /= len(sample)
    out = {
        "experiments": len(items),
        "budget": args.budget,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "load_avg_1m_start": os.getloadavg()[0],
        "work_s_per_experiment": round(work, 5),
        "runner_store_s_per_experiment": round(stored, 5),
        "runner_store_overhead_fraction": round(1 - work / stored, 4),
        "executors": {},
    }
    for kind in [k for k in args.executors.split(",") if k]:
        if kind == "dask":
            try:
                import distributed  # noqa: F401
            except ImportError:
                out["executors"][kind] = "skipped: dask[distributed] not installed"
                continue
        d = root / kind
        shutil.rmtree(d, ignore_errors=True)
        t0 = time.perf_counter()
        with open_executor(kind, workers=args.workers) as ex:
            t_ready = time.perf_counter() - t0
            res = run_sweep(spec, d, ex, progress=None)
        wall = time.perf_counter() - t0
        ideal = len(items) * work / args.workers
        out["executors"][kind] = {
            "executor_start_s": round(t_ready, 3),
            "sweep_wall_s": round(wall, 2),
            "complete": res.n_complete,
            "failed": res.n_failed,
            "experiments_per_s": round(len(items) / wall, 2),
            "overhead_fraction": round(1 - ideal / wall, 4),
            "mean_task_s_in_worker": round(res.task_s / max(len(items), 1), 5),
            "archgym_scale_21000x100_extrapolated_h": round(
                21000 / (len(items) / wall) / 3600 * args.budget / 100, 3
            ),
        }
    out["load_avg_1m_end"] = os.getloadavg()[0]
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
