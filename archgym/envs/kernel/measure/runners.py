"""Build a zero-argument callable that runs one kernel design on the GPU (torch + Triton).

Used by :func:`archgym.envs.kernel.measure.plan.measure_points`; everything here needs
torch with CUDA, imported inside functions. Operand preparation (random data, pruning,
compression to 2:4/CSR/BSR formats, block index lists) happens outside the timed callable,
as for static weights at inference time.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.envs.kernel.measure.errors import error_text
from archgym.envs.kernel.measure.triton_matmul import (
    MODE_BLOCK_A,
    MODE_DENSE,
    MODE_SDDMM,
    matmul_kernel,
)
from archgym.envs.kernel.measure.vendor import relative_error

__all__ = [
    "OperandCache",
    "PointRun",
    "build_point",
    "build_runner",
    "tile_mask",
    "triton_launch_args",
    "warmup_compile",
    "compile_resources",
]

_DEVICE = "cuda"  # tests on CPU (Triton interpreter) set this to "cpu"
_TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp8": "float8_e4m3fn", "int8": "int8"}


def tile_mask(
    block_mask: np.ndarray, block: int, tile_r: int, tile_c: int, rows: int, cols: int
) -> np.ndarray:
    """Which ``tile_r x tile_c`` tiles hold a non-zero ``block x block`` block.

    ``np.maximum.reduceat`` ORs the block rows each tile covers; when a block is larger than
    a tile the starts repeat and each tile simply takes its block's value.
    """
    nr, nc = -(-rows // tile_r), -(-cols // tile_c)
    rs = (np.arange(nr) * tile_r) // block
    cs = (np.arange(nc) * tile_c) // block
    m = np.maximum.reduceat(block_mask.astype(np.uint8), rs, axis=0)
    return np.maximum.reduceat(m, cs, axis=1).astype(bool)


def _sync(torch: Any) -> None:
    if _DEVICE == "cuda":
        torch.cuda.synchronize()


class OperandCache:
    """Random operands of one (shape, op, precision), reused across tile configs."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.items: dict[Any, Any] = {}

    def clear(self) -> None:
        import torch

        self.items.clear()
        if _DEVICE == "cuda":
            torch.cuda.empty_cache()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self.items:
            self.items[key] = make()
        return self.items[key]

    def rng(self, *key: Any) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(repr(key).encode())])


def _dense(torch: Any, shape: tuple[int, ...], prec: str, gen: Any) -> Any:
    if prec == "int8":
        return torch.randint(-8, 8, shape, device=_DEVICE, dtype=torch.int8, generator=gen)
    x = torch.randn(shape, device=_DEVICE, dtype=torch.float16, generator=gen)
    return x.to(getattr(torch, _TORCH_DTYPES[prec]))


def _operands(p: Mapping[str, Any], cache: OperandCache) -> dict[str, Any]:
    import torch

    def make() -> dict[str, Any]:
        gen = torch.Generator(device=_DEVICE).manual_seed(cache.seed)
        g, m, n, k = int(p["groups"]), int(p["m"]), int(p["n"]), int(p["k"])
        prec = str(p["precision"])
        if prec == "int4":
            a = torch.randint(
                -128, 128, (g, m, k // 2), device=_DEVICE, dtype=torch.int8, generator=gen
            )
            b = _dense(torch, (g, k, n), "fp16", gen)
            scale = torch.full((m,), 0.01, device=_DEVICE, dtype=torch.float16)
        else:
            a = _dense(torch, (g, m, k), prec, gen)
            b = _dense(torch, (g, k, n), prec, gen)
            scale = torch.empty(1, device=_DEVICE, dtype=torch.float16)
        return {"a": a, "b": b, "scale": scale}

    return cache.get(("operands",), make)


def triton_launch_args(
    p: Mapping[str, Any],
    ops: Mapping[str, Any],
    out: Any,
    mode: int,
    idx: Any,
    cnt: Any,
    tiles: Any,
    max_kb: int,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional args and constexpr kwargs of :func:`matmul_kernel` for point ``p``.

    Strides are those of contiguous ``A[G, M, K]`` (``K/2`` packed bytes for int4),
    ``B[G, K, N]`` and ``C[G, M, N]`` (``C[S, G, M, N]`` with split-K), computed from the shape
    so that tiny placeholder tensors suffice for compiling.
    """
    g, m, n, k = int(p["groups"]), int(p["m"]), int(p["n"]), int(p["k"])
    split = int(p["split_k"])
    ka = k // 2 if p["precision"] == "int4" else k
    cs = g * m * n if split > 1 else 0
    args = (
        ops["a"],
        ops["b"],
        out,
        ops["scale"],
        idx,
        cnt,
        tiles,
        m,
        n,
        k,
        max_kb,
        m * ka,
        ka,
        1,
        k * n,
        n,
        1,
        cs,
        m * n,
        n,
        1,
    )
    kw = {
        "BLOCK_M": int(p["block_m"]),
        "BLOCK_N": int(p["block_n"]),
        "BLOCK_K": int(p["block_k"]),
        "GROUP_M": int(p["group_m"]),
        "SPLIT_K": split,
        "MODE": mode,
        "INT4": p["precision"] == "int4",
        "ACC_INT": p["precision"] == "int8",
        "num_warps": int(p["num_warps"]),
        "num_stages": int(p["num_stages"]),
    }
    return args, kw


def _weights_f32(p: Mapping[str, Any], ops: Mapping[str, Any]) -> Any:
    """A as float32 ``[G, M, K]`` the way the Triton kernel reads it (int4: unpacked, scaled)."""
    import torch

    a = ops["a"]
    if p["precision"] != "int4":
        return a.float()
    lo = torch.bitwise_right_shift(torch.bitwise_left_shift(a, 4), 4)  # sign-extended low nibble
    hi = torch.bitwise_right_shift(a, 4)
    deq = torch.stack([lo, hi], dim=-1).reshape(a.shape[0], a.shape[1], -1).float()
    return deq * ops["scale"].float()[None, :, None]


def _triton_check(
    p: Mapping[str, Any], cache: OperandCache, run: Callable[[], Any], tmask: Any, shape: Any
) -> Callable[[], float]:
    """Relative error of the Triton result on 64 random output columns (SDDMM: NaN).

    The reference multiplies the float32 A (with the skipped tiles zeroed for block SpMM) by
    the same columns of B.
    """
    import torch

    if p["op"] == "sddmm":
        return lambda: float("nan")

    def check() -> float:
        ops = _operands(p, cache)
        a = cache.get(("a_f32",), lambda: _weights_f32(p, ops))
        n = ops["b"].shape[2]
        cols = torch.from_numpy(cache.rng("cols").choice(n, min(n, 64), replace=False)).to(_DEVICE)
        if tmask is not None:
            bm, bk = shape
            keep = torch.from_numpy(tmask).to(_DEVICE)
            keep = keep.repeat_interleave(bm, 0)[: a.shape[1]].repeat_interleave(bk, 1)
            a = a * keep[:, : a.shape[2]].float()
        ref = a @ ops["b"][:, :, cols].float()
        return relative_error(run()[:, :, cols], ref)

    return check


def _triton_runner(
    p: Mapping[str, Any], cache: OperandCache
) -> tuple[Callable[[], Any], float | None, Callable[[], float]]:
    import torch

    ops = _operands(p, cache)
    g, m, n, k = int(p["groups"]), int(p["m"]), int(p["n"]), int(p["k"])
    bm, bn, bk, split = int(p["block_m"]), int(p["block_n"]), int(p["block_k"]), int(p["split_k"])
    prec = str(p["precision"])
    out_dtype = {"bf16": torch.bfloat16, "int8": torch.int32}.get(prec, torch.float16)
    acc_dtype = torch.int32 if prec == "int8" else torch.float32
    dummy = torch.zeros(2, device=_DEVICE, dtype=torch.int32)
    idx, cnt, tiles, max_kb, mode, tile_density = dummy, dummy, dummy, 0, MODE_DENSE, None
    tmask = None
    n_pid = -(-m // bm) * -(-n // bn)
    if p["sparsity"] == "block":
        blk, dens = int(p["sparse_block"]), float(p["density"])
        rows, cols, tr, tc = (m, k, bm, bk) if p["op"] == "spmm" else (m, n, bm, bn)
        rng = cache.rng("mask", p["op"], blk, dens)
        bmask = rng.random((-(-rows // blk), -(-cols // blk))) < dens
        tmask = tile_mask(bmask, blk, tr, tc, rows, cols)
        tile_density = float(tmask.mean())
        if p["op"] == "spmm":
            mode = MODE_BLOCK_A
            counts = tmask.sum(1).astype(np.int32)
            max_kb = max(int(counts.max()), 1)
            lists = np.zeros((tmask.shape[0], max_kb), dtype=np.int32)
            for r in range(tmask.shape[0]):
                nz = np.flatnonzero(tmask[r])
                lists[r, : len(nz)] = nz
            idx = torch.from_numpy(lists).to(_DEVICE)
            cnt = torch.from_numpy(counts).to(_DEVICE)
        else:
            mode = MODE_SDDMM
            pairs = np.argwhere(tmask).astype(np.int32)
            n_pid = max(len(pairs), 1)
            tiles = torch.from_numpy(pairs.reshape(-1) if len(pairs) else np.zeros(2, np.int32)).to(
                _DEVICE
            )
    if split > 1:
        out = torch.empty((split, g, m, n), device=_DEVICE, dtype=acc_dtype)
    else:
        out = torch.empty((g, m, n), device=_DEVICE, dtype=out_dtype)
    args, kw = triton_launch_args(p, ops, out, mode, idx, cnt, tiles, max_kb)
    kernel = matmul_kernel()
    grid = (n_pid, split, g)

    def run() -> Any:
        kernel[grid](*args, **kw)
        if split > 1:
            return out.sum(0).to(out_dtype)
        return out

    run()  # compile (or load from cache) and launch once outside the timing
    _sync(torch)
    spmm_mask = tmask if p["op"] == "spmm" else None
    return run, tile_density, _triton_check(p, cache, run, spmm_mask, (bm, bk))


@dataclass
class PointRun:
    """A point ready to time: the callable, its one-time setup and a correctness check.

    Attributes:
        fn: Runs the kernel once (what is timed).
        tile_density: Fraction of tiles the Triton kernel computes (block-sparse), else None.
        setup_s: One-time preparation seconds (sparse conversion, packing); 0 for Triton.
        check: Relative Frobenius error of a fresh result against a float32 reference.
        vendor: True for the vendor (torch) backend.
    """

    fn: Callable[[], Any]
    tile_density: float | None
    setup_s: float
    check: Callable[[], float]
    vendor: bool


def build_point(p: Mapping[str, Any], cache: OperandCache) -> PointRun:
    """Compile/prepare point ``p``, run it once (warm-up) and return its :class:`PointRun`.

    Raises:
        Exception: Whatever torch/Triton raise for an unbuildable design; the caller turns
            it into an infeasible record.
    """
    import torch

    if p["backend"] == "triton":
        fn, tdens, check = _triton_runner(p, cache)
        return PointRun(fn, tdens, 0.0, check, False)
    from archgym.envs.kernel.measure.vendor import build_vendor_call

    ops = _operands(p, cache)
    call = build_vendor_call(p, ops["a"], ops["b"], cache.seed, _DEVICE)
    call.fn()
    _sync(torch)
    return PointRun(call.fn, None, call.setup_s, call.check, True)


def build_runner(
    p: Mapping[str, Any], cache: OperandCache
) -> tuple[Callable[[], Any], float | None]:
    """A callable that runs point ``p`` once, and the tile density it computes (or None)."""
    run = build_point(p, cache)
    return run.fn, run.tile_density


def _compile_point(kernel: Any, p: Mapping[str, Any]) -> Any:
    """Compile point ``p``'s Triton kernel (no launch) and return Triton's compiled kernel."""
    import torch

    prec = str(p["precision"])
    a_dt = torch.int8 if prec == "int4" else getattr(torch, _TORCH_DTYPES[prec])
    b_dt = torch.float16 if prec == "int4" else a_dt
    ops = {
        "a": torch.empty(16, device=_DEVICE, dtype=a_dt),
        "b": torch.empty(16, device=_DEVICE, dtype=b_dt),
        "scale": torch.empty(16, device=_DEVICE, dtype=torch.float16),
    }
    split = int(p["split_k"])
    acc = torch.int32 if prec == "int8" else torch.float32
    outd = {"bf16": torch.bfloat16, "int8": torch.int32}.get(prec, torch.float16)
    out = torch.empty(16, device=_DEVICE, dtype=acc if split > 1 else outd)
    mode = {"spmm": MODE_BLOCK_A, "sddmm": MODE_SDDMM}.get(str(p["op"]), MODE_DENSE)
    if p["sparsity"] != "block":
        mode = MODE_DENSE
    dummy = torch.zeros(2, device=_DEVICE, dtype=torch.int32)
    max_kb = 2  # runtime value; 2 keeps Triton's "== 1" specialisation off
    args, kw = triton_launch_args(p, ops, out, mode, dummy, dummy, dummy, max_kb)
    return kernel.warmup(*args, grid=(1,), **kw)


def warmup_compile(points: list[Mapping[str, Any]]) -> list[str]:
    """Compile the Triton kernels of ``points`` into Triton's on-disk cache (no launch).

    Run in worker processes so compiles proceed in parallel; returns one error string per
    point (``""`` when it compiled). Operand tensors are tiny: only their dtypes, alignment
    and the integer arguments (which Triton specialises on) matter for compilation.
    """
    kernel = matmul_kernel()
    errors = []
    for p in points:
        try:
            _compile_point(kernel, p)
            errors.append("")
        except Exception as exc:  # noqa: BLE001 - reported back to the driver
            errors.append(error_text(exc))
    return errors


def compile_resources(points: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What the compiler gave each point's Triton kernel: registers and spills per thread
    (ptxas, read back when the binary is loaded) and shared memory in bytes.

    Like :func:`warmup_compile` (no launch; run in worker processes). Returns one dict per
    point: ``n_regs``, ``n_spills``, ``shared_bytes`` (-1 where unknown) and ``error`` (``""``,
    or why it did not compile or load, e.g. too much shared memory for one block).
    """
    kernel = matmul_kernel()
    out = []
    for p in points:
        row: dict[str, Any] = {"n_regs": -1, "n_spills": -1, "shared_bytes": -1, "error": ""}
        try:
            compiled = _compile_point(kernel, p)
            row["shared_bytes"] = int(compiled.metadata.shared)
            compiled._init_handles()  # loads the cubin: sets n_regs and n_spills
            row["n_regs"], row["n_spills"] = int(compiled.n_regs), int(compiled.n_spills)
        except Exception as exc:  # noqa: BLE001 - reported back to the driver
            row["error"] = error_text(exc)
        out.append(row)
    return out
