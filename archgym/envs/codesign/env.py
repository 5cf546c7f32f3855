"""``archgym/CoDesign-v1``: joint search over network x sparsity x precision x accelerator.

A design is a CNN of the NAS macro space, its compression (``sparsity``, ``weight_bits``,
``scope``, from :func:`archgym.envs.nas.nas_space`), ``act_bits`` (active only when weights
are quantized; float networks run in fp32), an accelerator (``rows``, ``cols``, ``gbuf_kb``,
``dram_bw_bytes``, ``dataflow``, ``clock_mhz``) and three sparsity-support knobs
(``nm_support``, ``block_skip``, ``zero_gating``), each with its area cost. The cost model is
:class:`~archgym.envs.codesign.model.CoDesignCostModel`; metrics include ``accuracy``,
``latency_s``, ``energy_j`` and ``area_mm2`` -- any subset can be objectives or constraints::

    env = archgym.make("archgym/CoDesign-v1", objective="max:accuracy",
                       constraints=["latency_s <= 2e-5", "area_mm2 <= 1.0"])

With ``accuracy="table"`` (default) the network/compression part spans exactly the NAS table
(:data:`archgym.envs.nas.arch.TABLE_VALUES` x every compression setting), so every feasible
network design has a measured accuracy. Hardware parameters fixed here (``gbuf_banks=4``,
``rf_bytes=64``, ``tech_nm=45``) are columns of the cost model and can be searched by passing a
custom space.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archgym.cost_model import CostModel
from archgym.registry import register
from archgym.space import Categorical, DesignSpace, Ordinal

__all__ = ["codesign_space", "hardware_params", "make_codesign_env", "NETWORK_PARAMS"]

#: Parameters that describe the network and its compression (the "NAS" half of a design).
NETWORK_PARAMS = ("sparsity", "weight_bits", "scope")


def hardware_params() -> list[Any]:
    """The accelerator half of a CoDesign design (values sized for the NAS tasks' small
    layers: GEMM ``M <= 64``, ``K <= 1600``, ``N <= 384``)."""
    return [
        Ordinal(
            "act_bits",
            (8, 16),
            active_if={"weight_bits": [8, 4, 2]},
            description="activation bits of quantized layers",
        ),
        Ordinal("rows", (4, 8, 16, 32, 64), description="PE array rows"),
        Ordinal("cols", (4, 8, 16, 32, 64), description="PE array columns"),
        Ordinal("gbuf_kb", (16, 32, 64, 128, 256), description="global buffer (KiB)"),
        Ordinal("dram_bw_bytes", (1, 2, 4, 8, 16, 32), description="DRAM bandwidth (B/cycle)"),
        Categorical("dataflow", ("ws", "os", "is"), description="weight/output/input stationary"),
        Ordinal("clock_mhz", (200, 400, 800, 1000), description="clock (MHz)"),
        Categorical("nm_support", (False, True), description="N:M (M=4) sparse datapath"),
        Categorical("block_skip", (False, True), description="skip all-zero weight blocks"),
        Categorical("zero_gating", (False, True), description="gate MACs on zero weights"),
    ]


def codesign_space(full: bool = False) -> DesignSpace:
    """The CoDesign-v1 space: the NAS space (table space unless ``full``) x hardware."""
    from archgym.envs.nas import nas_space

    nas = nas_space(full)
    return DesignSpace(
        [*nas.params, *hardware_params()],
        nas.constraints,
        name="codesign-full" if full else "codesign-table",
    )


def make_codesign_env(
    workload: str = "digits",
    objective: Any = "accuracy",
    constraints: Sequence[str] = (),
    accuracy: str = "table",
    table: str | Path | None = None,
    full_space: bool | None = None,
    batch: int = 1,
    seed: int = 0,
    cost_model: CostModel | None = None,
    mode: str = "one-step",
    **kwargs: Any,
) -> Any:
    """Build CoDesign-v1.

    Args:
        workload: NAS task, ``"digits"`` or ``"mnist1d"``.
        objective: Objective spec, e.g. ``"max:accuracy"``, ``"edp"``,
            ``["max:accuracy", "energy_j", "latency_s"]``.
        constraints: E.g. ``["latency_s <= 2e-5", "area_mm2 <= 1", "accuracy >= 0.95"]``.
        accuracy: ``"table"`` (default), ``"train"`` or ``"proxy"``.
        table: NAS table path (default: the shipped one for the task).
        full_space: Search the full NAS macro space (default: only when ``accuracy != "table"``).
        batch: Samples per inference batch.
        seed: Training / surrogate seed.
        cost_model: Replace the cost model entirely.
        mode: ``"one-step"`` or ``"sequential"``.
    """
    from archgym.env import DSEEnv
    from archgym.envs.codesign.model import CoDesignCostModel

    full = (accuracy != "table") if full_space is None else full_space
    model = (
        cost_model if cost_model is not None else CoDesignCostModel(accuracy, table, seed, batch)
    )
    return DSEEnv(
        codesign_space(full), model, workload, objective, constraints, mode=mode, **kwargs
    )


register(
    "archgym/CoDesign-v1",
    make_codesign_env,
    "joint CNN x sparsity x quantization x accelerator (+ sparse-support knobs); table accuracy",
    report_metrics=("accuracy", "latency_s", "energy_j", "area_mm2"),
    default_cost_model="codesign",
)
