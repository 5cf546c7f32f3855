"""Accelerator-v1 against peers configured as their authors ship them (package data).

The reference set was made by ``benchmarks/zigzag_shipped_reference.py`` (ZigZag 3.9.1 on its own
tpu_like / eyeriss_like / ... hardware, mappings and ResNet-18 ONNX) and
``benchmarks/scalesim_shipped_reference.py`` (SCALE-Sim 3.0.0 on its scale.cfg / google.cfg /
eyeriss.cfg); the model sees each peer only through the importer. Thresholds are the figures
measured when the data were made (benchmarks/bench_accelerator_fidelity.py), with a margin.
"""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.accelerator import from_scalesim, from_zigzag
from archgym.envs.accelerator.fidelity import (
    load_reference,
    scalesim_rows,
    zigzag_rows,
    zigzag_summary,
)
from archgym.errors import ConfigError


@pytest.fixture(scope="module")
def zz():
    rows, refused = zigzag_rows(load_reference("zigzag_shipped"))
    return rows, refused


def test_reference_data_ships_in_the_package():
    ref = load_reference("zigzag_shipped")
    assert ref["zigzag_version"] == "3.9.1"
    assert {"tpu_like", "eyeriss_like"} <= set(ref["hardware"])
    with pytest.raises(ConfigError, match="zigzag_shipped or scalesim_shipped"):
        load_reference("nope")


def test_zigzag_per_level_energy(zz):
    rows, _ = zz
    s = zigzag_summary(rows)
    # Measured over 84 rows (tpu_like, eyeriss_like, tesla_npu_like, generic_array_cacti):
    # MAC 0 %, RF 6.3 %, DRAM 1.9 %, on-chip 4.4 % median |error|, 85 % of rows within 10 %;
    # the v1 model (3 RF accesses/MAC, psums at operand width) had RF +814 %, SRAM -51 %.
    assert s["mac_median_err"] < 1e-9  # the imported unit_energy, one per MAC
    for lv in ("rf", "dram"):
        assert s[f"{lv}_median_err"] <= 0.15, (lv, s)
    assert s["on_chip_median_err"] <= 0.10
    assert s["energy_within_25pct"] == 1.0
    assert s["energy_within_10pct"] >= 0.80
    # Buffer: within 15 % on the systolic designs; generic_array_cacti (not systolic) keeps a
    # sliding input window in its 128 B rf_I that a systolic dataflow does not exploit, so the
    # model reads its buffer about 2x more there (a known gap, named in the closing note).
    systolic = zigzag_summary([r for r in rows if r["arch"] != "generic_array_cacti"])
    assert systolic["buffer_median_err"] <= 0.15, systolic
    generic = [r["buffer_err"] for r in rows if r["arch"] == "generic_array_cacti"]
    assert 0.0 < float(np.median(generic)) < 1.6


def test_zigzag_tpu_like_register_energy_follows_stationarity(zz):
    rows, _ = zz
    # tpu_like: weights stay in a 128 B per-PE register (read per MAC, ZigZag's rf_128B count),
    # inputs have no register at all (read from sram_2MB); the 16-bit rf_2B accumulates.
    tpu = [
        r for r in rows if r["arch"] == "tpu_like" and r["layer"] == "/layer1/layer1.0/conv1/Conv"
    ]
    (r,) = tpu
    assert abs(r["rf_err"]) < 0.05 and abs(r["buffer_err"]) < 0.05 and abs(r["dram_err"]) < 0.05


def test_importer_refuses_what_it_cannot_represent(zz):
    _, refused = zz
    assert "3 GEMM roles" in refused["edge_tpu_like"]
    ref = load_reference("zigzag_shipped")
    hw = dict(ref["hardware"]["eyeriss_like"])
    mems = {k: dict(v) for k, v in hw["memories"].items()}
    mems["rf_64B_A"]["operands"] = ["I1", "I2"]
    with pytest.raises(ConfigError, match="`rf_64B_A` is shared across 2 operands"):
        from_zigzag({**hw, "memories": mems}, ref["mapping"]["eyeriss_like"])
    with pytest.raises(ConfigError, match="is_imc"):
        from_zigzag({**hw, "operational_array": {**hw["operational_array"], "is_imc": True}})


def test_importer_reads_zigzag_units():
    ref = load_reference("zigzag_shipped")
    imp = from_zigzag(ref["hardware"]["tpu_like"], ref["mapping"]["tpu_like"])
    # K on D1 (32) and C on D2 (32): weight stationary, 32 x 32
    assert (imp.design["rows"], imp.design["cols"], imp.design["dataflow"]) == (32, 32, "ws")
    # sram_2MB: 416.16 pJ per 2048-bit access = 1.6256 pJ/B; dram 700 pJ per 64 bits = 87.5
    assert imp.energy_pj["buffer_i_r"] == pytest.approx(416.16 / 256)
    assert imp.energy_pj["dram_r"] == pytest.approx(87.5)
    assert imp.energy_pj["rf_i"] == 0.0 and imp.design["psum_bits"] == 16


SCALE_CFG = """[general]
run_name = scale_example_run_32x32_os

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     32
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : os
MemoryBanks:   1

[run_presets]
InterfaceBandwidth: CALC
"""


def test_from_scalesim_reads_the_shipped_example():
    imp = from_scalesim(SCALE_CFG)
    d = imp.design
    assert (d["rows"], d["cols"], d["dataflow"], d["gbuf_kb"]) == (32, 32, "os", 192)
    assert imp.bandwidth_mode == "ideal" and d["dram_bw_bytes"] == 10
    with pytest.raises(ConfigError, match="Dataflow 'rs'"):
        from_scalesim(SCALE_CFG.replace("Dataflow : os", "Dataflow : rs"))
    with pytest.raises(ConfigError, match="ArrayWidth must be a number"):
        from_scalesim(SCALE_CFG.replace("ArrayWidth:     32", "ArrayWidth: wide"))


def test_scalesim_calc_cycles_equal_on_every_shipped_point():
    ref = load_reference("scalesim_shipped")
    calc = [r for r in scalesim_rows(ref) if r["mode"] == "CALC"]
    assert calc, "no CALC rows in the reference"
    assert all(r["model_cycles"] == r["sim_cycles"] for r in calc), [
        (r["config"], r["layer"], r["model_cycles"], r["sim_cycles"]) for r in calc
    ]


def test_rf_energy_counts_stationary_operands_once_per_word():
    # hand count, ws, 4x4 array, GEMM M=8, N=4, K=4, int8, psum 16 bit, rf 3 words (hold=1):
    # weights 2 x 16 words, inputs 1 per MAC (128), psums 2 x 2 B per MAC (512 B): 672 B
    from archgym.envs.accelerator.model import AcceleratorCostModel
    from archgym.workloads import Layer

    m = AcceleratorCostModel("ideal", energy_pj={"rf": 1.0})
    cols = {
        "rows": np.array([4]),
        "cols": np.array([4]),
        "dataflow": np.array(["ws"]),
        "rf_bytes": np.array([3]),
        "gbuf_kb": np.array([64]),
    }
    e = m.evaluate(cols, Layer.gemm("g", 8, 4, 4))
    assert e.metrics["energy_rf_j"][0] == pytest.approx(672e-12)
    e16 = m.evaluate({**cols, "psum_bits": np.array([32])}, Layer.gemm("g", 8, 4, 4))
    assert e16.metrics["energy_rf_j"][0] == pytest.approx((32 + 128 + 1024) * 1e-12)
