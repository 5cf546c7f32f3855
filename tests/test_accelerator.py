"""AcceleratorCostModel and archgym/Accelerator-v2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import archgym
from archgym.envs.accelerator.model import AcceleratorCostModel
from archgym.envs.systolic.model import SystolicCostModel
from archgym.errors import ConfigError
from archgym.workloads import Layer, get

DATA = Path(__file__).parent / "data"


def _cols(**kw):
    n = max(len(np.atleast_1d(v)) for v in kw.values())
    return {k: np.resize(np.atleast_1d(v), n) for k, v in kw.items()}


def test_reduces_to_scalesim_exact_systolic_model():
    # Configured like SCALE-Sim (ideal bandwidth, int8), the compute cycles and SRAM counts
    # equal SystolicCostModel's, which tests/test_systolic_model.py pins to SCALE-Sim 3.0.0.
    rng = np.random.default_rng(1)
    n = 300
    cols = {
        "rows": rng.choice([4, 8, 12, 16, 32, 128], n),
        "cols": rng.choice([4, 8, 20, 32, 64], n),
        "dataflow": rng.choice(["os", "ws", "is"], n),
    }
    wl = get("resnet18")
    per, ok, _ = AcceleratorCostModel("ideal").evaluate_layers(cols, wl)
    ref = SystolicCostModel("ideal").evaluate_layers(cols, wl)
    assert ok.all()
    np.testing.assert_array_equal(per["compute_cycles"], ref["cycles"])
    np.testing.assert_array_equal(per["sram_ifmap_read_words"], ref["sram_ifmap_reads"])
    np.testing.assert_array_equal(per["sram_filter_read_words"], ref["sram_filter_reads"])
    np.testing.assert_array_equal(per["sram_write_words"], ref["sram_ofmap_writes"])


def test_stall_free_cycles_and_sram_counts_match_scalesim_user_runs():
    # tests/data/scalesim_user_bw.json: SCALE-Sim 3.0.0 output made by
    # benchmarks/scalesim_user_reference.py. Where SCALE-Sim reports no stall, its total
    # cycles and SRAM counts must equal the model's stall-free numbers.
    doc = json.loads((DATA / "scalesim_user_bw.json").read_text())
    model = AcceleratorCostModel("ideal")
    checked = 0
    for e in doc["entries"]:
        lay = Layer(e["layer"][0], "conv", *e["layer"][1:])
        per, ok, _ = model.evaluate_layers(
            _cols(rows=e["rows"], cols=e["cols"], dataflow=e["dataflow"]), lay
        )
        assert per["sram_ifmap_read_words"][0, 0] == e["sram_ifmap_reads"]
        assert per["sram_filter_read_words"][0, 0] == e["sram_filter_reads"]
        assert per["sram_write_words"][0, 0] == e["sram_ofmap_writes"]
        if e["stall_cycles"] == 0:
            assert per["compute_cycles"][0, 0] == e["total_cycles"]
            checked += 1
    assert checked >= 50


def test_energy_levels_sum_and_scale():
    m = AcceleratorCostModel()
    base = dict(rows=16, cols=16, dataflow="ws", gbuf_kb=512)
    e = m.evaluate(_cols(**base, precision=["int8", "int4", "fp16"]), "resnet18")
    assert e.feasible.all()
    levels = sum(e.metrics[f"energy_{lv}_j"] for lv in ("mac", "rf", "noc", "buffer", "dram"))
    np.testing.assert_allclose(levels, e.metrics["energy_j"])
    assert e.metrics["energy_j"][1] < e.metrics["energy_j"][0] < e.metrics["energy_j"][2]
    # MAC energy: Horowitz 0.23 pJ per int8 MAC at 45 nm (hand calculation).
    assert e.metrics["energy_mac_j"][0] == pytest.approx(0.23e-12 * get("resnet18").macs)
    t = m.evaluate(_cols(**base, tech_nm=[45, 7]), "resnet18")
    assert t.metrics["energy_mac_j"][1] < 0.2 * t.metrics["energy_mac_j"][0]
    assert t.metrics["area_mm2"][1] < 0.05 * t.metrics["area_mm2"][0]
    np.testing.assert_allclose(e.metrics["power_w"], e.metrics["energy_j"] / e.metrics["latency_s"])


def test_bandwidth_and_small_buffers_add_stalls():
    m = AcceleratorCostModel()
    e = m.evaluate(
        _cols(rows=32, cols=32, dataflow="ws", gbuf_kb=[4096, 64, 64], dram_bw_bytes=[64, 64, 2]),
        "vgg16",
    )
    assert e.feasible.all()
    s = e.metrics["stall_cycles"]
    assert s[0] <= s[1] < s[2]
    assert e.metrics["dram_bytes"][1] > e.metrics["dram_bytes"][0]
    ideal = AcceleratorCostModel("ideal").evaluate(
        _cols(rows=32, cols=32, dram_bw_bytes=1), "vgg16"
    )
    assert ideal.metrics["stall_cycles"][0] == 0


def test_bad_designs_are_infeasible_with_reasons():
    m = AcceleratorCostModel()
    e = m.evaluate(
        _cols(
            rows=[0, 16, 16, 16, 256],
            cols=[16, 16, 16, 16, 256],
            dataflow=["ws", "xx", "rs", "ws", "ws"],
            rf_bytes=[64, 64, 4, 64, 64],
            gbuf_kb=[256, 256, 256, 256, 32],
        ),
        "resnet18",
    )
    assert e.feasible.tolist() == [False, False, False, True, False]
    assert "rows must be a positive integer (got 0)" in e.reasons[0]
    assert "dataflow must be one of" in e.reasons[1]
    assert "layer 'conv1'" in e.reasons[2] and "raise rf_bytes" in e.reasons[2]
    assert "gbuf_kb must hold one array tile" in e.reasons[4]
    assert np.isnan(e.metrics["energy_j"][0])


def test_bad_layers_and_workloads_name_the_problem():
    with pytest.raises(ConfigError, match="layer 'bad'.*'channels'"):
        Layer("bad", "conv", 8, 8, 3, 3, 0, 4)
    with pytest.raises(ConfigError, match="did you mean|Did you mean"):
        AcceleratorCostModel().evaluate(_cols(rows=8), "resnet-19x")


def test_env_mobilenetv2_checks_and_is_deterministic():
    from gymnasium.utils.env_checker import check_env

    env = archgym.make(
        "archgym/Accelerator-v2", workload="mobilenetv2", constraints=["area_mm2 <= 20"]
    )
    check_env(env, skip_render_check=True)
    a = env.space.sample(np.random.default_rng(3), 16)
    b = env.space.sample(np.random.default_rng(3), 16)
    ra, rb = env.evaluate(a), env.evaluate(b)
    np.testing.assert_array_equal(ra.evals.metrics["energy_j"], rb.evals.metrics["energy_j"])


def test_matches_scalesim_calc_reference_directly():
    # tests/data/scalesim_calc.json: SCALE-Sim 3.0.0 CALC-mode output for 9 layers x 3 dataflows
    # x 5 array shapes (benchmarks/scalesim_reference.py).
    path = DATA / "scalesim_calc.json"
    assert path.is_file(), f"{path} is shipped with the tests; regenerate it with that script"
    m = AcceleratorCostModel("ideal")
    entries = json.loads(path.read_text())["entries"]
    for e in entries:
        x = e["layer"]
        lay = Layer(
            x["name"],
            x["kind"],
            x["ifmap_h"],
            x["ifmap_w"],
            x["filter_h"],
            x["filter_w"],
            x["channels"],
            x["num_filters"],
            x["stride"],
        )
        per, ok, _ = m.evaluate_layers(
            _cols(rows=e["rows"], cols=e["cols"], dataflow=e["dataflow"]), lay
        )
        assert per["compute_cycles"][0, 0] == e["total_cycles"], (x["name"], e["dataflow"])
        assert per["sram_ifmap_read_words"][0, 0] == e["sram_ifmap_reads"]
        assert per["sram_filter_read_words"][0, 0] == e["sram_filter_reads"]
        assert per["sram_write_words"][0, 0] == e["sram_ofmap_writes"]
    assert len(entries) >= 100
