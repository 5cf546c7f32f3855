"""``archgym/Accelerator-v2``: a DNN workload on a configurable accelerator.

Design parameters: PE array ``rows`` x ``cols``; per-PE register file ``rf_bytes``; global
buffer ``gbuf_kb`` and ``gbuf_banks``; ``noc_bw_bytes`` and ``dram_bw_bytes`` (bytes/cycle);
``dataflow`` (``ws``/``os``/``is``/``rs``: weight-, output-, input-, row-stationary);
``precision`` (``int8``/``int4``/``fp16`` MACs); ``tech_nm`` and ``clock_mhz``.

Metrics: ``latency_s`` and ``cycles`` (stalls from bandwidth and from buffers too small to hold
a tile included), ``energy_j`` and its levels ``energy_mac_j``, ``energy_rf_j``,
``energy_noc_j``, ``energy_buffer_j``, ``energy_dram_j``, ``area_mm2``, ``power_w``,
``utilization``. The cost model is
:class:`~archgym.envs.accelerator.model.AcceleratorCostModel`; ``cost_model="scalesim"`` or
``"zigzag"`` runs the same designs on those simulators.

Example::

    env = archgym.make("archgym/Accelerator-v2", workload="mobilenetv2", objective="edp",
                       constraints=["area_mm2 <= 5"])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archgym.cost_model import CostModel
from archgym.env import DSEEnv
from archgym.registry import register
from archgym.space import Categorical, DesignSpace, Ordinal
from archgym.workloads import Workload

__all__ = ["accelerator_space", "make_accelerator_env"]

PES = (4, 8, 16, 32, 64, 128, 256)


def accelerator_space() -> DesignSpace:
    """The Accelerator-v2 design space (about 3.5e8 designs)."""
    return DesignSpace(
        [
            Ordinal("rows", PES, description="PE array rows"),
            Ordinal("cols", PES, description="PE array columns"),
            Ordinal("rf_bytes", (16, 32, 64, 128, 256, 512, 1024), description="RF per PE (B)"),
            Ordinal(
                "gbuf_kb",
                (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
                description="global buffer (KiB)",
            ),
            Ordinal("gbuf_banks", (1, 2, 4, 8, 16, 32), description="global-buffer banks"),
            Ordinal(
                "noc_bw_bytes",
                (16, 32, 64, 128, 256, 512, 1024),
                description="buffer->array NoC bandwidth (B/cycle)",
            ),
            Ordinal(
                "dram_bw_bytes", (2, 4, 8, 16, 32, 64, 128), description="DRAM bandwidth (B/cycle)"
            ),
            Categorical(
                "dataflow",
                ("ws", "os", "is", "rs"),
                description="weight/output/input/row stationary",
            ),
            Categorical("precision", ("int8", "int4", "fp16"), description="MAC precision"),
            Ordinal("tech_nm", (45, 28, 16, 7), description="technology node (nm)"),
            Ordinal(
                "clock_mhz", (200, 400, 600, 800, 1000, 1200, 1500, 2000), description="clock (MHz)"
            ),
        ],
        name="accelerator",
    )


def make_accelerator_env(
    workload: Any = "resnet18",
    objective: Any = "edp",
    constraints: Sequence[str] = (),
    cost_model: CostModel | None = None,
    mode: str = "one-step",
    bandwidth_mode: str = "limited",
    **kwargs: Any,
) -> DSEEnv:
    """Build Accelerator-v2.

    Args:
        workload: A workload name (``archgym.workloads.names()``), a ``Workload`` or a ``Layer``.
        objective: Objective spec; default energy-delay product.
        constraints: E.g. ``["area_mm2 <= 10", "power_w <= 2"]``.
        cost_model: Replace the analytical model (``"scalesim"``/``"zigzag"`` via ``make``).
        mode: ``"one-step"`` or ``"sequential"``.
        bandwidth_mode: ``"limited"`` (DRAM/NoC stalls count) or ``"ideal"``.
    """
    from archgym.envs.accelerator.model import AcceleratorCostModel, as_workload

    wl = as_workload(workload)
    model = cost_model if cost_model is not None else AcceleratorCostModel(bandwidth_mode)
    return DSEEnv(accelerator_space(), model, wl, objective, constraints, mode=mode, **kwargs)


register(
    "archgym/Accelerator-v2",
    make_accelerator_env,
    "DNN accelerator: PE array, RF, banked buffer, NoC/DRAM bandwidth, dataflow, precision, node",
    report_metrics=("latency_s", "energy_j", "area_mm2"),
    default_cost_model="accelerator-analytical",
    workload_type=Workload,
)
