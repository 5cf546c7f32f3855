"""Tests of SystolicCostModel: exact agreement with SCALE-Sim 3.0.0, hand-checked energy and
area, vectorisation, infeasibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archgym.envs.systolic.model import SystolicCostModel
from archgym.errors import ConfigError
from archgym.workloads import Layer, get

# tests/data/scalesim_calc.json holds SCALE-Sim 3.0.0's own COMPUTE_REPORT.csv and
# DETAILED_ACCESS_REPORT.csv numbers, produced by `python benchmarks/scalesim_reference.py`
# (which runs the real simulator with InterfaceBandwidth: CALC; the config is in the file).
REF = json.loads((Path(__file__).parent / "data" / "scalesim_calc.json").read_text())


def _entry_id(e: dict) -> str:
    return f"{e['layer']['name']}-{e['dataflow']}-{e['rows']}x{e['cols']}"


def test_reference_covers_the_promised_grid() -> None:
    entries = REF["entries"]
    assert REF["scalesim_version"] == "3.0.0"
    assert {e["dataflow"] for e in entries} == {"os", "ws", "is"}
    shapes = {(e["rows"], e["cols"]) for e in entries}
    assert {(8, 32), (128, 128)} <= shapes and len(shapes) >= 4
    assert len({e["layer"]["name"] for e in entries}) >= 8


@pytest.mark.parametrize("entry", REF["entries"], ids=_entry_id)
def test_matches_scalesim_exactly(entry: dict) -> None:
    layer = Layer(**entry["layer"])
    cols = {"rows": [entry["rows"]], "cols": [entry["cols"]], "dataflow": [entry["dataflow"]]}
    out = SystolicCostModel("ideal").evaluate_layers(cols, layer)
    got = {
        k: int(out[k][0, 0])
        for k in ("cycles", "sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_writes")
    }
    want = {
        "cycles": entry["total_cycles"],
        "sram_ifmap_reads": entry["sram_ifmap_reads"],
        "sram_filter_reads": entry["sram_filter_reads"],
        "sram_ofmap_writes": entry["sram_ofmap_writes"],
    }
    assert got == want
    assert entry["stall_cycles"] == 0
    assert out["compute_util"][0, 0] * 100 == pytest.approx(entry["compute_util_pct"], rel=1e-9)
    assert out["overall_util"][0, 0] * 100 == pytest.approx(entry["overall_util_pct"], rel=1e-9)


def test_energy_and_area_by_hand() -> None:
    # GEMM M=2, N=3, K=4 on a 2x2 os array, 8 KiB SRAMs (so the SRAM energy factor is 1).
    # folds = ceil(2/2)*ceil(3/2) = 2; cycles = 2*(4+2+2-2) - 1 = 11.
    # SRAM: ifmap 2*4*2 = 16, filter 4*3*1 = 12, ofmap 2*3 + 2*(2+2) = 14.
    # DRAM (all fit): ifmap 8, filter 12, ofmap 6 = 26 words.
    # energy = 0.23*24 + 1.25*(16+12+14) + 250*26 = 6558.02 pJ.
    # area = 4 * 419 um^2 + 24 KiB * 8192*0.346/0.5 um^2 = 137728.736 um^2.
    design = {
        "rows": 2,
        "cols": 2,
        "dataflow": "os",
        "ifmap_sram_kb": 8,
        "filter_sram_kb": 8,
        "ofmap_sram_kb": 8,
        "dram_bw_words": 1.0,
        "clock_mhz": 500.0,
    }
    layer = Layer.gemm("g", 2, 3, 4)
    row = SystolicCostModel("limited").evaluate([design], layer).row(0)
    assert row["cycles"] == 11
    assert row["sram_read_words"] == 28 and row["sram_write_words"] == 14
    assert row["dram_read_words"] == 20 and row["dram_write_words"] == 6
    assert row["energy_j"] == pytest.approx(6558.02e-12, rel=1e-12)
    assert row["area_mm2"] == pytest.approx(0.137728736, rel=1e-12)
    assert row["utilization"] == pytest.approx(24 / (11 * 4))
    # Limited bandwidth: 26 words at 1 word/cycle > 11 compute cycles -> 15 stall cycles.
    assert row["stall_cycles"] == 15
    assert row["latency_s"] == pytest.approx(26 / 500e6)
    ideal = SystolicCostModel("ideal").evaluate([design], layer).row(0)
    assert ideal["stall_cycles"] == 0 and ideal["latency_s"] == pytest.approx(11 / 500e6)


def test_batch_equals_one_by_one() -> None:
    rng = np.random.default_rng(0)
    n = 40
    cols = {
        "rows": rng.choice([4, 8, 12, 32, 128], n),
        "cols": rng.choice([4, 8, 20, 64], n),
        "dataflow": rng.choice(["os", "ws", "is"], n),
        "ifmap_sram_kb": rng.choice([8, 64, 512], n),
        "filter_sram_kb": rng.choice([8, 512], n),
        "ofmap_sram_kb": rng.choice([8, 256], n),
        "dram_bw_words": rng.uniform(1, 64, n),
        "clock_mhz": rng.uniform(200, 1500, n),
    }
    model = SystolicCostModel()
    batch = model.evaluate(cols, "resnet18")
    for i in range(n):
        one = model.evaluate({k: v[i : i + 1] for k, v in cols.items()}, "resnet18")
        for k in model.metric_names:
            assert one.metrics[k][0] == batch.metrics[k][i], k


def test_per_layer_figures_of_a_mixed_batch_equal_lone_designs() -> None:
    # The model sorts a batch by dataflow and evaluates each dataflow apart; a row put back
    # in the wrong place, or an SRAM energy taken from another design, shows up here.
    cols = {
        "rows": np.array([8, 0, 32, 16, 8, 128]),
        "cols": np.array([8, 8, 4, 16, 64, 32]),
        "dataflow": np.array(["is", "ws", "os", "ws", "rs", "os"]),
        "ifmap_sram_kb": np.array([8.0, 64, 512, 16, 64, 8]),
        "filter_sram_kb": np.array([512.0, 8, 8, 64, 64, 1024]),
        "ofmap_sram_kb": np.array([8.0, 8, 256, 32, 8, 64]),
    }
    model = SystolicCostModel()
    batch = model.evaluate_layers(cols, "mobilenet_v2")
    assert np.isnan(batch["cycles"][[1, 4]]).all() and not np.isnan(batch["cycles"][0]).any()
    for i in (0, 2, 3, 5):
        one = model.evaluate_layers({k: v[i : i + 1] for k, v in cols.items()}, "mobilenet_v2")
        for k, v in one.items():
            np.testing.assert_array_equal(v[0], batch[k][i], err_msg=f"{k} of design {i}")


def test_workload_total_is_sum_of_layers() -> None:
    model = SystolicCostModel("ideal")
    cols = {"rows": [16, 32], "cols": [16, 8], "dataflow": ["ws", "is"]}
    per = model.evaluate_layers(cols, "mobilenet_v2")
    tot = model.evaluate(cols, get("mobilenet_v2"))
    assert per["cycles"].shape == (2, len(get("mobilenet_v2")))
    np.testing.assert_array_equal(per["cycles"].sum(axis=1), tot.metrics["cycles"])


def test_infeasible_designs_have_reasons_and_nan() -> None:
    cols = {
        "rows": [0, 8, 8, 2.5],
        "cols": [8, 8, 8, 8],
        "dataflow": ["os", "rs", "ws", "os"],
        "dram_bw_words": [10.0, 10.0, -1.0, 10.0],
    }
    ev = SystolicCostModel().evaluate(cols, "resnet18")
    assert ev.feasible.tolist() == [False, False, False, False]
    assert "rows must be a positive integer (got 0" in ev.reasons[0]
    assert "dataflow must be one of" in ev.reasons[1] and "rs" in ev.reasons[1]
    assert "dram_bw_words must be > 0" in ev.reasons[2]
    assert "rows must be a positive integer (got 2.5)" in ev.reasons[3]
    assert np.isnan(ev.metrics["cycles"]).all()
    odd = SystolicCostModel().evaluate(
        {"rows": [np.inf, np.nan], "cols": [8, 8], "dataflow": ["os", "ws"]}, "resnet18"
    )  # inf is no integer: it was accepted and gave inf cycles
    assert odd.feasible.tolist() == [False, False]
    assert odd.reasons == [f"rows must be a positive integer (got {v})" for v in ("inf", "nan")]
    ok = SystolicCostModel().evaluate({"rows": [8], "cols": [8], "dataflow": ["os"]}, "resnet18")
    assert ok.feasible[0] and ok.reasons == [""]


def test_bad_workload_and_mode_raise() -> None:
    with pytest.raises(ConfigError, match="Did you mean"):
        SystolicCostModel().evaluate({"rows": [8], "cols": [8], "dataflow": ["os"]}, "resnt18")
    with pytest.raises(ConfigError, match="bandwidth_mode"):
        SystolicCostModel("fast")
    with pytest.raises(ConfigError, match="'dataflow' is required"):
        SystolicCostModel().evaluate({"rows": [8], "cols": [8]}, "resnet18")


def test_bandwidth_knob_matters_in_limited_mode() -> None:
    cols = {
        "rows": [32, 32],
        "cols": [32, 32],
        "dataflow": ["ws", "ws"],
        "dram_bw_words": [0.5, 1000.0],
    }
    ev = SystolicCostModel().evaluate(cols, "llama7b_decode")
    assert ev.metrics["cycles"][0] == ev.metrics["cycles"][1]
    assert ev.metrics["latency_s"][0] > ev.metrics["latency_s"][1]
    assert ev.metrics["stall_cycles"][1] == 0
