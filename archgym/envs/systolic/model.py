"""SCALE-Sim-exact analytical model of a systolic-array DNN accelerator.

``SystolicCostModel`` reproduces, in closed form, SCALE-Sim 3.0.0's stall-free numbers
(``InterfaceBandwidth: CALC``): *Total Cycles* and *Compute Util %* of COMPUTE_REPORT.csv
and *SRAM IFMAP Reads*, *SRAM Filter Reads*, *SRAM OFMAP Writes* of
DETAILED_ACCESS_REPORT.csv, for the ``os``, ``ws`` and ``is`` dataflows and any
``rows x cols`` array. Tests pin it against SCALE-Sim's own output
(``tests/data/scalesim_calc.json``, made by ``benchmarks/scalesim_reference.py``).

Derivation (``scalesim/compute/systolic_compute_{os,ws,is}.py``). A layer is the GEMM
``(M x K) @ (K x N)`` (see :mod:`archgym.workloads`). Each dataflow maps two GEMM dims on the
array and streams the third in time::

    dataflow  Sr (on rows)  Sc (on cols)  T (streamed)  lines per fold
    os        M             N             K             T + R + C - 2
    ws        K             N             M             T + 2R + C - 2
    is        K             M             N             T + 2R + C - 2

with ``folds = ceil(Sr/R) * ceil(Sc/C)``. SCALE-Sim builds one demand-matrix line per
cycle; with ideal bandwidth the last OFMAP line is served at ``lines - 1``, so
``cycles = folds * lines_per_fold - 1``. SRAM traffic counts the operand-matrix slices each
fold reads: ``os``: ifmap ``M*K*ceil(N/C)``, filter ``K*N*ceil(M/R)``, ofmap
``M*N + folds*(R+C)`` (SCALE-Sim adds ``rows+cols`` per fold there); ``ws``: ifmap
``M*K*ceil(N/C)``, filter ``K*N``, ofmap ``M*N*ceil(K/R)``; ``is``: ifmap ``K*M``, filter
``K*N*ceil(M/C)``, ofmap ``M*N*ceil(K/R)``. SCALE-Sim's *Compute Util* is the mean over folds
of ``used_PEs*T / (R*C*fold_cycles)`` with ``fold_cycles = T+R+C-2`` (os) or
``T+2R+2C-3`` (ws, is); it equals ``M*N*K / (R*C*folds*fold_cycles)``. A layer with
``groups * repeat`` instances (depthwise convs, attention heads) runs them back-to-back, as
SCALE-Sim runs a ``DP`` layer's channels: every count is multiplied by the instances.

Conventions: one word is one byte (SCALE-Sim's ``word_size = 1``, 8-bit operands);
SRAM sizes are KiB (``1024 * kb`` words).

Not exact (documented approximations):

* DRAM traffic. SCALE-Sim's DRAM counts come from replaying traces through double-buffered
  prefetch buffers. Here an operand whose whole footprint fits in its SRAM is read once
  (``ifmap_h*ifmap_w*C`` and ``K*N`` words, which is SCALE-Sim's count then), otherwise it
  is streamed from DRAM as often as the array reads it (SCALE-Sim's count for tiny SRAMs);
  partial fits fall in between in SCALE-Sim and are over-estimated here. OFMAP DRAM writes
  are the real ofmap SRAM writes (``M*N``, times ``ceil(K/R)`` partial-sum passes for
  ws/is), within a few words of SCALE-Sim.
* Bandwidth-limited latency (``bandwidth_mode="limited"``): double buffering overlaps DRAM
  transfers with compute, so a layer takes ``max(cycles, dram_words / dram_bw_words)``;
  ``stall_cycles`` is the excess. ``bandwidth_mode="ideal"`` gives zero stalls.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.systolic.timing import fold_cycles, mapped_dims
from archgym.errors import ConfigError
from archgym.registry import register_cost_model
from archgym.workloads import as_workload

__all__ = ["SystolicCostModel", "DATAFLOWS", "DEFAULTS", "ENERGY_PJ", "AREA_UM2"]

DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")

#: Values used for design parameters a design leaves out (SCALE-Sim's built-in defaults for
#: the SRAM sizes, ``scalesim/scale_config.py``).
DEFAULTS: dict[str, float] = {
    "ifmap_sram_kb": 256,
    "filter_sram_kb": 256,
    "ofmap_sram_kb": 128,
    "dram_bw_words": 10.0,
    "clock_mhz": 1000.0,
}

#: Energy per event in pJ, 45 nm, 8-bit words.
ENERGY_PJ: dict[str, float] = {
    # Horowitz, "Computing's energy problem", ISSCC 2014, fig. 1.1.9 (45 nm, 0.9 V):
    # 8-bit int multiply 0.2 pJ + 8-bit int add 0.03 pJ.
    "mac": 0.23,
    # Same source: 64-bit SRAM read 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB), i.e. about
    # sqrt(size) scaling: per 8-bit word 1.25 pJ * sqrt(size_kb / 8).
    "sram_word_8kb": 1.25,
    # Same source: DRAM 1.3-2.6 nJ per 64-bit access; 2.0 nJ / 8 words.
    "dram_word": 250.0,
}

#: Area in um^2, 45 nm.
AREA_UM2: dict[str, float] = {
    # Horowitz ISSCC 2014 (45 nm): 8-bit multiplier 282 um^2 + 32-bit adder 137 um^2
    # (the accumulator) per processing element.
    "pe": 282.0 + 137.0,
    # Intel 45 nm 6T SRAM bit cell 0.346 um^2 (Mistry et al., IEDM 2007), with an assumed
    # 50 % array efficiency: 8192 bits * 0.346 / 0.5 per KiB.
    "sram_kb": 8192 * 0.346 / 0.5,
}

_METRICS = (
    Metric("latency_s", "s", "min", "Run time of the workload (stall cycles added if limited)"),
    Metric("cycles", "cycles", "min", "Compute cycles, SCALE-Sim 'Total Cycles' (stall-free)"),
    Metric("stall_cycles", "cycles", "min", "Cycles waiting on DRAM (bandwidth-limited mode)"),
    Metric("utilization", "", "max", "MACs / (cycles * rows * cols) over the workload"),
    Metric("sram_read_words", "words", "min", "SRAM ifmap + filter reads"),
    Metric("sram_write_words", "words", "min", "SRAM ofmap writes"),
    Metric("sram_ifmap_read_words", "words", "min", "SRAM ifmap reads"),
    Metric("sram_filter_read_words", "words", "min", "SRAM filter reads"),
    Metric("dram_read_words", "words", "min", "DRAM reads (ifmap + filter), reuse model"),
    Metric("dram_write_words", "words", "min", "DRAM ofmap writes"),
    Metric("energy_j", "J", "min", "MAC + SRAM + DRAM energy (45 nm constants)"),
    Metric("area_mm2", "mm^2", "min", "PE array + SRAM area (45 nm constants)"),
)


def _column(columns: dict[str, np.ndarray], key: str, n: int) -> np.ndarray:
    if key in columns:
        return np.asarray(columns[key])
    if key in DEFAULTS:
        return np.full(n, DEFAULTS[key], dtype=float)
    raise ConfigError(
        f"systolic-analytical: design parameter {key!r} is required; designs give {sorted(columns)}"
    )


class SystolicCostModel(CostModel):
    """Systolic array (rows x cols PEs, one dataflow) with three SRAMs and a DRAM link.

    Design columns: ``rows``, ``cols`` (PEs), ``dataflow`` (``"os"``, ``"ws"``, ``"is"``),
    and optionally ``ifmap_sram_kb``, ``filter_sram_kb``, ``ofmap_sram_kb`` (KiB),
    ``dram_bw_words`` (words/cycle) and ``clock_mhz`` (see :data:`DEFAULTS`).

    Args:
        bandwidth_mode: ``"limited"`` (default) adds DRAM stall cycles to the latency;
            ``"ideal"`` reproduces SCALE-Sim's stall-free CALC mode.
    """

    design_params = frozenset({"rows", "cols", "dataflow", *DEFAULTS})
    name: ClassVar[str] = "systolic-analytical"
    version: ClassVar[str] = "1"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = "Closed-form SCALE-Sim 3.0 (os/ws/is) systolic-array model"

    def __init__(self, bandwidth_mode: str = "limited") -> None:
        if bandwidth_mode not in ("ideal", "limited"):
            raise ConfigError(
                f"bandwidth_mode must be 'ideal' or 'limited', but got {bandwidth_mode!r}"
            )
        self.bandwidth_mode = bandwidth_mode

    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests, including the bandwidth mode."""
        return {**super().describe(), "bandwidth_mode": self.bandwidth_mode}

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Whole-workload metrics, one row per design (sums over layers)."""
        per, feasible, reasons, n = self._evaluate(columns, workload)
        tot = {k: v.sum(axis=1) for k, v in per.items() if v.ndim == 2}
        cycles = tot["cycles"]
        rc = per["rows"] * per["cols"]
        clock_hz = per["clock_mhz"] * 1e6
        with np.errstate(divide="ignore", invalid="ignore"):
            metrics = {
                "latency_s": (cycles + tot["stall_cycles"]) / clock_hz,
                "cycles": cycles,
                "stall_cycles": tot["stall_cycles"],
                "utilization": tot["macs"] / (cycles * rc),
                "sram_read_words": tot["sram_ifmap_reads"] + tot["sram_filter_reads"],
                "sram_write_words": tot["sram_ofmap_writes"],
                "sram_ifmap_read_words": tot["sram_ifmap_reads"],
                "sram_filter_read_words": tot["sram_filter_reads"],
                "dram_read_words": tot["dram_ifmap_reads"] + tot["dram_filter_reads"],
                "dram_write_words": tot["dram_ofmap_writes"],
                "energy_j": tot["energy_j"],
                "area_mm2": per["area_mm2"],
            }
        for k in metrics:
            metrics[k] = np.where(feasible, metrics[k], np.nan)
        return Evaluations(metrics=metrics, feasible=feasible, reasons=reasons)

    def evaluate_layers(
        self, columns: dict[str, np.ndarray], workload: Any
    ) -> dict[str, np.ndarray]:
        """Per-layer figures, each an ``(n_designs, n_layers)`` array (NaN if infeasible).

        Keys: ``cycles``, ``stall_cycles``, ``compute_util`` (SCALE-Sim's *Compute Util* as a
        fraction, of one instance), ``overall_util``, ``sram_ifmap_reads``,
        ``sram_filter_reads``, ``sram_ofmap_writes``, ``dram_ifmap_reads``,
        ``dram_filter_reads``, ``dram_ofmap_writes``, ``macs``, ``energy_j``. Counts are of
        the whole layer (all ``groups * repeat`` instances).
        """
        per, feasible, _, _ = self._evaluate(columns, workload)
        return {k: np.where(feasible[:, None], v, np.nan) for k, v in per.items() if v.ndim == 2}

    def _evaluate(
        self, columns: dict[str, np.ndarray], workload: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], int]:
        wl = as_workload(workload, "systolic-analytical")
        n = len(next(iter(columns.values()))) if columns else 0
        rows_raw = _column(columns, "rows", n)
        cols_raw = _column(columns, "cols", n)
        df_raw = np.asarray(_column(columns, "dataflow", n)).astype(str)
        knobs = {k: np.asarray(_column(columns, k, n), dtype=float) for k in DEFAULTS}

        bad: list[tuple[np.ndarray, str]] = []
        rows_f = np.asarray(rows_raw, dtype=float)
        cols_f = np.asarray(cols_raw, dtype=float)
        for key, arr in (("rows", rows_f), ("cols", cols_f)):
            bad.append(
                (~((arr >= 1) & (arr == np.floor(arr))), f"{key} must be a positive integer")
            )
        code = np.full(n, -1, dtype=np.int64)
        for i, d in enumerate(DATAFLOWS):
            code[df_raw == d] = i
        bad.append((code < 0, f"dataflow must be one of {list(DATAFLOWS)}"))
        for key, arr in knobs.items():
            bad.append((~(arr > 0), f"{key} must be > 0"))
        feasible = np.ones(n, dtype=bool)
        for mask, _ in bad:
            feasible &= ~mask
        reasons = [""] * n
        for i in np.flatnonzero(~feasible).tolist():
            reasons[i] = "; ".join(
                f"{msg} (got {_value(columns, msg, i)})" for mask, msg in bad if mask[i]
            )

        # Safe stand-ins for infeasible rows so the arithmetic below stays finite.
        R = np.where(feasible, rows_f, 1).astype(np.int64)[:, None]
        C = np.where(feasible, cols_f, 1).astype(np.int64)[:, None]
        df = np.where(feasible, code, 0)[:, None]
        a = wl.as_arrays()
        M, N, K, inst = a["m"][None, :], a["n"][None, :], a["k"][None, :], a["instances"][None, :]

        is_os, is_ws = df == 0, df == 1
        Sr, Sc, T = mapped_dims(M, N, K, is_os, is_ws)
        rf, cf, cycles1 = fold_cycles(Sr, Sc, T, R, C, short_fill=is_os)
        folds = rf * cf
        util_den = np.where(is_os, T + R + C - 2, T + 2 * R + 2 * C - 3)
        mnk = M * N * K
        compute_util = mnk / (R * C * folds * util_den)

        ifm_rd = np.where(is_os | is_ws, M * K * cf, K * M)
        flt_rd = np.where(is_os, K * N * rf, np.where(is_ws, K * N, K * N * cf))
        ofm_wr_real = np.where(is_os, M * N, M * N * rf)
        ofm_wr = np.where(is_os, M * N + folds * (R + C), ofm_wr_real)

        words = 1024.0  # words per KiB at one byte per word
        ifm_cap = knobs["ifmap_sram_kb"][:, None] * words
        flt_cap = knobs["filter_sram_kb"][:, None] * words
        ifm_dram = np.where(a["ifmap_words"][None, :] <= ifm_cap, a["ifmap_words"][None, :], ifm_rd)
        flt_dram = np.where(
            a["filter_words"][None, :] <= flt_cap, a["filter_words"][None, :], flt_rd
        )
        ofm_dram = ofm_wr_real

        cycles = cycles1 * inst
        dram_total = (ifm_dram + flt_dram + ofm_dram) * inst
        if self.bandwidth_mode == "limited":
            mem_cycles = np.ceil(dram_total / knobs["dram_bw_words"][:, None])
            stall = np.maximum(mem_cycles - cycles, 0)
        else:
            stall = np.zeros(cycles.shape)

        def e_sram(kb: np.ndarray) -> np.ndarray:
            return ENERGY_PJ["sram_word_8kb"] * np.sqrt(kb[:, None] / 8.0)

        energy_pj = (
            ENERGY_PJ["mac"] * mnk
            + e_sram(knobs["ifmap_sram_kb"]) * ifm_rd
            + e_sram(knobs["filter_sram_kb"]) * flt_rd
            + e_sram(knobs["ofmap_sram_kb"]) * ofm_wr
            + ENERGY_PJ["dram_word"] * (ifm_dram + flt_dram + ofm_dram)
        ) * inst
        sram_kb = knobs["ifmap_sram_kb"] + knobs["filter_sram_kb"] + knobs["ofmap_sram_kb"]
        area_mm2 = (R[:, 0] * C[:, 0] * AREA_UM2["pe"] + sram_kb * AREA_UM2["sram_kb"]) * 1e-6

        per = {
            "cycles": cycles.astype(float),
            "stall_cycles": stall.astype(float),
            "compute_util": compute_util,
            "overall_util": mnk / (cycles1 * R * C),
            "sram_ifmap_reads": (ifm_rd * inst).astype(float),
            "sram_filter_reads": (flt_rd * inst).astype(float),
            "sram_ofmap_writes": (ofm_wr * inst).astype(float),
            "dram_ifmap_reads": (ifm_dram * inst).astype(float),
            "dram_filter_reads": (flt_dram * inst).astype(float),
            "dram_ofmap_writes": (ofm_dram * inst).astype(float),
            "macs": np.broadcast_to(mnk * inst, cycles.shape).astype(float),
            "energy_j": energy_pj * 1e-12,
            "rows": R[:, 0].astype(float),
            "cols": C[:, 0].astype(float),
            "clock_mhz": knobs["clock_mhz"],
            "area_mm2": area_mm2,
        }
        return per, feasible, reasons, n


def _value(columns: dict[str, np.ndarray], msg: str, i: int) -> Any:
    key = msg.split(" ", 1)[0]
    return columns[key][i] if key in columns else DEFAULTS.get(key)


register_cost_model("systolic-analytical", SystolicCostModel, SystolicCostModel.description)
