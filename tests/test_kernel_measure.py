"""Kernel measurement on CPU: planning, record format, the no-CUDA error, tile masks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from archgym.envs.kernel.measure.collect import compile_key, merge_records, summarize_plan
from archgym.envs.kernel.measure.plan import (
    RECORD_COLUMNS,
    error_text,
    make_record,
    plan_collection,
    require_cuda,
    useful_flop,
    write_dataset,
)
from archgym.envs.kernel.measure.runners import tile_mask
from archgym.errors import BackendError


@pytest.fixture(scope="module")
def plan():
    return plan_collection(seed=0)


def test_plan_is_large_diverse_and_deterministic(plan):
    s = summarize_plan(plan)
    assert s["points"] >= 3000
    assert set(s["by_op"]) == {"gemm", "spmm", "sddmm", "grouped_gemm"}
    assert set(s["by_precision"]) == {"fp16", "bf16", "fp8", "int8", "int4"}
    assert {"dense", "2:4", "block", "unstructured", "nm"} <= set(s["by_sparsity"])
    again = plan_collection(seed=0)
    assert again == plan
    small = (("gpt2.qkv", 64),)
    assert plan_collection(seed=1, shapes=small) != plan_collection(seed=2, shapes=small)


def test_plan_points_are_feasible_by_rules(plan):
    # triton points carry a compile key; torch points none
    assert all((compile_key(p) is None) == (p["backend"] == "torch") for p in plan)


def test_record_format(tmp_path):
    p = {
        "op": "gemm",
        "shape": "x",
        "m": 1024,
        "n": 512,
        "k": 256,
        "groups": 1,
        "backend": "triton",
        "precision": "fp16",
        "sparsity": "dense",
        "density": 1.0,
        "sparse_block": 0,
        "block_m": 128,
        "block_n": 128,
        "block_k": 64,
        "group_m": 8,
        "num_warps": 4,
        "num_stages": 3,
        "split_k": 1,
    }
    ok = make_record(p, 1e-5)
    # 2 * 1024 * 512 * 256 = 268435456 FLOP in 10 us = 26.84 TFLOP/s
    assert ok["tflops"] == pytest.approx(26.8435456)
    assert useful_flop({**p, "density": 0.5}) == 2 * 1024 * 512 * 256 * 0.5
    bad = make_record(p, None, reason="OutOfResources: shared memory")
    assert not bad["feasible"] and np.isnan(bad["latency_s"]) and "shared" in bad["reason"]
    assert list(ok) == list(RECORD_COLUMNS)
    csv, meta = write_dataset([ok, bad], tmp_path / "k.csv.gz", {"gpu": "test"})
    frame = pd.read_csv(csv)
    assert list(frame.columns) == list(RECORD_COLUMNS) and len(frame) == 2
    assert json.loads(meta.read_text())["n_feasible"] == 1


def test_no_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BackendError, match="needs a CUDA GPU"):
        require_cuda()


def test_tile_mask_or_over_blocks():
    blocks = np.array([[1, 0, 0, 0], [0, 0, 0, 1]], dtype=bool)  # 2x4 blocks of 16
    # 32x32 tiles over a 32x64 matrix: tile (0,0) holds block (0,0); tile (0,1) holds (1,3)
    assert tile_mask(blocks, 16, 32, 32, 32, 64).tolist() == [[True, True]]
    # 16x16 tiles = blocks
    assert (tile_mask(blocks, 16, 16, 16, 32, 64) == blocks).all()
    # 16-row tiles under 32 blocks repeat the block's value
    big = np.array([[1, 0]], dtype=bool)
    assert tile_mask(big, 32, 16, 16, 32, 64).tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]


def test_error_text_keeps_the_cause_at_the_end():
    # Triton's CompilationError prints ~40 source lines and then the cause (the fp8 failure of
    # the first collection read "cannot cast int32[...] to <[...], fp8e4nv>" at the very end)
    src = "\n".join(f"    line {i} of the kernel source" for i in range(80))
    exc = RuntimeError(f"at 43:12:\n{src}\ncannot cast int32 to fp8e4nv")
    text = error_text(exc, limit=1000)
    assert len(text) == 300 + len(" [...] ") + 700
    assert text.startswith("RuntimeError: at 43:12:") and text.endswith("to fp8e4nv")
    assert error_text(ValueError("short")) == "ValueError: short"


def test_merge_records_replaces_remeasured_designs(plan):
    pts = plan[:3]
    base = pd.DataFrame([make_record(pts[0], 1e-3), make_record(pts[1], None, "compile: x")])
    new = pd.DataFrame([make_record(pts[1], 2e-3), make_record(pts[2], 3e-3)])
    out = merge_records(base, new)
    assert list(out.columns) == list(RECORD_COLUMNS) and len(out) == 3
    assert out["feasible"].all()
    assert out["latency_s"].tolist() == [1e-3, 2e-3, 3e-3]


# --- the grid collection (H200) ----------------------------------------------------------


def test_grid_plan_same_configs_on_every_shape_and_rejected_ones_included():
    from archgym.envs.kernel.constraints import check_designs
    from archgym.envs.kernel.gpus import get_gpu
    from archgym.envs.kernel.measure.grid import GRID_SHAPES, TILE_NAMES, plan_grid
    from archgym.envs.kernel.measure.plan import point_workload

    shapes = GRID_SHAPES[:3]
    plan = plan_grid(seed=0, configs=50, shapes=shapes, phases=("fp16", "vendor"))
    assert plan == plan_grid(seed=0, configs=50, shapes=shapes, phases=("fp16", "vendor"))
    assert len({s for s, _ in shapes}) >= 1 and len(GRID_SHAPES) >= 40
    tri = [p for ph, p in plan if ph == "fp16"]
    per_shape: dict[str, set] = {}
    for p in tri:
        per_shape.setdefault(p["shape"], set()).add(tuple(p[k] for k in TILE_NAMES))
    pools = list(per_shape.values())
    assert all(len(x) == 50 for x in pools) and all(x == pools[0] for x in pools)
    # the pool holds configs near the rules' limits: some are rejected (so the rules are
    # checked against what really fails)
    cols = {k: np.asarray([p[k] for p in tri]) for k in tri[0]}
    wl = point_workload(tri[0])
    ok, _ = check_designs(cols, wl, get_gpu("H200-SXM"))
    assert 0 < (~ok).sum() < len(tri)
    vendor = [p for ph, p in plan if ph == "vendor"]
    pats = {(p["sparsity"], p["density"]) for p in vendor}
    assert {("2:4", 0.5), ("block", 0.1), ("block", 0.25), ("block", 0.5)} <= pats


def test_split_calls_cuts_the_timeline_at_the_flush_marker():
    from archgym.envs.kernel.measure.profile import short_name, split_calls

    events = [
        ("warmup_gemm", 0.0, 9.0),  # before the first marker: dropped
        ("void at::native::bitwise_not_kernel_cuda<...>", 10.0, 60.0),
        ("Memset (Device)", 71.0, 1.0),
        ("nvjet_sm90_hsh_192x192", 72.0, 250.0),
        ("void at::native::bitwise_not_kernel_cuda<...>", 400.0, 60.0),
        ("nvjet_sm90_hsh_192x192", 470.0, 248.0),
    ]
    calls = split_calls(events)
    assert [sum(d for _, d in c) for c in calls] == [251.0, 248.0]
    assert [n for n, _ in calls[0]] == ["Memset (Device)", "nvjet_sm90_hsh_192x192"]
    assert short_name("void cutlass::Kernel2<cutlass::gemm::Foo<1, 2>>(Params)") == (
        "void cutlass::Kernel2"
    )


@pytest.mark.parametrize(
    ("op", "sparsity", "density"),
    [("spmm", "block", 0.25), ("spmm", "unstructured", 0.5), ("spmm", "nm", 0.25),
     ("sddmm", "unstructured", 0.05), ("gemm", "dense", 1.0)],
)  # fmt: skip
def test_vendor_paths_match_a_dense_reference_on_cpu(op, sparsity, density):
    # the CUDA paths are the same calls; on CPU they run in float32 (torch has no CPU fp16
    # sparse kernels), so each path's result must equal the float32 reference
    import torch

    from archgym.envs.kernel.measure.vendor import build_vendor_call

    p = {"op": op, "groups": 1, "backend": "torch", "precision": "fp16", "sparsity": sparsity,
         "density": density, "sparse_block": 16}  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 64, 128, generator=gen), torch.randn(1, 128, 32, generator=gen)
    call = build_vendor_call(p, a, b, seed=0, device="cpu")
    assert call.check() < 1e-5 and call.setup_s >= 0
    call.fn()


def test_vendor_int8_uses_the_column_major_weight():
    import torch

    from archgym.envs.kernel.measure.vendor import build_vendor_call

    p = {"op": "gemm", "groups": 1, "backend": "torch", "precision": "int8",
         "sparsity": "dense", "density": 1.0, "sparse_block": 0}  # fmt: skip
    a = torch.randint(-8, 8, (1, 64, 128), dtype=torch.int8)
    b = torch.randint(-8, 8, (1, 128, 32), dtype=torch.int8)
    seen = []
    real = torch._int_mm

    def spy(x, w):
        seen.append((x.is_contiguous(), w.stride()))
        return real(x, w)

    torch._int_mm = spy
    try:
        call = build_vendor_call(p, a, b, seed=0, device="cpu")
        call.fn()
        assert call.check() == 0.0  # exact in int32
    finally:
        torch._int_mm = real
    # x [N, K] row-major; W^T [K, M] a column-major view (stride (1, K)), as cuBLASLt expects
    assert seen[0] == (True, (1, 128))


def test_records_carry_the_extra_columns_and_sanity_flags():
    from archgym.envs.kernel.measure.collect import point_key, sanity_flags
    from archgym.envs.kernel.measure.plan import EXTRA_COLUMNS

    base = {"op": "gemm", "shape": "s", "m": 1024, "n": 1024, "k": 1024, "groups": 1,
            "backend": "torch", "precision": "fp16", "sparsity": "dense", "density": 1.0,
            "sparse_block": 0, "block_m": 0, "block_n": 0, "block_k": 0, "group_m": 0,
            "num_warps": 0, "num_stages": 0, "split_k": 1}  # fmt: skip
    dense = make_record(base, 10e-6, gpu="H200-SXM", call_s=12e-6, kernels="nvjet")
    slow = make_record({**base, "op": "spmm", "sparsity": "unstructured", "density": 0.5},
                       20e-6, gpu="H200-SXM")  # fmt: skip
    assert set(EXTRA_COLUMNS) <= set(dense) and dense["gpu"] == "H200-SXM"
    with pytest.raises(KeyError, match="unknown record fields"):
        make_record(base, 1e-5, colour="red")
    flags = sanity_flags(pd.DataFrame([dense, slow]))
    # half the FLOP in twice the time: 4x dense fp16 time at equal FLOP
    assert flags.tolist() == ["", "4.0x dense fp16 time at equal FLOP"]
    assert point_key(dense) == point_key({**base, "density": "1"})


def test_packaging_marks_wrong_results_infeasible():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "package_kernels.py"
    spec = importlib.util.spec_from_file_location("package_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pts = plan_collection(seed=0)[:2]
    frame = pd.DataFrame(
        [make_record(pts[0], 1e-4, rel_err=2e-4), make_record(pts[1], 1e-4, rel_err=0.9)]
    )
    out = mod.package(frame, 0.05)
    assert out["feasible"].tolist() == [True, False]
    assert out["reason"].iloc[1].startswith("wrong result: relative error 0.9")
