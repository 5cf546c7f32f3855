"""``archgym/Kernel-v1``: implement a matrix kernel on a GPU with tensor cores.

The workload is an op (``gemm``, ``spmm``, ``sddmm``, ``grouped_gemm``) and a shape from a
real layer (:data:`~archgym.envs.kernel.space.NAMED_LAYERS`: BERT-base, GPT-2,
LLaMA-7B/70B, Mixtral experts) or the user's own. The actions choose the backend (Triton or
the vendor library through PyTorch), the precision (fp16, bf16, fp8, int8, int4 weight-only),
the sparsity pattern (dense, 2:4, software N:M, block, unstructured) with its density and
block size, and the Triton tile (BLOCK_M/N/K, GROUP_M, warps, stages, split-K; active only
for ``backend='triton'``). Designs that break shared-memory, register, tensor-core or 2:4
shape rules are infeasible with the reason.

By default the backend is fixed to Triton, so the search spends its budget on the tile, the
precision and the pattern (the vendor library picks its own tiles, and a space that offers
it makes every tile parameter inactive for half the designs); ``backend="any"`` offers both,
``backend="torch"`` the vendor library alone.

Cost models: ``"analytical"`` (default, any GPU in the spec table; fitted per GPU by
``archgym measure calibrate``), ``"learned"`` (trained per GPU on measurements: H100-SXM and
H200-SXM ship data, any GPU trains on ``dataset=``) and ``"measure"`` (runs on the local
CUDA GPU).

v1 (was v0): the vendor paths are measured as users call them, the analytical constants are
fitted by a script, the learned model is trained per GPU with a ranking objective, the
feasibility rules were refitted on the H200 grid, and the default space fixes the backend
to Triton; results of v0 runs do not carry over.
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


_BACKEND_CHOICES = {"triton": ("triton",), "torch": ("torch",), "any": BACKENDS}


def kernel_space(op: str | None = None, backend: str = "triton") -> DesignSpace:
    """The Kernel-v1 design space.

    Args:
        op: Offer only the sparsity patterns that op supports.
        backend: ``"triton"`` (default: the tile parameters are always active), ``"torch"``
            (the vendor library: no tile parameters matter) or ``"any"``.

    Raises:
        ConfigError: Unknown ``backend``.
    """
    if backend not in _BACKEND_CHOICES:
        raise ConfigError(
            f"Kernel backend must be one of {sorted(_BACKEND_CHOICES)}, but got {backend!r}"
        )
    sparsities = OP_SPARSITIES.get(op, SPARSITIES) if op is not None else SPARSITIES
    if backend == "triton":  # patterns the Triton kernel runs (dense, block)
        sparsities = tuple(x for x in sparsities if x in ("dense", "block")) or sparsities
    return DesignSpace(
        [
            Categorical(
                "backend",
                _BACKEND_CHOICES[backend],
                description="Triton kernel or vendor library",
            ),
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
        wl = named_workload(layer, int(tokens) if tokens else 2048, op)
        dims = f"{wl.m}x{wl.n}x{wl.k}" + (f"x{wl.groups}" if wl.groups > 1 else "")
        return KernelWorkload(
            wl.op, wl.m, wl.n, wl.k, wl.groups, name=f"{wl.name} ({wl.op} MxNxK {dims})"
        )
    raise ConfigError(
        f"kernel workload must be a KernelWorkload, a dict or 'layer@tokens', got {workload!r}"
    )


def kernel_cost_model(
    name: str = "analytical",
    gpu: str = "H100-SXM",
    dataset: str | None = None,
    calibration: str | None = None,
) -> CostModel:
    """``"analytical"``, ``"learned"`` (trained on ``dataset``, default the GPU's shipped
    data) or ``"measure"`` -> the cost model; ``calibration``: a calibration JSON from
    ``archgym measure calibrate`` for the first two (default: the shipped one).

    Raises:
        ConfigError: Unknown name, or a calibration file for ``"measure"``.
    """
    if name in ("analytical", "kernel-analytical"):
        from archgym.envs.kernel.analytical import KernelAnalyticalCostModel

        return KernelAnalyticalCostModel(gpu, calibration=calibration)
    if name in ("learned", "kernel-learned"):
        from archgym.envs.kernel.learned import KernelLearnedCostModel

        return KernelLearnedCostModel(gpu, dataset=dataset, calibration=calibration)
    if name in ("measure", "kernel-measure"):
        if calibration is not None:
            raise ConfigError(
                f"calibration={calibration!r} applies to the analytical and learned models; "
                "cost_model='measure' times kernels and fits nothing: drop the option"
            )
        from archgym.envs.kernel.measure.live import KernelMeasureCostModel

        return KernelMeasureCostModel()
    raise ConfigError(
        f"Kernel-v1 cost_model must be 'analytical', 'learned', 'measure' or a CostModel, "
        f"got {name!r}"
    )


def _gpu_from_spec(path: str) -> str:
    """Register the GPU described by the JSON file ``path`` (GPUSpec fields); its name."""
    import json
    from pathlib import Path

    from archgym.envs.kernel.gpus import register_gpu

    try:
        fields = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"gpu_spec {path!r} must be a JSON file of GPUSpec fields ({exc}); e.g. "
            '{"name": "MY-GPU", "sms": 114, "clock_ghz": 1.75, "hbm_tbps": 2.0, ...}'
        ) from None
    return register_gpu(fields, overwrite=True).name


def make_kernel_env(
    workload: Any = "llama-7b.ffn_up@2048",
    op: str | None = None,
    gpu: str = "H100-SXM",
    cost_model: CostModel | str = "analytical",
    objective: Any = None,
    constraints: Sequence[str] = (),
    mode: str = "one-step",
    backend: str = "triton",
    dataset: str | None = None,
    gpu_spec: str | None = None,
    calibration: str | None = None,
    **kwargs: Any,
) -> DSEEnv:
    """Build Kernel-v1.

    Args:
        workload: ``"layer@tokens"`` (e.g. ``"llama-7b.ffn_up@2048"``), a dict or a
            :class:`~archgym.envs.kernel.space.KernelWorkload`.
        op: Override the op (``"spmm"`` to search sparse implementations of a layer).
        gpu: A GPU of :data:`~archgym.envs.kernel.gpus.GPUS` (analytical/learned).
        cost_model: ``"analytical"``, ``"learned"``, ``"measure"`` or a CostModel.
        objective: Objective spec; default the cost model's first metric: ``latency_s``
            (analytical, measure), ``pick_s`` (learned: the key it ranks configs by, whose
            argmin is its pick; its ``latency_s`` is the predicted time).
        constraints: E.g. ``["energy_j <= 0.01"]``.
        mode: ``"one-step"`` or ``"sequential"``.
        backend: ``"triton"`` (default), ``"torch"`` or ``"any"`` (see :func:`kernel_space`).
        dataset: Records the learned model trains on (default: the GPU's shipped data).
        gpu_spec: A JSON file of :class:`~archgym.envs.kernel.gpus.GPUSpec` fields for a GPU
            missing from the spec table; it is registered and becomes ``gpu``.
        calibration: A calibration JSON written by ``archgym measure calibrate`` (by default
            ``calibration.json`` in the directory it ran in) for the analytical or learned
            model (default: the shipped one).

    Raises:
        ConfigError: ``calibration`` with a cost model given as an object (pass it to the
            model), or a file without ``gpu``'s constants.
    """
    if gpu_spec is not None:
        gpu = _gpu_from_spec(gpu_spec)
    wl = kernel_workload(workload, op)
    if isinstance(cost_model, str):
        model = kernel_cost_model(cost_model, gpu, dataset, calibration)
    elif calibration is not None:
        raise ConfigError(
            f"calibration={calibration!r} is an option of the cost model built by name; a "
            "CostModel object takes its own (e.g. KernelLearnedCostModel(..., calibration=...))"
        )
    else:
        model = cost_model
    return DSEEnv(
        kernel_space(wl.op, backend), model, wl, objective, constraints, mode=mode, **kwargs
    )


register(
    "archgym/Kernel-v1",
    make_kernel_env,
    "GEMM/SpMM/SDDMM/grouped GEMM on a tensor-core GPU: tiles, precision, sparsity, backend",
    report_metrics=("latency_s", "tflops", "energy_j"),
    default_cost_model="analytical",
    workload_type=KernelWorkload,
    cost_models=("analytical", "learned", "measure"),
)
