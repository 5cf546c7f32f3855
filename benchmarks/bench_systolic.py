"""Speed of the systolic model (archgym/Systolic-v0), measured in one run.

    python benchmarks/bench_systolic.py [--designs 4000] [--repeat 5] [--sim-python PATH]

Prints, as CPU time (``time.process_time``, min/median of ``--repeat`` repeats, wall beside):

1. (design x layer) evaluations/s of the vectorised ``SystolicCostModel`` on ResNet-50 and
   ResNet-18 with ``--designs`` random Systolic-v0 designs. Target (issue 16): >= 4e6.
2. With ``--sim-python`` (an interpreter with ``scalesim==3.0.0``; default
   ``/tmp/simvenv/bin/python`` when it exists): SCALE-Sim 3.0.0's seconds per layer on four
   reference layers (32x32 ws, CALC; wall time inside its worker) against ours, batched and
   for one design, and whether the cycles are identical.

The env-step and single-design costs are in ``benchmarks/bench_step.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from _timing import check_interpreter, fail, load_line, positive_int, time_call

HERE = Path(__file__).resolve().parent
DEFAULT_SIM = "/tmp/simvenv/bin/python"


def model_throughput(workload: str, n_designs: int, repeat: int) -> None:
    import archgym
    from archgym.envs.systolic.model import SystolicCostModel

    env = archgym.make("archgym/Systolic-v0", workload=workload)
    cols = env.space.to_columns(env.space.sample(np.random.default_rng(0), n_designs))
    model = SystolicCostModel()
    n_layers = len(env.workload.layers)
    model.evaluate_columns(cols, env.workload)
    t = time_call(lambda: model.evaluate_columns(cols, env.workload), 1, repeat)
    evals = n_designs * n_layers
    best, med = evals / t.cpu_min, evals / t.cpu_median
    print(
        f"model throughput, {workload} ({n_layers} layers x {n_designs} designs): "
        f"{best:,.0f} / {med:,.0f} (design x layer)/s of CPU (best/median)   "
        f"[target >= 4e6: {'met' if best >= 4e6 else 'NOT met'}]"
    )
    print(f"  per call: {t.show(1e3, 'ms')}")


def scalesim_speedup(sim_python: str, repeat: int) -> None:
    sys.path.insert(0, str(HERE))
    import scalesim_reference as ref  # the worker protocol shared with the reference generator

    from archgym.envs.systolic.model import SystolicCostModel
    from archgym.workloads import Layer, Workload

    layers = ref.pick_layers()[:4]
    job = [{"layers": layers, "rows": 32, "cols": 32, "dataflow": "ws"}]
    proc = subprocess.run(
        [sim_python, str(HERE / "scalesim_reference.py"), "--worker"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        fail(f"the SCALE-Sim worker under {sim_python} failed: {proc.stderr.strip()[-400:]}")
    results = json.loads(proc.stdout)["results"]
    sim_s = float(np.mean([r["scalesim_seconds_per_layer"] for r in results]))
    wl = Workload("bench", tuple(Layer(**dict(x)) for x in layers))
    model = SystolicCostModel(bandwidth_mode="ideal")
    n = 10000
    cols = {"rows": np.full(n, 32), "cols": np.full(n, 32), "dataflow": np.array(["ws"] * n)}
    one = {"rows": np.array([32]), "cols": np.array([32]), "dataflow": np.array(["ws"])}
    batched = time_call(lambda: model.evaluate_columns(cols, wl), 1, repeat).cpu_min / (n * len(wl))
    single = time_call(lambda: model.evaluate_columns(one, wl), 200, repeat).cpu_min / len(wl)
    cycles = model.evaluate_layers(one, wl)["cycles"][0]
    same = all(int(r["total_cycles"]) == int(c) for r, c in zip(results, cycles, strict=True))
    print(
        f"SCALE-Sim 3.0.0: {sim_s:.3f} s/layer ({len(layers)} layers, 32x32 ws, CALC; wall in "
        f"its worker); archgym CPU: {batched * 1e9:.1f} ns/layer batched, "
        f"{single * 1e6:.2f} us/layer for one design"
    )
    print(
        f"speed-up over SCALE-Sim: {sim_s / batched:,.0f}x batched, {sim_s / single:,.0f}x "
        f"one design; identical cycles: {same}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=positive_int, default=4000)
    ap.add_argument("--repeat", type=positive_int, default=5)
    ap.add_argument(
        "--sim-python",
        default=None,
        help=f"Python with scalesim==3.0.0 (default {DEFAULT_SIM} if it exists)",
    )
    ap.add_argument("--no-scalesim", action="store_true", help="skip the SCALE-Sim comparison")
    args = ap.parse_args()
    sim = args.sim_python
    if sim is not None and not args.no_scalesim:
        check_interpreter(sim)  # a path the user gave must work
    elif sim is None and Path(DEFAULT_SIM).exists():
        sim = DEFAULT_SIM
    print(f"bench_systolic: {load_line()}")
    for workload in ("resnet50", "resnet18"):
        model_throughput(workload, args.designs, args.repeat)
    if args.no_scalesim:
        pass
    elif sim is None:
        print(
            f"no SCALE-Sim interpreter at {DEFAULT_SIM}; speed-up not measured (create a venv "
            'with `pip install "archgym[scalesim]"` and pass --sim-python)'
        )
    else:
        scalesim_speedup(sim, args.repeat)
    print(f"end: {load_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
