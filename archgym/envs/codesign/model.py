"""The co-design cost model: a compressed network's accuracy and its accelerator's cost.

One design = a CNN of the NAS macro space + a compression setting (``sparsity``,
``weight_bits``, ``scope``) + activation bits + an accelerator (``rows``, ``cols``,
``gbuf_kb``, ``gbuf_banks``, ``rf_bytes``, ``dram_bw_bytes``, ``dataflow``, ``clock_mhz``,
``tech_nm``) + sparsity-support knobs (``nm_support``, ``block_skip``, ``zero_gating``).

* Accuracy comes from :class:`~archgym.envs.nas.NASCostModel` (``"table"`` by default: an
  exact lookup in the NAS table; a design outside the table is infeasible with a reason that
  says so -- no nearest neighbour, which would hide how far off it is).
* Hardware cost comes from :mod:`archgym.envs.codesign.hw` run on the network's own
  layers, sparsity- and precision-aware.

Infeasible (with the reason): an architecture that cannot be built, a pattern that does not
divide a compressed layer, a setting the table lacks or measured as infeasible, and a global
buffer too small to double-buffer one array tile (``2 * (rows*cols + rows + cols)`` words at
the widest operand, the rule of :class:`~archgym.envs.accelerator.model.AcceleratorCostModel`).

Activation bits are a hardware choice only: the NAS table measures accuracy with float
activations (weights are quantized for real), so int8/int16 activations are assumed not to
change accuracy. That assumption is the model's main simplification on the network side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.codesign.hw import DATAFLOWS, hardware_costs, network_layers, pad_layers
from archgym.errors import ConfigError
from archgym.registry import register_cost_model

__all__ = ["CoDesignCostModel", "HW_DEFAULTS"]

#: Values of hardware columns a design leaves out.
HW_DEFAULTS: dict[str, Any] = {
    "act_bits": 8,
    "rows": 16,
    "cols": 16,
    "gbuf_kb": 64,
    "gbuf_banks": 4,
    "rf_bytes": 64,
    "dram_bw_bytes": 8,
    "dataflow": "ws",
    "clock_mhz": 800,
    "tech_nm": 45,
    "nm_support": False,
    "block_skip": False,
    "zero_gating": False,
}

_BLOCK_PARAM = re.compile(r"^b\d+_")
_NAS_METRICS = ("accuracy", "test_accuracy", "params", "macs")
_METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "", "max", "validation accuracy after compression (NAS table)"),
    Metric(
        "test_accuracy", "", "max", "test accuracy after compression (reports only)", optional=True
    ),
    Metric("latency_s", "s", "min", "inference latency of one batch, stalls included"),
    Metric("energy_j", "J", "min", "energy of one batch (MAC + RF + NoC + buffer + DRAM)"),
    Metric("area_mm2", "mm^2", "min", "PE array + RFs + sparsity logic + global buffer"),
    Metric("cycles", "cycles", "min", "clock cycles, stalls included"),
    Metric("compute_cycles", "cycles", "min", "stall-free cycles after zero skipping"),
    Metric("energy_mac_j", "J", "min", "MAC energy"),
    Metric("energy_rf_j", "J", "min", "register-file energy"),
    Metric("energy_noc_j", "J", "min", "buffer <-> array NoC energy"),
    Metric("energy_buffer_j", "J", "min", "global-buffer energy"),
    Metric("energy_dram_j", "J", "min", "DRAM energy"),
    Metric("executed_macs", "MAC", "min", "MACs the array issues (skipped zeros excluded)"),
    Metric("dram_bytes", "B", "min", "DRAM traffic incl. sparse-format metadata"),
    Metric("metadata_bytes", "B", "min", "sparse-format index bits stored, in bytes"),
    Metric("params", "", "min", "trainable parameters of the dense network"),
    Metric("macs", "MAC", "min", "dense MACs per sample"),
)


class CoDesignCostModel(CostModel):
    """Accuracy (NAS table / live training / surrogate) + sparsity- and precision-aware
    accelerator cost of the same network. The workload is the NAS task (``"digits"``,
    ``"mnist1d"``).

    Args:
        accuracy: ``"table"`` (default), ``"train"`` or ``"proxy"``
            (see :class:`~archgym.envs.nas.NASCostModel`).
        table: NAS table path (default: the shipped table of the task).
        seed: Training / surrogate seed.
        batch: Samples per inference batch (multiplies every layer's GEMM ``M``).

    Raises:
        ConfigError: ``batch`` below 1 or an unknown accuracy source.
    """

    name: ClassVar[str] = "codesign"
    version: ClassVar[str] = "3"
    metrics: ClassVar[tuple[Metric, ...]] = _METRICS
    description: ClassVar[str] = (
        "NAS-table accuracy + sparsity/precision-aware accelerator cost on the network's layers"
    )

    def __init__(
        self,
        accuracy: str = "table",
        table: str | Path | None = None,
        seed: int = 0,
        batch: int = 1,
    ) -> None:
        from archgym.envs.nas import NASCostModel

        if int(batch) < 1:
            raise ConfigError(f"batch must be >= 1, but got {batch!r}.")
        self.batch = int(batch)
        self.nas = NASCostModel(accuracy, table, seed)

    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests (includes the NAS model's)."""
        return {**super().describe(), "batch": self.batch, "nas": self.nas.describe()}

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Vectorised evaluation; see the module docstring for the rules."""
        from archgym.envs.nas.datasets import TASK_SHAPES

        task = str(workload or "digits")
        n = len(next(iter(columns.values())))
        nas = self.nas.evaluate_columns(columns, task)
        feasible = nas.feasible.copy()
        reasons = list(nas.reasons)
        out = {m: np.full(n, np.nan) for m in self.metric_names}
        for m in _NAS_METRICS:
            out[m] = nas.metrics[m].copy()
        hw, bad_df = _hw_columns(columns, n)
        for i in np.flatnonzero(bad_df & feasible):
            feasible[i] = False
            reasons[i] = f"dataflow must be one of {DATAFLOWS}, but got {columns['dataflow'][i]!r}"
        idx = np.flatnonzero(feasible)
        if idx.size:
            shape = TASK_SHAPES[task]
            arch_cols = [k for k in columns if _BLOCK_PARAM.match(k)] + ["num_blocks", "activation"]
            tables = []
            for i in idx:
                arch = {k: columns[k][i] for k in arch_cols}
                t = network_layers(arch, shape)
                if isinstance(t, str):  # the NAS model already rejects these; kept as a guard
                    raise RuntimeError(
                        f"network {arch} passed the NAS model but cannot be built: {t}"
                    )
                tables.append(t)
            lay = pad_layers(
                tables,
                np.asarray(columns["sparsity"])[idx],
                np.asarray(columns["weight_bits"])[idx],
                np.asarray(columns["scope"])[idx],
                hw["act_bits"][idx],
                self.batch,
            )
            widest = np.where(lay["valid"], np.maximum(lay["wbits"], lay["abits"]), 0).max(axis=1)
            tile_bytes = (
                2
                * (hw["rows"][idx] * hw["cols"][idx] + hw["rows"][idx] + hw["cols"][idx])
                * widest
                / 8
            )
            small = hw["gbuf_kb"][idx] * 1024.0 < tile_bytes
            for j in np.flatnonzero(small):
                i = idx[j]
                feasible[i] = False
                reasons[i] = (
                    f"gbuf_kb={hw['gbuf_kb'][i]:g} cannot double-buffer one {hw['rows'][i]:g}x"
                    f"{hw['cols'][i]:g} array tile at {widest[j]:g}-bit operands "
                    f"({tile_bytes[j] / 1024:.1f} KiB needed); raise gbuf_kb or shrink the array"
                )
            res = hardware_costs({k: v[idx] for k, v in hw.items() if k != "act_bits"}, lay)
            for m, v in res.items():
                out[m][idx] = v
        for values in out.values():
            values[~feasible] = np.nan
        return Evaluations(out, feasible, reasons)


def _hw_columns(
    columns: Mapping[str, np.ndarray], n: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    hw: dict[str, np.ndarray] = {}
    bad = np.zeros(n, dtype=bool)
    for k, default in HW_DEFAULTS.items():
        v = np.asarray(columns[k]) if k in columns else np.full(n, default)
        if k == "dataflow":
            code = np.full(n, -1.0)
            for j, name in enumerate(DATAFLOWS):
                code[v == name] = j
            bad = code < 0
            hw[k] = np.maximum(code, 0)
        else:
            hw[k] = v.astype(float)
    return hw, bad


register_cost_model("codesign", CoDesignCostModel, CoDesignCostModel.description)
