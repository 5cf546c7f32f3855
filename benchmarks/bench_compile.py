"""What compiling the cost models' kernels costs: numba's start-up, warm and cold cache.

    python benchmarks/bench_compile.py [--repeat 3] [--workload resnet18]

The Systolic and Accelerator models run one kernel (``archgym/envs/*/_kernel.py``) that
:mod:`archgym._kernels` executes as Python for small work and compiles with numba for large
work (on-disk cache, like a ``.pyc``). For each model, in fresh interpreters, this prints the
CPU time (``time.process_time`` inside the child) of:

* the first 1,000-design batch with numba's cache already filled (warm: numba's import and
  start-up plus loading the machine code), ``--repeat`` times;
* the same with an empty cache of its own (cold: compiling, what a fresh install pays once);
* the next call of the same batch in the same interpreter (steady state);
* then the first lone design: the lone-design entry point (``one``, compiled for one
  signature) compiled or loaded from the cache, numba already started;
* 200 lone designs run as Python (what a short run pays instead of numba's start-up).

min/median of the repeats; the cold case runs once per repeat in a new empty cache directory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import fail, load_line, positive_int

ENVS = ("archgym/Systolic-v0", "archgym/Accelerator-v2")

_CHILD = r"""
import json, sys, time
import numpy as np
import archgym
env = archgym.make(sys.argv[1], workload=sys.argv[2])
model, wl = env.cost_model, env.workload
designs = env.space.sample(np.random.default_rng(0), 1000)
cols = env.space.to_columns(designs)
lone = [env.space.to_columns([d]) for d in designs[:200]]
t0 = time.process_time()
for c in lone:
    model.evaluate_columns(c, wl)  # small work: runs as Python
t1 = time.process_time()
assert "numba" not in sys.modules, "200 lone designs started numba"
model.evaluate_columns(cols, wl)  # compiles, or loads from the cache
t2 = time.process_time()
model.evaluate_columns(cols, wl)
t3 = time.process_time()
model.evaluate_columns(lone[0], wl)  # the lone-design entry: compiles, or loads from the cache
t4 = time.process_time()
json.dump(
    {"python_200": t1 - t0, "first_batch": t2 - t1, "next_batch": t3 - t2, "first_lone": t4 - t3},
    sys.stdout,
)
"""


def child(env_id: str, workload: str, cache_dir: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, env_id, workload], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        fail(f"{env_id}: child exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=positive_int, default=3)
    ap.add_argument("--workload", default="resnet18")
    args = ap.parse_args()
    import archgym.workloads as wls
    from archgym.errors import ConfigError

    try:
        wls.get(args.workload)
    except ConfigError as exc:
        fail(f"--workload: {exc}")
    print(f"bench_compile: workload {args.workload}; {load_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in ENVS:
            warm_dir = str(Path(tmp) / "warm")
            child(env_id, args.workload, warm_dir)  # fill the cache
            warm = [child(env_id, args.workload, warm_dir) for _ in range(args.repeat)]
            cold = [
                child(env_id, args.workload, str(Path(tmp) / f"cold-{env_id[8:]}-{r}"))
                for r in range(args.repeat)
            ]
            print(env_id)
            for label, runs, key in [
                ("first 1,000-design batch, warm cache", warm, "first_batch"),
                ("first 1,000-design batch, cold cache", cold, "first_batch"),
                ("next 1,000-design batch (steady)", warm + cold, "next_batch"),
                ("first compiled lone design, warm cache", warm, "first_lone"),
                ("first compiled lone design, cold cache", cold, "first_lone"),
                ("200 lone designs as Python", warm + cold, "python_200"),
            ]:
                xs = [r[key] for r in runs]
                print(f"  {label:<38} CPU {min(xs):.3f}/{statistics.median(xs):.3f} s")
            start = min(r["first_batch"] for r in warm) - min(r["next_batch"] for r in warm)
            compile_s = min(r["first_batch"] for r in cold) - min(r["next_batch"] for r in cold)
            print(
                f"  -> numba start-up with a warm cache {start:.3f} s CPU per process; "
                f"first compile (empty cache) {compile_s:.3f} s CPU once"
            )
    print(f"end: {load_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
