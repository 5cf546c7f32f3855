"""Analytical kernel model (archgym.envs.kernel.analytical) against hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.kernel.analytical import (
    FALLBACK_CALIBRATION,
    GLOBAL_PARAMS,
    KernelAnalyticalCostModel,
    load_calibration,
)
from archgym.envs.kernel.space import KernelWorkload
from archgym.errors import ConfigError

TILE = dict(
    backend="triton",
    precision="fp16",
    sparsity="dense",
    density=1.0,
    sparse_block=0,
    block_m=128,
    block_n=128,
    block_k=64,
    group_m=8,
    num_warps=8,
    num_stages=3,
    split_k=1,
)


# Constants chosen for the hand calculation (not the fitted ones): a calibration is an input.
HAND = {
    "launch_s": 4e-6,
    "hbm_eff": 0.85,
    "hbm_eff_vendor": 0.85,
    "l2_tbps": 7.0,
    "sync_ratio": 0.75,
    "stage2": 0.85,
    "hide0": 0.75,
    "spill": 0.0,
    "path:triton/dense/fp16": 0.8,
}


def test_dense_gemm_hand_calculation():
    """4096^3 fp16 GEMM, 128x128x64 tiles, 8 warps, 3 stages on H100-SXM, constants HAND.

    tiles = 32*32 = 1024 -> busiest SM runs ceil(1024/132) = 8 tiles.
    occupancy: smem 3*(128*64*2 + 64*128*2) = 98304 B -> 228 KiB / 98304 = 2 blocks;
      regs (16384/256 + 32) * 256 = 24576 -> 65536 / 24576 = 2; threads 2048/256 = 8 -> 2,
      so latency hiding = min(1, 0.75 + 0.25 * 2 * 8 / 8) = 1.
    per tile (64 K steps): compute 2*128*128*64*64 / (989.4e12/132 * 0.8) = 22.383 us;
      L2 loads (128*64*2 + 64*128*2) * 64 B / (7e12/132 B/s) = 39.546 us -> 39.546 us.
    compute = 8 * 39.546 = 316.37 us; DRAM 3 * 4096^2 * 2 B / (3.35e12 * 0.85) = 35.35 us.
    latency = 316.37 + 4 (launch) = 320.37 us; 2*4096^3 / 320.37 us = 429.0 TFLOP/s.
    energy: u = 137.44 GFLOP / (320.37 us * 989.4 TFLOP/s) = 0.4336;
      (70 + 630 * 0.4336) W * 320.37 us = 0.10995 J.
    """
    e = KernelAnalyticalCostModel("H100-SXM", calibration=HAND).evaluate(
        [TILE], KernelWorkload("gemm", 4096, 4096, 4096)
    )
    t_tile = (128 * 64 * 2 + 64 * 128 * 2) * 64 / (7e12 / 132)
    assert t_tile == pytest.approx(39.546e-6, rel=1e-4)
    assert e.metrics["latency_s"][0] == pytest.approx(320.37e-6, rel=1e-4)
    assert e.metrics["tflops"][0] == pytest.approx(429.0, rel=1e-3)
    assert e.metrics["energy_j"][0] == pytest.approx(0.10995, rel=1e-3)


def test_shipped_calibration_is_fitted_for_both_gpus():
    # every constant comes from benchmarks/calibrate_kernels.py (data/calibration.json)
    for gpu in ("H100-SXM", "H200-SXM"):
        c = load_calibration(gpu)
        assert set(GLOBAL_PARAMS) <= set(c)
        assert c["path:triton/dense/fp16"] != 1.0  # fitted, not the neutral start
    # a GPU without its own calibration borrows the fallback's
    assert load_calibration("A100-SXM") == load_calibration(FALLBACK_CALIBRATION)


def test_spilling_accumulator_costs_time():
    model = KernelAnalyticalCostModel("H100-SXM", calibration={**HAND, "spill": 1.0})
    wl = KernelWorkload("gemm", 4096, 4096, 4096)
    lat = model.evaluate(
        [{**TILE, "block_m": 256, "block_n": 256, "num_warps": w} for w in (8, 4)], wl
    ).metrics["latency_s"]
    assert lat[1] > lat[0]  # 4 warps: 544 registers/thread -> spills


def test_memory_bound_and_sparsity_trends():
    model = KernelAnalyticalCostModel("H100-SXM")
    wl = KernelWorkload("spmm", 8192, 2048, 8192)
    base = {**TILE, "sparsity": "block", "sparse_block": 128}
    e = model.evaluate([{**base, "density": d} for d in (0.1, 0.25, 0.5, 1.0)], wl)
    lat = e.metrics["latency_s"]
    assert np.all(np.diff(lat) > 0), "denser block-sparse A must take longer"
    # A100 is slower than H100 for the same design
    a100 = KernelAnalyticalCostModel("A100-SXM").evaluate(
        [TILE], KernelWorkload("gemm", 4096, 4096, 4096)
    )
    assert a100.metrics["latency_s"][0] > 320e-6


def test_infeasible_designs_have_reasons_and_nan():
    e = KernelAnalyticalCostModel().evaluate(
        [{**TILE, "block_m": 256, "block_n": 256, "block_k": 128, "num_stages": 5}],
        KernelWorkload("gemm", 4096, 4096, 4096),
    )
    assert not e.feasible[0] and np.isnan(e.metrics["latency_s"][0])
    assert e.reasons[0].startswith("smem:")


def test_unknown_gpu():
    with pytest.raises(ConfigError, match="known GPUs: A100-SXM, H100-SXM, H200-SXM"):
        KernelAnalyticalCostModel("RTX-9090")
