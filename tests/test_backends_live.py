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


@pytest.mark.zigzag
def test_live_zigzag_shipped_tpu_like_per_level(tmp_path):
    import zigzag
    from zigzag import api

    base = Path(zigzag.__file__).parent / "inputs"
    wl = tmp_path / "wl.yaml"
    wl.write_text(_WL)
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, _, cmes = api.get_hardware_performance_zigzag(
                str(wl),
                str(base / "hardware" / "tpu_like.yaml"),
                str(base / "mapping" / "tpu_like.yaml"),
                opt="energy",
                dump_folder=str(tmp_path / "out"),
                loma_show_progress_bar=False,
                lpf_limit=6,
            )
    finally:
        logging.disable(logging.NOTSET)
    cme = cmes[0][1][0][0]
    imp = from_zigzag(base / "hardware" / "tpu_like.yaml", base / "mapping" / "tpu_like.yaml")
    cols = {k: np.array([v]) for k, v in imp.design.items()}
    e = imp.cost_model().evaluate(cols, LAYER).metrics
    assert e["energy_mac_j"][0] * 1e12 == pytest.approx(float(cme.mac_energy), rel=1e-9)
    dram = sum(float(v[-1]) for v in cme.mem_energy_breakdown.values())
    assert e["energy_dram_j"][0] * 1e12 == pytest.approx(dram, rel=0.25)
    assert e["energy_j"][0] * 1e12 == pytest.approx(float(cme.energy_total), rel=0.25)
