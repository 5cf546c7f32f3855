"""Live peer simulators on small layers (run whenever the extras are importable; ``.ci/simulators``
builds the ``.sim`` venv that has them)."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np
import pytest

from archgym.envs.accelerator import AcceleratorCostModel, from_zigzag
from archgym.workloads import Layer

LAYER = Layer("conv", "conv", 10, 10, 3, 3, 16, 32)

_WL = """- id: 0
  name: conv
  operator_type: Conv
  equation: O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]
  dimension_relations: [ix=1*ox+1*fx, iy=1*oy+1*fy]
  loop_dims: [B, K, C, OY, OX, FY, FX]
  loop_sizes: [1, 32, 16, 8, 8, 3, 3]
  operand_precision:
    W: 8
    I: 8
    O: 16
    O_final: 8
  operand_source:
    I: 0
    W: 0
"""


@pytest.mark.scalesim
@pytest.mark.parametrize("bw", [2, 8])
def test_live_scalesim_user_latency(bw):
    from archgym.cost_models.scalesim_backend import ScaleSimCostModel

    cols = {
        "rows": np.array([16]),
        "cols": np.array([16]),
        "dataflow": np.array(["ws"]),
        "ifmap_sram_kb": np.array([64]),
        "filter_sram_kb": np.array([64]),
        "ofmap_sram_kb": np.array([4]),
        "dram_bw_bytes": np.array([bw]),
    }
    sim = ScaleSimCostModel("limited").evaluate(cols, LAYER)
    mine = AcceleratorCostModel("scalesim").evaluate(cols, LAYER)
    assert sim.feasible[0]
    # operands fit: only the ofmap write-back can stall (model docstring); within 5 %
    assert mine.metrics["cycles"][0] == pytest.approx(sim.metrics["cycles"][0], rel=0.05)


_ZIGZAG_MAPPING = {"tpu_like": "tpu_like", "tesla_npu_like": "tesla_npu_like"}


@pytest.mark.zigzag
@pytest.mark.parametrize("arch", sorted(_ZIGZAG_MAPPING))
def test_live_zigzag_shipped_arch_per_level(tmp_path, arch):
    """Live ZigZag 3.9.1 on its own shipped hardware and mapping (tpu_like: one buffer level;
    tesla_npu_like: 1 KB per-operand buffers under a 1 MB level, the loop-nest case). Every level
    is compared, not only totals: a register, buffer or DRAM count that drifts fails here even
    where DRAM dominates the total."""
    import zigzag
    from zigzag import api

    base = Path(zigzag.__file__).parent / "inputs"
    hw = base / "hardware" / f"{arch}.yaml"
    mp = base / "mapping" / f"{_ZIGZAG_MAPPING[arch]}.yaml"
    wl = tmp_path / "wl.yaml"
    wl.write_text(_WL)
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, _, cmes = api.get_hardware_performance_zigzag(
                str(wl),
                str(hw),
                str(mp),
                opt="energy",
                dump_folder=str(tmp_path / "out"),
                loma_show_progress_bar=False,
                lpf_limit=6,
            )
    finally:
        logging.disable(logging.NOTSET)
    cme = cmes[0][1][0][0]
    imp = from_zigzag(hw, mp)
    cols = {k: np.array([v]) for k, v in imp.design.items()}
    e = imp.cost_model().evaluate(cols, LAYER).metrics
    # the peer's per-level energy, summed onto our levels through the importer's own level map
    links = cme.layer.memory_operand_links
    peer = {"rf": 0.0, "buffer": 0.0, "dram": 0.0}
    for op, energies in cme.mem_energy_breakdown.items():
        mem_op = links.layer_to_mem_op(op)
        for lv, pj in zip(cme.mem_hierarchy_dict[mem_op], energies, strict=True):
            peer[imp.peer_levels[f"{mem_op}:{lv.name}"]] += float(pj)
    ours = {lv: float(e[f"energy_{lv}_j"][0]) * 1e12 for lv in peer}
    ours["buffer"] += float(e["energy_noc_j"][0]) * 1e12  # ZigZag has no separate NoC level
    assert e["energy_mac_j"][0] * 1e12 == pytest.approx(float(cme.mac_energy), rel=1e-9)
    # tolerances: the reference set's per-level medians are <= 7 % (bench_accelerator_fidelity.py);
    # on this layer (2026-12-02) DRAM was exact, buffer within 0.7 %, RF -1.7 % (tpu_like) and
    # +21.7 % (tesla_npu_like, whose 1 KB weight register is the case ZigZag cannot double-buffer)
    assert ours["dram"] == pytest.approx(peer["dram"], rel=0.05), (ours, peer)
    assert ours["buffer"] == pytest.approx(peer["buffer"], rel=0.10), (ours, peer)
    assert ours["rf"] == pytest.approx(peer["rf"], rel=0.25), (ours, peer)
    on_chip = float(cme.energy_total) - peer["dram"]
    assert ours["rf"] + ours["buffer"] + e["energy_mac_j"][0] * 1e12 == pytest.approx(
        on_chip, rel=0.25
    )
    assert e["energy_j"][0] * 1e12 == pytest.approx(float(cme.energy_total), rel=0.25)
