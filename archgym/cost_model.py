"""The cost-model contract: what every backend (analytical, simulator, learned) implements.

A cost model turns a *batch* of designs and a workload into one row of metrics per design::

    model = SystolicCostModel()
    evals = model.evaluate([{"rows": 32, "cols": 32, ...}, ...], workload)
    evals.metrics["latency_s"]   # numpy array, one value per design
    evals.feasible               # bool array; evals.reasons[i] says why a design is not

Rules every implementation follows:

* ``name`` and ``version`` identify the model in run records; bump ``version`` whenever a
  number it returns could change.
* ``metrics`` declares each metric once, with its unit and whether lower or higher is better.
* ``design_params`` (optional) names every design column the model reads; an env refuses a
  design space with parameters outside it, whose values the model would silently ignore.
  Metric names carry their unit (``latency_s``, ``energy_j``, ``area_mm2``, ``cycles``).
* :meth:`CostModel.evaluate_columns` is vectorised: designs arrive as *columns* (one numpy
  array per parameter), so analytical models compute a whole batch with array arithmetic.
* A design the model cannot build is ``feasible=False`` with a human-readable reason; its
  metric values are NaN. Only a broken backend (a simulator that crashes on every input, a
  missing file) raises, and then it raises :class:`~archgym.errors.BackendError`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from archgym.errors import BackendError, ConfigError, DesignError

__all__ = ["Metric", "Evaluations", "CostModel", "designs_to_columns", "reject_unphysical"]

Direction = Literal["min", "max"]
_FLOAT = np.dtype(float)
_BOOL = np.dtype(bool)
#: ``feasible`` of every :meth:`Evaluations.from_floats` result: read-only, so that sharing
#: it is safe (a fresh array and its release cost a lone design about 0.25 us).
_ONE_FEASIBLE = np.ones(1, dtype=bool)
_ONE_FEASIBLE.flags.writeable = False


@dataclass(frozen=True)
class Metric:
    """One quantity a cost model returns.

    Attributes:
        name: Identifier with its unit as suffix, e.g. ``"energy_j"``.
        unit: Human-readable unit, e.g. ``"J"``; ``""`` for dimensionless figures.
        direction: ``"min"`` if lower is better, ``"max"`` if higher is better.
        description: One line shown by ``archgym list``.
        signed: ``True`` if the value may be negative (a log ratio, a score); every other
            metric is a physical quantity (time, energy, area, counts, accuracy) and a
            negative value marks a broken output, made infeasible by :meth:`CostModel.evaluate`.
        optional: ``True`` if a feasible design may lack the value (NaN), e.g. a figure
            reported only by some sources; a NaN in any other metric marks a broken output.
    """

    name: str
    unit: str
    direction: Direction = "min"
    description: str = ""
    signed: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ConfigError(
                f"Metric {self.name!r}: direction must be 'min' or 'max', "
                f"but got {self.direction!r}."
            )


@dataclass
class Evaluations:
    """The result of evaluating a batch of ``n`` designs.

    Attributes:
        metrics: Metric name -> float array of shape ``(n,)``; NaN where infeasible.
        feasible: Bool array of shape ``(n,)``; read-only in a lone design's result of
            :meth:`from_floats` (shared by all of them): build a new result to change it.
        reasons: ``n`` strings; ``""`` for a feasible design, else why it is not.
        extras: Optional per-design JSON-serialisable details (e.g. a simulator's raw report).
    """

    metrics: dict[str, np.ndarray]
    feasible: np.ndarray
    reasons: list[str]
    extras: list[dict[str, Any]] | None = field(default=None)

    def __post_init__(self) -> None:
        self.feasible = np.asarray(self.feasible, dtype=bool)
        n = self.feasible.shape[0]
        shape = (n,)
        for key, values in self.metrics.items():
            if type(values) is np.ndarray and values.dtype == _FLOAT and values.shape == shape:
                continue  # already what it must be (a model's own output)
            arr = np.asarray(values, dtype=float)
            if arr.shape != shape:
                raise ValueError(
                    f"metric {key!r} must have shape ({n},) like `feasible`, got {arr.shape}"
                )
            self.metrics[key] = arr
        if len(self.reasons) != n:
            raise ValueError(f"`reasons` must have {n} entries, got {len(self.reasons)}")

    def __len__(self) -> int:
        return int(self.feasible.shape[0])

    if not TYPE_CHECKING:  # hidden from mypy, which would accept any attribute name

        def __getattr__(self, name: str) -> Any:
            # Only reached for an attribute the instance lacks: `metrics` of a result built
            # by from_block or from_floats, whose per-metric arrays are made at first use (a
            # lone design whose caller reads `floats(0)` never pays for them).
            d = self.__dict__
            if name != "metrics" or "_names" not in d:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            block = d.get("_block")
            if block is None:  # from_floats: one design's column
                names = d["_names"]
                block = np.array(d["_floats"][: len(names)], dtype=float).reshape(len(names), 1)
                d["_block"] = block
            # from_block / from_floats checked the shapes: no strict= (0.2-0.8 us of a lone
            # design, here and in floats)
            metrics = d["metrics"] = dict(zip(d["_names"], block))  # noqa: B905
            return metrics

    @classmethod
    def from_block(
        cls,
        names: Sequence[str],
        block: np.ndarray,
        feasible: np.ndarray,
        reasons: list[str],
        check: bool = True,
    ) -> Evaluations:
        """Evaluations whose metrics are the rows of one float block ``(len(names), n)``
        (views, not copies), checked once for the whole block instead of once per metric: the
        lone-design fast path of a model that computes every metric in one array. The
        ``metrics`` dict is built at its first use (the same dict of views as ever), and
        :meth:`floats` reads a design's metrics from the block without it.

        ``check=False`` skips the checks below, for a caller that has just allocated
        ``block`` and ``feasible`` itself with these dtypes and shapes (a model's own
        ``np.empty``); anything else must be checked.

        Raises:
            ValueError: ``block`` is not a float64 array of that shape, ``feasible`` not a
                bool array of shape ``(n,)``, or ``reasons`` not ``n`` strings long.
        """
        n = len(reasons)
        if check and not (
            type(block) is np.ndarray
            and type(feasible) is np.ndarray
            # `is` first: numpy hands out one dtype object per built-in type, and an
            # identity test costs a tenth of `==` (a lone design's call is a few us)
            and (block.dtype is _FLOAT or block.dtype == _FLOAT)
            and (feasible.dtype is _BOOL or feasible.dtype == _BOOL)
            and block.shape == (len(names), n)
            and feasible.shape == (n,)
        ):
            raise ValueError(
                f"from_block needs a float64 block of shape ({len(names)}, {n}) and a bool "
                f"feasible of shape ({n},), got {getattr(block, 'shape', None)} "
                f"{getattr(block, 'dtype', type(block).__name__)} and "
                f"{getattr(feasible, 'shape', None)} {getattr(feasible, 'dtype', None)}"
            )
        out = cls.__new__(cls)  # the block was checked as a whole: skip the per-metric checks
        # `metrics` (a dict of row views) is made at its first use, see __getattr__
        d = out.__dict__
        d["_names"], d["_block"], d["feasible"], d["reasons"], d["extras"] = (
            names,
            block,
            feasible,
            reasons,
            None,
        )
        return out

    @classmethod
    def from_floats(
        cls, names: Sequence[str], values: tuple[float, ...], check: bool = True
    ) -> Evaluations:
        """The result of one feasible design whose metrics are the first ``len(names)`` of
        ``values`` (Python floats, in the order of ``names``; items beyond are ignored, such
        as a kernel's status): the lone-design fast path of a model that computes a design
        as numbers. :meth:`floats` reads them as they are; the ``metrics`` dict of ``(1,)``
        arrays is built at its first use (as :meth:`from_block`'s). ``feasible`` is a
        read-only ``[True]`` shared by such results.

        ``check=False`` skips the check below, for a caller whose compiled code has just
        returned ``values`` with that type (the check costs about 0.6 us, a lone design's
        call 2-3 us).

        Raises:
            ValueError: ``values`` is not a tuple of at least ``len(names)`` floats.
        """
        if check and not (
            type(values) is tuple
            and len(values) >= len(names)
            and all(type(x) is float for x in values[: len(names)])
        ):
            raise ValueError(
                f"from_floats needs a tuple of {len(names)} floats (one per metric), got {values!r}"
            )
        out = cls.__new__(cls)
        d = out.__dict__
        d["_names"], d["_floats"], d["feasible"], d["reasons"], d["extras"] = (
            names,
            values,
            _ONE_FEASIBLE,
            [""],
            None,
        )
        return out

    def _metric_names(self) -> list[str]:
        """The metric names, without building a from_block or from_floats result's
        per-metric arrays."""
        d = self.__dict__
        return list(d["metrics"] if "metrics" in d or "_names" not in d else d["_names"])

    def floats(self, i: int) -> dict[str, float]:
        """Metrics of design ``i`` as Python floats (NaN stays NaN), in the metrics' order."""
        d = self.__dict__  # read the block or the floats while `metrics` is not built
        if "metrics" not in d and "_names" in d:
            values = d.get("_floats")
            if values is None:
                return dict(zip(d["_names"], d["_block"][:, i].tolist()))  # noqa: B905
            if i == 0 or i == -1:
                return dict(zip(d["_names"], values))  # noqa: B905
            raise IndexError(f"design index {i} is out of range for 1 design")
        return {k: float(v[i]) for k, v in self.metrics.items()}

    def row(self, i: int) -> dict[str, Any]:
        """Metrics of design ``i`` as plain floats (NaN becomes ``None``), plus feasibility."""
        out: dict[str, Any] = {}
        for k, x in self.floats(i).items():
            out[k] = None if math.isnan(x) else x
        out["feasible"] = bool(self.feasible[i])
        out["reason"] = self.reasons[i]
        return out

    def rows(self) -> Iterator[dict[str, Any]]:
        """Iterate :meth:`row` over all designs."""
        for i in range(len(self)):
            yield self.row(i)

    @classmethod
    def infeasible(
        cls, n: int, metric_names: Sequence[str], reason: str | Sequence[str]
    ) -> Evaluations:
        """A batch of ``n`` infeasible results, e.g. for a crashed simulator call."""
        reasons = [reason] * n if isinstance(reason, str) else list(reason)
        return cls(
            metrics={m: np.full(n, np.nan) for m in metric_names},
            feasible=np.zeros(n, dtype=bool),
            reasons=reasons,
        )

    @classmethod
    def concat(cls, parts: Sequence[Evaluations]) -> Evaluations:
        """Join batches evaluated separately, in order."""
        if not parts:
            raise ValueError("concat needs at least one Evaluations")
        keys = list(parts[0].metrics)
        extras: list[dict[str, Any]] | None = None
        if any(p.extras is not None for p in parts):
            extras = []
            for p in parts:
                extras.extend(p.extras if p.extras is not None else [{}] * len(p))
        return cls(
            metrics={k: np.concatenate([p.metrics[k] for p in parts]) for k in keys},
            feasible=np.concatenate([p.feasible for p in parts]),
            reasons=[r for p in parts for r in p.reasons],
            extras=extras,
        )


def designs_to_columns(
    designs: Sequence[Mapping[str, Any]] | Mapping[str, Any],
) -> tuple[dict[str, np.ndarray], int]:
    """Turn a list of design dicts (or a dict of columns) into numpy columns.

    Returns:
        ``(columns, n)`` where every column has length ``n``.

    Raises:
        DesignError: Designs name different parameters, or columns differ in length.
    """
    if isinstance(designs, Mapping):
        first = next(iter(designs.values()), None)
        if type(first) is np.ndarray and first.ndim == 1:  # the env's columns: as they are
            n = first.shape[0]
            if all(type(v) is np.ndarray and v.shape == (n,) for v in designs.values()):
                return dict(designs), n
        cols = {k: np.asarray(v) for k, v in designs.items()}
        lengths = {k: c.shape[0] if c.ndim else 1 for k, c in cols.items()}
        if len(set(lengths.values())) > 1:
            raise DesignError(f"design columns must have equal lengths, got {lengths}")
        cols = {k: (c if c.ndim else c.reshape(1)) for k, c in cols.items()}
        return cols, next(iter(lengths.values()), 0)
    designs = list(designs)
    if not designs:
        return {}, 0
    keys = list(designs[0])
    for i, d in enumerate(designs):
        if d.keys() != designs[0].keys():
            raise DesignError(
                f"all designs in a batch must name the same parameters; design {i} has "
                f"{sorted(d)}, design 0 has {sorted(keys)}"
            )
    return {k: np.asarray([d[k] for d in designs]) for k in keys}, len(designs)


_EXEMPT: dict[tuple[int, tuple[str, ...]], tuple[Sequence[Metric], np.ndarray, np.ndarray]] = {}


def _exempt(names: tuple[str, ...], metrics: Sequence[Metric]) -> tuple[np.ndarray, np.ndarray]:
    """``(signed, optional)`` columns ``(len(names), 1)``, cached per model's metric tuple."""
    key = (id(metrics), names)
    hit = _EXEMPT.get(key)
    if hit is None or hit[0] is not metrics:
        signed = {m.name for m in metrics if m.signed}
        optional = {m.name for m in metrics if m.optional}
        hit = (
            metrics,
            np.array([[n in signed] for n in names]),
            np.array([[n in optional] for n in names]),
        )
        if len(_EXEMPT) > 256:
            _EXEMPT.clear()
        _EXEMPT[key] = hit
    return hit[1], hit[2]


def reject_unphysical(out: Evaluations, metrics: Sequence[Metric], model: str) -> Evaluations:
    """Mark feasible rows whose metrics are NaN (unless the metric is ``optional``), infinite
    or negative (unless it is ``signed``) as infeasible, with the reason, and their metrics NaN.

    A simulator that prints ``nan`` or a negative cycle count, or a learned proxy that
    extrapolates below zero, has not measured the design; ranking it as the best design
    would be wrong. :meth:`CostModel.evaluate` applies this to every model once.
    """
    names = out._metric_names()
    if not names or len(out) == 0:
        return out
    signed, optional = _exempt(tuple(names), metrics)
    if not signed.any() and not optional.any():  # fast paths: every metric in [0, inf)
        if len(out) == 1:  # one design (an env step): plain floats beat numpy calls
            if all(0.0 <= x < math.inf for x in out.floats(0).values()):  # NaN fails
                return out
        else:
            values = np.array([out.metrics[k] for k in names])
            if values.min() >= 0 and values.max() < np.inf:  # NaN propagates into both
                return out
    values = np.array([out.metrics[k] for k in names])  # (metrics, designs): one check for all
    broken = np.isinf(values) | ((values < 0) & ~signed) | (np.isnan(values) & ~optional)
    broken &= out.feasible
    bad = broken.any(axis=0)
    if not bad.any():
        return out
    first: dict[int, str] = {}
    for i in np.flatnonzero(bad).tolist():
        j = int(np.argmax(broken[:, i]))  # the first broken metric, in the model's order
        first[i] = f"{names[j]}={float(values[j, i])!r}"
    reasons = list(out.reasons)
    for i, what in first.items():
        reasons[i] = (
            f"cost model {model!r} returned {what}, which is not a measurement (metrics must be "
            "finite and, unless signed, >= 0); treated as infeasible"
        )
    return Evaluations(
        metrics={k: np.where(bad, np.nan, v) for k, v in out.metrics.items()},
        feasible=out.feasible & ~bad,
        reasons=reasons,
        extras=out.extras,
    )


class CostModel(abc.ABC):
    """Base class of every cost model. Subclasses set the class attributes and implement
    :meth:`evaluate_columns`.

    Attributes:
        name: Registry name, e.g. ``"systolic-analytical"``.
        version: Bumped whenever returned numbers could change; recorded with every run.
        metrics: The metrics :meth:`evaluate` returns, in order.
        description: One line shown by ``archgym list``.
        design_params: The design columns the model reads (``None``: not declared, unchecked).
    """

    name: ClassVar[str] = "cost-model"
    version: ClassVar[str] = "0"
    metrics: ClassVar[tuple[Metric, ...]] = ()
    description: ClassVar[str] = ""
    design_params: ClassVar[frozenset[str] | None] = None

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of :attr:`metrics`, in order."""
        return tuple(m.name for m in self.metrics)

    def metric(self, name: str) -> Metric:
        """Look up a declared metric by name; raises ConfigError naming the known ones."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise ConfigError(
            f"cost model {self.name!r} has no metric {name!r}; it returns "
            f"{', '.join(self.metric_names)}"
        )

    def evaluate(
        self,
        designs: Sequence[Mapping[str, Any]] | Mapping[str, Any],
        workload: Any = None,
    ) -> Evaluations:
        """Evaluate a batch of designs on a workload.

        Args:
            designs: A list of design dicts, or a dict of equal-length columns. Designs are
                assumed valid for the model's space (the env validates them first).
            workload: Whatever the model's domain calls a workload (layers, a GEMM shape...).

        Returns:
            One :class:`Evaluations` row per design, in order.
        """
        columns, n = designs_to_columns(designs)
        if n == 0:
            return Evaluations.infeasible(0, self.metric_names, "")
        out = self.evaluate_columns(columns, workload)
        if len(out) != n:
            raise BackendError(
                f"{type(self).__name__}.evaluate_columns returned {len(out)} rows for {n} designs"
            )
        return reject_unphysical(out, self.metrics, self.name)

    @abc.abstractmethod
    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Vectorised evaluation: ``columns[param]`` is an array with one entry per design."""

    def bind_env(self, env: Any) -> None:
        """Called by :func:`archgym.make` with the env this model was built into.

        A model tied to one env (a proxy trained on one env's space and workload) overrides
        this to refuse any other with a :class:`~archgym.errors.ConfigError`; the default
        accepts every env.
        """
        del env

    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests."""
        return {"name": self.name, "version": self.version, "class": type(self).__qualname__}
