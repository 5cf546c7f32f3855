"""Tests of CoDesign-v1: hand-checked sparsity/precision effects on a tiny layer, agreement of
the dense compute with the accelerator model, infeasibility reasons, conformance, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.accelerator.model import AcceleratorCostModel
from archgym.envs.codesign import tables as ct
from archgym.envs.codesign.hw import hardware_costs, network_layers, network_workload
from archgym.envs.codesign.model import CoDesignCostModel
from archgym.envs.nas.arch import plan_network
from archgym.envs.nas.datasets import TASK_SHAPES
from archgym.registry import make

DIGITS = TASK_SHAPES["digits"]
ARCH = {
    "num_blocks": 2,
    "activation": "relu",
    "b1_width": 8,
    "b1_kernel": 3,
    "b1_down": "maxpool",
    "b1_expand": 1,
    "b1_skip": False,
    "b2_width": 32,
    "b2_kernel": 5,
    "b2_down": "none",
    "b2_expand": 1,
    "b2_skip": False,
}
HW = {
    "rows": 16,
    "cols": 8,
    "gbuf_kb": 64,
    "dram_bw_bytes": 8,
    "dataflow": "ws",
    "clock_mhz": 800,
    "nm_support": False,
    "block_skip": False,
    "zero_gating": False,
}


def _hw(n: int = 1, **kw: float) -> dict[str, np.ndarray]:
    base = {
        "rows": 4,
        "cols": 4,
        "gbuf_kb": 1024,
        "gbuf_banks": 1e6,
        "rf_bytes": 64,
        "dram_bw_bytes": 1e9,
        "dataflow": 1,
        "clock_mhz": 1000,
        "tech_nm": 45,
        "nm_support": 0,
        "block_skip": 0,
        "zero_gating": 0,
    }
    base.update(kw)
    return {k: np.full(n, float(v)) for k, v in base.items()}


def _layer(
    k: float = 8,
    kind: int = 0,
    pa: float = 0,
    pb: float = 100,
    density: float = 1.0,
    wbits: float = 8,
    abits: float = 8,
) -> dict[str, np.ndarray]:
    """One GEMM layer M=4, K=k, N=4 (a 1x1 conv on a 2x2 map)."""
    one = {
        "m": 4,
        "k": k,
        "n": 4,
        "ifmap_words": 4 * k,
        "wbits": wbits,
        "abits": abits,
        "kind": kind,
        "pa": pa,
        "pb": pb,
        "density": density,
    }
    lay = {key: np.array([[float(v)]]) for key, v in one.items()}
    lay["valid"] = np.array([[True]])
    return lay


# -- hand calculations on a tiny layer (M=4, K=8, N=4, 4x4 array, ws, unlimited bandwidth) -----
# ws: Sr = K', Sc = N, T = M, fill = 2R + C - 2 = 10; cycles = ceil(K'/4) * ceil(4/4) * (4 + 10) - 1
def test_dense_ws_cycles_by_hand() -> None:
    r = hardware_costs(_hw(), _layer())
    assert r["compute_cycles"][0] == 2 * 1 * 14 - 1 == 27
    assert r["executed_macs"][0] == 4 * 8 * 4


def test_2of4_with_nm_support_halves_macs_and_row_folds() -> None:
    lay = _layer(kind=1, pa=2, pb=4, density=0.5)
    on = hardware_costs(_hw(nm_support=1), lay)
    off = hardware_costs(_hw(), lay)
    assert on["executed_macs"][0] == 64 and off["executed_macs"][0] == 128
    assert on["compute_cycles"][0] == 1 * 1 * 14 - 1 == 13  # K' = 4: one row fold
    assert off["compute_cycles"][0] == 27  # no support: dense
    # metadata: log2(4) = 2 bits per kept weight, 4*4 kept weights -> 32 bits = 4 bytes
    assert on["metadata_bytes"][0] == 4.0 and off["metadata_bytes"][0] == 0.0
    # MAC energy halves with the MACs (8x8 bits: 0.2 + 0.03 * 16/8 = 0.26 pJ)
    assert on["energy_mac_j"][0] == pytest.approx(64 * 0.26e-12)
    assert off["energy_mac_j"][0] == pytest.approx(128 * 0.26e-12)


def test_1of4_needs_the_4_way_mux() -> None:
    on = hardware_costs(_hw(nm_support=1), _layer(k=16, kind=1, pa=1, pb=4, density=0.25))
    assert on["executed_macs"][0] == 4 * 4 * 4
    assert on["compute_cycles"][0] == 27 - 14  # K' = 4 -> one fold instead of four: 1*14 - 1


def test_zero_gating_saves_energy_not_cycles() -> None:
    lay = _layer(kind=3, pa=0, pb=50, density=0.5)
    gated = hardware_costs(_hw(zero_gating=1), lay)
    plain = hardware_costs(_hw(), lay)
    assert gated["compute_cycles"][0] == plain["compute_cycles"][0] == 27
    assert gated["executed_macs"][0] == plain["executed_macs"][0] == 128
    assert gated["energy_mac_j"][0] == pytest.approx(0.5 * plain["energy_mac_j"][0])
    # CSR: 16 nonzeros x (8 + ceil(log2 8) = 3) bits + 5 row pointers x 16 = 256 bits < dense 256?
    # dense = 8*4*8 = 256 bits; CSR = 16*11 + 80 = 256 -> not smaller, so stored dense (no metadata)
    assert gated["metadata_bytes"][0] == 0.0


def test_block_skipping_with_imbalance() -> None:
    # K = 16, 50 % of 2x2 blocks: K' = ceil(16 * 0.5 * 1.10) = 9 -> ceil(9/4) = 3 row folds
    lay = _layer(k=16, kind=2, pa=2, pb=50, density=0.5)
    on = hardware_costs(_hw(block_skip=1), lay)
    off = hardware_costs(_hw(), lay)
    assert off["compute_cycles"][0] == 4 * 14 - 1
    assert on["compute_cycles"][0] == 3 * 14 - 1
    assert on["executed_macs"][0] == 4 * 8 * 4  # imbalance costs cycles, not MACs
    # index per kept block: ceil(log2(16/2)) = 3 bits; kept blocks = 8*4/4 = 8 -> 24 bits
    assert on["metadata_bytes"][0] == 3.0


def test_bit_width_scaling_of_mac_energy_and_area() -> None:
    # Horowitz ISSCC 2014 scaling: multiplier ~ w*a, adder ~ w+a.
    assert ct.mac_pj(np.array(8), np.array(8)) == pytest.approx(0.26)
    assert ct.mac_pj(np.array(4), np.array(8)) == pytest.approx(0.1 + 0.045)
    assert ct.mac_pj(np.array(4), np.array(8)) / ct.mac_pj(
        np.array(8), np.array(8)
    ) == pytest.approx(0.145 / 0.26)
    assert ct.mac_pj(np.array(32), np.array(32)) == pytest.approx(4.6)
    i4 = hardware_costs(_hw(), _layer(wbits=4))
    i8 = hardware_costs(_hw(), _layer(wbits=8))
    assert i4["energy_mac_j"][0] / i8["energy_mac_j"][0] == pytest.approx(0.145 / 0.26)
    assert i4["area_mm2"][0] < i8["area_mm2"][0]
    assert i4["dram_bytes"][0] < i8["dram_bytes"][0]  # weights are half as wide


def test_knobs_cost_area() -> None:
    base = hardware_costs(_hw(), _layer())["area_mm2"][0]
    for knob in ("nm_support", "block_skip", "zero_gating"):
        assert hardware_costs(_hw(**{knob: 1}), _layer())["area_mm2"][0] > base, knob


# -- the network's own layers ----------------------------------------------------------------
def test_network_workload_matches_the_plan() -> None:
    wl = network_workload(ARCH, DIGITS)
    plan = plan_network(ARCH, *DIGITS)
    assert [layer.name for layer in wl.layers] == [lp.name for lp in plan.layers]
    assert wl.macs == plan.macs
    assert network_layers(ARCH, DIGITS)["inner"].tolist() == [False, True, True, True, False]


@pytest.mark.slow  # importing torch takes ~5 s
def test_network_workload_matches_from_torch() -> None:
    import torch

    from archgym.envs.nas.model import build_network
    from archgym.workloads import from_torch

    net, _ = build_network(ARCH, *DIGITS)
    traced = from_torch(net, torch.zeros(1, 1, 8, 8), name="t")
    assert traced.macs == network_workload(ARCH, DIGITS).macs


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_dense_compute_equals_the_accelerator_model(dataflow: str) -> None:
    wl = network_workload(ARCH, DIGITS)
    design = {
        **ARCH,
        "sparsity": "dense",
        "weight_bits": 32,
        "scope": "inner",
        **{**HW, "dataflow": dataflow},
        "act_bits": 8,
    }
    ours = CoDesignCostModel().evaluate([design], "digits")
    acc = AcceleratorCostModel().evaluate(
        [{"rows": 16, "cols": 8, "dataflow": dataflow, "gbuf_kb": 1024}], wl
    )
    assert ours.feasible[0], ours.reasons[0]
    assert ours.metrics["compute_cycles"][0] == acc.metrics["compute_cycles"][0]


# -- infeasibility ------------------------------------------------------------------------------
def _eval(**over: object) -> tuple[bool, str]:
    d = {**ARCH, "sparsity": "dense", "weight_bits": 8, "scope": "inner", **HW, "act_bits": 8}
    d.update(over)
    ev = CoDesignCostModel().evaluate([d], "digits")
    return bool(ev.feasible[0]), ev.reasons[0]


def test_feasible_design_has_table_accuracy() -> None:
    ev = CoDesignCostModel().evaluate(
        [{**ARCH, "sparsity": "2:4", "weight_bits": 4, "scope": "inner", **HW, "act_bits": 8}],
        "digits",
    )
    assert ev.feasible[0] and 0.0 < ev.metrics["accuracy"][0] <= 1.0
    assert np.isfinite(ev.metrics["latency_s"][0]) and ev.metrics["area_mm2"][0] > 0


def test_nm_not_dividing_the_stem_is_infeasible() -> None:
    ok, why = _eval(sparsity="2:4", scope="all")  # stem conv: K = 1 * 3 * 3 = 9
    assert not ok and "divisible by 4" in why and "blocks.0.conv1" in why


def test_unbuildable_architecture_is_infeasible() -> None:
    deep = {
        f"b{i}_{f}": v
        for i in range(1, 5)
        for f, v in (
            ("width", 8),
            ("kernel", 3),
            ("down", "maxpool"),
            ("expand", 1),
            ("skip", False),
        )
    }
    ok, why = _eval(num_blocks=4, **deep)
    assert not ok and "shrinks below 1" in why


def test_design_outside_the_table_is_infeasible() -> None:
    ok, why = _eval(b1_width=16)
    assert not ok and "not in the table" in why


def test_buffer_too_small_for_the_array_tile() -> None:
    ok, why = _eval(rows=64, cols=64, gbuf_kb=16, weight_bits=32)
    assert not ok and "gbuf_kb=16" in why and "raise gbuf_kb" in why


# -- env ----------------------------------------------------------------------------------------
def test_check_env_passes() -> None:
    from archgym.testing import check_env

    check_env(
        make(
            "archgym/CoDesign-v1", objective=["max:accuracy", "edp"], constraints=["area_mm2 <= 1"]
        )
    )


def test_constraints_and_determinism() -> None:
    env = make(
        "archgym/CoDesign-v1",
        objective="max:accuracy",
        constraints=["latency_s <= 1e-5", "area_mm2 <= 1.0", "accuracy >= 0.5"],
    )
    a = env.space.sample(np.random.default_rng(7), 64)
    b = env.space.sample(np.random.default_rng(7), 64)
    assert a == b
    ra, rb = env.evaluate(a), env.evaluate(b)
    np.testing.assert_array_equal(ra.values, rb.values)
    assert ra.feasible.any() and not ra.admissible.all()
    lat = ra.evals.metrics["latency_s"]
    assert not ra.admissible[ra.feasible & (lat > 1e-5)].any()


def test_act_bits_only_active_for_quantized_weights() -> None:
    space = make("archgym/CoDesign-v1").space
    d = space.sample(np.random.default_rng(0), 1)[0]
    d.update(weight_bits=32, act_bits=16)
    assert space.validate(d)["act_bits"] == 8  # inactive -> pinned to its first value
