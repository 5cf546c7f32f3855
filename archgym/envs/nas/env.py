"""``archgym/NAS-v0``: neural-architecture search with a real accuracy oracle.

A design is a CNN from the macro space of :mod:`archgym.envs.nas.arch` plus a compression setting
(``sparsity``, ``weight_bits``, ``scope``; see :mod:`archgym.envs.nas.compress`). The workload is
the task name (``"digits"`` or ``"mnist1d"``). :class:`NASCostModel` returns

* ``accuracy`` (max): validation accuracy after compression -- what agents optimise;
* ``test_accuracy`` (max): for reports only, never for selection;
* ``params``, ``macs`` (min): dense trainable parameters and MACs per sample;
* ``effective_macs`` (min): MACs that touch nonzero weights;
* ``weight_bytes`` (min): nonzero weights times their bit width, in bytes (no index metadata).

Accuracy sources (``accuracy=``):

* ``"table"`` (default): exact lookup in the shipped table. The default space is then the
  table space (:data:`archgym.envs.nas.arch.TABLE_VALUES` x every compression setting), and every
  design of it is in the table. A design outside the table is *infeasible* with a reason that
  says so (no nearest-neighbour guessing, which would hide how far off it is); use ``"proxy"``
  or ``"train"`` for the full space.
* ``"train"``: trains live (seconds per new architecture; trained networks are cached per
  architecture so compression settings of one architecture cost one training).
* ``"proxy"``: a gradient-boosted surrogate fitted on the table with a fixed seed
  (:mod:`archgym.envs.nas.surrogate`); see ``benchmarks/nas_surrogate.py`` for its ranking quality.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.envs.nas.arch import MAX_BLOCKS, PARAM_VALUES, TABLE_VALUES, arch_key, plan_network
from archgym.envs.nas.compress import (
    SCOPES,
    SPARSITIES,
    WEIGHT_BITS,
    Compression,
    check_compression,
)
from archgym.envs.nas.datasets import TASK_SHAPES
from archgym.errors import ConfigError
from archgym.registry import register, register_cost_model
from archgym.space import Categorical, DesignSpace, Ordinal

__all__ = ["nas_space", "NASCostModel", "make_nas_env"]

ACCURACY_SOURCES = ("table", "train", "proxy")
_ORDERED = {"num_blocks", "width", "kernel", "expand"}


def nas_space(full: bool = False) -> DesignSpace:
    """The NAS-v0 design space: the table space (default) or the full macro space.

    Block ``i`` parameters are active only when ``num_blocks >= i`` (inactive ones are pinned
    to their first value, so equivalent designs compare equal).
    """
    values = PARAM_VALUES if full else TABLE_VALUES
    params: list[Any] = [
        Ordinal("num_blocks", values["num_blocks"], description="number of macro blocks"),
        Categorical("activation", values["activation"], description="activation function"),
    ]
    for i in range(1, MAX_BLOCKS + 1):
        cond = {"num_blocks": [n for n in values["num_blocks"] if n >= i]}
        if not cond["num_blocks"]:
            continue
        for field in ("width", "kernel", "down", "expand", "skip"):
            kind = Ordinal if field in _ORDERED else Categorical
            params.append(
                kind(
                    f"b{i}_{field}",
                    values[f"b{i}_{field}"],
                    active_if=cond,
                    description=f"block {i} {field}",
                )
            )
    params += [
        Categorical("sparsity", SPARSITIES, description="weight pruning pattern"),
        Ordinal("weight_bits", WEIGHT_BITS, description="weight bits (32 = float)"),
        Categorical("scope", SCOPES, description="compress inner layers or all layers"),
    ]
    return DesignSpace(params, name="nas-full" if full else "nas-table")


def _design_rows(columns: Mapping[str, np.ndarray], n: int) -> list[dict[str, Any]]:
    rows = [{k: columns[k][i] for k in columns} for i in range(n)]
    for r in rows:  # blocks past the space's maximum are absent: fill inactive defaults
        for i in range(1, MAX_BLOCKS + 1):
            for f in ("width", "kernel", "down", "expand", "skip"):
                r.setdefault(f"b{i}_{f}", PARAM_VALUES[f"b{i}_{f}"][0])
    return rows


class NASCostModel(CostModel):
    """Accuracy and size of a compressed CNN (see the module docstring).

    Args:
        accuracy: ``"table"``, ``"train"`` or ``"proxy"``.
        table: Path of the table (default: the shipped table of the workload's task).
        seed: Training seed for ``"train"``; surrogate seed for ``"proxy"``.
        cache_size: Trained networks kept in memory for ``"train"``.

    Raises:
        ConfigError: Unknown accuracy source.
    """

    name: ClassVar[str] = "nas"
    version: ClassVar[str] = "1"
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("accuracy", "", "max", "validation accuracy after compression"),
        Metric(
            "test_accuracy",
            "",
            "max",
            "test accuracy after compression (reports only)",
            optional=True,
        ),
        Metric("params", "", "min", "trainable parameters of the dense network"),
        Metric("macs", "MAC", "min", "multiply-accumulates per sample, dense"),
        Metric("effective_macs", "MAC", "min", "MACs on nonzero weights per sample"),
        Metric("weight_bytes", "B", "min", "nonzero weights x bits / 8 (no index metadata)"),
    )
    description: ClassVar[str] = (
        "CNN accuracy after pruning/quantization: table, live training or surrogate"
    )

    def __init__(
        self,
        accuracy: str = "table",
        table: str | Path | None = None,
        seed: int = 0,
        cache_size: int = 32,
    ) -> None:
        if accuracy not in ACCURACY_SOURCES:
            raise ConfigError(f"accuracy must be one of {ACCURACY_SOURCES}, but got {accuracy!r}.")
        self.accuracy = accuracy
        self.table_path = Path(table) if table is not None else None
        self.seed = seed
        self._nets: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._cache_size = cache_size
        self._surrogates: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            accuracy=self.accuracy,
            seed=self.seed,
            table=str(self.table_path) if self.table_path else "shipped",
        )
        return out

    def _table(self, task: str) -> Any:
        from archgym.envs.nas.table import default_table_path, load_table

        return load_table(self.table_path or default_table_path(task))

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        task = str(workload or "digits")
        if task not in TASK_SHAPES:
            raise ConfigError(
                f"NAS workload must be one of {tuple(TASK_SHAPES)}, but got {task!r}."
            )
        n = len(next(iter(columns.values())))
        designs = _design_rows(columns, n)
        shape = TASK_SHAPES[task]
        out = {m: np.full(n, np.nan) for m in self.metric_names}
        feasible = np.zeros(n, dtype=bool)
        reasons = [""] * n
        todo: list[int] = []
        for i, d in enumerate(designs):
            plan = plan_network(d, *shape)
            if not plan.feasible:
                reasons[i] = plan.reason
                continue
            try:
                comp = Compression(str(d["sparsity"]), int(d["weight_bits"]), str(d["scope"]))
            except Exception as exc:  # DesignError from a malformed setting
                reasons[i] = str(exc)
                continue
            why = check_compression(plan.layers, comp)
            if why:
                reasons[i] = why
                continue
            out["params"][i], out["macs"][i] = plan.params, plan.macs
            todo.append(i)
        if self.accuracy == "table":
            self._from_table(task, designs, todo, out, reasons)
        elif self.accuracy == "proxy":
            self._from_proxy(task, designs, todo, out)
        else:
            self._from_training(task, designs, todo, out)
        for i in todo:
            feasible[i] = not reasons[i]
        for m in out.values():
            m[~feasible] = np.nan
        return Evaluations(out, feasible, reasons)

    # -- sources ------------------------------------------------------------------------
    def _from_table(
        self,
        task: str,
        designs: list[dict[str, Any]],
        todo: list[int],
        out: dict[str, np.ndarray],
        reasons: list[str],
    ) -> None:
        t = self._table(task)
        cols = {
            m: t.column(c)
            for m, c in (
                ("accuracy", "val_accuracy"),
                ("test_accuracy", "test_accuracy"),
                ("effective_macs", "effective_macs"),
                ("weight_bytes", "weight_bytes"),
            )
        }
        feas, why = t.column("feasible"), t.column("reason")
        for i in todo:
            d = designs[i]
            key = arch_key(d)
            row = t.lookup(key, str(d["sparsity"]), int(d["weight_bits"]), str(d["scope"]))
            if row is None:
                reasons[i] = (
                    f"architecture {key!r} with {d['sparsity']}/{int(d['weight_bits'])}-bit/"
                    f"{d['scope']} is not in the table {t.path.name}; the table covers "
                    "nas_space() only. Use accuracy='proxy' or 'train' for other designs."
                )
                continue
            if not feas[row]:
                reasons[i] = str(why[row])
                continue
            for m, c in cols.items():
                out[m][i] = float(c[row])

    def _surrogate(self, task: str) -> Any:
        if task not in self._surrogates:
            from archgym.envs.nas.surrogate import AccuracySurrogate, featurize

            df = self._table(task).df
            df = df[df["feasible"]]
            x = featurize(df.to_dict("records"), *TASK_SHAPES[task])
            self._surrogates[task] = AccuracySurrogate(seed=self.seed).fit(
                x, df["val_accuracy"].to_numpy(float)
            )
        return self._surrogates[task]

    def _from_proxy(
        self, task: str, designs: list[dict[str, Any]], todo: list[int], out: dict[str, np.ndarray]
    ) -> None:
        from archgym.envs.nas.surrogate import featurize

        if not todo:
            return
        x = featurize([designs[i] for i in todo], *TASK_SHAPES[task])
        out["accuracy"][todo] = self._surrogate(task).predict(x)
        for i in todo:
            eff, wb = _analytic_size(designs[i], task)
            out["effective_macs"][i], out["weight_bytes"][i] = eff, wb

    def _from_training(
        self, task: str, designs: list[dict[str, Any]], todo: list[int], out: dict[str, np.ndarray]
    ) -> None:
        import torch

        from archgym.envs.nas.datasets import load_task
        from archgym.envs.nas.oracle import OracleConfig, evaluate_compression
        from archgym.envs.nas.train import train_architecture

        if not todo:
            return
        data = load_task(task)
        cfg = OracleConfig(seed=self.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for i in todo:
                d = designs[i]
                k = (task, arch_key(d))
                if k not in self._nets:
                    res = train_architecture(d, data, seed=self.seed, cfg=cfg.train)
                    plan = plan_network(d, *TASK_SHAPES[task])
                    self._nets[k] = (res.net, plan, {})
                    while len(self._nets) > self._cache_size:
                        self._nets.popitem(last=False)
                self._nets.move_to_end(k)
                net, plan, ft = self._nets[k]
                comp = Compression(str(d["sparsity"]), int(d["weight_bits"]), str(d["scope"]))
                r = evaluate_compression(net, plan, data, comp, cfg, ft)
                out["accuracy"][i], out["test_accuracy"][i] = r["val_accuracy"], r["test_accuracy"]
                out["effective_macs"][i], out["weight_bytes"][i] = (
                    r["effective_macs"],
                    r["weight_bytes"],
                )
        finally:
            torch.set_num_threads(threads)


def _analytic_size(d: Mapping[str, Any], task: str) -> tuple[float, float]:
    """Effective MACs and weight bytes assuming the pattern's nominal density (proxy mode)."""
    from archgym.envs.nas.compress import compressed_layers

    plan = plan_network(d, *TASK_SHAPES[task])
    comp = Compression(str(d["sparsity"]), int(d["weight_bits"]), str(d["scope"]))
    inside = {lp.name for lp in compressed_layers(plan.layers, comp.scope)}
    eff = sum(lp.macs * (comp.density if lp.name in inside else 1.0) for lp in plan.layers)
    wb = (
        sum(
            lp.weights * (comp.density * comp.weight_bits if lp.name in inside else 32)
            for lp in plan.layers
        )
        / 8.0
    )
    return float(eff), float(wb)


def make_nas_env(
    workload: str = "digits",
    objective: Any = "accuracy",
    constraints: Sequence[str] = (),
    accuracy: str = "table",
    table: str | Path | None = None,
    full_space: bool | None = None,
    seed: int = 0,
    cost_model: CostModel | None = None,
    mode: str = "one-step",
    **kwargs: Any,
) -> Any:
    """Build NAS-v0.

    Args:
        workload: ``"digits"`` or ``"mnist1d"`` (a table for mnist1d must be given via ``table``
            unless one ships).
        objective: Objective spec; default maximise validation ``accuracy``.
        constraints: E.g. ``["weight_bytes <= 4000", "macs <= 200000"]``.
        accuracy: ``"table"``, ``"train"`` or ``"proxy"``.
        table: NAS table path (default: the shipped one for the task).
        full_space: Search the full macro space (default: only when ``accuracy != "table"``).
        seed: Training / surrogate seed.
        cost_model: Replace the cost model entirely.
        mode: ``"one-step"`` or ``"sequential"``.
    """
    from archgym.env import DSEEnv

    full = (accuracy != "table") if full_space is None else full_space
    model = cost_model if cost_model is not None else NASCostModel(accuracy, table, seed)
    return DSEEnv(nas_space(full), model, workload, objective, constraints, mode=mode, **kwargs)


register(
    "archgym/NAS-v0",
    make_nas_env,
    "CNN macro search x pruning x quantization on digits/mnist1d; accuracy from a shipped table, live training (accuracy=train) or a surrogate (proxy)",
    report_metrics=("accuracy", "test_accuracy", "params", "weight_bytes"),
    default_cost_model="nas",
)
register_cost_model("nas", NASCostModel, NASCostModel.description)
