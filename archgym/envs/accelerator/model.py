"""Analytical DNN-accelerator model: PE array + per-PE register files + banked global buffer
+ NoC + DRAM, vectorised over (design x layer).

``AcceleratorCostModel`` evaluates many designs on a workload (``archgym.workloads``) in one
numpy pass. Each layer is an im2col GEMM ``(M x K) @ (K x N)`` run ``groups * repeat`` times.

Compute (stall-free) -- identical to SCALE-Sim 3.0.0 and to
:class:`~archgym.envs.systolic.model.SystolicCostModel` for ``os``/``ws``/``is``::

    dataflow  Sr (array rows)   Sc (array cols)   T (time)           fill
    os        M                 N                 K                  R + C - 2
    ws        K                 N                 M                  2R + C - 2
    is        K                 M                 N                  2R + C - 2
    rs        fh * C/groups     ofmap_h           ofmap_w * fw * N   R + C - 2

``cycles = ceil(Sr/R) * ceil(Sc/C) * (T + fill) - 1``. Row-stationary (Eyeriss) maps filter
rows x channels on the array rows and ofmap rows on its columns; each PE runs 1-D
convolutions and keeps ``p = (rf_words - fw) // (fw + 1)`` filter rows in its register file,
so the ifmap is streamed ``ceil(N/p)`` times (GEMM layers use the ``is`` mapping).

Array traffic (global buffer <-> PEs over the NoC, in words) is SCALE-Sim's SRAM count for
``os``/``ws``/``is`` (``sram_read_words``, ``sram_write_words`` equal its DETAILED_ACCESS_REPORT).

Global buffer and DRAM: the whole layer stays on chip if its ifmap, weights and outputs fit in
the buffer; otherwise half the buffer holds a resident tile and half streams (double
buffering), and the cheapest of three tilings is used -- weight tiles (ifmap re-read
``ceil(N/n_t)`` times), ifmap tiles (weights re-read ``ceil(M/m_t)`` times), or square output
tiles (both re-read). A buffer that cannot hold one array tile double-buffered
(``2 * (R*C + R + C)`` words) is infeasible.

Partial sums of ``ws``/``is``/``rs`` are reduced across row folds in the buffer: ``(rfold-1)``
partial sums per output are written and read back at ``psum_bits`` (a design column; 0 means
:data:`~archgym.envs.accelerator.tables.PSUM_BITS`: 16 for int8, 8 for int4, 32 for fp16).

DRAM traffic is per operand (ifmap at its real size: a k x k convolution's windows are formed
on chip, not im2col-expanded off chip). Latency (``bandwidth_mode="limited"``): transfers
overlap compute (double buffering) and each operand has its own DRAM port of ``dram_bw_bytes``
per cycle (SCALE-Sim's organisation: one read buffer per operand and an ofmap write buffer), so
a layer takes ``max(compute + edge, max(operand DRAM bytes) / dram_bw_bytes, NoC bytes /
min(noc_bw_bytes, gbuf_banks * 16 B))`` cycles, where ``edge`` is what double buffering cannot
hide: loading the first stationary tile and draining the last output block
(:func:`edge_words`), once per layer; the excess over compute is ``stall_cycles``. An array
built otherwise (:class:`ArrayWiring`: wired to given loops, fold-overlapped, one shared DRAM
port, e.g. a ZigZag architecture) is a constructor argument. ``"ideal"``
gives no stalls. ``"scalesim"`` follows SCALE-Sim 3.0.0's USER-bandwidth convention instead
(see :func:`_scalesim_user_cycles`), to compare with that simulator.

Energy per level (J): ``energy_mac_j`` (one MAC per MAC); ``energy_rf_j`` by stationarity: the
stationary operand (``ws`` weights, ``is`` inputs) is written and read once per word delivered
to the array, a streamed input once per MAC, the partial sum read and written once per MAC at
``psum_bits``; ``energy_noc_j`` (array traffic); ``energy_buffer_j`` (array reads, output and
partial-sum writes/reads, DRAM fills and drains); ``energy_dram_j``. Per-access energies per
byte come from :mod:`archgym.envs.accelerator.tables`, or per operand and direction from an
``energy_pj`` table (:data:`~archgym.envs.accelerator.tables.ENERGY_KEYS`), e.g. one imported
from a peer simulator by :mod:`archgym.envs.accelerator.peers`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from archgym._kernels import Tiered, lone_reader
from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.accelerator import _kernel
from archgym.envs.accelerator import tables as tb
from archgym.envs.systolic.timing import fold_cycles
from archgym.errors import ConfigError
from archgym.registry import register_cost_model
from archgym.workloads import Workload
from archgym.workloads import as_workload as _as_workload

__all__ = [
    "AcceleratorCostModel",
    "ArrayWiring",
    "SYSTOLIC",
    "DATAFLOWS",
    "DEFAULTS",
    "as_workload",
    "edge_words",
    "layer_arrays",
]

DATAFLOWS: tuple[str, ...] = ("os", "ws", "is", "rs")

#: Values for design parameters a design leaves out.
DEFAULTS: dict[str, Any] = {
    "rows": 16,
    "cols": 16,
    "rf_bytes": 64,
    "gbuf_kb": 256,
    "gbuf_banks": 4,
    "noc_bw_bytes": 1.0e12,
    "dram_bw_bytes": 16.0,
    "dataflow": "ws",
    "precision": "int8",
    "tech_nm": 45,
    "clock_mhz": 1000.0,
    "psum_bits": 0,
}
#: The numeric design parameters of the accelerator (the rest are categorical codes).
NUMERIC_PARAMS = (
    "rows",
    "cols",
    "rf_bytes",
    "gbuf_kb",
    "gbuf_banks",
    "noc_bw_bytes",
    "dram_bw_bytes",
    "tech_nm",
    "clock_mhz",
    "psum_bits",
)

LEVELS: tuple[str, ...] = ("mac", "rf", "noc", "buffer", "dram")
BANDWIDTH_MODES: tuple[str, ...] = ("limited", "ideal", "scalesim")
_LAYER_ONLY = ("sram_ifmap_read_words", "sram_filter_read_words")
#: The design checks, in the order of the reasons (and of the kernel's check bits).
_CHECK_MESSAGES: tuple[str, ...] = (
    *(f"{k} must be a positive integer" for k in ("rows", "cols", "gbuf_banks")),
    *(
        f"{k} must be > 0"
        for k in ("rf_bytes", "gbuf_kb", "noc_bw_bytes", "dram_bw_bytes", "tech_nm", "clock_mhz")
    ),
    "psum_bits must be >= 0 (0: the precision's default)",
    f"dataflow must be one of {list(DATAFLOWS)}",
    f"precision must be one of {list(tb.PRECISIONS)}",
    "gbuf_kb must hold one array tile double-buffered, "
    "2*(rows*cols+rows+cols) words; raise gbuf_kb or shrink the array",
)
_DF_CODE: dict[str, int] = {x: i for i, x in enumerate(DATAFLOWS)}
#: What no caller passes as a workload: the model's last workload before its first call
#: (``None`` would match a call without one, which must be refused).
_NO_WORKLOAD = object()
_PREC_CODE: dict[str, int] = {x: i for i, x in enumerate(tb.PRECISIONS)}
_TOTALS = Tiered("archgym.envs.accelerator._kernel", "totals")
_ONE = Tiered("archgym.envs.accelerator._kernel", "one", _kernel.ONE_SIGNATURE)
_CONSTANTS = _kernel.constants()


_METRICS = (
    Metric("latency_s", "s", "min", "Run time of the workload, stalls included"),
    Metric("cycles", "cycles", "min", "Clock cycles, stalls included"),
    Metric("compute_cycles", "cycles", "min", "Stall-free cycles (SCALE-Sim 'Total Cycles')"),
    Metric("stall_cycles", "cycles", "min", "Cycles lost to DRAM/NoC bandwidth"),
    Metric("energy_j", "J", "min", "Total energy (sum of the five levels)"),
    Metric("energy_mac_j", "J", "min", "MAC energy"),
    Metric("energy_rf_j", "J", "min", "PE register-file energy"),
    Metric("energy_noc_j", "J", "min", "Array NoC energy (buffer <-> PEs)"),
    Metric("energy_buffer_j", "J", "min", "Global-buffer energy"),
    Metric("energy_dram_j", "J", "min", "DRAM energy"),
    Metric("area_mm2", "mm^2", "min", "PE array + register files + global buffer"),
    Metric("power_w", "W", "min", "Average power, energy / latency"),
    Metric("utilization", "", "max", "MACs / (cycles * rows * cols)"),
    Metric("dram_bytes", "B", "min", "DRAM traffic"),
    Metric("sram_read_words", "words", "min", "Global-buffer reads by the array"),
    Metric("sram_write_words", "words", "min", "Global-buffer writes by the array"),
)
_METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in _METRICS)


def as_workload(workload: Any) -> Workload:
    """A :class:`Workload` from a workload, a name or a single :class:`Layer`."""
    return _as_workload(workload, "accelerator")


_LAYER_CACHE: dict[int, tuple[Workload, dict[str, np.ndarray]]] = {}


def layer_arrays(wl: Workload) -> dict[str, np.ndarray]:
    """Per-layer float arrays of shape ``(1, L)`` (cached per workload object)."""
    hit = _LAYER_CACHE.get(id(wl))
    if hit is not None and hit[0] is wl:
        return hit[1]
    a = {k: v.astype(float)[None, :] for k, v in wl.as_arrays().items()}
    ls = wl.layers
    a["fh"] = np.array([[x.filter_h for x in ls]], dtype=float)
    a["fw"] = np.array([[x.filter_w for x in ls]], dtype=float)
    a["oh"] = np.array([[x.ofmap_h for x in ls]], dtype=float)
    a["cg"] = np.array([[x.channels // x.groups for x in ls]], dtype=float)
    a["is_gemm"] = np.array([[x.kind == "gemm" for x in ls]])
    a["stride"] = np.array([[x.stride for x in ls]], dtype=float)
    # Input words the layer reads: only pixels some window touches (a 1x1 stride-2 conv reads
    # a quarter of its ifmap; whole C-vectors of skipped pixels are never fetched).
    a["ifmap_words"] = np.array(
        [
            [
                min(x.ifmap_h, x.ofmap_h * x.filter_h)
                * min(x.ifmap_w, x.ofmap_w * x.filter_w)
                * (x.channels // x.groups)
                for x in ls
            ]
        ],
        dtype=float,
    )
    if len(_LAYER_CACHE) > 64:
        _LAYER_CACHE.clear()
    _LAYER_CACHE[id(wl)] = (wl, a)
    return a


@dataclass(frozen=True)
class ArrayWiring:
    """How a PE array is built, beyond its design columns (a peer's hardware, e.g. one
    imported by :func:`archgym.envs.accelerator.from_zigzag`).

    Attributes:
        spatial_unroll: The loops each array dimension is wired to, ``{loop: factor}`` with
            loops ``C``, ``FX``, ``FY`` (reduction), ``K`` (filters), ``OX``, ``OY``, ``B``
            (output pixels); a loop not listed runs in time. ``None`` (default): any loop of
            the dimension's role (the im2col GEMM), so a row fold covers ``rows`` of the
            flattened ``C * FY * FX`` reduction. Wired to ``C`` only, a 3-channel layer uses 3
            rows and runs ``FY * FX`` times longer; wired to ``OX 8, OY 4``, a 7 x 7 output
            uses 7 x 4 then 7 x 3 columns.
        fold_overlap: The next fold's stationary values load under the current fold (a
            second register set), so the pipeline fills once per layer instead of per fold.
        dram_ports: ``"per_operand"`` (SCALE-Sim: one read port per input operand and one
            write port) or ``"shared"`` (one port for all operands, e.g. ZigZag's `dram`).
        hierarchy: The peer's memories level by level
            (:class:`~archgym.envs.accelerator.loopnest.Hierarchy`), or ``None`` (default: one
            global buffer). Given, the buffer energy is that of its shared on-chip levels
            under a loop nest searched as ZigZag's LOMA does
            (:func:`~archgym.envs.accelerator.loopnest.level_energy_pj`): each level is read
            and written as often as the loop order above it refills it, e.g. a 1 KB weight
            buffer refilled from a 1 MB level once per output tile. The levels are the
            peer's own: the design's ``gbuf_kb`` does not resize them.
    """

    spatial_unroll: Mapping[str, int] | None = None
    fold_overlap: bool = False
    dram_ports: str = "per_operand"
    hierarchy: Any = None

    def describe(self) -> dict[str, Any]:
        """The wiring as a manifest records it (the hierarchy by its level names)."""
        out: dict[str, Any] = {
            "spatial_unroll": dict(self.spatial_unroll or {}),
            "fold_overlap": self.fold_overlap,
            "dram_ports": self.dram_ports,
        }
        if self.hierarchy is not None:
            out["hierarchy"] = [lv.name for lv in self.hierarchy.levels]
        return out

    def __post_init__(self) -> None:
        if self.dram_ports not in ("per_operand", "shared"):
            raise ConfigError(
                f"dram_ports must be 'per_operand' or 'shared', but got {self.dram_ports!r}"
            )
        for loop, f in (self.spatial_unroll or {}).items():
            if loop not in _LOOP_ROLE or not int(f) >= 1:
                raise ConfigError(
                    f"spatial_unroll: {loop}={f!r}; loops are {sorted(_LOOP_ROLE)} with "
                    "factors >= 1"
                )


#: The default: a systolic array that takes any loop of a role, fills per fold, SCALE-Sim ports.
SYSTOLIC = ArrayWiring()
#: Loop -> its role in the im2col GEMM (m: output pixels, n: filters, k: reduction).
_LOOP_ROLE = {"OX": "m", "OY": "m", "B": "m", "K": "n", "C": "k", "FX": "k", "FY": "k"}


def _wired_dims(
    unroll: Mapping[str, int],
    a: dict[str, np.ndarray],
    d: dict[str, np.ndarray],
    M: np.ndarray,
    N: np.ndarray,
    K: np.ndarray,
    rs_r: np.ndarray,
    rs_c: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(Sr, Sc, T)`` of an array wired to ``unroll``'s loops: ``folds * rows`` where a role's
    folds are the product over its loops of ``ceil(loop / factor)`` (ZigZag's temporal loop
    count of a spatially unrolled loop), so :func:`fold_cycles` counts those folds."""
    gemm = a["is_gemm"]
    ow = np.where(gemm, 1.0, M / np.where(gemm, 1.0, a["oh"]))
    size = {
        "OX": ow,
        "OY": np.where(gemm, 1.0, a["oh"]),
        "B": np.where(gemm, M, 1.0),
        "K": N,
        "C": np.where(gemm, K, a["cg"]),
        "FX": np.where(gemm, 1.0, a["fw"]),
        "FY": np.where(gemm, 1.0, a["fh"]),
    }
    folds: dict[str, Any] = {"m": 1.0, "n": 1.0, "k": 1.0}
    for loop, role in _LOOP_ROLE.items():
        folds[role] = folds[role] * np.ceil(size[loop] / float(unroll.get(loop, 1)))
    R, C = d["rows"][:, None], d["cols"][:, None]
    df = d["df"][:, None]
    rows = np.where(df == 0, folds["m"], folds["k"])
    cols = np.where(df == 2, folds["m"], folds["n"])
    Sr = np.where(df == 3, rs_r, rows * R)
    Sc = np.where(df == 3, rs_c, cols * C)
    T = np.where(df == 3, M * N * K / (rs_r * rs_c), np.where(df == 0, K, np.where(df == 1, M, N)))
    return Sr, Sc, T


def psum_bytes(psum_bits: np.ndarray, prec: np.ndarray) -> np.ndarray:
    """Partial-sum width in bytes: ``psum_bits / 8``, or where ``psum_bits`` is 0 the default
    of :data:`archgym.envs.accelerator.tables.PSUM_BITS` for the precision code ``prec``."""
    auto = np.array([tb.PSUM_BITS[p] for p in tb.PRECISIONS], dtype=float)[np.maximum(prec, 0)]
    return np.where(psum_bits > 0, psum_bits, auto) / 8.0


def _codes(col: Any, choices: tuple[str, ...], n: int) -> np.ndarray:
    arr = np.asarray(col)
    code = np.full(n, -1, dtype=np.int64)
    for i, c in enumerate(choices):
        code[arr == c] = i
    return code


class AcceleratorCostModel(CostModel):
    """DNN accelerator: ``rows x cols`` PEs with register files, a banked global buffer, a
    NoC and a DRAM link; dataflows ``os``/``ws``/``is``/``rs``; int8/int4/fp16 MACs.

    Design columns (defaults in :data:`DEFAULTS`): ``rows``, ``cols``, ``rf_bytes`` (per PE),
    ``gbuf_kb``, ``gbuf_banks``, ``noc_bw_bytes`` and ``dram_bw_bytes`` (bytes/cycle),
    ``dataflow``, ``precision``, ``tech_nm``, ``clock_mhz``.

    Args:
        bandwidth_mode: ``"limited"`` adds DRAM/NoC stalls; ``"ideal"`` is SCALE-Sim's CALC;
            ``"scalesim"`` reproduces SCALE-Sim 3.0.0's USER-bandwidth convention (see
            :func:`layer_costs`); it reads optional ``ifmap_sram_kb``, ``filter_sram_kb``,
            ``ofmap_sram_kb`` columns, else splits ``gbuf_kb`` 3:3:1 like the SCALE-Sim backend.
        energy_pj: Override per-access energies at 45 nm, pJ per byte or per MAC (``"mac"``):
            any key of :data:`~archgym.envs.accelerator.tables.ENERGY_KEYS` or the shorthands
            ``"rf"``, ``"buffer"``, ``"dram"``; e.g. the table of a peer's hardware imported by
            :func:`archgym.envs.accelerator.from_zigzag`.
        array: How the array is built beyond its design columns (:class:`ArrayWiring`; the
            default :data:`SYSTOLIC` is SCALE-Sim's systolic array), e.g. a peer's.
    """

    design_params = frozenset(DEFAULTS) | {"ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb"}
    name: ClassVar[str] = "accelerator-analytical"
    version: ClassVar[str] = "3"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = "Vectorised PE-array/RF/buffer/NoC/DRAM model, energy by level"
    #: The last :class:`Workload` evaluated by the kernel, as given, and its table (a lone
    #: design's call skips two lookups).
    _last_workload: tuple[Any, Any, Any] = (_NO_WORKLOAD, None, None)

    def __init__(
        self,
        bandwidth_mode: str = "limited",
        energy_pj: Mapping[str, float] | None = None,
        array: ArrayWiring | None = None,
    ) -> None:
        if bandwidth_mode not in BANDWIDTH_MODES:
            raise ConfigError(
                f"bandwidth_mode must be one of {list(BANDWIDTH_MODES)}, but got {bandwidth_mode!r}"
            )
        tb.expand_energy_keys(energy_pj or {})  # raises ConfigError naming unknown keys
        self.bandwidth_mode = bandwidth_mode
        self.energy_pj = dict(energy_pj or {})
        self.array = array or SYSTOLIC
        self._refresh()

    def _refresh(self) -> None:
        """Derive the evaluation path from ``bandwidth_mode``, ``array`` and ``energy_pj``,
        again whenever one of them was changed after construction (as they are read by the
        numpy path and reported by :meth:`describe`).

        The kernel serves the limited and ideal modes on an array that differs from the
        default at most in fold overlap and DRAM ports; the numpy layer_costs (its
        reference) the rest, including any wiring field the kernel does not know."""
        plain = replace(self.array, fold_overlap=False, dram_ports="per_operand") == SYSTOLIC
        self._use_kernel = self.bandwidth_mode != "scalesim" and plain
        #: The kernels' arguments after the table: modes, wiring, energies and constants.
        self._kernel_args = (
            self.bandwidth_mode == "limited",
            bool(self.array.fold_overlap),
            self.array.dram_ports == "shared",
            _kernel.energy_overrides(tb.expand_energy_keys(self.energy_pj)),
            *_CONSTANTS,
        )
        self._seen = (self.bandwidth_mode, self.array, dict(self.energy_pj))

    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests."""
        out = {
            **super().describe(),
            "bandwidth_mode": self.bandwidth_mode,
            "energy_pj": self.energy_pj,
        }
        if self.array != SYSTOLIC:
            out["array"] = self.array.describe()
        return out

    # -- public API ------------------------------------------------------------------------
    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Whole-workload metrics (sums over layers), one row per design.

        A lone design costs about as much as a few in a batch: one kernel
        (:mod:`archgym.envs.accelerator._kernel`, compiled by numba once the work pays for
        it, see :mod:`archgym._kernels`) loops over designs x layers for both, over a
        per-workload table built once. A lone design (1-element columns) goes in as numbers
        and comes back as a tuple of floats (:func:`_kernel.one`,
        :meth:`Evaluations.from_floats`); a batch, and a lone design the kernel cannot word
        the failure of, through :func:`_kernel.totals` (the same arithmetic,
        ``tests/test_kernels.py``). The ``"scalesim"`` mode and wired arrays run the numpy
        :func:`layer_costs`, which the kernel is tested against."""
        seen = self._seen
        if seen[1] is not self.array or seen[0] != self.bandwidth_mode or seen[2] != self.energy_pj:
            self._refresh()
        if not self._use_kernel:
            return self._evaluate_numpy(columns, workload)
        last = self._last_workload
        if last[0] is workload:  # the workload of the last call (an env's, every step)
            wl, table = last[1], last[2]
        else:
            wl = as_workload(workload)
            table = wl.derived("accelerator-analytical", _kernel_table)
            if type(workload) is Workload:  # immutable: its table never changes
                self._last_workload = (workload, wl, table)
        nums = _lone_numbers(columns)
        if nums is not None:  # a lone design: numbers in, a tuple of floats out
            try:  # the entry, once compiled: one attribute read instead of a call
                df = _item(columns.get("dataflow", _LONE_DATAFLOW))
                prec = _item(columns.get("precision", _LONE_PRECISION))
                codes = _DF_CODE.get(df, -1), _PREC_CODE.get(prec, -1)
                res = (_ONE.entry or _ONE.exact(len(table)))(
                    nums, *codes, table, *self._kernel_args
                )
            except (TypeError, ValueError):  # a value that is not a number, not one element
                res = None
            if res is not None:
                if res[0] == res[0]:  # feasible: its latency is a number (as a rule)
                    # a tuple of 16 floats, made by the kernel: unchecked
                    return Evaluations.from_floats(_METRIC_NAMES, res, False)
                if type(df) is str and type(prec) is str:  # read as the block path reads them
                    failed = _lone_failure(columns, nums, codes, int(res[16]), wl, table)
                    if failed is not None:
                        return failed
        return self._evaluate_kernel(columns, wl, table)

    def _evaluate_kernel(
        self, columns: dict[str, np.ndarray], wl: Workload, table: np.ndarray
    ) -> Evaluations:
        """:meth:`evaluate_columns` of a batch through :func:`_kernel.totals`."""
        ptab = _CONSTANTS[1]
        v = _design_block(columns)
        n = v.shape[0] // _kernel.N_DESIGN
        out = np.empty((_kernel.N_TOTALS, n))
        feasible = np.empty(n, np.bool_)  # positional dtype: a lone call counts 0.03 us
        # every argument is built here, with fixed types: the compiled entry is called as is
        n_bad = _TOTALS.exact(n * len(table))(v, table, *self._kernel_args, out, feasible)
        reasons = [""] * n
        if n_bad:
            for i in np.flatnonzero(~feasible).tolist():
                with np.errstate(all="ignore"):  # NaN and inf sizes, run as Python
                    failed = _kernel.failure(v, table, ptab, i)
                reasons[i] = _failure_reason(columns, i, wl, *failed)
        # `out` and `feasible` were allocated above with the shapes from_block checks
        return Evaluations.from_block(_METRIC_NAMES, out, feasible, reasons, False)  # unchecked

    def _evaluate_numpy(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """:meth:`evaluate_columns` through the numpy :func:`layer_costs`."""
        per, feasible, reasons, design = self._evaluate(columns, workload)
        tot = {k: v.sum(axis=1) for k, v in per.items() if k not in _LAYER_ONLY}
        clock_hz = design["clock_mhz"] * 1e6
        cycles = tot["cycles"]
        latency = cycles / clock_hz
        energy = {f"energy_{lv}_j": tot[f"energy_{lv}_j"] for lv in LEVELS}
        e_total = sum(energy.values())
        with np.errstate(divide="ignore", invalid="ignore"):
            metrics = {
                "latency_s": latency,
                "cycles": cycles,
                "compute_cycles": tot["compute_cycles"],
                "stall_cycles": tot["stall_cycles"],
                "energy_j": e_total,
                **energy,
                "area_mm2": design["area_mm2"],
                "power_w": e_total / latency,
                "utilization": tot["macs"] / (cycles * design["rows"] * design["cols"]),
                "dram_bytes": tot["dram_bytes"],
                "sram_read_words": tot["sram_read_words"],
                "sram_write_words": tot["sram_write_words"],
            }
        if not feasible.all():  # NaN for infeasible rows (none, for most lone designs)
            for k in metrics:
                metrics[k] = np.where(feasible, metrics[k], np.nan)
        return Evaluations(metrics=metrics, feasible=feasible, reasons=reasons)

    def evaluate_layers(
        self, columns: dict[str, np.ndarray], workload: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
        """Per-layer figures ``(n_designs, n_layers)`` (NaN where infeasible), feasibility
        and reasons. Keys: the ``_METRICS`` counts per layer plus ``macs`` and
        ``sram_ifmap_read_words``, ``sram_filter_read_words``."""
        per, feasible, reasons, _ = self._evaluate(columns, workload)
        ok = feasible[:, None]
        return {k: np.where(ok, v, np.nan) for k, v in per.items()}, feasible, reasons

    # -- the model -------------------------------------------------------------------------
    def _design(self, columns: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        d: dict[str, np.ndarray] = {}
        for key in NUMERIC_PARAMS:
            d[key] = (
                np.asarray(columns[key], dtype=float)
                if key in columns
                else np.full(n, float(DEFAULTS[key]))
            )
        d["df"] = _codes(columns.get("dataflow", np.full(n, DEFAULTS["dataflow"])), DATAFLOWS, n)
        d["prec"] = _codes(
            columns.get("precision", np.full(n, DEFAULTS["precision"])), tb.PRECISIONS, n
        )
        d["psum_bytes"] = psum_bytes(d["psum_bits"], d["prec"])
        if self.bandwidth_mode == "scalesim":
            split = {"ifmap": 3 / 7, "filter": 3 / 7, "ofmap": 1 / 7}
            for op, frac in split.items():
                key = f"{op}_sram_kb"
                d[key] = (
                    np.asarray(columns[key], dtype=float)
                    if key in columns
                    else np.maximum(np.floor(d["gbuf_kb"] * frac), 1)
                )
        return d

    def _evaluate(
        self, columns: dict[str, np.ndarray], workload: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], dict[str, np.ndarray]]:
        wl = as_workload(workload)
        n = len(next(iter(columns.values()))) if columns else 0
        d = self._design(columns, n)
        masks: list[np.ndarray] = []
        for key in ("rows", "cols", "gbuf_banks"):
            v = d[key]
            masks.append(~((v >= 1) & (v == np.floor(v))))
        for key in ("rf_bytes", "gbuf_kb", "noc_bw_bytes", "dram_bw_bytes", "tech_nm", "clock_mhz"):
            masks.append(~(d[key] > 0))
        masks.append(~(d["psum_bits"] >= 0))
        masks.append(d["df"] < 0)
        masks.append(d["prec"] < 0)
        wb_all = np.array([tb.WORD_BYTES[p] for p in tb.PRECISIONS])[np.maximum(d["prec"], 0)]
        tile_kb = 2 * (d["rows"] * d["cols"] + d["rows"] + d["cols"]) * wb_all / 1024
        masks.append(d["gbuf_kb"] < tile_kb)
        checks = list(zip(masks, _CHECK_MESSAGES, strict=True))
        feasible = np.ones(n, dtype=bool)
        for mask, _ in checks:
            feasible &= ~mask
        # Safe stand-ins for rows already infeasible, so the arithmetic stays finite.
        for key in NUMERIC_PARAMS:
            d[key] = np.where(feasible, d[key], float(DEFAULTS[key]))
        d["df"] = np.where(feasible, d["df"], 0)
        d["prec"] = np.where(feasible, d["prec"], 0)
        d["psum_bytes"] = psum_bytes(d["psum_bits"], d["prec"])

        wb = np.array([tb.WORD_BYTES[p] for p in tb.PRECISIONS])[d["prec"]]
        a = layer_arrays(wl)
        per, layer_bad = layer_costs(
            d, wb, a, self.bandwidth_mode, self.energy_pj, array=self.array
        )

        reasons = [""] * n
        for i in np.flatnonzero(~feasible):
            reasons[i] = "; ".join(
                f"{msg} (got {_shown(columns, msg, int(i))})" for mask, msg in checks if mask[i]
            )
        layer_infeasible = np.zeros(n, dtype=bool)
        for mask, msg in layer_bad:
            hit = mask.any(axis=1) & feasible & ~layer_infeasible
            for i in np.flatnonzero(hit):
                j = int(np.argmax(mask[i]))
                reasons[i] = f"layer {wl.layers[j].name!r}: {msg(i, j)}"
            layer_infeasible |= hit
        feasible &= ~layer_infeasible

        es, ar = tb.tech_scale(d["tech_nm"])
        R, C = d["rows"], d["cols"]
        mac_area = np.array([tb.MAC_AREA_UM2[p] for p in tb.PRECISIONS])[d["prec"]]
        gbuf_bytes = d["gbuf_kb"] * 1024.0
        area_um2 = R * C * (
            mac_area + d["rf_bytes"] * tb.RF_UM2_PER_BYTE
        ) + gbuf_bytes * tb.SRAM_UM2_PER_BYTE * (1 + tb.BANK_AREA_OVERHEAD * (d["gbuf_banks"] - 1))
        d["area_mm2"] = area_um2 * ar * 1e-6
        del es
        return per, feasible, reasons, d


def layer_costs(
    d: dict[str, np.ndarray],
    wb: np.ndarray,
    a: dict[str, np.ndarray],
    bandwidth_mode: str,
    energy_pj: Mapping[str, float],
    dram_bytes_override: Mapping[str, np.ndarray] | None = None,
    array: ArrayWiring | None = None,
) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, Any]]]:
    """Per-(design, layer) costs. ``d`` holds design columns of shape ``(n,)``; ``a`` layer
    arrays of shape ``(1, L)``. Returns ``(per, bad)`` where ``per`` maps names to ``(n, L)``
    arrays (whole layer, all instances) and ``bad`` lists ``(mask (n, L), message(i, j))`` of
    per-layer infeasibilities. ``dram_bytes_override`` (per instance) replaces the tiling
    estimate with per-operand bytes ``{"i", "w", "o"}`` (the Mapping env computes DRAM traffic
    from an explicit loop nest). ``array`` (default :data:`SYSTOLIC`) says how the array is
    wired (:class:`ArrayWiring`)."""
    array = array or SYSTOLIC
    R, C = d["rows"][:, None], d["cols"][:, None]
    df = d["df"][:, None]
    w = wb[:, None]
    M, N, K, inst = a["m"], a["n"], a["k"], a["instances"]
    ifw = a["ifmap_words"]
    mnk = M * N * K
    is_os, is_ws, is_is, is_rs = df == 0, df == 1, df == 2, df == 3
    rs_conv = is_rs & ~a["is_gemm"]

    # Gather per-dataflow layer tables (rows: os, ws, is, rs) instead of chained wheres.
    rs_r = np.where(a["is_gemm"], K, a["fh"] * a["cg"])
    rs_c = np.where(a["is_gemm"], M, a["oh"])
    dfi = d["df"]
    if array.spatial_unroll is not None:  # an array wired to given loops (a peer's hardware)
        Sr, Sc, T = _wired_dims(array.spatial_unroll, a, d, M, N, K, rs_r, rs_c)
    elif M.shape[0] == 1:  # layers along axis 1 (a workload)
        Sr = np.concatenate([M, K, K, rs_r])[dfi]
        Sc = np.concatenate([N, N, M, rs_c])[dfi]
    else:  # one (tiled) layer per design (the Mapping env)
        Sr = np.choose(dfi[:, None], [M, K, K, rs_r])
        Sc = np.choose(dfi[:, None], [N, N, M, rs_c])
    if array.spatial_unroll is None:
        T = mnk / (Sr * Sc)
    if "rf_tile" in d:  # Mapping env: each PE time-multiplexes rf_tile stationary values
        rt = np.minimum(d["rf_tile"][:, None], np.ceil(Sc / C))
    else:
        rt = np.ones((1, 1))
    # rf_tile stationary values per PE: Sc / rt columns of work, each streamed rt times longer
    rfold, cfold, compute = fold_cycles(Sr, Sc / rt, T * rt, R, C, short_fill=is_os | rs_conv)
    folds = rfold * cfold
    if array.fold_overlap:
        # The next fold's stationary values are loaded into a second register set while the
        # current fold computes (double-buffered PE registers, as in the TPU's weight FIFO,
        # Jouppi et al., ISCA 2017, sec. 2): the pipeline fills and drains once per layer.
        fill = np.where(is_os | rs_conv, R + C - 2, 2 * R + C - 2)
        compute = folds * T * rt + fill - 1

    rf_words = (d["rf_bytes"] / wb)[:, None]
    p = np.maximum(np.floor((rf_words - a["fw"]) / (a["fw"] + 1)), 1)
    ifm = np.where(is_os | is_ws, M * K * cfold, np.where(rs_conv, ifw * np.ceil(N / p), K * M))
    flt = np.where(is_os, K * N * rfold, np.where(is_ws, K * N, K * N * cfold))
    ofm_real = np.where(is_os, M * N, M * N * rfold)
    ofm_ss = np.where(is_os, M * N + folds * (R + C), ofm_real)  # SCALE-Sim's count

    bad: list[tuple[np.ndarray, Any]] = []
    need_rf = np.where(rs_conv, 2 * a["fw"] + 1, np.maximum(rt + 2, 3.0))
    bad.append(
        (
            np.broadcast_to(rf_words < need_rf, compute.shape),
            lambda i, j, rw=rf_words, nr=need_rf: _rf_too_small(
                float(rw[i, 0]), float(np.broadcast_to(nr, (rw.shape[0], nr.shape[1]))[i, j])
            ),
        )
    )
    cap = (d["gbuf_kb"] * 1024.0)[:, None]
    pb = d["psum_bytes"][:, None]

    # Array traffic (buffer <-> PEs over the NoC), bytes per operand. Outputs of ws/is/rs are
    # reduced across row folds in the buffer: (rfold - 1) partial sums per output are written
    # and read back at partial-sum width, the final output is written once at operand width.
    # A PE whose register file holds several stationary values (beside one streamed word and
    # the partial sum) keeps the values of `hold` row folds and accumulates across them in
    # place (ZigZag's multi-word weight registers, e.g. tpu_like's rf_128B; Eyeriss's PE-local
    # accumulation): partial sums leave the PE ceil(rfold / hold) - 1 times instead of
    # rfold - 1, and the stationary operand is then read from the RF once per MAC.
    hold = np.where(is_ws | (is_is & ~rs_conv), np.clip(np.floor(rf_words - 2), 1, None), 1.0)
    hold = np.minimum(hold, rfold)
    spill = np.where(is_os, 0.0, M * N * (np.ceil(rfold / hold) - 1))
    noc_i, noc_w = ifm * w, flt * w
    noc_o = M * N * w + 2 * spill * pb
    noc_bytes = noc_i + noc_w + noc_o

    if dram_bytes_override is None:
        dram_i, dram_w, dram_o = _dram_per_operand(ifw, K, N, M, cap / 2 / w)
        dram_i, dram_w, dram_o = dram_i * w, dram_w * w, dram_o * w
    else:
        dram_i, dram_w, dram_o = (dram_bytes_override[k] for k in ("i", "w", "o"))
    dram = dram_i + dram_w + dram_o
    edge_cycles = np.zeros((1, 1))
    if bandwidth_mode == "scalesim":
        # os reads one K x C weight slice for all row folds of a column fold in a row
        os_slice = np.where(is_os, K * np.minimum(N, C), np.inf)
        cycles = _scalesim_user_cycles(d, w, compute, ifm, flt, ofm_real, M * K, K * N, os_slice)
    elif bandwidth_mode == "limited":
        # One DRAM port per operand (ifmap, filter, ofmap), each of dram_bw_bytes/cycle, as in
        # SCALE-Sim (memory/double_buffered_scratchpad_mem.py: one read buffer per operand), or
        # one port all operands share (array.dram_ports == "shared", e.g. ZigZag's `dram`).
        bw = d["dram_bw_bytes"][:, None]
        if array.dram_ports == "shared":
            port = dram_i + dram_w + dram_o
        else:
            port = np.maximum(np.maximum(dram_i, dram_w), dram_o)
        noc_bw = np.minimum(d["noc_bw_bytes"], d["gbuf_banks"] * tb.GBUF_BANK_WIDTH_BYTES)
        first_i, first_w, last_o = edge_words(is_os, is_ws, R, C, M, N, Sr, Sc)
        edge = np.minimum((first_i + first_w) * w, dram_i + dram_w) + np.minimum(last_o * w, dram_o)
        edge_cycles = edge / bw
        cycles = np.maximum(np.maximum(compute, port / bw), noc_bytes / noc_bw[:, None])
    else:
        cycles = compute

    # Register-file accesses (bytes) by stationarity (Chen, Emer, Sze, ISCA 2016, sec. III;
    # Sze et al., "Efficient Processing of Deep Neural Networks", 2020, ch. 5): a stationary
    # operand (ws: weights, is: inputs) is written into the PE once per delivered word and
    # read once into the multiplier's input, where it stays while the streamed operand flows
    # past (2 accesses per delivered word); a streamed input costs one access per MAC; the
    # partial sum is read and written once per MAC at partial-sum width (it stays in the PE's
    # accumulator in os, moves to the neighbour in ws/is; the register is touched either way).
    multi = hold > 1
    rf_i = np.where(is_is, np.where(multi, mnk + ifm, 2 * ifm) * w, mnk * w)
    rf_w = np.where(is_ws, np.where(multi, mnk + flt, 2 * flt) * w, mnk * w)
    rf_o = 2 * mnk * pb

    e = _energy_table(d, energy_pj)
    pj = 1e-12
    macs_l = mnk * inst  # (1, L) or (n, 1)
    # the layer's instances run back to back, so only the first load and the last drain show
    cyc_i = np.maximum(cycles * inst, compute * inst + edge_cycles)
    comp_i = compute * inst
    e_rf = rf_i * e["rf_i"] + rf_w * e["rf_w"] + rf_o * e["rf_o"]
    e_buf = (
        noc_i * e["buffer_i_r"]
        + noc_w * e["buffer_w_r"]
        + (M * N * w + spill * pb) * e["buffer_o_w"]
        + spill * pb * e["buffer_o_r"]
        + dram_i * (e["buffer_i_w"] + e["stage_i"])
        + dram_w * (e["buffer_w_w"] + e["stage_w"])
        + dram_o * (e["buffer_o_r"] + e["stage_o"])
    )
    if array.hierarchy is not None:  # a peer's levels: counts from its loop nest
        from archgym.envs.accelerator.loopnest import buffer_energy_pj

        # the peer's energies are at 45 nm, scaled to the design's node like the table's
        e_buf = buffer_energy_pj(array.hierarchy, a) * tb.tech_scale(d["tech_nm"])[0][:, None]
    per = {
        "cycles": cyc_i,
        "compute_cycles": comp_i,
        "stall_cycles": cyc_i - comp_i,
        "energy_mac_j": (e["mac"] * pj) * macs_l,
        "energy_rf_j": e_rf * inst * pj,
        "energy_noc_j": noc_bytes * inst * (e["noc"] * pj),
        "energy_buffer_j": e_buf * inst * pj,
        "energy_dram_j": ((dram_i + dram_w) * e["dram_r"] + dram_o * e["dram_w"]) * inst * pj,
        "macs": np.broadcast_to(macs_l, compute.shape),
        "dram_bytes": dram * inst,
        "sram_read_words": (ifm + flt) * inst,
        "sram_write_words": ofm_ss * inst,
        "sram_ifmap_read_words": ifm * inst,
        "sram_filter_read_words": flt * inst,
    }
    return per, bad


def edge_words(
    is_os: Any, is_ws: Any, R: Any, C: Any, M: Any, N: Any, Sr: Any, Sc: Any
) -> tuple[Any, Any, Any]:
    """Words a double-buffered array cannot overlap with compute: ``(first ifmap, first
    weights, last outputs)``.

    Before the first MAC the first fold's stationary tile must be on chip
    (``min(Sr, R) * min(Sc, C)`` weights for ``ws``, inputs for ``is``/``rs``; for ``os`` one
    input column and one weight row, ``R`` and ``C`` words); after the last MAC the outputs
    completed by the last fold group drain: with folds ordered column fold outer (SCALE-Sim's
    order) that is ``M x min(N, C)`` outputs for ``ws``, one ``R x C`` tile for ``os`` and
    ``min(M, C) x N`` for ``is``/``rs``. ZigZag 3.9 counts the same two terms as "data
    onloading" and "data offloading" (``cost_model.py``, ``calc_data_loading_latency``).
    """
    tile = np.minimum(Sr, R) * np.minimum(Sc, C)
    first_i = np.where(is_os, np.minimum(M, R), np.where(is_ws, 0.0, tile))
    first_w = np.where(is_os, np.minimum(N, C), np.where(is_ws, tile, 0.0))
    last_o = np.where(
        is_os,
        np.minimum(M, R) * np.minimum(N, C),
        np.where(is_ws, M * np.minimum(N, C), np.minimum(M, C) * N),
    )
    return first_i, first_w, last_o


def _dram_per_operand(
    ifw: np.ndarray, K: np.ndarray, N: np.ndarray, M: np.ndarray, half: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DRAM words ``(ifmap, weights, outputs)`` of one layer instance.

    All of it once if the ifmap (its real size, ``ifw``: a k x k convolution's input is read
    once and its im2col windows are formed on chip), the weights and the outputs fit the
    buffer; otherwise the cheapest of three double-buffered tilings with ``half`` words per
    tile: weight tiles (ifmap re-read ``ceil(N/t)`` times), ifmap tiles (weights re-read
    ``ceil(M/t)`` times) or square output tiles (both re-read).
    """
    kn, mn = K * N, M * N
    fits = (ifw + kn + mn) <= 2 * half
    t_w = np.floor(half / K)
    tw = np.maximum(t_w, 1)
    t_o = np.maximum(np.floor(np.sqrt(half / 2)), 1)
    i_a = ifw * np.ceil(N / tw)  # weight tiles: ifmap re-read
    w_b = kn * np.ceil(M / tw)  # ifmap tiles: weights re-read
    i_c, w_c = ifw * np.ceil(N / t_o), kn * np.ceil(M / t_o)  # output tiles: both
    tot_a = np.where(t_w >= 1, i_a + kn, np.inf)
    tot_b = np.where(t_w >= 1, ifw + w_b, np.inf)
    tot_c = i_c + w_c
    pick_a = (tot_a <= tot_b) & (tot_a <= tot_c)
    pick_b = ~pick_a & (tot_b <= tot_c)
    i = np.where(fits, ifw, np.where(pick_a, i_a, np.where(pick_b, ifw, i_c)))
    w = np.where(fits, kn, np.where(pick_a, kn, np.where(pick_b, w_b, w_c)))
    return i, w, mn + 0 * i


def _energy_table(d: dict[str, np.ndarray], energy_pj: Mapping[str, float]) -> dict[str, Any]:
    """Per-byte (per-MAC for ``mac``) energies in pJ at the design's node, shaped ``(n, 1)``.

    Defaults come from :mod:`archgym.envs.accelerator.tables`; ``energy_pj`` overrides any key
    of :data:`~archgym.envs.accelerator.tables.ENERGY_KEYS` (values at 45 nm, scaled to the
    node like the defaults; DRAM is off-chip and never scaled)."""
    es = tb.tech_scale(d["tech_nm"])[0][:, None]
    rf = tb.rf_pj_per_byte(d["rf_bytes"])[:, None]
    buf = tb.sram_pj_per_byte(d["gbuf_kb"] * 1024.0 / d["gbuf_banks"])[:, None]
    mac = np.array([tb.MAC_PJ[p] for p in tb.PRECISIONS])[d["prec"]][:, None]
    base: dict[str, Any] = {"mac": mac, "noc": tb.NOC_PJ_PER_BYTE}
    for op in "iwo":
        base[f"rf_{op}"] = rf
        base[f"stage_{op}"] = 0.0
        for rw in "rw":
            base[f"buffer_{op}_{rw}"] = buf
    table = {**base, **tb.expand_energy_keys(energy_pj)}
    out = {k: v * es for k, v in table.items()}
    out["dram_r"] = table.get("dram_r", tb.DRAM_PJ_PER_BYTE)
    out["dram_w"] = table.get("dram_w", tb.DRAM_PJ_PER_BYTE)
    return out


def _scalesim_user_cycles(
    d: dict[str, np.ndarray],
    w: np.ndarray,
    compute: np.ndarray,
    ifm: np.ndarray,
    flt: np.ndarray,
    ofm: np.ndarray,
    ifm_op: np.ndarray,
    flt_op: np.ndarray,
    os_slice: np.ndarray,
) -> np.ndarray:
    """Cycles of one instance under SCALE-Sim 3.0.0's ``InterfaceBandwidth: USER`` mode.

    What SCALE-Sim does (``memory/read_buffer.py``, ``write_buffer.py``,
    ``double_buffered_scratchpad_mem.py``), each SRAM double-buffered with half active:

    * a read operand whose operand matrix fits the active half is prefetched *before* cycle 0
      (``prefetch_active_buffer`` issues it at negative cycles), so it never stalls;
    * ofmap writes fill the active half of the ofmap buffer; from then on the buffer drains at
      ``bw`` words/cycle while the array keeps writing, and the last two halves drain after
      the reported end (``empty_all_buffers`` is not counted). With ``W`` writes, a half of
      ``H`` words and writes spread evenly over the stall-free run, the layer ends at
      ``max(compute, compute * H / W + (W - 2H) / bw)``;
    * an operand that does not fit is re-fetched once per pass the dataflow makes over it
      (SCALE-Sim's fold order is column fold outer, row fold inner,
      ``compute/systolic_compute_{os,ws,is}.py``): the ifmap ``cfold`` times for ``os``/``ws``
      (each column fold sweeps every row fold's ifmap slice) and once for ``is`` (stationary);
      the weights once for ``ws`` (stationary), ``cfold`` times for ``is``, and for ``os``
      once if a column fold's ``K x C`` slice fits the active half (it is reused by the
      consecutive row folds), else ``rfold`` times. Beyond the first half prefetched before
      cycle 0, those reads at ``bw`` words/cycle bound the time.

    SCALE-Sim 3.0.0 itself fetches 2-13x more than that in this regime, more words than its
    array ever reads: ``read_buffer.new_prefetch`` requests the same fetch-matrix lines on
    every call (``next_line_prefetch_idx`` is reset to ``num_lines % rows`` instead of
    advanced) while its hit window advances on its own, so most reads are served from
    addresses it never fetched (``benchmarks/scalesim_refetch_probe.py``). Those rows are
    reported, not matched (:func:`archgym.envs.accelerator.fidelity.scalesim_summary`).

    Validated against ``tests/data/scalesim_user_bw.json`` where the read operands fit.
    """
    bw = (d["dram_bw_bytes"] / np.where(w[:, 0] > 0, w[:, 0], 1))[:, None]  # words/cycle
    words = 1024.0 / w
    h_o = d["ofmap_sram_kb"][:, None] * words / 2
    h_i = d["ifmap_sram_kb"][:, None] * words / 2
    h_f = d["filter_sram_kb"][:, None] * words / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        write_t = np.where(ofm > 2 * h_o, compute * h_o / ofm + (ofm - 2 * h_o) / bw, 0.0)
    read_i = np.where(ifm_op > h_i, (ifm - h_i) / bw, 0.0)
    flt_dram = np.where(os_slice <= h_f, flt_op, flt)
    read_f = np.where(flt_op > h_f, (flt_dram - h_f) / bw, 0.0)
    return np.maximum(np.maximum(compute, write_t), np.maximum(read_i, read_f))


def _kernel_table(wl: Workload) -> np.ndarray:
    """The kernel's per-layer table of ``wl`` (built once per workload)."""
    return _kernel.layer_table(layer_arrays(wl))


#: The design columns in the order of the kernel's design block (codes for the last two).
_BLOCK_KEYS = (*NUMERIC_PARAMS, "dataflow", "precision")
#: 1-element arrays of the defaults (a lone design's row).
_LONE_DEFAULTS = tuple(np.array([DEFAULTS[k]]) for k in _BLOCK_KEYS)
_item: Callable[[Any], Any] = np.ndarray.item
_LONE_DATAFLOW = np.array([DEFAULTS["dataflow"]])
_LONE_PRECISION = np.array([DEFAULTS["precision"]])
#: A lone design's :data:`NUMERIC_PARAMS` values as Python numbers (defaults for those it
#: leaves out), or ``None`` (a batch, list columns, no columns): :func:`_kernel.one`'s.
_lone_numbers = lone_reader(NUMERIC_PARAMS, _LONE_DEFAULTS, len(_BLOCK_KEYS))


def _failure_reason(
    columns: dict[str, np.ndarray],
    i: int,
    wl: Workload,
    bits: int,
    j: int,
    rf_words: float,
    need: float,
) -> str:
    """Why design ``i`` is infeasible, from :func:`_kernel.failure`'s ``(bits, j, rf_words,
    need)``; ``""`` if it found nothing."""
    if bits:
        return "; ".join(
            f"{msg} (got {_shown(columns, msg, i)})"
            for q, msg in enumerate(_CHECK_MESSAGES)
            if bits >> q & 1
        )
    return f"layer {wl.layers[j].name!r}: {_rf_too_small(rf_words, need)}" if j >= 0 else ""


def _lone_failure(
    columns: dict[str, np.ndarray],
    nums: tuple[Any, ...],
    codes: tuple[int, int],
    status: int,
    wl: Workload,
    table: np.ndarray,
) -> Evaluations | None:
    """The result of a lone design for which :func:`_kernel.one` returned NaN and
    ``status``, with the reason the block path gives it (no kernel call); ``None`` if it
    passes every check and fits every layer (a NaN from elsewhere: the block path decides)."""
    if status > 0:  # the check bits
        reason = _failure_reason(columns, 0, wl, status, -1, 0.0, 0.0)
    elif status < 0:  # a layer its register file cannot hold: failure() gives the figures
        block = np.array([*nums, *codes], dtype=float)  # as _design_block builds it
        with np.errstate(all="ignore"):  # NaN and inf sizes, run as Python
            failed = _kernel.failure(block, table, _CONSTANTS[1], 0)
        reason = _failure_reason(columns, 0, wl, *failed)
    else:
        return None
    if not reason:
        return None
    out = np.full((_kernel.N_TOTALS, 1), np.nan)
    return Evaluations.from_block(_METRIC_NAMES, out, np.zeros(1, np.bool_), [reason], False)


def _design_block(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The kernel's design block ``(12, n)``, flattened, of the design columns: the
    :data:`NUMERIC_PARAMS` values (defaults for the columns left out), then the dataflow and
    the precision codes (-1 for an unknown name)."""
    try:  # a lone design of 1-element arrays (the env's, designs_to_columns'): one numpy call
        vals = None
        if columns:
            _item(next(iter(columns.values())))  # columns it does not read may make a batch
            vals = list(map(_item, map(columns.get, _BLOCK_KEYS, _LONE_DEFAULTS)))
    except (TypeError, ValueError):  # list columns, a batch
        pass
    else:
        if vals is not None:
            vals[-2] = _DF_CODE.get(str(vals[-2]), -1)
            vals[-1] = _PREC_CODE.get(str(vals[-1]), -1)
            return np.array(vals, dtype=float)
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 1:  # list columns
        vals = [_scalar(columns, k) for k in NUMERIC_PARAMS]
        vals.append(_DF_CODE.get(str(_scalar(columns, "dataflow")), -1))
        vals.append(_PREC_CODE.get(str(_scalar(columns, "precision")), -1))
        return np.array(vals, dtype=float)
    numeric = [
        np.asarray(columns[k], dtype=float) if k in columns else np.full(n, float(DEFAULTS[k]))
        for k in NUMERIC_PARAMS
    ]
    df = _codes(columns.get("dataflow", np.full(n, DEFAULTS["dataflow"])), DATAFLOWS, n)
    prec = _codes(columns.get("precision", np.full(n, DEFAULTS["precision"])), tb.PRECISIONS, n)
    return np.array([*numeric, df, prec], dtype=float).reshape(_kernel.N_DESIGN * n)


def _scalar(columns: dict[str, np.ndarray], key: str) -> Any:
    """The value of ``key`` of a lone design (its default if left out)."""
    col = columns.get(key)
    if type(col) is np.ndarray:
        return col.item()  # a Python scalar: numpy converts it faster than a numpy scalar
    return col[0] if col is not None else DEFAULTS[key]


def _rf_too_small(rf_words: float, need: float) -> str:
    """Why a layer cannot run: the register file holds fewer words than the dataflow needs."""
    return (
        f"register file of {rf_words:g} words per PE cannot hold the {need:g} words this "
        "dataflow needs; raise rf_bytes"
    )


def _shown(columns: dict[str, np.ndarray], msg: str, i: int) -> Any:
    key = msg.split(" ", 1)[0]
    return columns[key][i] if key in columns else DEFAULTS.get(key)


def _make(bandwidth_mode: str = "limited", **kwargs: Any) -> AcceleratorCostModel:
    return AcceleratorCostModel(bandwidth_mode=bandwidth_mode, **kwargs)


register_cost_model("accelerator-analytical", _make, AcceleratorCostModel.description)
