"""``cost_model="zigzag"``: run designs on ZigZag 3.9.1 (``pip install "archgym[zigzag]"``).

Each design of ``archgym/Accelerator-v2`` becomes a ZigZag accelerator with the *same*
per-access energies as :class:`~archgym.envs.accelerator.model.AcceleratorCostModel`
(:mod:`archgym.envs.accelerator.tables`, scaled to the design's node and precision):
a ``rows x cols`` operational array (MAC energy), a per-PE register file for each operand
(``rf_bytes``), the global buffer (``gbuf_kb``, ``gbuf_banks`` set its per-bank energy) and
DRAM. The spatial unrolling is the dataflow's (``os``: OX x K, ``ws``: C x K, ``is``: C x OX,
with every layer written as its im2col GEMM ``OX=M, K=N, C=K``); ZigZag's LOMA search picks the
temporal mapping (minimum energy). Row-stationary designs are infeasible here.

Each design runs in a worker process with a timeout and a temporary directory (ZigZag's dump
folder) that is always removed; failures are infeasible evaluations with their reason.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.cost_models._worker import run_job
from archgym.envs.accelerator import tables as tb
from archgym.registry import register_cost_model

__all__ = ["ZigZagCostModel", "zigzag_job", "zigzag_inputs"]

_METRICS = (
    Metric("latency_s", "s", "min", "ZigZag latency_total2 / clock"),
    Metric("cycles", "cycles", "min", "ZigZag latency (cycles)"),
    Metric("energy_j", "J", "min", "ZigZag energy_total"),
    Metric("area_mm2", "mm^2", "min", "archgym area constants (ZigZag areas are set to 0)"),
)

_SPATIAL = {"os": ("OX", "K"), "ws": ("C", "K"), "is": ("C", "OX")}


def _mem(
    name: str, size_bits: int, cost: float, bw_bits: int, operands: list[str], served: list[str]
) -> str:
    alloc_r = "\n".join(
        f"          - {o}, tl" + (f"\n          - {o}, th" if o == "O" else "") for o in operands
    )
    alloc_w = "\n".join(
        f"          - {o}, fh" + (f"\n          - {o}, fl" if o == "O" else "") for o in operands
    )
    # ZigZag charges r_cost per access of bandwidth_max bits (cost_model.py,
    # calc_memory_word_access: ceil(elems*bits/min_bw) * min_bw/max_bw accesses), so a per-word
    # cost becomes a per-access cost times the words per access.
    per_access = cost * 64
    return f"""  {name}:
    size: {size_bits}
    r_cost: {per_access}
    w_cost: {per_access}
    area: 0
    latency: 1
    operands: [{", ".join(operands)}]
    ports:
      - name: r_port_1
        type: read
        bandwidth_min: {bw_bits}
        bandwidth_max: {bw_bits * 64}
        allocation:
{alloc_r}
      - name: w_port_1
        type: write
        bandwidth_min: {bw_bits}
        bandwidth_max: {bw_bits * 64}
        allocation:
{alloc_w}
    served_dimensions: [{", ".join(served)}]
"""


def zigzag_inputs(
    design: dict[str, Any], layers: list[tuple[str, int, int, int, int]]
) -> tuple[str, str, str]:
    """ZigZag accelerator, mapping and workload YAML texts of one design.

    Memory costs are per word (``_mem`` converts them to ZigZag's per-access unit).

    ``layers`` are ``(name, M, N, K, instances)``. Raises ValueError for designs ZigZag
    cannot express here.
    """
    df = str(design.get("dataflow", "ws"))
    if df not in _SPATIAL:
        raise ValueError(f"the ZigZag backend supports os, ws, is; not {df!r}")
    prec = str(design.get("precision", "int8"))
    bits = int(tb.WORD_BYTES[prec] * 8)
    es = float(tb.tech_scale(np.array([float(design.get("tech_nm", 45))]))[0][0])
    rows, cols = int(design.get("rows", 16)), int(design.get("cols", 16))
    rf = float(design.get("rf_bytes", 64))
    gbuf = float(design.get("gbuf_kb", 256)) * 1024
    banks = float(design.get("gbuf_banks", 4))
    word_b = tb.WORD_BYTES[prec]
    rf_cost = float(tb.rf_pj_per_byte(np.array(rf))) * word_b * es
    buf_cost = float(tb.sram_pj_per_byte(np.array(gbuf / banks))) * word_b * es
    dram_cost = tb.DRAM_PJ_PER_BYTE * word_b
    rf_bits = max(int(rf * 8 / 3), bits)  # the PE's RF shared by three operands
    hw = "name: archgym\n\nmemories:\n"
    hw += _mem("rf_w", rf_bits, rf_cost, bits, ["I2"], [])
    hw += _mem("rf_i", rf_bits, rf_cost, bits, ["I1"], [])
    hw += _mem("rf_o", rf_bits, rf_cost, bits, ["O"], [])
    hw += _mem("gbuf", int(gbuf * 8), buf_cost, bits, ["I1", "I2", "O"], ["D1", "D2"])
    hw += _mem("dram", 10**12, dram_cost, bits, ["I1", "I2", "O"], ["D1", "D2"])
    hw += f"""
operational_array:
  unit_energy: {tb.MAC_PJ[prec] * es}
  unit_area: 1
  dimensions: [D1, D2]
  sizes: [{rows}, {cols}]
"""
    d1, d2 = _SPATIAL[df]
    mapping = f"""- name: default
  spatial_mapping:
    D1:
      - {d1}, {rows}
    D2:
      - {d2}, {cols}
  memory_operand_links:
    O: O
    W: I2
    I: I1
"""
    wl = ""
    for i, (name, m, n, k, inst) in enumerate(layers):
        wl += f"""- id: {i}
  name: {name}
  operator_type: Conv
  equation: O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]
  dimension_relations: [ix=1*ox+1*fx, iy=1*oy+1*fy]
  loop_dims: [B, K, C, OY, OX, FY, FX]
  loop_sizes: [{inst}, {n}, {k}, 1, {m}, 1, 1]
  operand_precision:
    W: {bits}
    I: {bits}
    O: {bits}
    O_final: {bits}
  operand_source:
    I: {i}
    W: {i}
"""
    return hw, mapping, wl


def zigzag_job(tmpdir: str, design: dict[str, Any], layers: list[Any]) -> list[dict[str, float]]:
    """Worker body: write the YAML inputs, run ZigZag, return per-layer energy/latency."""
    from archgym._imports import optional_import

    api = optional_import("zigzag.api", "zigzag")
    hw, mapping, wl = zigzag_inputs(design, layers)
    paths = {}
    for key, text in (("hw", hw), ("map", mapping), ("wl", wl)):
        paths[key] = os.path.join(tmpdir, f"{key}.yaml")
        Path(paths[key]).write_text(text)
    logging.disable(logging.CRITICAL)  # ZigZag configures logging itself; silence it here
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        _, _, cmes = api.get_hardware_performance_zigzag(
            paths["wl"],
            paths["hw"],
            paths["map"],
            opt="energy",
            dump_folder=os.path.join(tmpdir, "out"),
            loma_show_progress_bar=False,
            lpf_limit=6,
        )
    out = []
    for cme, _ in cmes[0][1]:
        # The last level of every operand is DRAM; the rest is on-chip memory energy.
        dram = sum(float(levels[-1]) for levels in cme.mem_energy_breakdown.values())
        out.append(
            {
                "energy_pj": float(cme.energy_total),
                "cycles": float(cme.latency_total2),
                "mac_energy_pj": float(cme.mac_energy),
                "dram_energy_pj": dram,
            }
        )
    return out


class ZigZagCostModel(CostModel):
    """ZigZag 3.9.1 as a cost model (see the module docstring).

    Args:
        timeout_s: Per-design wall-clock limit of the worker.
        job: The worker function (tests substitute a fake one).
    """

    name: ClassVar[str] = "zigzag"
    version: ClassVar[str] = "3.9.1-1"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = "ZigZag 3.9.1 in worker processes (archgym[zigzag])"

    def __init__(self, timeout_s: float = 600.0, job: Callable[..., Any] | None = None) -> None:
        if job is None:
            from archgym._imports import optional_import

            optional_import("zigzag", "zigzag")
        self.timeout_s = float(timeout_s)
        self.job = job or zigzag_job

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Run every design through ZigZag, one worker process per design."""
        from archgym.envs.accelerator.model import AcceleratorCostModel, as_workload

        wl = as_workload(workload)
        n = len(next(iter(columns.values())))
        layers = [(x.name.replace(" ", "_"), x.m, x.n, x.k, x.instances) for x in wl.layers]
        area = AcceleratorCostModel().evaluate(columns, wl).metrics["area_mm2"]
        metrics = {m.name: np.full(n, np.nan) for m in _METRICS}
        feasible = np.zeros(n, dtype=bool)
        reasons = [""] * n
        for i in range(n):
            design = {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in columns.items()}
            if str(design.get("dataflow", "ws")) not in _SPATIAL:
                reasons[i] = f"the ZigZag backend supports os, ws, is; not {design['dataflow']!r}"
                continue
            ok, res = run_job(self.job, design, layers, timeout_s=self.timeout_s, label="ZigZag")
            if not ok:
                reasons[i] = str(res)
                continue
            try:
                cyc = sum(float(r["cycles"]) for r in res)
                energy = sum(float(r["energy_pj"]) for r in res) * 1e-12
            except (KeyError, TypeError) as exc:
                reasons[i] = f"ZigZag result is missing a field: {exc}"
                continue
            feasible[i] = True
            metrics["cycles"][i] = cyc
            metrics["latency_s"][i] = cyc / (float(design.get("clock_mhz", 1000.0)) * 1e6)
            metrics["energy_j"][i] = energy
            metrics["area_mm2"][i] = area[i]
        return Evaluations(metrics=metrics, feasible=feasible, reasons=reasons)


register_cost_model("zigzag", ZigZagCostModel, ZigZagCostModel.description)
