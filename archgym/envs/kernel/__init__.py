"""Kernel-v1: which tile config, precision and sparsity pattern is fastest for a GEMM-like op
on a given GPU.

Modules: :mod:`.space` (the workload type and the op-aware space), :mod:`.gpus` (GPU specs),
:mod:`.constraints` (shared-memory and MMA feasibility, fitted on the H200 grid),
:mod:`.analytical` (a roofline with tile/wave quantisation whose constants
:mod:`.calibrate` fits per GPU), :mod:`.dataset` (the shipped H100/H200 records and their
loader), :mod:`.learned` (a per-GPU model fitted on those records), :mod:`.env` (factory and
registration). :mod:`.measure` plans, runs and times kernels on a real CUDA GPU.
"""

from archgym.envs.kernel import measure  # noqa: F401  - registers the "kernel-measure" model
from archgym.envs.kernel.analytical import KernelAnalyticalCostModel
from archgym.envs.kernel.env import (
    kernel_cost_model,
    kernel_space,
    kernel_workload,
    make_kernel_env,
)
from archgym.envs.kernel.gpus import GPUSpec, get_gpu, register_gpu
from archgym.envs.kernel.learned import KernelLearnedCostModel
from archgym.envs.kernel.space import KernelWorkload

__all__ = [
    "GPUSpec",
    "KernelAnalyticalCostModel",
    "KernelLearnedCostModel",
    "KernelWorkload",
    "get_gpu",
    "kernel_cost_model",
    "kernel_space",
    "kernel_workload",
    "make_kernel_env",
    "register_gpu",
]
