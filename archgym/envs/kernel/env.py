"""``archgym/Kernel-v0``: implement a matrix kernel on a GPU with tensor cores.

The workload is an op (``gemm``, ``spmm``, ``sddmm``, ``grouped_gemm``) and a shape from a
real layer (:data:`~archgym.envs.kernel.space.NAMED_LAYERS`: BERT-base, GPT-2,
LLaMA-7B/70B, Mixtral experts) or the user's own. The actions choose the backend (Triton or
the vendor library through PyTorch), the precision (fp16, bf16, fp8, int8, int4 weight-only),
the sparsity pattern (dense, 2:4, software N:M, block, unstructured) with its density and
block size, and the Triton tile (BLOCK_M/N/K, GROUP_M, warps, stages, split-K; active only
for ``backend='triton'``). Designs that break shared-memory, register, tensor-core or 2:4
shape rules are infeasible with the reason.

Cost models: ``"analytical"`` (default, any GPU in the spec table), ``"learned"`` (H100,
trained on the shipped measurements) and ``"measure"`` (runs on the local CUDA GPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archgym.cost_model import CostModel
from archgym.env import DSEEnv
from archgym.envs.kernel.space import (
    BACKENDS,
    DENSITIES,
    GROUP_M,
    NUM_STAGES,
    NUM_WARPS,
    PRECISIONS,
    SPARSE_BLOCKS,
    SPARSITIES,
    SPLIT_K,
    TILE_SIZES,
    KernelWorkload,
    named_workload,
)
from archgym.errors import ConfigError
from archgym.registry import register
from archgym.space import Categorical, DesignSpace, Ordinal

__all__ = ["kernel_space", "kernel_workload", "make_kernel_env", "kernel_cost_model"]

_TRITON = {"backend": ["triton"]}


#: Sparsity patterns each op can use (others are infeasible for it, so the space omits them).
OP_SPARSITIES: dict[str, tuple[str, ...]] = {
    "gemm": ("dense",),
    "grouped_gemm": ("dense",),
    "spmm": tuple(s for s in SPARSITIES if s != "dense"),
    "sddmm": ("block", "unstructured"),
}


def kernel_space(op: str | None = None) -> DesignSpace:
    """The Kernel-v0 design space; with ``op``, only the sparsity patterns that op supports."""
    sparsities = OP_SPARSITIES.get(op, SPARSITIES) if op is not None else SPARSITIES
    return DesignSpace(
        [
            Categorical("backend", BACKENDS, description="Triton kernel or vendor library"),
            Categorical("precision", PRECISIONS, description="operand precision (int4: weights)"),
            Categorical("sparsity", sparsities, description="sparsity pattern of A (SDDMM: of C)"),
            Ordinal(
                "density",
                DENSITIES,
                active_if={"sparsity": ["nm", "block", "unstructured"]},
                description="non-zero fraction",
            ),
            Ordinal(
                "sparse_block",
                SPARSE_BLOCKS,
                active_if={"sparsity": ["block"]},
                description="block edge of block sparsity",
            ),
            Ordinal("block_m", TILE_SIZES, active_if=_TRITON, description="tile rows"),
            Ordinal("block_n", TILE_SIZES, active_if=_TRITON, description="tile columns"),
            Ordinal("block_k", TILE_SIZES, active_if=_TRITON, description="tile reduction depth"),
            Ordinal("group_m", GROUP_M, active_if=_TRITON, description="tile-row swizzle group"),
            Ordinal("num_warps", NUM_WARPS, active_if=_TRITON, description="warps per block"),
            Ordinal("num_stages", NUM_STAGES, active_if=_TRITON, description="pipeline stages"),
            Ordinal("split_k", SPLIT_K, active_if=_TRITON, description="K splits"),
        ],
        name="kernel",
    )


def kernel_workload(
    workload: Any = "llama-7b.ffn_up@2048", op: str | None = None
) -> KernelWorkload:
    """Resolve a workload: a :class:`KernelWorkload`, a dict of its fields, or
    ``"layer@tokens"`` / ``"layer"`` (2048 tokens) from the named-layer table."""
    if isinstance(workload, KernelWorkload):
        return (
            workload
            if op is None
            else KernelWorkload(
                op, workload.m, workload.n, workload.k, workload.groups, workload.name
            )
        )
    if isinstance(workload, dict):
        return KernelWorkload(**{**workload, **({"op": op} if op else {})})
    if isinstance(workload, str):
        layer, _, tokens = workload.partition("@")
        return named_workload(layer, int(tokens) if tokens else 2048, op)
    raise ConfigError(
        f"kernel workload must be a KernelWorkload, a dict or 'layer@tokens', got {workload!r}"
    )


def kernel_cost_model(name: str = "analytical", gpu: str = "H100-SXM") -> CostModel:
    """``"analytical"``, ``"learned"`` or ``"measure"`` -> the cost model."""
    if name in ("analytical", "kernel-analytical"):
        from archgym.envs.kernel.analytical import KernelAnalyticalCostModel

        return KernelAnalyticalCostModel(gpu)
    if name in ("learned", "kernel-learned"):
        from archgym.envs.kernel.learned import KernelLearnedCostModel

        return KernelLearnedCostModel(gpu)
    if name in ("measure", "kernel-measure"):
        from archgym.envs.kernel.measure.live import KernelMeasureCostModel

        return KernelMeasureCostModel()
    raise ConfigError(
        f"Kernel-v0 cost_model must be 'analytical', 'learned', 'measure' or a CostModel, "
        f"got {name!r}"
    )


def make_kernel_env(
    workload: Any = "llama-7b.ffn_up@2048",
    op: str | None = None,
    gpu: str = "H100-SXM",
    cost_model: CostModel | str = "analytical",
    objective: Any = "latency_s",
    constraints: Sequence[str] = (),
    mode: str = "one-step",
    **kwargs: Any,
) -> DSEEnv:
    """Build Kernel-v0.

    Args:
        workload: ``"layer@tokens"`` (e.g. ``"llama-7b.ffn_up@2048"``), a dict or a
            :class:`~archgym.envs.kernel.space.KernelWorkload`.
        op: Override the op (``"spmm"`` to search sparse implementations of a layer).
        gpu: A GPU of :data:`~archgym.envs.kernel.gpus.GPUS` (analytical/learned).
        cost_model: ``"analytical"``, ``"learned"``, ``"measure"`` or a CostModel.
        objective: Objective spec; default minimise latency.
        constraints: E.g. ``["energy_j <= 0.01"]``.
        mode: ``"one-step"`` or ``"sequential"``.
    """
    wl = kernel_workload(workload, op)
    model = kernel_cost_model(cost_model, gpu) if isinstance(cost_model, str) else cost_model
    env = DSEEnv(kernel_space(wl.op), model, wl, objective, constraints, mode=mode, **kwargs)
    return env


register(
    "archgym/Kernel-v0",
    make_kernel_env,
    "GEMM/SpMM/SDDMM/grouped GEMM on a tensor-core GPU: tiles, precision, sparsity, backend",
    report_metrics=("latency_s", "tflops", "energy_j"),
    default_cost_model="analytical",
    workload_type=KernelWorkload,
    cost_models=("analytical", "learned", "measure"),
)
