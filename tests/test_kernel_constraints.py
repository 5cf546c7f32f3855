"""Feasibility rules of the kernel domain (archgym.envs.kernel.constraints)."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.kernel.constraints import (
    check_designs,
    registers_per_thread,
    smem_bytes,
    triton_smem_bytes,
)
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.space import KernelWorkload, effective_density

H100 = get_gpu("H100-SXM")
BASE = dict(
    backend="triton",
    precision="fp16",
    sparsity="dense",
    density=1.0,
    sparse_block=32,
    block_m=128,
    block_n=128,
    block_k=64,
    group_m=8,
    num_warps=4,
    num_stages=3,
    split_k=1,
)


def check(wl: KernelWorkload, gpu=H100, **over):
    d = {**BASE, **over}
    ok, reasons = check_designs({k: np.asarray([v]) for k, v in d.items()}, wl, gpu)
    return bool(ok[0]), reasons[0]


GEMM = KernelWorkload("gemm", 4096, 4096, 4096)


def test_feasible_default_tile():
    assert check(GEMM) == (True, "")


def test_smem_limit_hand_calculation():
    # 4 stages x (256x128 A + 128x256 B) fp16 = 4 x 131072 B = 524288 B > 227 KiB = 232448 B
    assert smem_bytes(256, 256, 128, 4, ["fp16"])[0] == 524288
    ok, why = check(GEMM, block_m=256, block_n=256, block_k=128, num_stages=4, num_warps=8)
    assert not ok and why.startswith("smem:") and "524288 B > 232448 B" in why
    # 3 stages x (128x64 + 64x128) fp16 = 98304 B fits
    assert smem_bytes(128, 128, 64, 3, ["fp16"])[0] == 98304


def test_a100_has_smaller_smem():
    # 4 x (128x128 + 128x128) x 2 B = 262144 > 163 KiB; 2 stages = 131072 fits A100 (166912)
    ok, why = check(GEMM, get_gpu("A100-SXM"), block_k=128, num_stages=2)
    assert ok, why


def test_no_register_rule_spilling_configs_ran_on_h200():
    # 256x128 accumulator over 4 warps (~288 registers/thread): on the H200 grid such configs
    # spilled and ran (kernels_h200.parquet), so the rules accept them
    assert float(registers_per_thread(256, 128, 4)) == 288
    assert check(GEMM, block_m=256, block_n=128, block_k=32, num_warps=4, num_stages=2)[0]


def test_triton_smem_copies_follow_the_mma_kind():
    # wgmma (BM >= 64, >= 4 warps): all stages; mma.sync: stages - 1; hand values
    assert triton_smem_bytes(128, 128, 64, 3, 4, ["fp16"])[0] == 3 * 32768
    assert triton_smem_bytes(32, 128, 64, 3, 4, ["fp16"])[0] == 2 * (32 * 64 + 64 * 128) * 2
    # fp8 128x256x256, 3 stages, 4 warps ran on the H200 (2 copies: 2 x 98304 B)
    assert triton_smem_bytes(128, 256, 256, 3, 4, ["fp8"])[0] == 2 * 98304


def test_mma_k_for_one_byte_types():
    ok, why = check(GEMM, precision="int8", block_k=16)
    assert not ok and why.startswith("mma:") and "multiple of 32" in why
    assert check(GEMM, precision="fp16", block_k=16)[0]


def test_split_k_beyond_k_tiles_is_allowed():
    # a split with no K tile writes zeros; such configs ran correctly on the H200 grid
    wl = KernelWorkload("gemm", 4096, 4096, 128)
    assert check(wl, block_k=64, split_k=4)[0]


def test_two_four_shape_minimums():
    sp = dict(backend="torch", sparsity="2:4", density=0.5)
    # cuSPARSELt: fp16 sparse operand >= and multiple of 16; int8 of 32
    assert check(KernelWorkload("spmm", 4096, 512, 4096), **sp)[0]
    ok, why = check(KernelWorkload("spmm", 4096, 512, 4104), **sp)
    assert not ok and why.startswith("2:4 shape:") and "multiple of 16" in why
    ok, why = check(KernelWorkload("spmm", 4096, 512, 4096), **sp, precision="int8")
    assert not ok and "saturates" in why
    ok, why = check(KernelWorkload("spmm", 8, 512, 4096), **sp)
    assert not ok and "2:4 shape" in why


def test_support_rules():
    wl = KernelWorkload("spmm", 4096, 512, 4096)
    ok, why = check(wl, sparsity="2:4", density=0.5)
    assert not ok and "backend='torch'" in why
    ok, why = check(GEMM, get_gpu("A100-SXM"), precision="fp8")
    assert not ok and "no fp8" in why
    ok, why = check(GEMM, sparsity="block")
    assert not ok and "op='spmm'" in why


def test_effective_density_hand_values():
    # 32-blocks in a 64x64 tile: 4 blocks; 1 - 0.5**4 = 0.9375. Block >= tile: unchanged.
    assert effective_density(0.5, 32, 64, 64) == pytest.approx(0.9375)
    assert effective_density(0.25, 128, 64, 64) == pytest.approx(0.25)
