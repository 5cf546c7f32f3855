"""The loop-nest buffer model of imported peers (archgym/envs/accelerator/loopnest.py).

Hand counts use ZigZag 3.9.1's shipped tesla_npu_like (package data); the ZigZag figures quoted
in comments are its own per-level energies for that layer in ``data/zigzag_shipped.json``.
"""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.accelerator import from_zigzag
from archgym.envs.accelerator.fidelity import load_reference, zigzag_layer
from archgym.envs.accelerator.loopnest import (
    Hierarchy,
    MemLevel,
    level_energy_pj,
    order_energy_pj,
)
from archgym.envs.accelerator.model import AcceleratorCostModel
from archgym.errors import ConfigError
from archgym.workloads import Workload

# ResNet-18 layer1.1 conv1: K 64, C 64, 56 x 56 outputs, 3 x 3, stride 1
CONV = (("B", 1), ("K", 64), ("C", 64), ("OY", 56), ("OX", 56), ("FY", 3), ("FX", 3))
# the temporal order ZigZag's LOMA reported for it on tesla_npu_like, inner to outer
TESLA_ORDER = (("K", 2), ("FX", 3), ("FY", 3), ("C", 64), ("OY", 14), ("OX", 7))


@pytest.fixture(scope="module")
def tesla():
    ref = load_reference("zigzag_shipped")
    return from_zigzag(ref["hardware"]["tesla_npu_like"], ref["mapping"]["tesla_npu_like"])


def test_small_buffer_refilled_from_the_large_level_once_per_output_tile(tesla):
    e = order_energy_pj(tesla.array.hierarchy, CONV, TESLA_ORDER)
    # The array (K 32 x OX 8 x OY 4) keeps 2 outputs per PE over the whole C*FY*FX reduction;
    # sram_1KB_W holds one input channel's 64 x 3 x 3 weights (576 B), so all 36,864 weights
    # pass from sram_1MB_W to sram_1KB_W once per output tile: 14 * 7 = 98 times.
    words = 98 * 64 * 64 * 9
    # sram_1MB_W: 98 reads of every weight + one write from DRAM, pJ per 1024-bit access
    assert e["sram_1MB_W"] == pytest.approx(words * 208.08 / 128 + 36864 * 189.2 / 128)
    # sram_1KB_W: written 98 times, each word read once into the per-column rf_1B (K 2 is
    # the innermost loop, so nothing stays put), 256-bit accesses
    assert e["sram_1KB_W"] == pytest.approx(words * (4.78 + 5.59) / 32)
    # ZigZag's own: 5,927,339.52 and 1,170,731.52 pJ (equal)
    assert e["sram_1MB_W"] == pytest.approx(5927339.52, rel=1e-9)
    assert e["sram_1KB_W"] == pytest.approx(1170731.52, rel=1e-9)


def test_search_finds_an_order_no_worse_than_a_given_one(tesla):
    h = tesla.array.hierarchy
    best = level_energy_pj(h, CONV, 1)
    given = order_energy_pj(h, CONV, TESLA_ORDER)
    assert sum(best.values()) <= sum(given.values()) * (1 + 1e-12)
    assert best == level_energy_pj(h, CONV, 1)  # deterministic (and cached)


def test_strided_window_narrower_than_stride_fetches_only_touched_pixels(tesla):
    # 1 x 1 stride-2 downsample, 28 x 28 outputs: it reads 28 x 28 of its 55 x 55 input
    # pixels; with the whole input in sram_1MB_A the DRAM moves each touched pixel once.
    layer = (("B", 1), ("K", 128), ("C", 64), ("OY", 28), ("OX", 28), ("FY", 1), ("FX", 1))
    h = tesla.array.hierarchy
    only_i = Hierarchy(
        tuple(
            MemLevel(lv.name, tuple(o for o in lv.operands if o == "i"), *_rest(lv))
            for lv in h.levels
            if "i" in lv.operands
        ),
        h.spatial,
        h.dims,
        h.bits,
    )
    e = level_energy_pj(only_i, layer, 2)
    assert e["dram"] == pytest.approx(28 * 28 * 64 * 8 * 700 / 64)  # ZigZag: 4.39e6 pJ


def _rest(lv: MemLevel) -> tuple[float, float, float, tuple[str, ...]]:
    return lv.capacity_bits, lv.r_pj_per_bit, lv.w_pj_per_bit, lv.served


def test_hierarchy_changes_only_the_buffer_energy(tesla):
    import dataclasses

    ref = load_reference("zigzag_shipped")
    run = ref["runs"]["tesla_npu_like/resnet18"]
    wl = Workload("t", tuple(zigzag_layer(r) for r in run["layers"][:6]))
    cols = {k: np.array([v]) for k, v in tesla.design.items()}
    with_levels = tesla.cost_model().evaluate_layers(cols, wl)[0]
    flat = dataclasses.replace(tesla.array, hierarchy=None)
    without = AcceleratorCostModel("limited", tesla.energy_pj, flat).evaluate_layers(cols, wl)[0]
    for k in with_levels:
        if k != "energy_buffer_j":
            np.testing.assert_array_equal(with_levels[k], without[k], err_msg=k)
    # the flat model charges the 1 MB levels once per DRAM word: less than the refills
    assert (with_levels["energy_buffer_j"] > without["energy_buffer_j"]).all()
    assert tesla.cost_model().describe()["array"]["hierarchy"][-1] == "dram"


def test_order_that_does_not_match_the_layer_is_refused(tesla):
    with pytest.raises(ConfigError, match="temporal loops are"):
        order_energy_pj(tesla.array.hierarchy, CONV, (("K", 4),))


def test_lowest_level_too_small_for_the_spatial_tile_is_a_config_error():
    levels = (
        MemLevel("buf", ("i", "w", "o"), 64.0, 0.1, 0.1, ("D1",)),
        MemLevel("dram", ("i", "w", "o"), 1e12, 10.0, 10.0, ("D1",)),
    )
    h = Hierarchy(levels, (("D1", "K", 32),), ("D1",))
    with pytest.raises(ConfigError, match="no temporal mapping"):
        level_energy_pj(h, CONV, 1)
