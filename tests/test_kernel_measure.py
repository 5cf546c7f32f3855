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
    torch = pytest.importorskip("torch")
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
