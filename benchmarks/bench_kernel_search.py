"""Does the default Kernel-v1 search spend its budget on parameters that matter?

    python benchmarks/bench_kernel_search.py [--agents random,tpe] [--seeds 3] [--budget 200]

For each agent and seed: ``budget`` evaluations of Kernel-v1 (analytical model, default
workload llama-7b.ffn_up@2048 and GPU) with the default space (backend fixed to Triton) and
with ``backend="any"`` (Triton or the vendor library: the v0 space). Prints per setting the
median over seeds of: distinct designs evaluated (active parameters only), distinct
latencies, the evaluation at which the best was found, and the best latency; and the CPU and
wall time of all runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

import archgym
from archgym.runner import Experiment, run_experiment


def one(agent: str, seed: int, backend: str, budget: int) -> dict[str, float]:
    """Counts of one run."""
    space = archgym.make("archgym/Kernel-v1", backend=backend).space
    with tempfile.TemporaryDirectory() as out:
        exp = Experiment(
            env="archgym/Kernel-v1",
            env_kwargs={"backend": backend},
            agent=agent,
            budget=budget,
            seed=seed,
        )
        res = run_experiment(exp, out=out)
        df = archgym.load_runs(out)
    keys = set()
    for rec in df[list(space.names)].to_dict("records"):
        keys.add(
            tuple(sorted((k, str(v)) for k, v in rec.items() if space.is_active(space[k], rec)))
        )
    lat = df.loc[df["feasible"].astype(bool), "latency_s"].round(12)
    return {
        "distinct_designs": len(keys),
        "distinct_latencies": lat.nunique(),
        "best_eval": res.best["eval_id"] if res.best else -1,
        "best_latency_us": res.best["metrics"]["latency_s"] * 1e6 if res.best else np.nan,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", default="random,tpe")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=200)
    args = ap.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()
    print(f"Kernel-v1, {args.budget} evaluations, median over {args.seeds} seeds")
    for agent in args.agents.split(","):
        for backend in ("triton", "any"):
            runs = [one(agent, s, backend, args.budget) for s in range(args.seeds)]
            med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
            print(
                f"  {agent:7s} backend={backend:6s}: {med['distinct_designs']:.0f} distinct designs, "
                f"{med['distinct_latencies']:.0f} distinct latencies, best at evaluation "
                f"#{med['best_eval']:.0f}, best {med['best_latency_us']:.1f} us"
            )
    print(f"({time.process_time() - c0:.1f} s CPU, {time.perf_counter() - t0:.1f} s wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
