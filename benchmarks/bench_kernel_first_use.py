"""First use of the learned kernel model: stored arrays against fitting, in fresh processes.

    python benchmarks/bench_kernel_first_use.py                 # both shipped GPUs, 3 repeats
    python benchmarks/bench_kernel_first_use.py --gpu H200-SXM --repeats 2 --modes stored

Each measurement is a fresh interpreter that imports archgym, samples 1,000 Triton designs of
one workload, builds ``KernelLearnedCostModel(gpu)`` and evaluates them (the first use: the
stored arrays loaded, or the model fitted), then evaluates 100,000 designs twice (prediction
throughput). Modes: ``stored`` (the shipped arrays; numba's cache of the tree
walk warm), ``stored-cold`` (the same with an empty numba cache directory: the walk compiles),
``fit`` (stored arrays ignored, as for a user's own dataset). Printed: the process's CPU time
(``time.process_time`` in the child, all threads) and wall from before ``import archgym`` to
after the first evaluation, min and median over the repeats, and the throughput (designs per
wall and per CPU second).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from _timing import shipped_gpu_option

from archgym.envs.kernel.dataset import DATASETS

MODES = ("stored", "stored-cold", "fit")

_CHILD = r"""
import json, sys, time
c0, w0 = time.process_time(), time.perf_counter()
import numpy as np
import archgym  # noqa: F401
from archgym.envs.kernel.env import kernel_space, kernel_workload
from archgym.envs.kernel.learned import KernelLearnedCostModel
gpu, mode = sys.argv[1], sys.argv[2]
if mode == "fit":
    import archgym.envs.kernel.stored as stored
    stored.load_fitted = lambda path, key: None
space = kernel_space("gemm")
rng = np.random.default_rng(0)
def columns(n):
    designs = space.sample(rng, n)
    return {k: np.asarray([d[k] for d in designs]) for k in designs[0]}
first = columns(1000)
wl = kernel_workload("llama-7b.ffn_up@2048")
c1, w1 = time.process_time(), time.perf_counter()
model = KernelLearnedCostModel(gpu)
model.evaluate_columns(first, wl)
c2, w2 = time.process_time(), time.perf_counter()
cols = columns(100_000)
rates, cpu_rates = [], []
for _ in range(2):
    t0, p0 = time.perf_counter(), time.process_time()
    model.evaluate_columns(cols, wl)
    rates.append(100_000 / (time.perf_counter() - t0))
    cpu_rates.append(100_000 / (time.process_time() - p0))
print(json.dumps({"cpu": c2 - c0, "wall": w2 - w0, "model_cpu": c2 - c1, "model_wall": w2 - w1,
                  "rate": max(rates), "cpu_rate": max(cpu_rates)}))
"""


def one(gpu: str, mode: str) -> dict[str, float]:
    """One fresh-process measurement (see the module docstring)."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if mode == "stored-cold":
            env["NUMBA_CACHE_DIR"] = cache
        child_mode = "fit" if mode == "fit" else "stored"
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, gpu, child_mode],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped_gpu_option(ap)
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {MODES}")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    bad = [m for m in args.modes.split(",") if m not in MODES]
    if bad:
        ap.error(f"--modes must name some of {MODES}, but got {bad}")
    if args.repeats < 1:
        ap.error(f"--repeats must be >= 1, but got {args.repeats}")
    print(f"load average {os.getloadavg()[0]:.2f} (2-core machine shared with other work)")
    for gpu in args.gpu or sorted(DATASETS):
        for mode in args.modes.split(","):
            runs = [one(gpu, mode) for _ in range(args.repeats)]

            def stat(k: str, runs: list[dict[str, float]] = runs) -> str:
                v = [r[k] for r in runs]
                return f"{min(v):.2f}/{float(np.median(v)):.2f}"

            print(
                f"{gpu} {mode:11s}: first use (process start to the first 1,000 designs evaluated) CPU "
                f"{stat('cpu')} s, wall {stat('wall')} s (min/median of {args.repeats}); of "
                f"which the model's build + first evaluation CPU {stat('model_cpu')} s, wall "
                f"{stat('model_wall')} s; then {max(r['rate'] for r in runs):,.0f} designs/s wall, "
                f"{max(r['cpu_rate'] for r in runs):,.0f} per CPU second (100,000 designs, best)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
