"""``archgym/Mapping-v2``: map one DNN layer onto a fixed accelerator.

Design parameters: ``dataflow`` (spatial unrolling on the PE array: ``os`` M x N, ``ws``
K x N, ``is`` K x M), ``loop_order`` of the DRAM -> buffer tile loops (outermost first), the
buffer tile ``tile_m``, ``tile_n``, ``tile_k`` and the register-file tile ``rf_tile``. Tiles that do not divide the layer or do not
fit the global buffer are infeasible with the reason. The cost model
(:class:`~archgym.envs.accelerator.mapping_model.MappingCostModel`) is the accelerator model
with the tiling chosen by the agent.

Example::

    env = archgym.make("archgym/Mapping-v2", layer="resnet18:layer2.0.conv1",
                       accelerator={"rows": 32, "cols": 32, "gbuf_kb": 128})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archgym.cost_model import CostModel
from archgym.env import DSEEnv
from archgym.errors import ConfigError
from archgym.registry import register
from archgym.space import Categorical, DesignSpace, Ordinal
from archgym.workloads import Layer

__all__ = ["mapping_space", "make_mapping_env", "resolve_layer", "tile_choices"]


def resolve_layer(layer: Any) -> Layer:
    """A :class:`Layer` from a Layer, ``"workload:layer_name"`` or a dict of Layer fields.

    Raises:
        ConfigError: Unknown workload or layer (the message lists the workload's layers).
    """
    if isinstance(layer, Layer):
        return layer
    if isinstance(layer, Mapping):
        return Layer(**{"kind": "conv", **layer})
    if isinstance(layer, str) and ":" in layer:
        from archgym.envs.accelerator.model import as_workload

        wl_name, _, name = layer.partition(":")
        wl = as_workload(wl_name)
        for x in wl.layers:
            if x.name == name:
                return x
        raise ConfigError(
            f"workload {wl.name!r} has no layer {name!r}; its layers: "
            f"{', '.join(x.name for x in wl.layers)}"
        )
    raise ConfigError(
        f"layer must be a Layer, a dict of Layer fields or 'workload:layer_name', got {layer!r}"
    )


def tile_choices(dim: int, limit: int = 24) -> tuple[int, ...]:
    """Tile sizes offered for a dimension: its divisors and the powers of two up to it
    (a power of two that does not divide ``dim`` is offered, and infeasible), at most
    ``limit`` values spread over the range."""
    vals = {d for d in range(1, dim + 1) if dim % d == 0}
    p = 1
    while p <= dim:
        vals.add(p)
        p *= 2
    out = sorted(vals)
    if len(out) > limit:
        idx = sorted({round(i * (len(out) - 1) / (limit - 1)) for i in range(limit)})
        out = [out[i] for i in idx]
    return tuple(out)


def mapping_space(layer: Layer) -> DesignSpace:
    """The Mapping-v2 space of one layer."""
    from archgym.envs.accelerator.mapping_model import LOOP_ORDERS, MAPPING_DATAFLOWS

    return DesignSpace(
        [
            Categorical("dataflow", MAPPING_DATAFLOWS, description="spatial unrolling"),
            Categorical("loop_order", LOOP_ORDERS, description="tile loops, outermost first"),
            Ordinal("tile_m", tile_choices(layer.m), description=f"buffer tile of M={layer.m}"),
            Ordinal("tile_n", tile_choices(layer.n), description=f"buffer tile of N={layer.n}"),
            Ordinal("tile_k", tile_choices(layer.k), description=f"buffer tile of K={layer.k}"),
            Ordinal(
                "rf_tile",
                (1, 2, 4, 8, 16, 32),
                description="stationary values per PE register file",
            ),
        ],
        name=f"mapping[{layer.name}]",
    )


def make_mapping_env(
    layer: Any = "resnet18:layer2.0.conv1",
    accelerator: Mapping[str, Any] | None = None,
    objective: Any = "edp",
    constraints: Sequence[str] = (),
    cost_model: CostModel | None = None,
    mode: str = "one-step",
    bandwidth_mode: str = "limited",
    **kwargs: Any,
) -> DSEEnv:
    """Build Mapping-v2.

    Args:
        layer: A Layer, a dict of Layer fields, or ``"workload:layer_name"``.
        accelerator: Fixed Accelerator-v2 parameters (rows, cols, gbuf_kb, ...).
        objective: Objective spec; default energy-delay product.
        constraints: E.g. ``["dram_bytes <= 1e6"]``.
        cost_model: Replace the mapping model.
        mode: ``"one-step"`` or ``"sequential"``.
        bandwidth_mode: ``"limited"`` or ``"ideal"``.
    """
    from archgym.envs.accelerator.mapping_model import MappingCostModel

    if "workload" in kwargs:  # DSEEnv's workload is the layer here
        raise ConfigError(
            f"Mapping-v2 maps one layer: pass layer='WORKLOAD:LAYER' (e.g. "
            f"'resnet18:layer2.0.conv1'), not workload={kwargs['workload']!r}"
        )
    lay = resolve_layer(layer)
    model = cost_model or MappingCostModel(lay, accelerator, bandwidth_mode=bandwidth_mode)
    return DSEEnv(mapping_space(lay), model, lay, objective, constraints, mode=mode, **kwargs)


register(
    "archgym/Mapping-v2",
    make_mapping_env,
    "One layer's mapping (loop order, buffer tiling, spatial unrolling) on a fixed accelerator",
    report_metrics=("latency_s", "energy_j", "dram_bytes"),
    default_cost_model="mapping (built in)",
    workload_type=Layer,
)
