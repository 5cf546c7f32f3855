"""The analytical kernel model's register term and occupancy (analytical v7), and the vendor int4
path's constant rate (analytical v8)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archgym.envs.kernel.analytical import (
    REGISTER_MODEL,
    load_calibration,
    occupancy,
    row_terms,
    thread_registers,
)
from archgym.envs.kernel.gpus import get_gpu

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

# llama-70b.qkv@256's 2-stage int8 tile: BLOCK 256x32x128, 4 warps (wgmma on Hopper).
# By hand, from REGISTER_MODEL: 256*32/(32*4) = 64 accumulators; operand words
# (256*128*1 + 128*32*1) / (4*128) = 72; 64 + 35.62 + 0.595*72 = 142.46 registers per thread,
# allocated per warp as ceil(142.46*32/256)*256 = 4608, 4 warps = 18432 -> 65536 // 18432 = 3
# CTAs; shared memory 2*(256*128 + 128*32) = 73728 B + 1 KiB reserved -> 233472 // 74752 = 3.
# ptxas (benchmarks/data/h200_registers.csv.gz, Triton 3.6 on the H200) gave this kernel 168
# registers and 69632 B of shared memory: 3 CTAs per SM as well. v6's fitted 124-register
# overhead (64 + 124.2 = 188.2 per thread) allowed only 2.
TILE = {"block_m": 256, "block_n": 32, "block_k": 128, "num_warps": 4, "num_stages": 2}


def _terms(
    calib: dict[str, float], precision: str, mnk: tuple[int, int, int], tile: dict[str, int]
) -> dict[str, np.ndarray]:
    """The analytical model's per-row terms of one dense Triton GEMM on the H200."""
    m, n, k = mnk
    rows = {
        "backend": np.array(["triton"]),
        "precision": np.array([precision]),
        "sparsity": np.array(["dense"]),
        "op": "gemm",
        "m": m,
        "n": n,
        "k": k,
        "groups": 1,
        "split_k": np.array([1]),
        "group_m": np.array([8]),
        **{key: np.array([v]) for key, v in tile.items()},
    }
    with np.errstate(all="ignore"):
        return row_terms(rows, get_gpu("H200-SXM"), calib)


def _rows(calib: dict[str, float]) -> dict[str, np.ndarray]:
    return _terms(calib, "int8", (10240, 256, 8192), TILE)


def test_register_count_of_a_hand_computed_config() -> None:
    regs = thread_registers(256.0, 32.0, 128.0, 4.0, 1.0, 1.0, False, True)
    assert float(regs) == pytest.approx(64 + 35.62 + 0.595 * 72, abs=1e-9)
    assert float(regs) == pytest.approx(142.46, abs=0.01)
    gpu = get_gpu("H200-SXM")
    assert float(occupancy(regs, 73728.0, 4.0, gpu)) == 3
    # the compiler's own figures give the same occupancy
    assert float(occupancy(168.0, 69632.0, 4.0, gpu)) == 3


def test_physical_occupancy_in_the_model_and_v6_overhead_differs() -> None:
    calib = {k: v for k, v in load_calibration("H200-SXM").items() if k != "reg_overhead"}
    assert float(_rows(calib)["occupancy"][0]) == 3
    v6 = {**calib, "reg_overhead": 124.222}  # the v6 H200 calibration's fitted overhead
    assert float(_rows(v6)["occupancy"][0]) == 2


def test_mma_sync_and_int4_terms() -> None:
    # 32x64x64, 2 warps fp16 (mma.sync): acc 32 -> 32*(1+0.368); words (32*64*2 + 64*64*2)/256
    # = 48; no int4 term
    regs = thread_registers(32.0, 64.0, 64.0, 2.0, 2.0, 2.0, False, False)
    assert float(regs) == pytest.approx(32 * 1.368 + 35.62 + 0.595 * 48, abs=1e-9)
    # int4 (A: 0.5 byte, B fp16) 128x64x128, 4 warps: packed words 128*128*0.5/512 = 16
    regs4 = thread_registers(128.0, 64.0, 128.0, 4.0, 0.5, 2.0, True, True)
    words = (128 * 128 * 0.5 + 128 * 64 * 2) / 512
    assert float(regs4) == pytest.approx(64 + 35.62 + 0.595 * words + 1.932 * 16, abs=1e-9)


def test_register_model_is_the_scripts_fit_of_the_compiler_counts() -> None:
    sys.path.insert(0, str(BENCH))
    from kernel_register_model import DATA, fit

    fitted = fit(pd.read_csv(DATA))
    for name, value in REGISTER_MODEL.items():
        assert fitted[name] == pytest.approx(value, abs=0.01), name


def test_shipped_calibrations_hold_their_register_terms_constants() -> None:
    from archgym.envs.kernel.calibrate import (
        INT4_RATE,
        REGISTER_PARAMS,
        SHIPPED_INT4_RATE,
        SHIPPED_REGISTERS,
        shipped_params,
    )

    # v6's parameter order (reg_overhead after spill): least_squares' result depends on it, and
    # the H100's shipped constants are reproduced only in that order
    fitted = list(REGISTER_PARAMS["fitted"])
    assert fitted[fitted.index("spill") + 1] == "reg_overhead"
    assert SHIPPED_INT4_RATE == {"H200-SXM"}  # the H100 has no trusted vendor int4 rows
    for gpu, term in SHIPPED_REGISTERS.items():
        calib = load_calibration(gpu)
        globals_ = {k for k in calib if not k.startswith("path:")}
        assert globals_ == set(shipped_params(gpu)), gpu
        extra = INT4_RATE if gpu in SHIPPED_INT4_RATE else {}
        assert shipped_params(gpu) == {**REGISTER_PARAMS[term], **extra}, gpu
        assert calib.get("int4_rate", 0.0) == (1.0 if extra else 0.0), gpu


def test_compiled_resources_table_is_the_compilers_counts() -> None:
    from archgym.envs.kernel.analytical import COMPILED_RESOURCES_FILE, compiled_resources

    src = pd.read_csv(BENCH / "data" / "h200_registers.csv.gz")
    src = src[src["n_regs"] > 0]
    table = pd.read_csv(COMPILED_RESOURCES_FILE)
    assert len(table) == len(src) == 3382
    tile = ["block_m", "block_n", "block_k", "num_warps", "num_stages", "precision"]
    got = compiled_resources(*(src[c].to_numpy() for c in tile))
    for col, values in zip(("n_regs", "n_spills", "shared_bytes"), got, strict=True):
        assert np.array_equal(values, src[col].to_numpy(float)), col
    # llama-70b.qkv@256's tile (int8): 168 registers, no spill, 69632 B; one not compiled: NaN
    regs, spills, smem = compiled_resources(
        np.array([256, 48]), 32, 128, 4, 2, np.array(["int8", "int8"])
    )
    assert (regs[0], spills[0], smem[0]) == (168.0, 0.0, 69632.0)
    assert np.isnan(regs[1]) and np.isnan(smem[1])


def test_reg_table_calibration_uses_the_compilers_counts() -> None:
    from archgym.envs.kernel.analytical import compiled_resources

    calib = {k: v for k, v in load_calibration("H200-SXM").items() if k != "reg_overhead"}
    assert float(_rows({**calib, "reg_table": 1.0})["occupancy"][0]) == 3  # 168 regs, 69632 B
    # 16x256x256, 2 warps, 2 stages fp16 spills (ptxas: 255 registers, 62 spilled words): the
    # spill term counts both
    regs, spills, _ = compiled_resources(16, 256, 256, 2, 2, np.array(["fp16"]))
    assert (regs[0], spills[0]) == (255.0, 62.0)
    tile = {"block_m": 16, "block_n": 256, "block_k": 256, "num_warps": 2, "num_stages": 2}
    got = _terms({**calib, "reg_table": 1.0}, "fp16", (4096, 4096, 4096), tile)["spill"]
    want = 1 + calib["spill"] * ((regs[0] + spills[0]) / 255 - 1)
    assert float(got[0]) == pytest.approx(want)


def test_fixed_constants_are_held_not_fitted() -> None:
    from archgym.envs.kernel.calibrate import REGISTER_PARAMS, fit_calibration
    from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows

    frame = trusted_rows(load_dataset(DATASETS["H200-SXM"], "H200-SXM"))
    frame = frame[frame["shape"] == frame["shape"].iloc[0]]
    calib = fit_calibration(frame, "H200-SXM", params=REGISTER_PARAMS["measured"], max_nfev=2)
    assert calib["reg_table"] == 1.0


def test_h200_vendor_int4_path_runs_at_a_constant_rate() -> None:
    # tinygemm ran at 24-29 TFLOP/s on the H200 from 16 to 16,384 tokens (data/README.md):
    # analytical v8's shipped H200 calibration holds int4_rate, so the predicted rate of a
    # compute-bound int4 vendor GEMM is flat in the token count (no vendor-tile wave steps),
    # and the rate is the fitted efficiency of the fp16 peak
    from archgym.envs.kernel.calibrate import predict_rows
    from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows

    gpu = get_gpu("H200-SXM")
    calib = load_calibration("H200-SXM")
    assert calib["int4_rate"] == 1.0
    tokens = np.array([512, 768, 1024, 1536, 2048, 3072, 4096, 16384])
    rows = {
        "backend": np.full(tokens.size, "torch"),
        "precision": np.full(tokens.size, "int4"),
        "sparsity": np.full(tokens.size, "dense"),
        "op": "gemm",
        "m": 12288,
        "n": tokens,
        "k": 4096,
        "groups": 1,
        "density": np.ones(tokens.size),
        "sparse_block": np.zeros(tokens.size),
        **{c: np.full(tokens.size, 0) for c in ("block_m", "block_n", "block_k", "group_m")},
        **{c: np.full(tokens.size, 1) for c in ("num_warps", "num_stages", "split_k")},
    }
    with np.errstate(all="ignore"):
        lat = row_terms(rows, gpu, calib)["latency_s"]
    tflops = 2 * 12288 * tokens * 4096 / lat / 1e12
    want = gpu.peak_tflops["fp16"] * calib["path:torch/dense/int4"]
    assert tflops == pytest.approx(np.full(tokens.size, want), rel=0.01)
    assert 24 < want < 30
    # measured points of llama-7b.qkv (M=12288, K=4096) at 16-2048 tokens: within 6 %
    frame = trusted_rows(load_dataset(DATASETS["H200-SXM"], "H200-SXM"))
    hit = frame[
        frame["shape"].str.startswith("llama-7b.qkv@")
        & (frame["backend"] == "torch")
        & (frame["precision"] == "int4")
        & (frame["n"] >= 16)
    ]
    assert len(hit) == 4
    err = predict_rows(hit, gpu, calib) / hit["latency_s"].to_numpy() - 1
    assert np.abs(err).max() < 0.06, err
