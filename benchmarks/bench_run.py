"""CPU of a plain ``archgym run`` beyond ``import archgym``, both measured in this run.

    python benchmarks/bench_run.py [--budget 200] [--repeat 5] [--env archgym/Systolic-v0]

Runs, ``--repeat`` times each, in fresh interpreters: ``python -c "import archgym"`` (the
baseline) and ``archgym run --agent random --budget N --quiet`` with and without ``--out``
(a run store on disk). Prints the CPU time of each child process (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``), min/median, with the wall time beside, and the
excess over the import. Target (issue 16): a 200-evaluation random run uses <= 0.5 s of CPU
beyond ``import archgym``.

A run this small executes the cost models' kernels as Python and never starts numba
(:mod:`archgym._kernels`); ``bench_compile.py`` measures what compiling them costs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import fail, load_line, positive_int


def child_cpu(cmd: list[str]) -> tuple[float, float]:
    """``(CPU s, wall s)`` of running ``cmd`` to completion; exits on failure."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd[:4])}... exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=positive_int, default=200)
    ap.add_argument("--repeat", type=positive_int, default=5)
    ap.add_argument("--env", default="archgym/Systolic-v0")
    args = ap.parse_args()
    from archgym.errors import ArchGymError
    from archgym.registry import env_spec

    try:
        env_spec(args.env)
    except ArchGymError as exc:
        fail(f"--env: {exc}")
    run = "import sys; from archgym.cli import main; sys.exit(main(sys.argv[1:]))"
    base = ["run", "--env", args.env, "--agent", "random", "--budget", str(args.budget)]
    print(f"bench_run: {load_line()}")
    cases: dict[str, list[tuple[float, float]]] = {"import": [], "run": [], "run --out": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):  # interleaved, so a changing load hits all alike
            cases["import"].append(child_cpu([sys.executable, "-c", "import archgym"]))
            cases["run"].append(child_cpu([sys.executable, "-c", run, *base, "--quiet"]))
            out = str(Path(tmp) / f"r{r}")
            cases["run --out"].append(
                child_cpu([sys.executable, "-c", run, *base, "--quiet", "--out", out])
            )
    cpu = {k: [c for c, _ in v] for k, v in cases.items()}
    for k, v in cases.items():
        walls = [w for _, w in v]
        print(
            f"  {k:<10} CPU {min(cpu[k]):.3f}/{statistics.median(cpu[k]):.3f} s, wall "
            f"{min(walls):.3f}/{statistics.median(walls):.3f} s (min/median of {len(v)})"
        )
    for k in ("run", "run --out"):
        extra = min(cpu[k]) - min(cpu["import"])
        print(
            f"archgym {k} ({args.budget} random evaluations) beyond import archgym: "
            f"{extra:.3f} s CPU   [target <= 0.5 s: {'met' if extra <= 0.5 else 'NOT met'}]"
        )
    print(f"end: {load_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
