"""Vendor-library (torch) runners, called the way a model in steady state calls them.

Conventions: ``C[M, N] = A[M, K] @ B[K, N]`` with A the weight (see
:mod:`archgym.envs.kernel.space`). A linear layer computes ``y = x @ W.T`` with the
activations ``x = B.T`` (``[N, K]``, row-major) and ``W = A`` (``[M, K]``, row-major), so the
second operand of every vendor call is ``W.T``: column-major, K-major, as cuBLASLt expects.
Every path is built from that:

* dense fp16/bf16: ``torch.nn.functional.linear(x, W)`` (grouped: ``torch.bmm(x, W^T)``);
* int8: ``torch._int_mm(x, W.t())`` (second operand column-major, the layout cuBLASLt's int8
  kernels take; a row-major one makes torch fall back to a slow path);
* fp8: ``torch._scaled_mm(x, W.t(), scale_a, scale_b)`` (row-major x column-major);
* int4 weight-only: ``torch._weight_int4pack_mm(x, W_packed, 128, scales_and_zeros)`` with the
  weights packed once by ``torch._convert_weight_to_int4pack`` outside the timed region;
* 2:4: ``W`` converted once by ``torch.sparse.to_sparse_semi_structured`` (cuSPARSELt), then
  ``torch.nn.functional.linear(x, W_sparse)``;
* block: ``W`` converted once to BSR, then ``torch.mm(W_bsr, x.t())`` -- whatever kernel torch
  dispatches that to (the profiler names it);
* N:M / unstructured: ``W`` converted once to CSR, then ``torch.mm(W_csr, x.t())`` (cuSPARSE);
* SDDMM: ``torch.sparse.sampled_addmm(mask_csr, A, B)`` (cuSPARSE).

Each builder returns a :class:`VendorCall`: the timed callable, the one-time setup seconds
(conversion, packing), and a function giving the result's relative error against a float32
dense reference of the same (pruned, quantised) operands. Needs torch with CUDA; imported
only when something is measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["VendorCall", "build_vendor_call", "relative_error"]


@dataclass
class VendorCall:
    """A vendor path ready to time.

    Attributes:
        fn: Runs the kernel once on prepared operands (what is timed).
        setup_s: Wall seconds of the one-time preparation (conversion to a sparse format,
            int4 packing, transposes), synchronised; never part of ``fn``.
        check: Returns ``||out - ref|| / ||ref||`` of one fresh call against a float32 dense
            reference on the same operands.
    """

    fn: Callable[[], Any]
    setup_s: float
    check: Callable[[], float]


def relative_error(out: Any, ref: Any) -> float:
    """``||out - ref||_F / ||ref||_F`` in float32 (NaN-safe: a NaN output gives NaN)."""
    import torch

    o = out.float()
    r = ref.float()
    den = torch.linalg.vector_norm(r).item()
    num = torch.linalg.vector_norm(o - r).item()
    return float(num / den) if den > 0 else float(num)


def _sync(torch: Any, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _prune_mask(torch: Any, rows: int, cols: int, p: Mapping[str, Any], gen: Any, device: str):  # type: ignore[no-untyped-def]
    """Boolean keep-mask of the point's sparsity pattern on a ``rows x cols`` operand."""
    sp, dens = str(p["sparsity"]), float(p["density"])
    if sp == "2:4":
        return torch.tensor([0, 0, 1, 1], device=device, dtype=torch.bool).tile(rows, cols // 4)
    if sp == "nm":
        n_keep = max(1, int(round(dens * 8)))
        score = torch.rand((rows, cols // 8, 8), device=device, generator=gen)
        thr = score.topk(n_keep, dim=-1).values[..., -1:]
        return (score >= thr).reshape(rows, cols)
    if sp == "block":
        blk = int(p["sparse_block"])
        bm = torch.rand((-(-rows // blk), -(-cols // blk)), device=device, generator=gen) < dens
        return bm.repeat_interleave(blk, 0).repeat_interleave(blk, 1)[:rows, :cols]
    return torch.rand((rows, cols), device=device, generator=gen) < dens


def _apply_mask(torch: Any, a2d: Any, keep: Any) -> Any:
    if a2d.dtype.itemsize == 1:  # fp8/int8: zero the bytes (fp8 has no multiply)
        return (a2d.view(torch.int8) * keep.to(torch.int8)).view(a2d.dtype)
    return a2d * keep.to(a2d.dtype)


def build_vendor_call(
    p: Mapping[str, Any], a: Any, b: Any, seed: int, device: str = "cuda"
) -> VendorCall:
    """Prepare point ``p`` (backend ``torch``) on operands ``a [G, M, K]``, ``b [G, K, N]``.

    ``a`` and ``b`` are random tensors of the point's precision (int4: ``a`` is ignored and
    4-bit weights are drawn here). Raises whatever torch raises for an unsupported
    combination; the caller records it as an infeasible point.
    """
    import torch

    gen = torch.Generator(device=device).manual_seed(seed + 1)
    g, prec, sp, op = int(p["groups"]), str(p["precision"]), str(p["sparsity"]), str(p["op"])
    t0 = time.perf_counter()
    if op == "sddmm":
        m, n = a.shape[1], b.shape[2]
        keep = _prune_mask(torch, m, n, p, gen, device)
        mask = keep.to(a.dtype).to_sparse_csr()
        a0, b0 = a[0], b[0]
        _sync(torch, device)
        setup = time.perf_counter() - t0

        def check_sddmm() -> float:
            out = torch.sparse.sampled_addmm(mask, a0, b0, beta=0.0).to_dense()
            ref = (a0.float() @ b0.float()) * keep
            return relative_error(out, ref)

        return VendorCall(
            lambda: torch.sparse.sampled_addmm(mask, a0, b0, beta=0.0), setup, check_sddmm
        )
    # activations x = B^T [G, N, K] row-major; weights W = A [G, M, K] row-major
    x = b.transpose(1, 2).contiguous()
    if sp == "dense":
        return _dense_call(torch, p, a, x, g, prec, gen, device, t0)
    a2 = _apply_mask(torch, a[0], _prune_mask(torch, a.shape[1], a.shape[2], p, gen, device))
    x0 = x[0]
    ref_fn = lambda: x0.float() @ a2.float().t()  # noqa: E731 - [N, M]
    if sp == "2:4":
        from torch.sparse import to_sparse_semi_structured

        w = to_sparse_semi_structured(a2)
        _sync(torch, device)
        fn: Callable[[], Any] = lambda: torch.nn.functional.linear(x0, w)  # noqa: E731
    elif sp == "block":
        blk = int(p["sparse_block"])
        w = a2.to_sparse_bsr((blk, blk))
        xt = b[0]  # B [K, N] row-major: the dense operand of C = A @ B
        _sync(torch, device)
        fn = lambda: torch.mm(w, xt)  # noqa: E731 - [M, N]
        return VendorCall(fn, time.perf_counter() - t0, lambda: relative_error(fn().t(), ref_fn()))
    else:
        w = a2.to_sparse_csr()
        xt = b[0]
        _sync(torch, device)
        fn = lambda: torch.mm(w, xt)  # noqa: E731 - [M, N]
        return VendorCall(fn, time.perf_counter() - t0, lambda: relative_error(fn().t(), ref_fn()))
    return VendorCall(fn, time.perf_counter() - t0, lambda: relative_error(fn(), ref_fn()))


def _dense_call(torch, p, a, x, g, prec, gen, device, t0):  # type: ignore[no-untyped-def]
    """Dense vendor paths (fp16/bf16/fp8/int8/int4); outputs are ``[G?, N, M]``."""
    if prec in ("fp16", "bf16"):
        if g == 1:
            w, x0 = a[0], x[0]
            fn: Callable[[], Any] = lambda: torch.nn.functional.linear(x0, w)  # noqa: E731
        else:
            wt = a.transpose(1, 2)  # [G, K, M] view of row-major W: column-major per group
            fn = lambda: torch.bmm(x, wt)  # noqa: E731
        _sync(torch, device)
        setup = time.perf_counter() - t0
        return VendorCall(
            fn, setup, lambda: relative_error(fn(), x.float() @ a.float().transpose(1, 2))
        )
    if prec in ("int8", "fp8"):
        wt = [a[i].t() for i in range(g)]  # column-major [K, M] views: no copy
        if prec == "int8":

            def fn() -> Any:
                return [torch._int_mm(x[i], wt[i]) for i in range(g)]
        else:
            one = torch.ones((), device=device, dtype=torch.float32)

            def fn() -> Any:
                return [
                    torch._scaled_mm(x[i], wt[i], scale_a=one, scale_b=one, out_dtype=torch.float16)
                    for i in range(g)
                ]

        _sync(torch, device)
        setup = time.perf_counter() - t0

        def check() -> float:
            out = torch.stack(fn())
            return relative_error(out, x.float() @ a.float().transpose(1, 2))

        return VendorCall(fn, setup, check)
    if prec == "int4":
        if g != 1:
            raise ValueError("torch has no grouped int4 weight-only kernel")
        m, k = a.shape[1], x.shape[2]
        group = 128
        w = torch.randint(0, 16, (m, k), device=device, dtype=torch.int32, generator=gen)
        packed = ((w[:, ::2] << 4) | w[:, 1::2]).to(torch.uint8)
        wp = torch._convert_weight_to_int4pack(packed, 8)
        # tinygemm's scales_and_zeros [K/group, M, 2]: dequantised w = (q - 8) * scale + zero
        scale = torch.rand((k // group, m), device=device, generator=gen) * 0.02 + 0.01
        zero = torch.rand((k // group, m), device=device, generator=gen) * 0.02 - 0.01
        sz = torch.stack([scale, zero], dim=-1).to(torch.bfloat16).contiguous()
        xb = x[0].to(torch.bfloat16).contiguous()
        _sync(torch, device)
        setup = time.perf_counter() - t0
        fn = lambda: torch._weight_int4pack_mm(xb, wp, group, sz)  # noqa: E731

        def check_int4() -> float:
            s = sz[..., 0].float().repeat_interleave(group, 0).t()  # [M, K]
            z = sz[..., 1].float().repeat_interleave(group, 0).t()
            deq = (w.float() - 8.0) * s + z
            return relative_error(fn(), xb.float() @ deq.t())

        return VendorCall(fn, setup, check_int4)
    raise ValueError(f"no vendor path for precision {prec!r}")
