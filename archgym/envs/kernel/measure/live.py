"""``cost_model="measure"``: evaluate kernel designs by running them on the local CUDA GPU.

Each design is checked against the constraint rules, then compiled and timed with the protocol
of :func:`archgym.envs.kernel.measure.plan.measure_points` (CUDA events, L2 flush, median of up
to ``reps``; vendor paths: the device time of their kernels, from torch.profiler).
A design that fails to compile or launch is infeasible with the error as its reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archgym.cost_model import CostModel, Evaluations
from archgym.envs.kernel.analytical import KERNEL_METRICS, analytic_terms, energy_j
from archgym.envs.kernel.constraints import check_designs
from archgym.envs.kernel.gpus import get_gpu, gpu_from_device_name
from archgym.envs.kernel.measure.plan import measure_points, require_cuda
from archgym.envs.kernel.space import as_kernel_workload
from archgym.registry import register_cost_model

__all__ = ["KernelMeasureCostModel"]


class KernelMeasureCostModel(CostModel):
    """Live measurement on the local GPU.

    Args:
        reps: Timed repetitions per design (median reported); at least 20 for the dataset.
        seed: Seed of the random operands and sparsity masks.

    Raises:
        BackendError: No CUDA GPU (raised when the model is built, not per design).
    """

    name = "kernel-measure"
    version = "2"  # 2: vendor paths called as users call them, timed by their kernels
    metrics = KERNEL_METRICS
    description = "runs Triton / PyTorch kernels on the local CUDA GPU and times them"

    def __init__(self, reps: int = 20, seed: int = 0) -> None:
        torch = require_cuda()
        self.reps = reps
        self.seed = seed
        self.gpu = get_gpu(gpu_from_device_name(torch.cuda.get_device_name(0)))

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        wl = as_kernel_workload(workload, "kernel-measure")
        feasible, reasons = check_designs(columns, wl, self.gpu)
        n = len(feasible)
        lat = np.full(n, np.nan)
        idx = np.flatnonzero(feasible)
        points = [
            {
                "op": wl.op,
                "shape": wl.name,
                "m": wl.m,
                "n": wl.n,
                "k": wl.k,
                "groups": wl.groups,
                **{
                    c: columns[c][i].item() if hasattr(columns[c][i], "item") else columns[c][i]
                    for c in columns
                },
            }
            for i in idx
        ]
        for i, rec in zip(idx, measure_points(points, reps=self.reps, seed=self.seed), strict=True):
            if rec["feasible"]:
                lat[i] = rec["latency_s"]
            else:
                feasible[i] = False
                reasons[i] = f"measure: {rec['reason']}"
        with np.errstate(all="ignore"):
            t = analytic_terms(columns, wl, self.gpu)
            tflops = t["flop"] / lat / 1e12
            en = energy_j(lat, t["flop"], t["traffic_bytes"], t["peak_tflops"], self.gpu)
        return Evaluations(
            metrics={
                "latency_s": lat,
                "tflops": tflops,
                "energy_j": np.where(feasible, en, np.nan),
            },
            feasible=feasible,
            reasons=reasons,
        )


register_cost_model(
    "kernel-measure", KernelMeasureCostModel, "run and time kernels on the local CUDA GPU"
)
