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

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from archgym._kernels import Tiered, lone_reader
from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.systolic import _kernel
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


_KNOBS: tuple[str, ...] = tuple(DEFAULTS)
#: The numeric design columns, in the order of the kernels' design block.
_NUMERIC: tuple[str, ...] = ("rows", "cols", *_KNOBS)
#: The checks of a design, in the order of the kernels' check bits (and of the reasons).
_CHECKS: tuple[str, ...] = (
    "rows must be a positive integer",
    "cols must be a positive integer",
    f"dataflow must be one of {list(DATAFLOWS)}",
    *(f"{k} must be > 0" for k in _KNOBS),
)
#: The design columns in the order of the kernels' design block (a code for the last).
_BLOCK_KEYS: tuple[str, ...] = (*_NUMERIC, "dataflow")
#: 1-element arrays of the defaults, ``None`` for a required column (a lone design's row).
_LONE_DEFAULTS = tuple(np.array([DEFAULTS[k]]) if k in DEFAULTS else None for k in _BLOCK_KEYS)
_item: Callable[[Any], Any] = np.ndarray.item
_DF_CODE: dict[str, int] = {d: i for i, d in enumerate(DATAFLOWS)}
#: What no caller passes as a workload: the models' last workload before their first call
#: (``None`` would match a call without one, which must be refused).
_NO_WORKLOAD = object()
#: Energy (pJ) and area (um^2) constants as the kernels take them.
_CONSTANTS = np.array(
    [
        ENERGY_PJ["mac"],
        ENERGY_PJ["sram_word_8kb"],
        ENERGY_PJ["dram_word"],
        AREA_UM2["pe"],
        AREA_UM2["sram_kb"],
    ]
)
_METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in _METRICS)
#: Keys of :meth:`SystolicCostModel.evaluate_layers`, in the per-layer kernel's row order.
_LAYER_KEYS: tuple[str, ...] = (
    "cycles",
    "stall_cycles",
    "compute_util",
    "overall_util",
    "sram_ifmap_reads",
    "sram_filter_reads",
    "sram_ofmap_writes",
    "dram_ifmap_reads",
    "dram_filter_reads",
    "dram_ofmap_writes",
    "macs",
    "energy_j",
)
_TOTALS = Tiered("archgym.envs.systolic._kernel", "totals")
_ONE = Tiered("archgym.envs.systolic._kernel", "one", _kernel.ONE_SIGNATURE)
_PER_LAYER = Tiered("archgym.envs.systolic._kernel", "per_layer")


def _layer_table(wl: Workload) -> np.ndarray:
    """The kernels' per-layer table of ``wl`` (built once per workload, see
    :meth:`Workload.derived`)."""
    return _kernel.layer_table(**wl.as_arrays())


#: A lone design's :data:`_NUMERIC` values as Python numbers (defaults for the knobs it leaves
#: out), or ``None`` (a batch, list columns, rows or cols left out): :func:`_kernel.one`'s.
_lone_numbers = lone_reader(_NUMERIC, _LONE_DEFAULTS, len(_BLOCK_KEYS))


def _lone_failure(columns: dict[str, np.ndarray], bits: int) -> Evaluations:
    """The result of a lone design that fails the checks ``bits`` (as :func:`_kernel.one`
    returned them), with the reasons the block path gives it."""
    out = np.full((_kernel.N_TOTALS, 1), np.nan)
    reasons = [_words(columns, bits, 0)]
    return Evaluations.from_block(_METRIC_NAMES, out, np.zeros(1, np.bool_), reasons, False)


def _design_block(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The kernels' design block ``(8, n)``, flattened, of the design columns: the
    :data:`_NUMERIC` values (defaults fill the knobs a design leaves out), then the dataflow
    code (-1 for an unknown dataflow)."""
    try:  # a lone design of 1-element arrays (the env's, designs_to_columns'): one numpy call
        vals = list(map(_item, map(columns.get, _BLOCK_KEYS, _LONE_DEFAULTS))) if columns else None
    except (TypeError, ValueError):  # a required column left out, list columns, a batch
        pass
    else:
        if vals is not None:
            vals[-1] = _df_code(vals[-1])
            return np.array(vals, dtype=float)
    if not columns:
        return np.empty(0)
    n = len(next(iter(columns.values())))
    if n == 1:  # list columns, or a required column left out (the error names it)
        vals = [_scalar(columns, k) for k in _NUMERIC]
        vals.append(_df_code(_scalar(columns, "dataflow")))
        return np.array(vals, dtype=float)
    numeric = [_column(columns, k, n) for k in _NUMERIC]
    df = np.asarray(_column(columns, "dataflow", n)).astype(str)
    code = np.full(n, -1.0)
    for i, name in enumerate(DATAFLOWS):
        code[df == name] = i
    return np.array([*numeric, code], dtype=float).ravel()


def _df_code(x: Any) -> int:
    """The dataflow code of a lone design's dataflow (-1: unknown); bytes (a numpy ``S``
    column's item) are read as text, as the batch path's ``astype(str)`` reads them."""
    return _DF_CODE.get(x.decode(errors="replace") if type(x) is bytes else str(x), -1)


def _scalar(columns: dict[str, np.ndarray], key: str) -> Any:
    """The value of ``key`` of a lone design (its default if left out)."""
    col = columns.get(key)
    if type(col) is np.ndarray:
        return col.item()  # a Python scalar: numpy converts it faster than a numpy scalar
    return col[0] if col is not None else _column(columns, key, 1)[0]


def _reasons(columns: dict[str, np.ndarray], block: np.ndarray, feasible: np.ndarray) -> list[str]:
    """One reason per design from the kernels' check bits (``""`` for a buildable design)."""
    reasons = [""] * len(feasible)
    for i in np.flatnonzero(~feasible).tolist():
        with np.errstate(all="ignore"):  # NaN and inf sizes, run as Python
            bits = _kernel.check_bits(block, i)
        reasons[i] = _words(columns, bits, i)
    return reasons


def _words(columns: dict[str, np.ndarray], bits: int, i: int) -> str:
    """The reason of design ``i``, which fails the checks ``bits``."""
    return "; ".join(
        f"{msg} (got {_value(columns, msg, i)})" for q, msg in enumerate(_CHECKS) if bits >> q & 1
    )


def _column(columns: dict[str, np.ndarray], key: str, n: int) -> np.ndarray:
    col = columns.get(key)
    if col is not None:
        return col
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

    One kernel (:mod:`archgym.envs.systolic._kernel`, compiled by numba once the work pays
    for it, see :mod:`archgym._kernels`) loops over designs x layers for a batch and for a
    lone design alike, over a per-workload table built once per workload (mapped GEMM
    dimensions per dataflow).

    Args:
        bandwidth_mode: ``"limited"`` (default) adds DRAM stall cycles to the latency;
            ``"ideal"`` reproduces SCALE-Sim's stall-free CALC mode.
    """

    design_params = frozenset({"rows", "cols", "dataflow", *DEFAULTS})
    name: ClassVar[str] = "systolic-analytical"
    version: ClassVar[str] = "1"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = "Closed-form SCALE-Sim 3.0 (os/ws/is) systolic-array model"
    #: The last :class:`Workload` evaluated and its kernel table (a lone design's call
    #: skips two lookups).
    _last_workload: tuple[Any, Any] = (_NO_WORKLOAD, None)

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
        """Whole-workload metrics, one row per design (sums over layers).

        A lone design (1-element columns) goes into the kernel as numbers and comes back as
        a tuple of floats (:func:`_kernel.one`, :meth:`Evaluations.from_floats`); a batch,
        and a lone design that fails a check, as arrays (:func:`_kernel.totals`). Both run
        the same arithmetic (``tests/test_kernels.py``, ``tests/test_systolic_kernel.py``)."""
        last = self._last_workload
        if last[0] is workload:  # the workload of the last call (an env's, every step)
            table = last[1]
        else:
            table = as_workload(workload, "systolic-analytical").derived(
                "systolic-analytical", _layer_table
            )
            if type(workload) is Workload:  # immutable: its table never changes
                self._last_workload = (workload, table)
        limited = self.bandwidth_mode == "limited"  # read at every call, as describe() does
        nums = _lone_numbers(columns)
        if nums is not None:
            try:  # the entry, once compiled: one attribute read instead of a call
                df = _item(columns["dataflow"])
                code = _DF_CODE.get(df, -1)
                res = (_ONE.entry or _ONE.exact(len(table)))(nums, code, table, limited, _CONSTANTS)
            except (KeyError, TypeError, ValueError):  # no dataflow, a value not a number
                res = None
            if res is not None:
                if res[0] == res[0]:  # feasible: its latency is a number
                    # a tuple of 12 floats, made by the kernel: unchecked
                    return Evaluations.from_floats(_METRIC_NAMES, res, False)
                if type(df) is str and res[12] > 0:  # check bits; a str dataflow, not bytes
                    return _lone_failure(columns, int(res[12]))
        vals = _design_block(columns)
        n = vals.shape[0] // _kernel.N_DESIGN
        out = np.empty((_kernel.N_TOTALS, n))
        feasible = np.empty(n, np.bool_)  # positional dtype: a lone call counts 0.03 us
        # every argument is built here, with fixed types: the compiled entry is called as is
        n_bad = _TOTALS.exact(n * len(table))(vals, table, limited, _CONSTANTS, out, feasible)
        reasons = _reasons(columns, vals, feasible) if n_bad else [""] * n
        # `out` and `feasible` were allocated above with the shapes from_block checks
        return Evaluations.from_block(_METRIC_NAMES, out, feasible, reasons, False)  # unchecked

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
        wl = as_workload(workload, "systolic-analytical")
        table = wl.derived("systolic-analytical", _layer_table)
        vals = _design_block(columns)
        per_layer = _PER_LAYER.pick(vals.shape[0] // _kernel.N_DESIGN * len(table))
        out, _ = per_layer(vals, table, self.bandwidth_mode == "limited", _CONSTANTS)
        return dict(zip(_LAYER_KEYS, out, strict=True))


def _value(columns: dict[str, np.ndarray], msg: str, i: int) -> Any:
    key = msg.split(" ", 1)[0]
    return columns[key][i] if key in columns else DEFAULTS.get(key)


register_cost_model("systolic-analytical", SystolicCostModel, SystolicCostModel.description)
