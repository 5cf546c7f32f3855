"""Cost of one layer's *mapping* on a fixed accelerator (the model behind ``Mapping-v2``).

A mapping of the GEMM ``(M x K) @ (K x N)`` chooses:

* ``dataflow`` -- the spatial unrolling on the PE array (``os``: M x N, ``ws``: K x N,
  ``is``: K x M, as in :mod:`archgym.envs.accelerator.model`);
* ``tile_m``, ``tile_n``, ``tile_k`` -- the tile held in the global buffer (the DRAM -> buffer
  tiling); each must divide its dimension, and the double-buffered tile
  ``2 * (tm*tk + tk*tn + tm*tn)`` words must fit in the buffer;
* ``loop_order`` -- the order of the tile loops, outermost first (``"mnk"`` ... ``"knm"``);
* ``rf_tile`` -- the register-file tiling: each PE holds ``rf_tile`` stationary values and
  time-multiplexes them, so one array fold covers ``cols * rf_tile`` of the column dimension
  and the streamed operand is re-read from the buffer ``rf_tile`` times less often; the RF must
  hold ``rf_tile + 2`` words (``1`` is the plain systolic array, SCALE-Sim's).

DRAM traffic follows from the loop nest: an operand's tile stays in the buffer while the loops
inside its innermost relevant loop iterate, so it is fetched ``prod(trips of the loops down to
its innermost relevant loop)`` times; outputs whose ``k`` loop is not inside both ``m`` and
``n`` spill partial sums (written every time, read back every time but the first). Inside a
tile, the array runs the accelerator model's compute, NoC, buffer, RF and MAC costs
(:func:`archgym.envs.accelerator.model.layer_costs`), so this is the same cost model with the
tiling chosen by the agent instead of by the accelerator model's heuristic.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.accelerator import tables as tb
from archgym.envs.accelerator.model import (
    DEFAULTS,
    LEVELS,
    NUMERIC_PARAMS,
    layer_costs,
    psum_bytes,
)
from archgym.errors import ConfigError
from archgym.workloads import Layer

__all__ = ["MappingCostModel", "LOOP_ORDERS", "MAPPING_DATAFLOWS"]

LOOP_ORDERS: tuple[str, ...] = tuple("".join(p) for p in itertools.permutations("mnk"))
MAPPING_DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
_REL = {"i": "mk", "w": "kn", "o": "mn"}  # loops relevant to ifmap, weights, outputs

_METRICS = (
    Metric("latency_s", "s", "min", "Run time of the layer, stalls included"),
    Metric("cycles", "cycles", "min", "Clock cycles, stalls included"),
    Metric("stall_cycles", "cycles", "min", "Cycles lost to DRAM/NoC bandwidth"),
    Metric("energy_j", "J", "min", "Total energy"),
    *(Metric(f"energy_{lv}_j", "J", "min", f"{lv} energy") for lv in LEVELS),
    Metric("dram_bytes", "B", "min", "DRAM traffic of the loop nest"),
    Metric("utilization", "", "max", "MACs / (cycles * rows * cols)"),
)


def input_tile_words(layer: Layer, tm: np.ndarray, tk: np.ndarray) -> np.ndarray:
    """Input words one ``tm x tk`` tile of the im2col GEMM needs in the buffer.

    For a k x k convolution the im2col row of an output pixel repeats input words its
    neighbours use too; the buffer holds the real input window instead (the halo included):
    ``tm`` output pixels in raster order span ``ceil(tm / ofmap_w)`` output rows, i.e.
    ``(rows - 1) * stride + filter_h`` input rows (fewer than a row: a ``filter_h`` x
    ``(tm - 1) * stride + filter_w`` window), for the ``ceil(tk / (filter_h * filter_w))``
    channels the ``tk`` slice of the reduction ``C * fh * fw`` touches. Never more than
    ``tm * tk`` (the im2col tile itself). GEMMs and 1x1 convolutions get ``tm * tk``.
    """
    fh, fw, s = layer.filter_h, layer.filter_w, layer.stride
    if layer.kind == "gemm" or fh * fw == 1:
        return tm * tk
    ow, ih, iw = layer.ofmap_w, layer.ifmap_h, layer.ifmap_w
    ch = np.ceil(tk / (fh * fw))
    rows = np.minimum((np.ceil(tm / ow) - 1) * s + fh, ih)
    window = np.where(tm >= ow, rows * iw, fh * np.minimum((tm - 1) * s + fw, iw))
    return np.minimum(ch * window, tm * tk)


def _fetches(order: str, trips: Mapping[str, np.ndarray], operand: str) -> np.ndarray:
    """How many times an operand's tile is brought into the buffer for one loop order."""
    rel = _REL[operand]
    innermost = max(order.index(c) for c in rel)
    out = np.ones_like(trips["m"])
    for c in order[: innermost + 1]:
        out = out * trips[c]
    return out


class MappingCostModel(CostModel):
    """Mapping of one layer on a fixed accelerator (see the module docstring).

    Args:
        layer: The layer (one instance is mapped; counts cover all ``groups*repeat``).
        accelerator: Accelerator-v2 parameters (missing ones take
            :data:`~archgym.envs.accelerator.model.DEFAULTS`); ``dataflow`` is the mapping's.
        bandwidth_mode: ``"limited"`` or ``"ideal"``.
    """

    name: ClassVar[str] = "mapping-analytical"
    version: ClassVar[str] = "3"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = "Loop order, buffer tiling and spatial unrolling of one layer"

    def __init__(
        self,
        layer: Layer,
        accelerator: Mapping[str, Any] | None = None,
        bandwidth_mode: str = "limited",
    ) -> None:
        if not isinstance(layer, Layer):
            raise ConfigError(f"mapping: layer must be an archgym.workloads.Layer, got {layer!r}")
        acc = {**DEFAULTS, **dict(accelerator or {})}
        unknown = sorted(set(acc) - set(DEFAULTS))
        if unknown:
            raise ConfigError(
                f"mapping: unknown accelerator parameters {unknown}; known: {sorted(DEFAULTS)}"
            )
        if acc["precision"] not in tb.PRECISIONS:
            raise ConfigError(
                f"mapping: precision must be one of {list(tb.PRECISIONS)}, got {acc['precision']!r}"
            )
        self.layer = layer
        self.accelerator = acc
        self.bandwidth_mode = bandwidth_mode

    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests (with the layer and the accelerator)."""
        return {**super().describe(), "layer": self.layer.name, "accelerator": self.accelerator}

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Metrics of each mapping (``workload`` is ignored: the layer is fixed)."""
        n = len(next(iter(columns.values())))
        L = self.layer
        dims = {"m": float(L.m), "n": float(L.n), "k": float(L.k)}
        tiles = {c: np.asarray(columns[f"tile_{c}"], dtype=float) for c in "mnk"}
        order = np.asarray(columns["loop_order"]).astype(str)
        df = np.asarray(columns["dataflow"]).astype(str)
        wb = tb.WORD_BYTES[self.accelerator["precision"]]
        cap_words = self.accelerator["gbuf_kb"] * 1024.0 / wb

        reasons = [""] * n
        feasible = np.ones(n, dtype=bool)

        def fail(mask: np.ndarray, msg: Any) -> None:
            for i in np.flatnonzero(mask & feasible):
                reasons[i] = msg(i)
            feasible[:] &= ~mask

        for c in "mnk":
            t = tiles[c]
            fail(
                ~((t >= 1) & (t == np.floor(t))),
                lambda i, c=c: f"tile_{c} must be a positive integer (got {tiles[c][i]:g})",
            )
            fail(
                np.mod(dims[c], np.maximum(tiles[c], 1)) != 0,
                lambda i, c=c: (
                    f"tile_{c}={tiles[c][i]:g} must divide {c.upper()}="
                    f"{dims[c]:g} of layer {L.name!r}"
                ),
            )
        fail(
            ~np.isin(order, LOOP_ORDERS),
            lambda i: f"loop_order must be one of {list(LOOP_ORDERS)} (got {order[i]!r})",
        )
        fail(
            ~np.isin(df, MAPPING_DATAFLOWS),
            lambda i: f"dataflow must be one of {list(MAPPING_DATAFLOWS)} (got {df[i]!r})",
        )
        tm, tn, tk = (np.where(feasible, tiles[c], 1.0) for c in "mnk")
        need = 2 * (tm * tk + tk * tn + tm * tn)
        fail(
            need > cap_words,
            lambda i: (
                f"tile {tm[i]:g}x{tn[i]:g}x{tk[i]:g} needs {need[i] * wb / 1024:g} KiB "
                f"double-buffered but gbuf_kb={self.accelerator['gbuf_kb']}; "
                f"use smaller tiles"
            ),
        )
        trips = {"m": dims["m"] / tm, "n": dims["n"] / tn, "k": dims["k"] / tk}
        ntiles = trips["m"] * trips["n"] * trips["k"]
        words = {op: np.zeros(n) for op in "iwo"}
        in_tile = input_tile_words(L, tm, tk)
        for o in LOOP_ORDERS:
            sel = order == o
            if not sel.any():
                continue
            f_i = _fetches(o, trips, "i") * in_tile
            f_w = _fetches(o, trips, "w") * tk * tn
            fo = _fetches(o, trips, "o")
            first = trips["m"] * trips["n"]
            f_o = (2 * fo - first) * tm * tn  # writes every time, reads back all but the first
            for op, f in (("i", f_i), ("w", f_w), ("o", f_o)):
                words[op] = np.where(sel, f, words[op])

        acc = self.accelerator
        d = {k: np.full(n, float(acc[k])) for k in NUMERIC_PARAMS}  # the fixed accelerator
        code = {name: i for i, name in enumerate(MAPPING_DATAFLOWS)}  # = accelerator codes
        d["df"] = np.array([code.get(x, 0) for x in df], dtype=np.int64)
        d["prec"] = np.full(n, tb.PRECISIONS.index(acc["precision"]))
        d["psum_bytes"] = psum_bytes(d["psum_bits"], d["prec"])
        rt_col = columns.get("rf_tile")
        d["rf_tile"] = (
            np.ones(n)
            if rt_col is None
            else np.where(feasible, np.asarray(rt_col, dtype=float), 1.0)
        )
        inst = float(L.instances)
        a = {
            "m": tm[:, None],
            "n": tn[:, None],
            "k": tk[:, None],
            "instances": (ntiles * inst)[:, None],
            "ifmap_words": (tm * tk)[:, None],
            "fh": np.ones((n, 1)),
            "fw": np.ones((n, 1)),
            "oh": tm[:, None],
            "cg": tk[:, None],
            "is_gemm": np.ones((n, 1), dtype=bool),
        }
        per, bad = layer_costs(
            d,
            np.full(n, wb),
            a,
            self.bandwidth_mode,
            {},
            dram_bytes_override={op: (words[op] * wb / ntiles)[:, None] for op in "iwo"},
        )
        for mask, msg in bad:
            fail(mask[:, 0], lambda i, msg=msg: f"rf_tile={d['rf_tile'][i]:g}: {msg(i, 0)}")
        tot = {k: v[:, 0] for k, v in per.items()}
        energy = {f"energy_{lv}_j": tot[f"energy_{lv}_j"] for lv in LEVELS}
        cycles = tot["cycles"]
        with np.errstate(divide="ignore", invalid="ignore"):
            metrics = {
                "latency_s": cycles / (acc["clock_mhz"] * 1e6),
                "cycles": cycles,
                "stall_cycles": tot["stall_cycles"],
                "energy_j": sum(energy.values()),
                **energy,
                "dram_bytes": tot["dram_bytes"],
                "utilization": tot["macs"] / (cycles * acc["rows"] * acc["cols"]),
            }
        for k in metrics:
            metrics[k] = np.where(feasible, metrics[k], np.nan)
        return Evaluations(metrics=metrics, feasible=feasible, reasons=reasons)
