"""Analytical (roofline) cost model of GPU matrix kernels, vectorised over designs.

For every design, with ``d`` the density of the sparse operand and the GPU from
:mod:`archgym.envs.kernel.gpus` (datasheet peaks, SMs, shared memory, registers):

1. **Tiles and waves.** The grid has ``T = ceil(M/BM) * ceil(N/BN) * G * split_k`` tiles
   (SDDMM: only tiles its mask touches). Occupancy ``occ`` = thread blocks per SM, limited by
   shared memory, registers and threads. The busiest SM runs ``ceil(T / SMs)`` tiles, so
   partial last waves cost a whole tile time (wave quantisation), and tile edges past M, N,
   K are computed as if full (tile quantisation).
2. **Per-tile time** = ``max(compute, operand load)``: compute is ``2*BM*BN*BK`` per K step at
   ``peak / SMs`` times the path's efficiency; mma.sync (BM < 64 or < 4 warps on Hopper)
   reaches a fitted fraction ``sync_ratio`` of wgmma, two pipeline stages a fraction
   ``stage2``; operand loads stream ``(BM*BK*bytes_A + BK*BN*bytes_B)`` per step from L2 at
   ``l2_tbps / SMs``. A thread holds :func:`thread_registers`: ``BM*BN / (32*warps)``
   accumulators (times 1.37 under mma.sync), its share of one K step's operand tiles and a
   base, coefficients fitted to ptxas' counts (:data:`REGISTER_MODEL`, not to timings); over 255
   (the ISA's limit per thread) it spills and time grows by ``spill`` per 100 % over.
   Occupancy (:func:`occupancy`) follows the CUDA limits: registers allocated per warp in units
   of 256 from the SM's 64 K, Triton's shared memory plus 1 KiB per block, threads, 32 blocks.
   Low occupancy exposes latency: ``hide = min(1, hide0 + (1 - hide0) * occ * warps /
   hide_warps)``. (v6 added a fitted constant ``reg_overhead`` to the accumulators instead --
   124 registers on the H200, which capped 2-stage 256x32 tiles at 2 CTAs per SM where the
   compiler's count allows 3; a calibration holding ``reg_overhead``, like the shipped H100 one,
   is still evaluated that way, :data:`LEGACY_REG_OVERHEAD`.) A calibration holding
   ``reg_table = 1`` (``calibrate.REGISTER_PARAMS["measured"]``, not a shipped one) takes a
   Triton config's registers, spilled words and shared memory from what ptxas gave it on sm_90
   (:func:`compiled_resources`), the fitted term for a config the table lacks; by the learned
   model's inner CV it did not pick better (``benchmarks/kernel_rank_cv.py``).
3. **Block sparsity.** A ``BM x BK`` tile of A is computed if any ``sparse_block`` block in it is
   non-zero (:func:`~archgym.envs.kernel.space.effective_density`); rows of tiles hold
   a Binomial number of K tiles, and the busiest SM's tail is the expected maximum (mean +
   std * sqrt(2 ln rows)) -- the load imbalance.
4. **DRAM traffic**: A (compressed: 2:4 keeps half plus 2 bits of metadata per kept value;
   CSR keeps ``d`` of the values plus a 4-byte column index each; BSR a 4-byte index per
   block), B, C, split-K fp32 partials (written and read back) and int4 scales, over
   ``hbm_eff`` (Triton) or ``hbm_eff_vendor`` of the datasheet HBM bandwidth.
5. ``latency_s = max(compute, memory) + launch_s * launches``. The vendor library is the best
   of a few standard tile shapes (CUTLASS/cuBLAS's 128x256, 128x128, 64x128, 64x64, 128x64),
   without the L2 operand bound (Hopper libraries multicast operands across clusters);
   2:4 halves the MMA work (the pattern's definition); cuSPARSE CSR runs on CUDA cores at the
   datasheet fp32 rate. Each (backend, pattern, precision) path has a fitted efficiency. A
   calibration holding ``int4_rate = 1`` (the H200's since v8, ``calibrate.SHIPPED_INT4_RATE``;
   and so a GPU that borrows it, :data:`FALLBACK_CALIBRATION`) runs torch's int4 weight-only
   path (tinygemm) at a constant rate, ``flop / (fp16 peak * efficiency)``, without the vendor
   tiles' quantisation: measured 24-29 TFLOP/s on 43 of the H200's 57 shapes, 16 to 16,384
   tokens (``data/README.md``).
6. **Energy** (``energy_j``): a linear utilisation power model, ``P = P_idle + (TDP - P_idle) * u``
   with ``u`` the larger of compute and bandwidth utilisation, times latency (Hong & Kim,
   ISCA 2010); TDP and idle power come from the spec table.

Every constant that is not a datasheet figure is fitted, per GPU, by
:func:`archgym.envs.kernel.calibrate.fit_calibration` on the training shapes of a measured
dataset (``archgym measure calibrate DATA --gpu NAME``) and shipped in
``data/calibration.json``; the register term's coefficients (:data:`REGISTER_MODEL`) are fitted
once, to the compiler's register counts, by ``benchmarks/kernel_register_model.py``; the CUDA
limits (:data:`REGS_PER_THREAD_MAX`, :data:`REG_ALLOC_UNIT`, :data:`SMEM_RESERVED_PER_BLOCK`,
:data:`MAX_BLOCKS_PER_SM`) are documented figures. A GPU without its own calibration borrows
the one named by :data:`FALLBACK_CALIBRATION`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.kernel.constraints import A_BYTES, B_BYTES, check_designs, triton_smem_bytes
from archgym.envs.kernel.gpus import GPUSpec, get_gpu
from archgym.envs.kernel.space import KernelWorkload, as_kernel_workload, effective_density
from archgym.errors import ConfigError
from archgym.registry import register_cost_model

__all__ = [
    "KernelAnalyticalCostModel",
    "analytic_terms",
    "row_terms",
    "path_keys",
    "load_calibration",
    "CALIBRATION_FILE",
    "FALLBACK_CALIBRATION",
    "GLOBAL_PARAMS",
    "KERNEL_METRICS",
    "thread_registers",
    "occupancy",
    "REGISTER_MODEL",
    "LEGACY_REG_OVERHEAD",
    "COMPILED_RESOURCES_FILE",
    "compiled_resources",
]

KERNEL_METRICS = (
    Metric("latency_s", "s", "min", "kernel time, median of CUDA-event timings"),
    Metric("tflops", "TFLOP/s", "max", "useful (non-zero) FLOP per second"),
    Metric("energy_j", "J", "min", "board energy of one kernel call"),
)

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "calibration.json"
FALLBACK_CALIBRATION = "H200-SXM"
"""The calibration a GPU without its own uses (the largest shipped dataset's)."""

GLOBAL_PARAMS: dict[str, tuple[float, float, float]] = {
    "launch_s": (4e-6, 5e-7, 3e-5),
    "hbm_eff": (0.85, 0.2, 1.0),
    "hbm_eff_vendor": (0.85, 0.2, 1.0),
    "l2_tbps": (7.0, 1.0, 40.0),
    "sync_ratio": (0.75, 0.1, 1.5),
    "stage2": (0.85, 0.2, 1.5),
    "hide0": (0.75, 0.05, 1.0),
    "spill": (1.0, 0.0, 20.0),
    "hide_warps": (8.0, 1.0, 64.0),
}
"""Fitted constants shared by all paths: ``name -> (starting point, lower, upper bound)``.
The starting points only seed the fit; the model uses the fitted values."""
LEGACY_REG_OVERHEAD = (32.0, 8.0, 128.0)
"""Bounds of the per-thread register overhead that analytical v6 fitted to timings
(``reg_overhead``, 124 on the H200). A calibration that holds ``reg_overhead`` is evaluated the
v6 way (a constant overhead, no allocation granularity, ``stages`` copies of the tiles in shared
memory); one without it uses :func:`thread_registers` and :func:`occupancy`."""

#: Registers per thread of the Triton matmul (:mod:`archgym.envs.kernel.measure.triton_matmul`)
#: on sm_90, :func:`thread_registers`. Form from the kernel's structure; coefficients fitted by
#: least squares (``benchmarks/kernel_register_model.py``) to ptxas' allocation for 3,382 tile
#: configs compiled by Triton 3.6 on the H200 (``benchmarks/data/h200_registers.csv.gz``, the
#: compiler's figures, not timings; the 2,785 that neither spill nor reach 255 registers): median
#: |error| 8.4 registers, p90 29.9; the CTAs per SM agree with the compiler's in 65.5 % of the
#: configs (v6's fitted 124-register overhead: 42.4 %, the same shared memory and granularity).
REGISTER_MODEL: dict[str, float] = {
    "base": 35.62,  # indices, strides, loop counter, base pointers
    "operand": 0.595,  # per 4-byte word of the thread's share of one K step's A and B tiles
    "mma_sync": 0.368,  # extra per accumulator register under mma.sync (no wgmma)
    "int4": 1.932,  # per packed int4 word of A: unpacking to fp16 in registers
}
REGS_PER_THREAD_MAX = 255
"""The ISA's limit per thread (PTX ISA; CUDA C++ Programming Guide, compute capabilities table)."""
REG_ALLOC_UNIT = 256
"""Registers are allocated per warp in units of 256 (CUDA Occupancy Calculator, cc 8.0-9.0)."""
SMEM_RESERVED_PER_BLOCK = 1024
"""Shared memory the CUDA runtime reserves per thread block on cc 8.0+ (CUDA C++ Programming
Guide, 'Shared Memory' of compute capability 8.x/9.0; ``cudaDevAttrReservedSharedMemoryPerBlock``)."""
MAX_BLOCKS_PER_SM = 32
"""Resident thread blocks per SM, cc 8.0 and 9.0 (CUDA C++ Programming Guide)."""
COMPILED_RESOURCES_FILE = Path(__file__).resolve().parent / "data" / "triton_sm90_resources.csv"
"""What ptxas allocated to each of 3,382 Triton tile configs compiled for sm_90 (Triton 3.6 on
the H200; the H100 is sm_90 too): registers and spilled 4-byte words per thread, shared memory
per block (``benchmarks/kernel_registers.py``; the loaded rows of
``benchmarks/data/h200_registers.csv.gz``). Used by :func:`compiled_resources` where a
calibration holds ``reg_table``."""

# CUDA-core fp32 peak (TFLOP/s), datasheets: H100/H200 SXM 67, A100 19.5
_CUDA_CORE_TFLOPS = {"H100-SXM": 67.0, "H200-SXM": 67.0, "A100-SXM": 19.5}
_VENDOR_TILES = (
    (128, 256, 64, 8, 4),
    (128, 128, 64, 4, 4),
    (64, 128, 64, 4, 4),
    (64, 64, 64, 4, 4),
    (128, 64, 64, 4, 4),
)
_PEAK_KEY = {"fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "int8": "int8", "int4": "fp16"}


def _family(sp: np.ndarray, op: np.ndarray) -> np.ndarray:
    fam = np.where(sp == "dense", "dense", np.where(sp == "2:4", "2:4", "csr"))
    fam = np.where((sp == "block") & (op == "spmm"), "block", fam)
    return np.where(op == "sddmm", "sddmm", fam)


def path_keys(backend: Any, sparsity: Any, precision: Any, op: Any) -> np.ndarray:
    """``"backend/family/precision"`` of each row: the key of its fitted path efficiency."""
    b = np.asarray(backend).astype(str)
    fam = _family(np.asarray(sparsity).astype(str), np.asarray(op).astype(str))
    return np.char.add(
        np.char.add(np.char.add(np.char.add(b, "/"), fam), "/"), np.asarray(precision).astype(str)
    )


@functools.lru_cache(maxsize=8)
def _calibration_file(path: str, mtime: float) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_calibration(gpu: str, path: str | Path = CALIBRATION_FILE) -> dict[str, float]:
    """The fitted constants of ``gpu`` (or of :data:`FALLBACK_CALIBRATION`): name -> value.

    Global constants are named as in :data:`GLOBAL_PARAMS`, path efficiencies
    ``"path:<backend>/<family>/<precision>"``. ``path``: a calibration JSON, the shipped one
    by default, or one written by ``archgym measure calibrate DATA --gpu GPU --out PATH``.

    Raises:
        ConfigError: ``path`` is not a readable calibration JSON, or holds neither ``gpu``
            nor the fallback GPU.
    """
    p = Path(path)
    try:
        table = _calibration_file(str(p), p.stat().st_mtime)
        entry = table.get(gpu) or table.get(FALLBACK_CALIBRATION)
        if entry is None:
            raise KeyError(gpu)
        return dict(entry["params"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        why = f"no entry for {gpu!r}" if isinstance(exc, KeyError) else f"{exc}"
        raise ConfigError(
            f"calibration file {p} is not a calibration of {gpu} ({why}); write one with "
            f"`archgym measure calibrate DATA --gpu {gpu} --out {p.name}`"
        ) from None


def _col(columns: Mapping[str, Any], name: str, n: int, default: Any) -> np.ndarray:
    if name in columns:
        return np.asarray(columns[name])
    return np.full(n, default)


def thread_registers(bm, bn, bk, warps, a_b, b_b, int4, wgmma):  # type: ignore[no-untyped-def]
    """Registers per thread a Triton tile config needs, before the 255 cap (arrays broadcast).

    ``acc * (1 + mma_sync * [no wgmma]) + base + operand * words + int4 * packed words``
    (:data:`REGISTER_MODEL`): ``acc = BM*BN / (32*warps)`` fp32/int32 accumulators;
    ``words = (BM*BK*a_b + BK*BN*b_b) / (4 * 32*warps)``, the thread's share of one K step's
    operand tiles in 4-byte registers (``a_b``, ``b_b``: bytes per element); int4 packs
    ``BM*BK/2`` bytes of A. Example: 256x32x128, 4 warps, int8 (wgmma): 64 + 35.62 + 0.595 * 72
    = 142.5 (ptxas: 168).
    """
    c = REGISTER_MODEL
    acc = bm * bn / (32.0 * warps)
    words = (bm * bk * a_b + bk * bn * b_b) / (128.0 * warps)
    packed = np.where(int4, bm * bk * 0.5 / (128.0 * warps), 0.0)
    sync = np.where(wgmma, 0.0, c["mma_sync"])
    return acc * (1.0 + sync) + c["base"] + c["operand"] * words + c["int4"] * packed


_TABLE_PRECISIONS = ("fp16", "bf16", "fp8", "int8", "int4")


def _config_code(bm, bn, bk, warps, stages, prec_code):  # type: ignore[no-untyped-def]
    """One int64 per tile config: tile sizes below 4096, warps and stages below 64, the
    precision's index below 64 (52 bits); -1 where a field is not an integer in its range."""
    fields = [np.asarray(v, dtype=float) for v in (bm, bn, bk, warps, stages, prec_code)]
    code = np.zeros(np.broadcast(*fields).shape, dtype=np.int64)
    bad = np.zeros(code.shape, dtype=bool)
    for v, size in zip(fields, (4096, 4096, 4096, 64, 64, 64), strict=True):
        r = np.rint(v)
        bad |= (r != v) | (r < 0) | (r >= size)
        code = code * size + np.where(bad, 0, r).astype(np.int64)
    return np.where(bad, -1, code)


@functools.lru_cache(maxsize=1)
def _resource_table() -> tuple[np.ndarray, np.ndarray]:
    import csv

    # the standard library's reader: pandas is not needed at a stored model's first use
    with COMPILED_RESOURCES_FILE.open(newline="") as f:
        rows = list(csv.DictReader(f))

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) for r in rows])

    prec = np.array([_TABLE_PRECISIONS.index(r["precision"]) for r in rows], dtype=float)
    codes = _config_code(
        col("block_m"), col("block_n"), col("block_k"), col("num_warps"), col("num_stages"), prec
    )
    vals = np.column_stack([col("n_regs"), col("n_spills"), col("shared_bytes")])
    order = np.argsort(codes)
    return codes[order], vals[order]


def compiled_resources(bm, bn, bk, warps, stages, precision):  # type: ignore[no-untyped-def]
    """``(registers, spilled words, shared bytes)`` per thread / block that ptxas gave each
    Triton tile config on sm_90 (:data:`COMPILED_RESOURCES_FILE`); NaN for a config not in
    the table (arrays broadcast; ``precision`` an array of names)."""
    codes, vals = _resource_table()
    names, inv = np.unique(np.asarray(precision).astype(str), return_inverse=True)
    known = {p: float(i) for i, p in enumerate(_TABLE_PRECISIONS)}
    pc = np.array([known.get(p, 64.0) for p in names.tolist()])[inv.reshape(-1)]
    key = _config_code(bm, bn, bk, warps, stages, pc.reshape(np.shape(precision)))
    at = np.clip(np.searchsorted(codes, key), 0, len(codes) - 1)
    found = (codes[at] == key) & (key >= 0)
    out = np.where(found[..., None], vals[at], np.nan)
    return out[..., 0], out[..., 1], out[..., 2]


def occupancy(regs, smem, warps, gpu: GPUSpec):  # type: ignore[no-untyped-def]
    """Thread blocks per SM from registers per thread (allocated per warp in units of
    :data:`REG_ALLOC_UNIT`, at most :data:`REGS_PER_THREAD_MAX`), shared memory per block
    (plus :data:`SMEM_RESERVED_PER_BLOCK`), threads, and :data:`MAX_BLOCKS_PER_SM`."""
    per_warp = np.ceil(np.minimum(regs, REGS_PER_THREAD_MAX) * 32 / REG_ALLOC_UNIT) * REG_ALLOC_UNIT
    by_regs = np.floor(gpu.regs_per_sm / (per_warp * warps))
    by_smem = np.floor(gpu.smem_per_sm_kb * 1024 / (smem + SMEM_RESERVED_PER_BLOCK))
    by_thr = np.floor(gpu.max_threads_per_sm / (32 * warps))
    return np.clip(np.minimum(np.minimum(by_smem, by_regs), by_thr), 1, MAX_BLOCKS_PER_SM)


def _occupancy_v6(bm, bn, bk, warps, stages, a_b, b_b, gpu: GPUSpec, reg_overhead):  # type: ignore[no-untyped-def]
    smem = stages * (bm * bk * a_b + bk * bn * b_b)
    by_smem = np.floor(gpu.smem_per_sm_kb * 1024 / np.maximum(smem, 1))
    regs = np.minimum(bm * bn / (32 * warps) + reg_overhead, 255) * 32 * warps
    by_regs = np.floor(gpu.regs_per_sm / regs)
    by_thr = np.floor(gpu.max_threads_per_sm / (32 * warps))
    return np.clip(np.minimum(np.minimum(by_smem, by_regs), by_thr), 1, 32)


def row_terms(
    columns: Mapping[str, Any], gpu: GPUSpec, calib: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """The model on rows that each carry their own workload (``op``, ``m``, ``n``, ``k``,
    ``groups`` columns) and design; ``calib`` holds the constants (see :func:`load_calibration`).

    Returns a dict of arrays: ``latency_s``, ``compute_s``, ``memory_s``, ``traffic_bytes``,
    ``tiles``, ``waves``, ``occupancy``, ``tile_density``, ``imbalance``, ``spill``, ``flop``,
    ``peak_tflops``. Values for infeasible designs are meaningless (the caller masks them).
    """
    backend = np.asarray(columns["backend"]).astype(str)
    n = backend.shape[0]
    prec = np.asarray(columns["precision"]).astype(str)
    sp = np.asarray(columns["sparsity"]).astype(str)
    op = np.broadcast_to(np.asarray(columns["op"]).astype(str), (n,))
    m, nn, k, g = (
        np.broadcast_to(np.asarray(columns[c], dtype=float), (n,))
        for c in ("m", "n", "k", "groups")
    )
    dens = np.where(sp == "dense", 1.0, _col(columns, "density", n, 1.0).astype(float))
    dens = np.where(sp == "2:4", 0.5, dens)
    blk = np.maximum(_col(columns, "sparse_block", n, 32).astype(float), 1)
    tri = backend == "triton"
    hopper = gpu.sms >= 132 and "fp8" in gpu.peak_tflops
    a_b = np.array([A_BYTES[p] for p in prec])
    b_b = np.array([B_BYTES[p] for p in prec])
    peak = np.array([gpu.peak_tflops.get(_PEAK_KEY[p], np.nan) for p in prec]) * 1e12
    keys = path_keys(backend, sp, prec, op)
    eff = np.array([calib.get(f"path:{key}", 1.0) for key in keys])
    l2_sm = calib["l2_tbps"] * 1e12 / gpu.sms
    flop = 2.0 * g * m * nn * k * dens
    is_spmm_block = (sp == "block") & (op == "spmm")
    is_sddmm = op == "sddmm"
    legacy = "reg_overhead" in calib  # a v6 calibration (LEGACY_REG_OVERHEAD)
    table = calib.get("reg_table", 0.0) > 0 and hopper  # ptxas' counts on sm_90

    def tiled(ix, bm, bn, bk, warps, stages, split, l2=True):  # type: ignore[no-untyped-def]
        """Compute time etc. of rows ``ix`` with the given tile (arrays over those rows);
        ``l2=False`` drops the L2 operand-load bound (vendor kernels multicast operands
        across thread-block clusters with TMA)."""
        m_, n_, k_, g_ = m[ix], nn[ix], k[ix], g[ix]
        dens_, blk_, pk, ab, bb = dens[ix], blk[ix], peak[ix], a_b[ix], b_b[ix]
        tm, tn = np.ceil(m_ / bm), np.ceil(n_ / bn)
        kt_all = np.ceil(k_ / bk)
        dtile_a = np.where(is_spmm_block[ix], effective_density(dens_, blk_, bm, bk), 1.0)
        dtile_c = np.where(is_sddmm[ix], effective_density(dens_, blk_, bm, bn), 1.0)
        kt_mean = np.maximum(kt_all * dtile_a / split, 1e-9)
        std = np.sqrt(kt_all * dtile_a * (1 - dtile_a)) / np.sqrt(split)
        kt_max = np.minimum(kt_mean + std * np.sqrt(2 * np.log(np.maximum(tm, 2))), kt_all)
        tiles = tm * tn * g_ * split * dtile_c
        wgmma = (bm >= 64) & (warps >= 4)
        if legacy:
            occ = _occupancy_v6(bm, bn, bk, warps, stages, ab, bb, gpu, calib["reg_overhead"])
            regs = bm * bn / (32.0 * warps) + calib["reg_overhead"]
        else:
            regs = thread_registers(bm, bn, bk, warps, ab, bb, prec[ix] == "int4", wgmma & hopper)
            smem = triton_smem_bytes(bm, bn, bk, stages, warps, prec[ix])
            alloc = regs
            if table and l2:  # a Triton config the compiler's table holds (not a vendor tile)
                c_regs, c_spills, c_smem = compiled_resources(bm, bn, bk, warps, stages, prec[ix])
                found = ~np.isnan(c_regs)
                alloc = np.where(found, c_regs, regs)
                regs = np.where(found, c_regs + c_spills, regs)  # the need: spills count
                smem = np.where(found, c_smem, smem)
            occ = occupancy(alloc, smem, warps, gpu)
        per_sm = np.ceil(tiles / gpu.sms)
        mma = np.where(wgmma | (not hopper), 1.0, calib["sync_ratio"])
        mma = mma * np.where(stages <= 2, calib["stage2"], 1.0) * eff[ix]
        step_c = 2.0 * bm * bn * bk / (pk / gpu.sms * mma)
        step_l = (bm * bk * ab + bk * bn * bb) / l2_sm
        t_step = np.maximum(step_c, step_l) if l2 else step_c
        spill = 1.0 + calib["spill"] * np.maximum(regs / 255.0 - 1.0, 0.0)
        hide_w = calib.get("hide_warps", 8.0)
        hide = np.minimum(1.0, calib["hide0"] + (1 - calib["hide0"]) * occ * warps / hide_w)
        compute = ((per_sm - 1) * kt_mean + kt_max) * t_step * spill / hide
        waves = np.ceil(tiles / (gpu.sms * occ))
        return compute, tiles, waves, occ, dtile_a * dtile_c, kt_max / kt_mean, spill

    def tile_col(name: str, default: float) -> np.ndarray:
        return np.where(tri, _col(columns, name, n, default).astype(float), default)

    bm, bn, bk = tile_col("block_m", 128), tile_col("block_n", 128), tile_col("block_k", 64)
    warps, stages = tile_col("num_warps", 4), tile_col("num_stages", 3)
    split = tile_col("split_k", 1)
    every = np.arange(n)
    compute, tiles, waves, occ, tdens, imb, spill = tiled(every, bm, bn, bk, warps, stages, split)
    vend = ~tri
    if vend.any():
        vi = np.flatnonzero(vend)
        best = np.full(vi.size, np.inf)
        for vbm, vbn, vbk, vw, vs in _VENDOR_TILES:
            full = [np.full(vi.size, float(v)) for v in (vbm, vbn, vbk, vw, vs)]
            vbm_, vbn_, vbk_, vw_, vs_ = full
            best = np.minimum(
                best, tiled(vi, vbm_, vbn_, vbk_, vw_, vs_, np.ones(vi.size), l2=False)[0]
            )
        best = np.where(sp[vi] == "2:4", best * 0.5, best)  # 2:4 skips half the MMA work
        csr = np.isin(sp[vi], ["unstructured", "nm"]) | is_sddmm[vi]
        cc = _CUDA_CORE_TFLOPS.get(gpu.name, gpu.peak_tflops.get("fp16", 100.0) / 15) * 1e12
        best = np.where(csr, flop[vi] / (cc * eff[vi]), best)
        if calib.get("int4_rate", 0.0) > 0:
            # torch's int4 weight-only path (tinygemm's m16n8k16 chunk kernel): a constant
            # rate, 24-29 TFLOP/s on 43 of the H200's 57 shapes from 16 to 16,384 tokens
            # (data/README.md), with no tile or wave quantisation of the vendor tiles
            best = np.where(prec[vi] == "int4", flop[vi] / (peak[vi] * eff[vi]), best)
        compute = compute.copy()
        compute[vi] = best
    a_elems = g * m * k
    a_bytes = a_elems * a_b * np.where(op == "spmm", np.where(sp == "block", tdens, dens), 1.0)
    a_bytes = np.where(sp == "2:4", a_elems * a_b * 0.5 + a_elems * 0.5 * 0.25, a_bytes)
    a_bytes = np.where(
        np.isin(sp, ["unstructured", "nm"]) & (op == "spmm"),
        a_elems * dens * (a_b + 4) + 4 * m,
        a_bytes,
    )
    a_bytes = np.where((sp == "block") & vend, a_bytes + 4 * a_elems * dens / blk**2, a_bytes)
    a_bytes = np.where(prec == "int4", a_bytes + 2 * m * g, a_bytes)
    b_bytes = g * k * nn * b_b
    c_bytes = g * m * nn * np.where(prec == "int8", 4.0, 2.0)
    c_bytes = np.where(is_sddmm, c_bytes * dens, c_bytes)
    partial = np.where(split > 1, 2 * split * g * m * nn * 4.0, 0.0)
    traffic = a_bytes + b_bytes + c_bytes + partial
    # a calibration without the vendor split (older files) uses one efficiency for both
    hbm_eff = np.where(vend, calib.get("hbm_eff_vendor", calib["hbm_eff"]), calib["hbm_eff"])
    memory = traffic / (gpu.hbm_tbps * 1e12 * hbm_eff)
    launches = np.where(split > 1, 2, 1) * np.where(
        vend & np.isin(prec, ["fp8", "int8"]) & (g > 1), g, 1
    )
    latency = np.maximum(compute, memory) + calib["launch_s"] * launches
    return {
        "latency_s": latency,
        "compute_s": compute,
        "memory_s": memory,
        "traffic_bytes": traffic,
        "tiles": tiles,
        "waves": waves,
        "occupancy": occ,
        "tile_density": tdens,
        "imbalance": imb,
        "spill": spill,
        "flop": flop,
        "peak_tflops": peak / 1e12,
    }


def analytic_terms(
    columns: Mapping[str, Any],
    wl: KernelWorkload,
    gpu: GPUSpec,
    calib: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`row_terms` for a batch of designs of one workload (the GPU's calibration by
    default)."""
    c = load_calibration(gpu.name) if calib is None else calib
    rows = dict(columns)
    rows.update(op=wl.op, m=wl.m, n=wl.n, k=wl.k, groups=wl.groups)
    return row_terms(rows, gpu, c)


def energy_j(
    latency_s: np.ndarray,
    flop: np.ndarray,
    traffic: np.ndarray,
    peak_tflops: np.ndarray,
    gpu: GPUSpec,
) -> np.ndarray:
    """Board energy: ``(P_idle + (TDP - P_idle) * u) * latency`` (see module docstring)."""
    u_c = flop / (latency_s * peak_tflops * 1e12)
    u_m = traffic / (latency_s * gpu.hbm_tbps * 1e12)
    u = np.clip(np.maximum(u_c, u_m), 0.0, 1.0)
    return (gpu.idle_w + (gpu.tdp_w - gpu.idle_w) * u) * latency_s


def kernel_evaluations(
    latency_s: np.ndarray,
    terms: Mapping[str, np.ndarray],
    gpu: GPUSpec,
    feasible: np.ndarray,
    reasons: list[str],
) -> Evaluations:
    """The Kernel-v1 metrics from a latency and the analytic ``terms`` (flop, traffic, peak):
    throughput and :func:`energy_j`, NaN where infeasible. Shared by every kernel model."""
    with np.errstate(all="ignore"):
        tflops = terms["flop"] / latency_s / 1e12
        en = energy_j(latency_s, terms["flop"], terms["traffic_bytes"], terms["peak_tflops"], gpu)
    metrics = {"latency_s": latency_s, "tflops": tflops, "energy_j": en}
    return Evaluations(
        metrics={k: np.where(feasible, v, np.nan) for k, v in metrics.items()},
        feasible=feasible,
        reasons=reasons,
    )


class KernelAnalyticalCostModel(CostModel):
    """Roofline model with tile/wave quantisation, occupancy, sparse traffic and imbalance.

    Args:
        gpu: A name in :data:`~archgym.envs.kernel.gpus.GPUS` or a ``GPUSpec``.
        calibration: Fitted constants, or the path of a calibration JSON written by
            ``archgym measure calibrate`` (default: the shipped calibration of ``gpu``).

    Raises:
        ConfigError: Unknown GPU (lists the known ones).
    """

    name = "kernel-analytical"
    version = "8"
    metrics = KERNEL_METRICS
    description = "GPU matmul/SpMM/SDDMM roofline with tile, wave, occupancy and sparsity terms"

    def __init__(
        self,
        gpu: str | GPUSpec = "H100-SXM",
        calibration: Mapping[str, float] | str | Path | None = None,
    ) -> None:
        self.gpu = get_gpu(gpu)
        if calibration is None or isinstance(calibration, (str, Path)):
            path = CALIBRATION_FILE if calibration is None else calibration
            self.calibration = load_calibration(self.gpu.name, path)
        else:
            self.calibration = dict(calibration)

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        wl = as_kernel_workload(workload, "kernel-analytical")
        feasible, reasons = check_designs(columns, wl, self.gpu)
        with np.errstate(all="ignore"):
            t = analytic_terms(columns, wl, self.gpu, self.calibration)
        return kernel_evaluations(t["latency_s"], t, self.gpu, feasible, reasons)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "gpu": self.gpu.name}


register_cost_model(
    "kernel-analytical",
    KernelAnalyticalCostModel,
    "GPU kernel roofline (tiles, waves, occupancy, sparsity)",
)
