"""The tile-parameterised Triton matmul used by live measurement.

One kernel covers the measured Triton designs: dense GEMM, block-sparse A (SpMM; each
``BLOCK_M`` row of tiles walks a list of its non-zero ``BLOCK_K`` tiles), SDDMM (the grid
walks a list of non-zero output tiles), grouped GEMM (``program_id(2)`` is the group),
split-K (``program_id(1)``; partial sums reduced by the caller) and int4 weight-only
(A packs two signed 4-bit weights per byte along K; a per-row scale is applied at the end).

Triton is imported only when :func:`matmul_kernel` is first called, so importing this module
is cheap and needs no GPU stack.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["matmul_kernel", "MODE_DENSE", "MODE_BLOCK_A", "MODE_SDDMM"]

MODE_DENSE = 0
MODE_BLOCK_A = 1
MODE_SDDMM = 2

tl: Any = None  # set by matmul_kernel(); the jitted kernel resolves `tl` in module globals


@functools.cache
def matmul_kernel() -> Any:
    """Build (once) and return the jitted Triton kernel.

    Raises:
        ImportError: Triton is not installed.
    """
    global tl
    import triton
    import triton.language as _tl

    tl = _tl

    @triton.jit(do_not_specialize=["max_kb"])
    def _matmul(
        a_ptr,
        b_ptr,
        c_ptr,
        scale_ptr,
        kidx_ptr,
        kcnt_ptr,
        tiles_ptr,
        M,
        N,
        K,
        max_kb,
        stride_ag,
        stride_am,
        stride_ak,
        stride_bg,
        stride_bk,
        stride_bn,
        stride_cs,
        stride_cg,
        stride_cm,
        stride_cn,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_K: tl.constexpr,
        GROUP_M: tl.constexpr,
        SPLIT_K: tl.constexpr,
        MODE: tl.constexpr,
        INT4: tl.constexpr,
        ACC_INT: tl.constexpr,
    ):
        pid = tl.program_id(0)
        pid_k = tl.program_id(1)
        pid_g = tl.program_id(2)
        if MODE == 2:
            pid_m = tl.load(tiles_ptr + 2 * pid)
            pid_n = tl.load(tiles_ptr + 2 * pid + 1)
        else:
            num_pid_m = tl.cdiv(M, BLOCK_M)
            num_pid_n = tl.cdiv(N, BLOCK_N)
            in_group = GROUP_M * num_pid_n
            first_m = (pid // in_group) * GROUP_M
            size_m = min(num_pid_m - first_m, GROUP_M)
            pid_m = first_m + ((pid % in_group) % size_m)
            pid_n = (pid % in_group) // size_m
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        a_rows = a_ptr + pid_g * stride_ag + offs_m[:, None] * stride_am
        b_cols = b_ptr + pid_g * stride_bg + offs_n[None, :] * stride_bn
        if ACC_INT:
            acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
        else:
            acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        if MODE == 1:
            n_kb = tl.load(kcnt_ptr + pid_m)
        else:
            n_kb = tl.cdiv(K, BLOCK_K)
        for i in range(pid_k, n_kb, SPLIT_K):
            if MODE == 1:
                kb = tl.load(kidx_ptr + pid_m * max_kb + i)
            else:
                kb = i
            offs_k = kb * BLOCK_K + tl.arange(0, BLOCK_K)
            b = tl.load(
                b_cols + offs_k[:, None] * stride_bk,
                mask=(offs_k[:, None] < K) & (offs_n[None, :] < N),
                other=0.0,
            )
            if INT4:
                offs_kp = kb * (BLOCK_K // 2) + tl.arange(0, BLOCK_K // 2)
                packed = tl.load(
                    a_rows + offs_kp[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (offs_kp[None, :] < K // 2),
                    other=0,
                )
                lo = (packed << 4) >> 4
                hi = packed >> 4
                a = tl.reshape(tl.join(lo, hi), (BLOCK_M, BLOCK_K)).to(tl.float16)
                acc = tl.dot(a, b, acc)
            else:
                a = tl.load(
                    a_rows + offs_k[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (offs_k[None, :] < K),
                    other=0.0,
                )
                if ACC_INT:
                    acc = tl.dot(a, b, acc, out_dtype=tl.int32)
                else:
                    acc = tl.dot(a, b, acc)
        if INT4:
            scale = tl.load(scale_ptr + offs_m, mask=offs_m < M, other=0.0)
            acc = acc * scale[:, None]
        c = c_ptr + pid_k * stride_cs + pid_g * stride_cg
        c = c + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
        tl.store(
            c, acc.to(c_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N)
        )

    return _matmul
