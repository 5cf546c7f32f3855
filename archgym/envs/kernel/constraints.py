"""Feasibility rules of the kernel domain, vectorised over a batch of designs.

Each rule marks designs infeasible with a reason naming the rule, the value and the fix. The
first broken rule of a design is its reason. Rules:

* ``support``: the backend has no kernel for this op/pattern/precision (e.g. 2:4 needs the
  vendor backend's sparse tensor cores; the GPU has no fp8 tensor cores).
* ``smem``: Triton keeps pipelined copies of the A and B tiles in shared memory; the
  per-block limit must hold for :func:`triton_smem_bytes`. Fitted on the H200 grid (Triton 3.6,
  36,000 configs that compiled or not): with Hopper's wgmma (BLOCK_M >= 64 and >= 4 warps) it
  keeps ``num_stages`` copies, with mma.sync ``num_stages - 1`` (the last stage is read from
  registers); 1-byte wgmma configs with BLOCK_N >= 128 ran with 2 copies whatever
  ``num_stages`` said. On that data the rule accepts no config that failed and rejects
  0.2 % of those that ran (``benchmarks/bench_kernel_fidelity.py`` prints the confusion).
* ``mma``: tensor-core instruction shapes are m16n8k16 for 2-byte inputs and m16n8k32 for
  1-byte inputs (and packed int4, which is dequantised in 32-wide K steps): BLOCK_K must be a
  multiple of that K, BLOCK_N of 8. On the H200 grid, int8/fp8 with BLOCK_K = 16 failed to
  compile and int4 with BLOCK_K = 16 gave wrong results.
* No register or split-K rule: configs whose accumulator exceeds 255 registers per thread
  spill and run (slowly), and a split with no K tile writes zeros; both ran correctly on the
  H200 grid, so both are costs for the models, not infeasibility.
* ``2:4 shape``: PyTorch's ``SparseSemiStructuredTensor`` (torch/sparse/semi_structured.py,
  cuSPARSELt backend) needs the sparse operand's rows and columns to be >= and a multiple of
  16 for fp16/bf16 (it pads the dense operand itself). int8 2:4 runs but its int8 output
  saturates (relative error 0.8-0.98 on every shape of the H200 grid), fp8 2:4 is refused by
  torch: both are unsupported here.
* ``vendor shape``: ``torch._int_mm(x, W.t())`` needs more than 16 rows of x (tokens N) and
  K, M multiples of 8; ``torch._scaled_mm`` (fp8) needs M, N, K multiples of 16;
  ``torch._weight_int4pack_mm`` needs K a multiple of its 128-wide quantisation group and M of
  8; a BSR weight needs M and K multiples of its block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym.envs.kernel.gpus import GPUSpec
from archgym.envs.kernel.space import KernelWorkload

__all__ = [
    "A_BYTES",
    "B_BYTES",
    "check_designs",
    "smem_bytes",
    "triton_smem_bytes",
    "registers_per_thread",
]

A_BYTES = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
"""Bytes per element of A (the weight operand) per precision."""
B_BYTES = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 2.0}
"""Bytes per element of B (activations; fp16 for int4 weight-only)."""
_REG_OVERHEAD = 32
_MAX_REGS = 255


def _lookup(table: Mapping[str, float], keys: np.ndarray) -> np.ndarray:
    return np.array([table[str(k)] for k in keys], dtype=float)


def smem_bytes(bm, bn, bk, stages, precision) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Shared memory of the Triton kernel's pipelined A and B tiles, in bytes."""
    prec = np.atleast_1d(np.asarray(precision))
    a = _lookup(A_BYTES, prec)
    b = _lookup(B_BYTES, prec)
    bm, bn, bk, st = (np.asarray(x, dtype=float) for x in (bm, bn, bk, stages))
    return st * (bm * bk * a + bk * bn * b)


def triton_smem_bytes(bm, bn, bk, stages, warps, precision) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Shared memory Triton 3.6 allocates for the pipelined tiles (fitted; module docstring)."""
    prec = np.atleast_1d(np.asarray(precision))
    bm, bn, bk, st, w = (np.asarray(x, dtype=float) for x in (bm, bn, bk, stages, warps))
    per_stage = smem_bytes(bm, bn, bk, 1, prec)
    wgmma = (bm >= 64) & (w >= 4)
    one_byte = np.isin(prec, ["fp8", "int8"])
    copies = np.where(wgmma, st, np.maximum(st - 1, 1))
    copies = np.where(wgmma & one_byte & (bn >= 128), np.minimum(st, 2), copies)
    return copies * per_stage


def registers_per_thread(bm, bn, warps) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Estimated registers per thread: accumulator ``BM*BN/(32*warps)`` + 32 overhead."""
    bm, bn, w = (np.asarray(x, dtype=float) for x in (bm, bn, warps))
    return bm * bn / (32.0 * w) + _REG_OVERHEAD


def check_designs(
    columns: Mapping[str, np.ndarray], workload: KernelWorkload, gpu: GPUSpec
) -> tuple[np.ndarray, list[str]]:
    """Apply every rule to a batch of designs.

    Args:
        columns: Design columns (``backend``, ``precision``, ``sparsity``, ``density``,
            ``sparse_block``, ``block_m``, ``block_n``, ``block_k``, ``num_warps``,
            ``num_stages``, ``split_k``), one entry per design.
        workload: The kernel's shape and op.
        gpu: The target GPU.

    Returns:
        ``(feasible, reasons)``: a bool array and one string per design (``""`` if feasible).
    """
    backend = np.asarray(columns["backend"]).astype(str)
    prec = np.asarray(columns["precision"]).astype(str)
    sp = np.asarray(columns["sparsity"]).astype(str)
    n = backend.shape[0]
    reasons = [""] * n
    m_, n_, k_ = workload.m, workload.n, workload.k
    op = workload.op

    def flag(mask: np.ndarray, text: Any) -> None:
        for i in np.flatnonzero(mask):
            if not reasons[i]:
                reasons[i] = text(i) if callable(text) else text

    tri = backend == "triton"
    # --- support --------------------------------------------------------------------------
    no_fp8 = "fp8" not in gpu.peak_tflops
    flag(
        (prec == "fp8") & no_fp8, f"support: {gpu.name} has no fp8 tensor cores; use fp16/bf16/int8"
    )
    if op == "gemm" or op == "grouped_gemm":
        flag(
            sp != "dense",
            f"support: op={op} is dense; choose sparsity='dense' or op='spmm'/'sddmm'",
        )
    if op == "spmm":
        flag(sp == "dense", "support: op='spmm' needs a sparse pattern; use op='gemm' for dense")
    if op == "sddmm":
        flag(
            ~np.isin(sp, ["block", "unstructured"]),
            "support: op='sddmm' samples C with 'block' or 'unstructured' masks only",
        )
        flag(prec == "int4", "support: op='sddmm' has no weight operand to quantise to int4")
        flag(
            ~tri & (sp == "unstructured"),
            "support: torch.sparse.sampled_addmm has no fp16/bf16/fp8/int CUDA kernel "
            "(NotImplementedError on the H200 grid); use backend='triton' with block masks",
        )
        flag(
            ~tri & (sp == "block"), "support: torch has no block-sparse SDDMM; use backend='triton'"
        )
        flag(
            tri & (sp == "unstructured"),
            "support: the Triton kernel skips whole tiles; unstructured needs backend='torch'",
        )
    flag(
        tri & np.isin(sp, ["2:4", "nm", "unstructured"]) & (op != "sddmm"),
        lambda i: (
            f"support: backend='triton' runs dense or block-sparse tiles, not {sp[i]!r}; "
            "use backend='torch' (cuSPARSELt for 2:4, cuSPARSE CSR for nm/unstructured)"
        ),
    )
    flag(
        ~tri & (sp == "2:4") & (prec == "int4"),
        "support: 2:4 sparse tensor cores take no int4 weights",
    )
    flag(
        ~tri
        & np.isin(sp, ["nm", "unstructured", "block"])
        & (op == "spmm")
        & ~np.isin(prec, ["fp16", "bf16"]),
        "support: torch CSR/BSR sparse matmul takes fp16/bf16 only; use precision fp16/bf16",
    )
    flag(
        ~tri & (prec == "int4") & (op == "grouped_gemm"),
        "support: torch has no grouped int4 weight-only kernel; use backend='triton'",
    )

    # --- vendor shape rules -----------------------------------------------------------------
    vend = ~tri
    if n_ <= 16 or k_ % 8 or m_ % 8:
        flag(
            vend & (prec == "int8") & (sp == "dense"),
            f"vendor shape: torch._int_mm(x, W.t()) needs N (tokens) > 16 and K, M multiples "
            f"of 8; got M={m_}, N={n_}, K={k_}",
        )
    if m_ % 16 or n_ % 16 or k_ % 16:
        flag(
            vend & (prec == "fp8") & (sp == "dense"),
            f"vendor shape: torch._scaled_mm needs M, N, K multiples of 16; got "
            f"M={m_}, N={n_}, K={k_}",
        )
    if k_ % 128 or m_ % 8:
        flag(
            vend & (prec == "int4"),
            f"vendor shape: torch._weight_int4pack_mm needs K a multiple of 128 and M of 8; "
            f"got M={m_}, K={k_}",
        )
    flag(
        vend & (sp == "2:4") & np.isin(prec, ["int8", "fp8"]),
        lambda i: (
            f"support: torch 2:4 {prec[i]} is unsupported (int8: the int8 output saturates; "
            "fp8: refused by torch); use fp16/bf16"
        ),
    )
    bad24 = (m_ < 16) | (m_ % 16 != 0) | (k_ % 16 != 0) | (k_ < 16)
    flag(
        (sp == "2:4") & bad24,
        f"2:4 shape: the sparse operand {m_}x{k_} must be >= and a multiple of 16 in both "
        "dimensions (cuSPARSELt); pad the shape or use another pattern",
    )
    blk_col = np.asarray(columns.get("sparse_block", np.zeros(n)), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bsr_bad = (np.mod(m_, np.maximum(blk_col, 1)) != 0) | (
            np.mod(k_, np.maximum(blk_col, 1)) != 0
        )
    flag(
        vend & (sp == "block") & (op == "spmm") & bsr_bad,
        lambda i: (
            f"vendor shape: a BSR weight needs M={m_} and K={k_} multiples of its block "
            f"{int(blk_col[i])}; pad the shape or use backend='triton'"
        ),
    )
    if k_ % 2:
        flag(tri & (prec == "int4"), f"support: packed int4 needs an even K; got K={k_}")

    # --- Triton tile rules -----------------------------------------------------------------
    with np.errstate(divide="ignore", invalid="ignore"):
        _tile_rules(columns, tri, prec, k_, gpu, flag)
    feasible = np.array([r == "" for r in reasons], dtype=bool)
    return feasible, reasons


def _tile_rules(columns, tri, prec, k_, gpu, flag):  # type: ignore[no-untyped-def]
    """The Triton tile rules (smem, mma); vendor rows are skipped."""
    if tri.any():
        bm = np.asarray(columns["block_m"], dtype=float)
        bn = np.asarray(columns["block_n"], dtype=float)
        bk = np.asarray(columns["block_k"], dtype=float)
        warps = np.asarray(columns["num_warps"], dtype=float)
        stages = np.asarray(columns["num_stages"], dtype=float)
        need = triton_smem_bytes(bm, bn, bk, stages, warps, prec)
        limit = gpu.smem_per_block_kb * 1024
        flag(
            tri & (need > limit),
            lambda i: (
                f"smem: {int(stages[i])} stages of ({int(bm[i])}x{int(bk[i])} A + "
                f"{int(bk[i])}x{int(bn[i])} B tiles) need {int(need[i])} B > {int(limit)} B on "
                f"{gpu.name}; lower num_stages or the tile"
            ),
        )
        kmma = np.array(
            [gpu.mma_k[1] if p in ("int8", "fp8", "int4") else gpu.mma_k[2] for p in prec],
            dtype=float,
        )
        flag(
            tri & ((bk % kmma != 0) | (bn % 8 != 0)),
            lambda i: (
                f"mma: {prec[i]} tensor-core MMA needs BLOCK_K multiple of {int(kmma[i])} "
                f"and BLOCK_N of 8; got BLOCK_K={int(bk[i])}, BLOCK_N={int(bn[i])}"
            ),
        )
