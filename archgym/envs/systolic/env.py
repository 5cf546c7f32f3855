"""``archgym/Systolic-v0``: a DNN workload on a systolic array (SCALE-Sim-exact cycles).

Design parameters: array ``rows`` and ``cols`` (powers of two, 4-256), ``dataflow``
(``os``/``ws``/``is``: output-, weight-, input-stationary), ``ifmap_sram_kb``,
``filter_sram_kb``, ``ofmap_sram_kb`` (KiB), ``dram_bw_words`` (words/cycle) and
``clock_mhz``. The cost model is :class:`~archgym.envs.systolic.model.SystolicCostModel`;
any registered cost model with the same design columns can replace it (``cost_model=...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archgym.cost_model import CostModel
from archgym.env import DSEEnv
from archgym.registry import register
from archgym.space import Categorical, DesignSpace, Ordinal
from archgym.workloads import Workload

__all__ = ["systolic_space", "make_systolic_env"]

POW2_PES = (4, 8, 16, 32, 64, 128, 256)
SRAM_KB = (16, 32, 64, 128, 256, 512, 1024, 2048)


def systolic_space() -> DesignSpace:
    """The Systolic-v0 design space (about 4.4 million designs)."""
    return DesignSpace(
        [
            Ordinal("rows", POW2_PES, description="PE array rows"),
            Ordinal("cols", POW2_PES, description="PE array columns"),
            Categorical(
                "dataflow", ("os", "ws", "is"), description="output/weight/input stationary"
            ),
            Ordinal("ifmap_sram_kb", SRAM_KB, description="ifmap SRAM (KiB)"),
            Ordinal("filter_sram_kb", SRAM_KB, description="filter SRAM (KiB)"),
            Ordinal("ofmap_sram_kb", SRAM_KB, description="ofmap SRAM (KiB)"),
            Ordinal("dram_bw_words", (1, 2, 4, 8, 16, 32, 64), description="DRAM words/cycle"),
            Ordinal("clock_mhz", (250, 500, 750, 1000, 1250, 1500), description="clock (MHz)"),
        ],
        name="systolic",
    )


def make_systolic_env(
    workload: Any = "resnet18",
    objective: Any = "edp",
    constraints: Sequence[str] = (),
    cost_model: CostModel | None = None,
    mode: str = "one-step",
    bandwidth_mode: str = "limited",
    **kwargs: Any,
) -> DSEEnv:
    """Build Systolic-v0.

    Args:
        workload: A workload name (``archgym.workloads.names()``), a ``Workload`` or a ``Layer``.
        objective: Objective spec; default energy-delay product.
        constraints: E.g. ``["area_mm2 <= 10"]``.
        cost_model: Replace the analytical model (e.g. ``"scalesim"`` via ``archgym.make``).
        mode: ``"one-step"`` or ``"sequential"``.
        bandwidth_mode: ``"limited"`` (DRAM stalls count) or ``"ideal"`` (SCALE-Sim CALC).
    """
    from archgym.envs.systolic.model import SystolicCostModel
    from archgym.workloads import get

    wl = get(workload) if isinstance(workload, str) else workload
    model = (
        cost_model if cost_model is not None else SystolicCostModel(bandwidth_mode=bandwidth_mode)
    )
    return DSEEnv(systolic_space(), model, wl, objective, constraints, mode=mode, **kwargs)


register(
    "archgym/Systolic-v0",
    make_systolic_env,
    "DNN layers (im2col GEMMs) on a systolic array; SCALE-Sim-exact cycles, energy, area",
    report_metrics=("latency_s", "energy_j", "area_mm2"),
    default_cost_model="systolic-analytical",
    workload_type=Workload,
)
