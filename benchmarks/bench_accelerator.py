"""Speed of the analytical accelerator model, and its speed-up over SCALE-Sim and ZigZag.

    python benchmarks/bench_accelerator.py [--designs 20000] [--repeat 5] [--sim-python PATH]

Prints, measured in this run: (design x layer) evaluations per second of
:class:`~archgym.envs.accelerator.model.AcceleratorCostModel` on one core (ResNet-50, random
Accelerator-v2 designs), then SCALE-Sim 3.0.0 and ZigZag 3.9.1 seconds per layer on the same
small layers (and SCALE-Sim on one full-size ResNet-18 layer) (run under ``--sim-python``, which needs those packages and archgym's
dependencies) and the speed-up per layer evaluation. The model's figure is CPU time
(``time.process_time``), min/median of ``--repeat`` repeats, wall beside it. Targets:
>= 4e6 evaluations per CPU second (issue 16) and >= 1e6x faster than SCALE-Sim.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np
from _timing import check_interpreter, load_line, positive_int, time_call

_SIM_PY = "/tmp/simvenv/bin/python"

_SIM = r"""
import json, sys, tempfile, time
from archgym.cost_models.scalesim_backend import scalesim_job, scalesim_config
from archgym.cost_models.zigzag_backend import zigzag_job
from archgym.workloads import Layer
layers = [Layer.gemm("g1", 128, 64, 96), Layer.gemm("g2", 196, 128, 32),
          Layer("c1", "conv", 18, 18, 3, 3, 8, 16, 1)]
design = {"rows": 16, "cols": 16, "dataflow": "ws", "gbuf_kb": 256}
out = {}
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    scalesim_job(d, scalesim_config(design, "ideal"), [x.scalesim_row() for x in layers])
    out["scalesim_s_per_layer"] = (time.perf_counter() - t) / len(layers)
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    zigzag_job(d, design, [(x.name, x.m, x.n, x.k, x.instances) for x in layers])
    out["zigzag_s_per_layer"] = (time.perf_counter() - t) / len(layers)
from archgym.workloads import get
real = [x for x in get("resnet18").layers if x.name == "layer3.0.conv2"]
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    scalesim_job(d, scalesim_config(design, "ideal"), [x.scalesim_row() for x in real])
    out["scalesim_s_real_layer"] = time.perf_counter() - t
json.dump(out, sys.stdout)
"""


def bench_model(n: int, repeats: int = 5) -> tuple[float, float]:
    """Best-of-``repeats`` evaluations per CPU second and CPU seconds per (design x layer)
    evaluation (``time.process_time``; min and median printed)."""
    import archgym
    from archgym.envs.accelerator.model import AcceleratorCostModel
    from archgym.workloads import get

    env = archgym.make("archgym/Accelerator-v2", workload="resnet50")
    designs = env.space.sample(np.random.default_rng(0), n)
    cols = {k: np.array([d[k] for d in designs]) for k in designs[0]}
    model = AcceleratorCostModel()
    wl = get("resnet50")
    model.evaluate(cols, wl)
    t = time_call(lambda: model.evaluate(cols, wl), 1, repeats)
    evals = n * len(wl)
    print(f"  per call ({n} designs x {len(wl)} layers): {t.show(1e3, 'ms')}")
    return evals / t.cpu_min, t.cpu_min / evals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=positive_int, default=20000)
    ap.add_argument("--repeat", type=positive_int, default=5)
    ap.add_argument(
        "--sim-python", default=None, help=f"Python with scalesim and zigzag (default {_SIM_PY})"
    )
    args = ap.parse_args()
    if args.sim_python is not None:
        check_interpreter(args.sim_python)  # a path the user gave must work
    print(f"bench_accelerator: {load_line()}")
    rate, per_eval = bench_model(args.designs, args.repeat)
    print(
        f"analytical model: {rate:.3g} (design x layer) evaluations per CPU second "
        f"({per_eval * 1e9:.0f} ns each); target >= 4e6: {'met' if rate >= 4e6 else 'NOT met'}"
    )
    args.sim_python = args.sim_python or _SIM_PY
    if not Path(args.sim_python).exists():
        print(f"no simulator interpreter at {args.sim_python}; speed-ups not measured")
        return 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res = subprocess.run([args.sim_python, "-c", _SIM], capture_output=True, text=True, env=env)
    if res.returncode:
        print(f"simulator run failed: {res.stderr.strip().splitlines()[-1:]}")
        return 1
    sims = json.loads(res.stdout)
    for name in ("scalesim", "zigzag"):
        s = sims[f"{name}_s_per_layer"]
        print(
            f"{name}: {s:.3g} s per layer -> analytical model is {s / per_eval:.3g}x faster "
            f"per layer evaluation"
        )
    s = sims["scalesim_s_real_layer"]
    print(
        f"scalesim on a full-size layer (ResNet-18 layer3.0.conv2, M=196 N=256 K=2304): "
        f"{s:.3g} s -> {s / per_eval:.3g}x"
    )
    ok = sims["scalesim_s_per_layer"] / per_eval >= 1e6
    print(f"target >= 1e6x faster than SCALE-Sim: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
