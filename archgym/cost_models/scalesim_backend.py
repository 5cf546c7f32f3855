"""``cost_model="scalesim"``: run designs on SCALE-Sim 3.0.0 (``pip install "archgym[scalesim]"``).

Works with the design columns of ``archgym/Systolic-v0`` (``rows``, ``cols``, ``dataflow``,
``ifmap_sram_kb``, ``filter_sram_kb``, ``ofmap_sram_kb``, ``dram_bw_words``, ``clock_mhz``) and
of ``archgym/Accelerator-v2`` (``gbuf_kb`` is split 3:3:1 into ifmap/filter/ofmap SRAMs, SCALE-
Sim's default ratio 6144:6144:2048; ``dram_bw_bytes`` is words at one byte per word). Designs
SCALE-Sim cannot express (row-stationary, non-int8 precision) are infeasible with the reason.

Each design runs in its own worker process (:func:`~archgym.cost_models._worker.
run_job`) with a timeout and a temporary directory that is always removed; a crash or a time-out
is an infeasible evaluation with its reason. ``bandwidth_mode="ideal"`` runs SCALE-Sim's
``CALC`` mode (stall-free); ``"limited"`` its ``USER`` mode with the design's DRAM bandwidth
(set as ``Bandwidth``, ``IfmapSRAMBankBandwidth`` and ``FilterSRAMBankBandwidth``: SCALE-Sim
3.0.0 reads the ifmap/filter DRAM bandwidth from the last two).

Energy and area are not SCALE-Sim outputs: they are computed from its access counts with the
constants of :mod:`archgym.envs.accelerator.tables` (MAC, SRAM by size, DRAM).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.cost_models._worker import run_job
from archgym.envs.accelerator import tables as tb
from archgym.errors import ConfigError
from archgym.registry import register_cost_model

__all__ = ["ScaleSimCostModel", "scalesim_job", "scalesim_config"]

_METRICS = (
    Metric("latency_s", "s", "min", "SCALE-Sim total cycles / clock"),
    Metric("cycles", "cycles", "min", "SCALE-Sim 'Total Cycles'"),
    Metric("stall_cycles", "cycles", "min", "SCALE-Sim 'Stall Cycles'"),
    Metric("utilization", "", "max", "MACs / (cycles * rows * cols)"),
    Metric("energy_j", "J", "min", "From SCALE-Sim access counts (archgym constants)"),
    Metric("area_mm2", "mm^2", "min", "PE array + SRAMs (archgym constants)"),
    Metric("sram_read_words", "words", "min", "SRAM ifmap + filter reads"),
    Metric("sram_write_words", "words", "min", "SRAM ofmap writes"),
    Metric("dram_read_words", "words", "min", "DRAM ifmap + filter reads"),
    Metric("dram_write_words", "words", "min", "DRAM ofmap writes"),
)

CFG = """[general]
run_name = run

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap_kb}
FilterSramSzkB: {filter_kb}
OfmapSramSzkB: {ofmap_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : {bw}
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bw}
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bw}
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""

_REPORT_KEYS = {
    "Total Cycles": "cycles",
    "Stall Cycles": "stall_cycles",
    "SRAM IFMAP Reads": "sram_ifmap_reads",
    "SRAM Filter Reads": "sram_filter_reads",
    "SRAM OFMAP Writes": "sram_ofmap_writes",
    "DRAM IFMAP Reads": "dram_ifmap_reads",
    "DRAM Filter Reads": "dram_filter_reads",
    "DRAM OFMAP Writes": "dram_ofmap_writes",
}


def scalesim_config(design: dict[str, Any], mode: str) -> dict[str, Any]:
    """SCALE-Sim config fields of one design (Systolic-v0 or Accelerator-v2 columns).

    Raises:
        ValueError: The design cannot be expressed in SCALE-Sim (the message says why).
    """
    df = str(design.get("dataflow", "ws"))
    if df not in ("os", "ws", "is"):
        raise ValueError(f"SCALE-Sim has no {df!r} dataflow (only os, ws, is)")
    if str(design.get("precision", "int8")) != "int8":
        raise ValueError(
            f"SCALE-Sim models one-byte words only; precision {design['precision']!r} is not int8"
        )
    if "gbuf_kb" in design and "ifmap_sram_kb" not in design:
        g = float(design["gbuf_kb"])
        kb = {
            "ifmap_kb": max(int(g * 3 / 7), 1),
            "filter_kb": max(int(g * 3 / 7), 1),
            "ofmap_kb": max(int(g / 7), 1),
        }
    else:
        kb = {
            "ifmap_kb": int(design.get("ifmap_sram_kb", 256)),
            "filter_kb": int(design.get("filter_sram_kb", 256)),
            "ofmap_kb": int(design.get("ofmap_sram_kb", 128)),
        }
    bw = design.get("dram_bw_words", design.get("dram_bw_bytes", 10))
    return {
        "rows": int(design["rows"]),
        "cols": int(design["cols"]),
        "dataflow": df,
        "bw": max(int(round(float(bw))), 1),
        "mode": "CALC" if mode == "ideal" else "USER",
        **kb,
    }


def scalesim_job(tmpdir: str, cfg: dict[str, Any], rows: list[list[Any]]) -> list[dict[str, float]]:
    """Worker body: run SCALE-Sim on conv topology ``rows`` and return per-layer reports."""
    from archgym._imports import optional_import

    scale_sim = optional_import("scalesim.scale_sim", "scalesim")
    cfg_p, topo, lay = (os.path.join(tmpdir, f) for f in ("c.cfg", "t.csv", "l.csv"))
    Path(cfg_p).write_text(CFG.format(**cfg))
    lines = [
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,"
    ]
    lines += [", ".join(str(v) for v in r) + "," for r in rows]
    Path(topo).write_text("\n".join(lines) + "\n")
    Path(lay).write_text("Layer name,\n")
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scale_sim.scalesim(
            save_disk_space=True, verbose=False, config=cfg_p, topology=topo, layout=lay
        )
        sim.run_scale(top_path=os.path.join(tmpdir, "out"))
    out: list[dict[str, float]] = [{} for _ in rows]
    for report in ("COMPUTE_REPORT", "DETAILED_ACCESS_REPORT"):
        with open(os.path.join(tmpdir, "out", "run", report + ".csv")) as f:
            table = list(csv.reader(f))
        header = [h.strip() for h in table[0]]
        for i, row in enumerate(table[1:]):
            for h, v in zip(header, row, strict=False):
                if h in _REPORT_KEYS:
                    out[i][_REPORT_KEYS[h]] = float(v)
    return out


class ScaleSimCostModel(CostModel):
    """SCALE-Sim 3.0.0 as a cost model (see the module docstring).

    Args:
        bandwidth_mode: ``"ideal"`` (CALC) or ``"limited"`` (USER bandwidth).
        timeout_s: Per-design wall-clock limit of the worker.
        job: The worker function (tests substitute a fake one).
    """

    name: ClassVar[str] = "scalesim"
    version: ClassVar[str] = "3.0.0-1"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = "SCALE-Sim 3.0.0 in worker processes (archgym[scalesim])"

    def __init__(
        self,
        bandwidth_mode: str = "ideal",
        timeout_s: float = 600.0,
        job: Callable[..., Any] | None = None,
    ) -> None:
        if bandwidth_mode not in ("ideal", "limited"):
            raise ConfigError(
                f"bandwidth_mode must be 'ideal' or 'limited', got {bandwidth_mode!r}"
            )
        if job is None:
            from archgym._imports import optional_import

            optional_import("scalesim", "scalesim")  # fail now, with the pip command
        self.bandwidth_mode = bandwidth_mode
        self.timeout_s = float(timeout_s)
        self.job = job or scalesim_job

    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests."""
        return {**super().describe(), "bandwidth_mode": self.bandwidth_mode}

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Run every design through SCALE-Sim, one worker process per design."""
        from archgym.envs.accelerator.model import as_workload

        wl = as_workload(workload)
        n = len(next(iter(columns.values())))
        rows = [layer.scalesim_row() for layer in wl.layers]
        inst = np.array([layer.instances for layer in wl.layers], dtype=float)
        macs = float(wl.macs)
        metrics = {m.name: np.full(n, np.nan) for m in _METRICS}
        feasible = np.zeros(n, dtype=bool)
        reasons = [""] * n
        for i in range(n):
            design = {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in columns.items()}
            try:
                cfg = scalesim_config(design, self.bandwidth_mode)
            except ValueError as exc:
                reasons[i] = str(exc)
                continue
            ok, res = run_job(self.job, cfg, rows, timeout_s=self.timeout_s, label="SCALE-Sim")
            if not ok:
                reasons[i] = str(res)
                continue
            try:
                per = {k: np.array([r[k] for r in res]) * inst for k in _REPORT_KEYS.values()}
            except (KeyError, TypeError) as exc:
                reasons[i] = f"SCALE-Sim report is missing a field: {exc}"
                continue
            feasible[i] = True
            cyc = per["cycles"].sum()
            clock = float(design.get("clock_mhz", 1000.0)) * 1e6
            sram = {k: float(cfg[f"{k}_kb"]) for k in ("ifmap", "filter", "ofmap")}
            e = (
                tb.MAC_PJ["int8"] * macs
                + tb.DRAM_PJ_PER_BYTE
                * (
                    per["dram_ifmap_reads"] + per["dram_filter_reads"] + per["dram_ofmap_writes"]
                ).sum()
            )
            for key, size in (
                ("sram_ifmap_reads", "ifmap"),
                ("sram_filter_reads", "filter"),
                ("sram_ofmap_writes", "ofmap"),
            ):
                e += float(tb.sram_pj_per_byte(sram[size] * 1024)) * per[key].sum()
            area = (
                cfg["rows"] * cfg["cols"] * tb.MAC_AREA_UM2["int8"]
                + sum(sram.values()) * 1024 * tb.SRAM_UM2_PER_BYTE
            ) * 1e-6
            vals = {
                "latency_s": cyc / clock,
                "cycles": cyc,
                "stall_cycles": per["stall_cycles"].sum(),
                "utilization": macs / (cyc * cfg["rows"] * cfg["cols"]),
                "energy_j": e * 1e-12,
                "area_mm2": area,
                "sram_read_words": (per["sram_ifmap_reads"] + per["sram_filter_reads"]).sum(),
                "sram_write_words": per["sram_ofmap_writes"].sum(),
                "dram_read_words": (per["dram_ifmap_reads"] + per["dram_filter_reads"]).sum(),
                "dram_write_words": per["dram_ofmap_writes"].sum(),
            }
            for k, v in vals.items():
                metrics[k][i] = v
        return Evaluations(metrics=metrics, feasible=feasible, reasons=reasons)


register_cost_model("scalesim", ScaleSimCostModel, ScaleSimCostModel.description)
