"""The H200 decode/skinny supplement (``DECODE_SHAPES``) and the measured launch and split-K
reduction costs: real measured points (H200, 2026-12-02, third session) and their checks."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from archgym.envs.kernel.dataset import DATA_DIR, DATASETS, load_dataset
from archgym.envs.kernel.measure.grid import DECODE_SHAPES, GRID_SHAPES, TILE_NAMES, plan_grid
from archgym.envs.kernel.space import named_workload

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
OVERHEADS = DATA_DIR / "kernels_h200_overheads.csv"


@pytest.fixture(scope="module")
def h200():
    return load_dataset(DATASETS["H200-SXM"], "H200-SXM")


def _problem(layer: str, tokens: int) -> tuple[int, int, int, int]:
    wl = named_workload(layer, tokens)
    return (wl.m, wl.n, wl.k, wl.groups)


def test_decode_shapes_are_new_problems_of_at_most_32_tokens():
    # the same (M, N, K, G) under two names would sit in two folds of the grouped K-fold
    problems = [_problem(*s) for s in DECODE_SHAPES]
    assert len(set(problems)) == len(problems) == 18
    assert not set(problems) & {_problem(*s) for s in GRID_SHAPES}
    assert all(t in (16, 32) for _, t in DECODE_SHAPES)
    # every dimension a multiple of 16: all five precisions are planned on every shape
    plan = plan_grid(shapes=DECODE_SHAPES, phases=("int8", "int4", "fp8", "fp16", "bf16"))
    per = pd.DataFrame([p for _, p in plan]).groupby(["shape", "precision"]).size()
    assert len(per) == 18 * 5 and (per == 200).all()


def test_collect_kernels_shape_lists():
    sys.path.insert(0, str(BENCH))
    from collect_kernels import grid_shapes

    assert grid_shapes("decode") == DECODE_SHAPES
    assert grid_shapes("grid") == GRID_SHAPES
    assert grid_shapes("llama-7b.qkv@32,bert-base.qkv@16") == (
        ("llama-7b.qkv", 32),
        ("bert-base.qkv", 16),
    )
    with pytest.raises(SystemExit, match="LAYER@TOKENS"):
        grid_shapes("llama-7b.qkv")


@pytest.mark.parametrize(
    ("shape", "prec", "rows", "timed", "best_cfg", "best_us", "worst_us"),
    [
        # llama-70b.qkv@16 (M=10240, N=16, K=8192) int8: 64x16x256, GROUP_M 8, 2 warps, 5 stages
        ("llama-70b.qkv@16", "int8", 287, 255, [64, 16, 256, 8, 2, 5, 1], 33.12, 2710.21),
        # mixtral.expert_down@32 (8 experts of M=4096, N=32, K=14336) int4: the best uses split-K 4
        ("mixtral.expert_down@32", "int4", 319, 282, [64, 32, 128, 16, 4, 3, 4], 189.568, 117828.0),
        ("llama-7b.ffn_up@32", "fp8", 307, 275, [64, 16, 256, 1, 4, 3, 1], 27.264, 2596.13),
    ],
)
def test_decode_groups_are_the_measured_points(h200, shape, prec, rows, timed, best_cfg, best_us, worst_us):  # fmt: skip
    grp = h200[(h200["shape"] == shape) & (h200["precision"] == prec)]
    grp = grp[grp["backend"] == "triton"]
    assert (len(grp), int(grp["feasible"].sum())) == (rows, timed)
    ok = grp[grp["feasible"]]
    best = ok.nsmallest(1, "latency_s").iloc[0]
    assert [int(best[t]) for t in TILE_NAMES] == best_cfg
    assert best["latency_s"] * 1e6 == pytest.approx(best_us, rel=1e-3)
    assert ok["latency_s"].max() * 1e6 == pytest.approx(worst_us, rel=1e-3)
    # every failure is a shared-memory overflow the rules reject (the grid's fifth of rejected
    # configs), none a wrong result
    assert grp.loc[~grp["feasible"], "reason"].str.contains("shared memory").all()


def test_repeat_file_covers_the_decode_groups(h200):
    # the 8 fastest configs of each of the 90 new groups timed a second time: 720 more points
    # (2,560 in all); short decode kernels are noisier (median |second/first - 1| 1.6 %, p90
    # 5.1 %) than the first 230 groups (0.74 %)
    again = pd.read_parquet(DATA_DIR / "kernels_h200_repeat.parquet")
    new = again[again["shape"].isin({f"{layer}@{t}" for layer, t in DECODE_SHAPES})]
    assert len(again) == 2560 and len(new) == 720
    key = ["shape", "op", "precision", "sparsity", *TILE_NAMES]
    first = h200[h200["feasible"]].drop_duplicates(key).set_index(key)["latency_s"]
    ratio = new.set_index(key)["latency_s"] / first.reindex(new.set_index(key).index)
    dev = (ratio - 1).abs()
    assert dev.median() == pytest.approx(0.0158, abs=0.002)
    assert dev.max() < 0.2


def test_measured_launch_and_split_k_reduction():
    d = pd.read_csv(OVERHEADS)
    # an empty Triton kernel: 3.20 us per launch on the H200 (median of 200)
    assert d.loc[d["kind"] == "launch", "seconds"].item() * 1e6 == pytest.approx(3.20, rel=0.01)
    red = d[d["kind"] == "splitk_reduce"]
    assert len(red) == (len(GRID_SHAPES) + len(DECODE_SHAPES)) * 2 * 3
    # llama-70b.qkv@16: sum + cast of the fp32 partials 8.29 / 8.83 / 9.55 us at split-K 2/4/8;
    # of int32 partials (summed in int64) 17.17 / 18.02 / 21.12 us
    one = red[red["shape"] == "llama-70b.qkv@16"].sort_values(["out_dtype", "split_k"])
    us = (one["seconds"] * 1e6).tolist()
    assert us == pytest.approx([8.288, 8.832, 9.552, 17.168, 18.016, 21.12], rel=1e-3)
    # two kernels per reduction: never below two launches
    assert (red["seconds"] > 2 * 3.2e-6).all()


def test_reduction_fit_of_the_shipped_file(capsys):
    sys.path.insert(0, str(BENCH))
    from measure_kernel_overheads import fit

    assert fit(str(OVERHEADS)) == 0
    out = capsys.readouterr().out
    assert "launch 3.20 us" in out
    assert "to fp16: 7.75 us + bytes / 3.63 TB/s" in out
    assert "to int32: 13.65 us + bytes / 1.39 TB/s" in out


def test_split_k_reduction_term_by_hand_against_the_measurement():
    from archgym.envs.kernel.gpus import get_gpu
    from archgym.envs.kernel.learned import splitk_reduce_s

    # llama-70b.qkv@16 (G=1, M=10240, N=16), split-K 2. int8: partials 2 x 4 B, int64 sum
    # written and read 2 x 8 B, int32 output 4 B -> 10240*16*28 = 4,587,520 B;
    # 13.65 us + 4,587,520 B / (0.2899 x 4.8 TB/s) = 16.95 us (measured 17.17 us).
    # fp16: 10240*16*(8 + 8 + 2) = 2,949,120 B; 7.755 us + 2,949,120 / (0.757 x 4.8e12) = 8.57 us
    # (measured 8.29 us). Split-K 1 and the vendor paths: no reduction.
    rows = {"backend": ["triton", "triton", "triton", "torch"],
            "precision": ["int8", "fp16", "fp16", "fp16"], "split_k": [2, 2, 1, 2],
            "groups": [1] * 4, "m": [10240] * 4, "n": [16] * 4}  # fmt: skip
    got = splitk_reduce_s(rows, get_gpu("H200-SXM")) * 1e6
    assert got[:2] == pytest.approx([16.95, 8.57], rel=2e-3)
    assert list(got[2:]) == [0.0, 0.0]
    assert got[:2] == pytest.approx([17.168, 8.288], rel=0.05)
    # another GPU's reduction streams at its own HBM bandwidth (H100: 3.35 TB/s)
    h100 = splitk_reduce_s(rows, get_gpu("H100-SXM")) * 1e6
    assert h100[0] == pytest.approx(13.65 + 4587520 / (0.2899 * 3.35e12) * 1e6, rel=2e-3)


def test_reduction_constants_are_a_fresh_dict_per_call():
    # the fitted constants are cached per process; catches a caller's edit of the returned
    # dict changing every later split-K feature (and the stored models' key)
    from archgym.envs.kernel.calibrate import reduction_constants

    first = reduction_constants()
    first["fp16"] = (0.0, 1.0)
    assert reduction_constants()["fp16"][0] == pytest.approx(7.75e-6, rel=1e-3)
