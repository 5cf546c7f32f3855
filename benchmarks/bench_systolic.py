"""Speed of archgym/Systolic-v0, measured in one run, on one core.

Prints:
  1. (design x layer) evaluations/s of the vectorised SystolicCostModel (ResNet-50, many designs);
  2. the env-step overhead: DSEEnv.step time minus the raw cost-model time for the same design
     (measured with the real model, and with a no-op model that isolates the env's own cost);
  3. the speed-up over SCALE-Sim 3.0.0 on the same layers (SCALE-Sim runs in its own Python,
     default /tmp/simvenv/bin/python, via benchmarks/scalesim_reference.py's worker).

Targets (issue 2): >= 1,000,000 evaluations/s; overhead <= 20 us/step.

    python benchmarks/bench_systolic.py [--sim-python PATH] [--no-scalesim]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _best_per_call(fn, number: int, repeat: int = 5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def model_throughput(n_designs: int = 4000) -> tuple[float, int]:
    import archgym
    from archgym.envs.systolic.model import SystolicCostModel

    env = archgym.make("archgym/Systolic-v0", workload="resnet50")
    cols = env.space.to_columns(env.space.sample(np.random.default_rng(0), n_designs))
    model = SystolicCostModel()
    n_layers = len(env.workload.layers)
    per = _best_per_call(lambda: model.evaluate_columns(cols, env.workload), number=3)
    return n_designs * n_layers / per, n_layers


def step_overhead() -> dict[str, float]:
    import archgym
    from archgym.cost_model import CostModel, Evaluations
    from archgym.env import DSEEnv
    from archgym.envs.systolic import systolic_space

    out: dict[str, float] = {}
    env = archgym.make("archgym/Systolic-v0", workload="resnet18")
    design = env.space.sample(np.random.default_rng(0), 1)[0]
    action = env.space.encode_indices(design)
    cols = env.space.to_columns([design])
    env.reset(seed=0)
    raw = _best_per_call(lambda: env.cost_model.evaluate_columns(cols, env.workload), 2000)
    step = _best_per_call(lambda: env.step(action), 2000)
    out["raw_model_us"] = raw * 1e6
    out["step_us"] = step * 1e6
    out["overhead_real_model_us"] = (step - raw) * 1e6

    class NoOp(CostModel):
        metrics = tuple(env.cost_model.metrics)

        def evaluate_columns(self, columns, workload):
            n = len(columns["rows"])
            one = np.ones(n)
            return Evaluations({m.name: one for m in self.metrics}, np.ones(n, bool), [""] * n)

    null_env = DSEEnv(systolic_space(), NoOp(), None, "edp")
    null_env.reset(seed=0)
    raw0 = _best_per_call(lambda: null_env.cost_model.evaluate_columns(cols, None), 20000)
    step0 = _best_per_call(lambda: null_env.step(action), 20000)
    out["overhead_noop_model_us"] = (step0 - raw0) * 1e6
    return out


def scalesim_speedup(sim_python: str) -> dict[str, float] | None:
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
        print(f"SCALE-Sim worker failed: {proc.stderr.strip()[-400:]}", file=sys.stderr)
        return None
    results = json.loads(proc.stdout)["results"]
    sim_s_per_layer = float(np.mean([r["scalesim_seconds_per_layer"] for r in results]))
    wl = Workload("bench", tuple(Layer(**{k: v for k, v in x.items()}) for x in layers))
    model = SystolicCostModel(bandwidth_mode="ideal")
    n = 10000
    cols = {"rows": np.full(n, 32), "cols": np.full(n, 32), "dataflow": np.array(["ws"] * n)}
    ours = _best_per_call(lambda: model.evaluate_columns(cols, wl), 3) / (n * len(layers))
    one = {"rows": np.array([32]), "cols": np.array([32]), "dataflow": np.array(["ws"])}
    ours_single = _best_per_call(lambda: model.evaluate_columns(one, wl), 500) / len(layers)
    same = (
        all(
            int(r["total_cycles"]) == int(c)
            for r, c in zip(results, model.evaluate_layers(one, wl)["cycles"][0], strict=True)
        )
        if hasattr(model, "evaluate_layers")
        else None
    )
    return {
        "layers": len(layers),
        "scalesim_s_per_layer": sim_s_per_layer,
        "ours_s_per_layer_batched": ours,
        "ours_s_per_layer_single_design": ours_single,
        "speedup_batched": sim_s_per_layer / ours,
        "speedup_single_design": sim_s_per_layer / ours_single,
        "cycles_identical": same,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-python", default="/tmp/simvenv/bin/python")
    ap.add_argument("--no-scalesim", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    rate, n_layers = model_throughput()
    print(
        f"model throughput (ResNet-50, {n_layers} layers, 4000 designs, one core): "
        f"{rate:,.0f} (design x layer) evaluations/s   [target >= 1,000,000]"
    )
    ov = step_overhead()
    print(
        f"env.step: {ov['step_us']:.1f} us; raw model (1 design x ResNet-18): "
        f"{ov['raw_model_us']:.1f} us; overhead {ov['overhead_real_model_us']:.1f} us"
    )
    print(
        f"env-step overhead with a no-op cost model: {ov['overhead_noop_model_us']:.1f} us/step   "
        "[target <= 20 us]"
    )
    if not args.no_scalesim:
        if not Path(args.sim_python).exists():
            print(
                f"SCALE-Sim python {args.sim_python} not found; skipping the speed-up "
                '(create a venv with `pip install "archgym[scalesim]"` and pass --sim-python)'
            )
            return 0
        sp = scalesim_speedup(args.sim_python)
        if sp:
            print(
                f"SCALE-Sim 3.0.0: {sp['scalesim_s_per_layer']:.3f} s/layer "
                f"({sp['layers']} layers, 32x32 ws, CALC); archgym: "
                f"{sp['ours_s_per_layer_batched'] * 1e9:.1f} ns/layer batched, "
                f"{sp['ours_s_per_layer_single_design'] * 1e6:.1f} us/layer for one design"
            )
            print(
                f"speed-up over SCALE-Sim: {sp['speedup_batched']:,.0f}x batched, "
                f"{sp['speedup_single_design']:,.0f}x single design; identical cycles: "
                f"{sp['cycles_identical']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
