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
from archgym.workloads import Workload, as_workload

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


#: Per-instance counts of one layer: the rows of the block :meth:`SystolicCostModel._counts`
#: fills. One more row, ``_STALL``, holds the stall cycles of the whole layer.
_COUNTS: tuple[str, ...] = (
    "cycles",
    "sram_ifmap_reads",
    "sram_filter_reads",
    "sram_ofmap_writes",  # SCALE-Sim's count: adds rows + cols per os fold
    "dram_ifmap_reads",
    "dram_filter_reads",
    "dram_ofmap_writes",
    "macs",
)
_STALL = len(_COUNTS)
_KNOBS: tuple[str, ...] = tuple(DEFAULTS)
_NUMERIC: tuple[str, ...] = ("rows", "cols", *_KNOBS)
#: Values computed for infeasible rows (a 1x1 array, default knobs), then replaced by NaN.
_STAND_INS = np.array([1.0, 1.0, *(float(DEFAULTS[k]) for k in _KNOBS)])
_DF_CODE: dict[str, int] = {d: i for i, d in enumerate(DATAFLOWS)}
_WORDS_PER_KB = 1024.0  # one byte per word


def _column(columns: dict[str, np.ndarray], key: str, n: int) -> np.ndarray:
    if key in columns:
        return np.asarray(columns[key])
    if key in DEFAULTS:
        return np.full(n, DEFAULTS[key], dtype=float)
    raise ConfigError(
        f"systolic-analytical: design parameter {key!r} is required; designs give {sorted(columns)}"
    )


def _layer_table(wl: Workload) -> dict[str, Any]:
    """Float per-layer arrays of ``wl`` and its mapped dims per dataflow (built once per
    workload, see :meth:`Workload.derived`)."""
    t: dict[str, Any] = {k: v.astype(float) for k, v in wl.as_arrays().items()}
    t["mk"] = t["m"] * t["k"]
    t["mnk"] = t["m"] * t["n"] * t["k"]
    t["mapped"] = [
        mapped_dims(t["m"], t["n"], t["k"], i == 0, i == 1) for i in range(len(DATAFLOWS))
    ]
    return t


def _energy_j(c: Any, e_ifm: Any, e_flt: Any, e_ofm: Any) -> Any:
    """Energy of counts ``c`` (rows of :data:`_COUNTS`, whole layers or whole workloads),
    given the SRAM energies per word of each design."""
    return (
        ENERGY_PJ["mac"] * c[7]
        + e_ifm * c[1]
        + e_flt * c[2]
        + e_ofm * c[3]
        + ENERGY_PJ["dram_word"] * (c[4] + c[5] + c[6])
    ) * 1e-12


class _Batch:
    """Checked designs (one entry per design, in the caller's order) and their per-layer
    counts, before the sums over layers."""

    rows: np.ndarray
    cols: np.ndarray
    code: np.ndarray  #: dataflow index in DATAFLOWS
    knobs: np.ndarray  #: (len(_KNOBS), n)
    all_feasible: bool
    inst: np.ndarray  #: (L,) instances of each layer
    block: np.ndarray  #: (len(_COUNTS) + 1, n, L): per-instance counts, then layer stalls
    util: np.ndarray | None  #: (2, n, L): compute and overall utilisation, if asked
    e_sram: np.ndarray  #: (3, n) pJ per word of the ifmap, filter, ofmap SRAMs
    area_mm2: np.ndarray

    def __init__(self, n: int) -> None:
        self.n = n
        self.feasible = np.ones(n, dtype=bool)
        self.reasons = [""] * n


class SystolicCostModel(CostModel):
    """Systolic array (rows x cols PEs, one dataflow) with three SRAMs and a DRAM link.

    Design columns: ``rows``, ``cols`` (PEs), ``dataflow`` (``"os"``, ``"ws"``, ``"is"``),
    and optionally ``ifmap_sram_kb``, ``filter_sram_kb``, ``ofmap_sram_kb`` (KiB),
    ``dram_bw_words`` (words/cycle) and ``clock_mhz`` (see :data:`DEFAULTS`).

    One design costs about as much as a few in a batch: per-workload tables (mapped GEMM
    dimensions per dataflow) are built once per workload, designs are grouped by dataflow so
    no branch of another dataflow is computed, and every count is summed over the layers in
    one matrix product.

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
        b = self._evaluate(columns, workload, detail=False)
        tot = b.block[:_STALL] @ b.inst  # (counts, n): every count summed over the layers
        stall = b.block[_STALL].sum(axis=-1)
        cycles = tot[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            metrics = {
                "latency_s": (cycles + stall) / (b.knobs[4] * 1e6),
                "cycles": cycles,
                "stall_cycles": stall,
                "utilization": tot[7] / (cycles * (b.rows * b.cols)),
                "sram_read_words": tot[1] + tot[2],
                "sram_write_words": tot[3],
                "sram_ifmap_read_words": tot[1],
                "sram_filter_read_words": tot[2],
                "dram_read_words": tot[4] + tot[5],
                "dram_write_words": tot[6],
                "energy_j": _energy_j(tot, *b.e_sram),
                "area_mm2": b.area_mm2,
            }
        if not b.all_feasible:
            for k in metrics:
                metrics[k] = np.where(b.feasible, metrics[k], np.nan)
        return Evaluations(metrics=metrics, feasible=b.feasible, reasons=b.reasons)

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
        b = self._evaluate(columns, workload, detail=True)
        assert b.util is not None  # asked for with detail=True
        whole = b.block[:_STALL] * b.inst  # every instance of each layer
        e_sram = [e[:, None] for e in b.e_sram]
        per = {
            "cycles": whole[0],
            "stall_cycles": b.block[_STALL],
            "compute_util": b.util[0],
            "overall_util": b.util[1],
            **{k: whole[i] for i, k in enumerate(_COUNTS) if 0 < i < 7},
            "macs": whole[7],
            "energy_j": _energy_j(whole, *e_sram),
        }
        return {k: np.where(b.feasible[:, None], v, np.nan) for k, v in per.items()}

    def _evaluate(self, columns: dict[str, np.ndarray], workload: Any, detail: bool) -> _Batch:
        wl = as_workload(workload, "systolic-analytical")
        t = wl.derived("systolic-analytical", _layer_table)
        b = self._check(columns)
        n, n_layers = b.n, len(t["m"])
        b.inst = t["instances"]
        b.block = np.empty((_STALL + 1, n, n_layers))
        util = np.empty((2, n, n_layers)) if detail else None
        # Sort by dataflow: each dataflow's designs are then one slice, computed without the
        # other dataflows' branches (a lone design is a slice of one).
        order = None
        code, rows, cols, knobs = b.code, b.rows, b.cols, b.knobs
        if n > 1 and (code[1:] != code[:-1]).any():
            order = np.argsort(code, kind="stable")
            code, rows, cols, knobs = code[order], rows[order], cols[order], knobs[:, order]
        bounds = np.flatnonzero(np.diff(code)) + 1 if n > 1 else ()
        start = 0
        for stop in [*bounds, n]:
            part = slice(start, stop)
            self._counts(
                int(code[start]),
                rows[part, None],
                cols[part, None],
                knobs[:, part],
                t,
                b.block[:, part],
                util[:, part] if util is not None else None,
            )
            start = stop
        if order is not None:  # back to the caller's order
            inverse = np.argsort(order)
            b.block = b.block[:, inverse]
            util = util[:, inverse] if util is not None else None
        b.util = util
        b.e_sram = ENERGY_PJ["sram_word_8kb"] * np.sqrt(b.knobs[:3] / 8.0)
        sram_kb = b.knobs[0] + b.knobs[1] + b.knobs[2]
        b.area_mm2 = (b.rows * b.cols * AREA_UM2["pe"] + sram_kb * AREA_UM2["sram_kb"]) * 1e-6
        return b

    def _check(self, columns: dict[str, np.ndarray]) -> _Batch:
        """Design columns as float arrays, with feasibility and reasons; infeasible rows get
        safe stand-ins (a 1x1 os array, default knobs) so the arithmetic stays finite."""
        n = len(next(iter(columns.values()))) if columns else 0
        b = _Batch(n)
        # rows, cols, then the knobs: one float block, one test of "> 0" for all of them
        vals = np.array([_column(columns, k, n) for k in _NUMERIC], dtype=float)
        df = np.asarray(_column(columns, "dataflow", n)).astype(str).tolist()
        code = np.fromiter((_DF_CODE.get(x, -1) for x in df), dtype=np.int64, count=n)
        bad_each = ~(vals > 0)
        rc = vals[:2]  # rows and cols: positive integers (NaN != NaN; inf is none)
        bad_each[:2] |= (rc != np.floor(rc)) | np.isinf(rc)
        bad = bad_each.any(axis=0) | (code < 0)
        b.all_feasible = not bad.any()
        if not b.all_feasible:
            checks = [
                (bad_each[0], "rows must be a positive integer"),
                (bad_each[1], "cols must be a positive integer"),
                (code < 0, f"dataflow must be one of {list(DATAFLOWS)}"),
                *((bad_each[2 + i], f"{k} must be > 0") for i, k in enumerate(_KNOBS)),
            ]
            for i in np.flatnonzero(bad).tolist():
                b.reasons[i] = "; ".join(
                    f"{msg} (got {_value(columns, msg, i)})" for mask, msg in checks if mask[i]
                )
            b.feasible = ~bad
            vals = np.where(bad, _STAND_INS[:, None], vals)
            code = np.where(bad, 0, code)
        rc, knobs = vals[:2], vals[2:]
        b.rows, b.cols, b.code, b.knobs = rc[0], rc[1], code, knobs
        return b

    def _counts(
        self,
        df: int,
        R: np.ndarray,
        C: np.ndarray,
        knobs: np.ndarray,
        t: dict[str, Any],
        out: np.ndarray,
        util: np.ndarray | None,
    ) -> None:
        """Per-layer counts of designs sharing dataflow ``df``: fills ``out`` (rows
        :data:`_COUNTS` of one instance, then the layer's stall cycles) and, if given,
        ``util`` (compute and overall utilisation). ``R``, ``C`` are ``(g, 1)``."""
        is_os, is_ws = df == 0, df == 1
        inst = t["instances"]
        sr, sc, T = t["mapped"][df]
        rf, cf, cycles1 = fold_cycles(sr, sc, T, R, C, short_fill=is_os)
        MK, KN, MN = t["mk"], t["filter_words"], t["ofmap_words"]
        if is_os:
            ifm_rd, flt_rd, ofm_real = MK * cf, KN * rf, MN
            ofm_wr = MN + rf * cf * (R + C)
        else:
            ifm_rd = MK * cf if is_ws else MK
            flt_rd = KN if is_ws else KN * cf
            ofm_wr = ofm_real = MN * rf
        ifm_dram = np.where(
            t["ifmap_words"] <= knobs[0][:, None] * _WORDS_PER_KB, t["ifmap_words"], ifm_rd
        )
        flt_dram = np.where(KN <= knobs[1][:, None] * _WORDS_PER_KB, KN, flt_rd)
        for i, x in enumerate(
            (cycles1, ifm_rd, flt_rd, ofm_wr, ifm_dram, flt_dram, ofm_real, t["mnk"])
        ):
            out[i] = x
        if self.bandwidth_mode == "limited":
            dram_total = (ifm_dram + flt_dram + ofm_real) * inst
            mem_cycles = np.ceil(dram_total / knobs[3][:, None])
            out[_STALL] = np.maximum(mem_cycles - cycles1 * inst, 0)
        else:
            out[_STALL] = 0.0
        if util is not None:
            fill = T + R + C - 2 if is_os else T + 2 * R + 2 * C - 3
            util[0] = t["mnk"] / (R * C * (rf * cf) * fill)
            util[1] = t["mnk"] / (cycles1 * R * C)


def _value(columns: dict[str, np.ndarray], msg: str, i: int) -> Any:
    key = msg.split(" ", 1)[0]
    return columns[key][i] if key in columns else DEFAULTS.get(key)


register_cost_model("systolic-analytical", SystolicCostModel, SystolicCostModel.description)
