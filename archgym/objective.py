"""Objectives and constraints: from a cost model's metrics to what an agent optimises.

An objective is given by a spec, resolved against the metrics a cost model declares:

==========================================  =================================================
spec                                        meaning
==========================================  =================================================
``"latency_s"``                             optimise one metric in its declared direction
``"min:energy_j"`` / ``"max:accuracy"``     explicit direction
``"edp"``                                   energy-delay product, ``energy_j * latency_s``
``"energy_j*latency_s"``                    any product of metrics (all minimised)
``{"weighted": {"latency_s": 1, ...}}``     weighted sum of metrics, each normalised by a
                                            ``"scale"`` (default 1) given as ``{"scale": {...}}``
``{"target": {"latency_s": 1e-3, ...}}``    ArchGym target specs: sum of relative distances
                                            ``|m - t| / |t|`` (0 when every target is met)
``"weighted:latency_s=1,energy_j=0.5"``     the weighted sum as one string (CLI, TOML)
``"target:latency_s=1e-3,area_mm2=5"``      the target spec as one string
``["latency_s", "max:accuracy"]``           several objectives at once, for Pareto search
==========================================  =================================================

Constraints are strings ``"<metric> <= <number>"`` or ``>=``, e.g. ``"area_mm2 <= 5"``.

Everything is expressed in *minimisation form*: :meth:`Objective.values` returns an
``(n, k)`` array where lower is better for every column (maximised metrics are negated), NaN
for infeasible designs. :meth:`Objective.reward` gives the scalar reward Gymnasium envs
return (higher is better).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.cost_model import Evaluations, Metric
from archgym.errors import ConfigError

__all__ = ["Term", "ConstraintSpec", "Objective", "ObjectiveSpec"]

ObjectiveSpec = str | Mapping[str, Any] | Sequence[Any]

_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Term:
    """One objective column in minimisation form.

    Attributes:
        label: Display name, e.g. ``"edp"`` or ``"max:accuracy"``.
        kind: ``"metric"``, ``"product"``, ``"weighted"`` or ``"target"``.
        metrics: Metric names it reads.
        sign: ``+1`` to minimise, ``-1`` to maximise (single-metric terms).
        weights: Per-metric weights (weighted) or targets (target).
        scales: Per-metric normalisers for weighted sums.
    """

    label: str
    kind: str
    metrics: tuple[str, ...]
    sign: float = 1.0
    weights: Mapping[str, float] = field(default_factory=dict)
    scales: Mapping[str, float] = field(default_factory=dict)

    def compute(self, m: Mapping[str, np.ndarray]) -> np.ndarray:
        """Column values (lower is better) from metric arrays."""
        if self.kind == "metric":
            return self.sign * m[self.metrics[0]]
        if self.kind == "product":
            out = m[self.metrics[0]]
            for name in self.metrics[1:]:
                out = out * m[name]
            return out
        if self.kind == "weighted":
            return sum(  # type: ignore[return-value]
                self.weights[k] * m[k] / self.scales.get(k, 1.0) for k in self.metrics
            )
        if self.kind == "target":
            return sum(  # type: ignore[return-value]
                np.abs(m[k] - t) / abs(t) for k, t in self.weights.items()
            )
        raise AssertionError(self.kind)


@dataclass(frozen=True)
class ConstraintSpec:
    """``metric op bound``, e.g. ``area_mm2 <= 5``."""

    metric: str
    op: str
    bound: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def violation(self, m: Mapping[str, np.ndarray]) -> np.ndarray:
        """Amount by which each design breaks the constraint (0 when satisfied, NaN unknown)."""
        v = m[self.metric]
        if self.op in ("<=", "<"):
            return np.maximum(v - self.bound, 0.0)
        return np.maximum(self.bound - v, 0.0)

    @classmethod
    def parse(cls, text: str, known: Sequence[str]) -> ConstraintSpec:
        """Parse ``"area_mm2 <= 5"``; raise ConfigError naming the rule and the known metrics."""
        match = _CONSTRAINT_RE.match(text) if isinstance(text, str) else None
        if not match:
            raise ConfigError(
                f"constraint must look like '<metric> <= <number>' or '<metric> >= <number>', "
                f"but got {text!r}"
            )
        name, op, bound = match.groups()
        _check_metric(name, known, what="constraint")
        try:
            value = float(bound)
        except ValueError:
            raise ConfigError(f"constraint {text!r}: bound {bound!r} is not a number") from None
        return cls(name, op, value)


def _parse_pairs(text: str, spec: str) -> dict[str, float]:
    """``"latency_s=1,energy_j=0.5"`` -> ``{"latency_s": 1.0, "energy_j": 0.5}``.

    Raises:
        ConfigError: An item is not ``metric=number``.
    """
    out: dict[str, float] = {}
    for item in text.split(","):
        name, eq, value = item.partition("=")
        try:
            if not eq or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"objective {spec!r}: expected comma-separated metric=number pairs after the "
                f"colon, e.g. 'weighted:latency_s=1,energy_j=0.5', but got {item.strip()!r}"
            ) from None
    return out


def _finite_numbers(values: Any, what: str, spec: Any, positive: bool = False) -> dict[str, float]:
    """``{metric: number}`` of an objective spec, every number finite (and > 0 if
    ``positive``).

    Raises:
        ConfigError: Not a mapping, or a value that is not such a number.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"objective {spec!r}: {what!r} must map metric names to numbers, but got {values!r}"
        )
    out: dict[str, float] = {}
    for k, v in values.items():
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = math.nan
        if isinstance(v, bool) or not math.isfinite(x) or (positive and x <= 0):
            rule = "a positive, finite number" if positive else "a finite number"
            raise ConfigError(f"objective {spec!r}: {what} of {k!r} must be {rule}, but got {v!r}")
        out[str(k)] = x
    return out


def _check_metric(name: str, known: Sequence[str], what: str = "objective") -> None:
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{what} names unknown metric {name!r}; the cost model returns "
            f"{', '.join(known)}.{hint}"
        )


class Objective:
    """Resolved objective(s) and constraints over a cost model's metrics.

    Args:
        spec: See the module docstring.
        metrics: The cost model's declared metrics (names and directions).
        constraints: Constraint strings such as ``"area_mm2 <= 5"``.
        infeasible_reward: Reward returned for an infeasible design or one that breaks a
            constraint.

    Raises:
        ConfigError: The spec is malformed or names a metric the cost model does not return.
    """

    def __init__(
        self,
        spec: ObjectiveSpec,
        metrics: Sequence[Metric],
        constraints: Sequence[str] = (),
        infeasible_reward: float = -1.0e6,
    ) -> None:
        self.spec = spec
        self._metrics = {m.name: m for m in metrics}
        known = list(self._metrics)
        if isinstance(spec, (list, tuple)):
            if not spec:
                raise ConfigError("objective list must name at least one objective, got []")
            self.terms = tuple(self._term(s, known) for s in spec)
        else:
            self.terms = (self._term(spec, known),)
        if isinstance(constraints, str):
            constraints = [constraints]
        self.constraints = tuple(ConstraintSpec.parse(c, known) for c in constraints)
        self.infeasible_reward = float(infeasible_reward)

    def _term(self, spec: Any, known: list[str]) -> Term:
        if isinstance(spec, str):
            text = spec.strip()
            if text.lower() == "edp":
                for name in ("energy_j", "latency_s"):
                    _check_metric(name, known)
                return Term("edp", "product", ("energy_j", "latency_s"))
            kind, sep, rest = text.partition(":")
            if sep and kind.strip().lower() in ("weighted", "target"):
                term = self._term({kind.strip().lower(): _parse_pairs(rest, spec)}, known)
                return dataclasses.replace(term, label=text)
            if "*" in text:
                names = tuple(s.strip() for s in text.split("*"))
                for name in names:
                    _check_metric(name, known)
                return Term(text, "product", names)
            direction = None
            if ":" in text:
                direction, _, text = text.partition(":")
                if direction not in ("min", "max"):
                    raise ConfigError(
                        f"objective direction must be 'min' or 'max', but got {direction!r} in {spec!r}"
                    )
            _check_metric(text, known)
            direction = direction or self._metrics[text].direction
            return Term(
                f"{direction}:{text}", "metric", (text,), 1.0 if direction == "min" else -1.0
            )
        if isinstance(spec, Mapping):
            if "weighted" in spec:
                weights = _finite_numbers(spec["weighted"], "weighted", spec)
                scales = _finite_numbers(spec.get("scale", {}), "scale", spec, positive=True)
                for name in weights:
                    _check_metric(name, known)
                    if self._metrics[name].direction == "max":
                        weights[name] = -weights[name]
                return Term("weighted", "weighted", tuple(weights), weights=weights, scales=scales)
            if "target" in spec:
                targets = _finite_numbers(spec["target"], "target", spec)
                for name, t in targets.items():
                    _check_metric(name, known)
                    if t == 0:
                        raise ConfigError(f"target for {name!r} must be non-zero, got 0")
                return Term("target", "target", tuple(targets), weights=targets)
        raise ConfigError(
            "objective must be a metric name ('latency_s', 'max:accuracy'), 'edp', a product "
            "('energy_j*latency_s'), {'weighted': {...}}, {'target': {...}} or a list of these; "
            f"got {spec!r}"
        )

    # -- shape ----------------------------------------------------------------------
    @property
    def n_objectives(self) -> int:
        """Number of objective columns (1 for single-objective)."""
        return len(self.terms)

    @property
    def is_multi(self) -> bool:
        """True for Pareto (several-objective) problems."""
        return len(self.terms) > 1

    @property
    def labels(self) -> tuple[str, ...]:
        """Column labels, e.g. ``("min:latency_s", "max:accuracy")``."""
        return tuple(t.label for t in self.terms)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric the objective or its constraints read."""
        names = [m for t in self.terms for m in t.metrics] + [c.metric for c in self.constraints]
        return tuple(dict.fromkeys(names))

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable summary recorded in run manifests."""
        return {
            "objectives": list(self.labels),
            "constraints": [str(c) for c in self.constraints],
            "infeasible_reward": self.infeasible_reward,
        }

    # -- evaluation ------------------------------------------------------------------
    def values(self, evals: Evaluations) -> np.ndarray:
        """``(n, k)`` objective values, lower is better; NaN where infeasible."""
        if len(self.terms) == 1:
            out = np.array(self.terms[0].compute(evals.metrics), dtype=float).reshape(-1, 1)
        else:
            out = np.stack([t.compute(evals.metrics) for t in self.terms], axis=1)
        out[~evals.feasible] = np.nan
        return out

    def score_one(
        self, metrics: Mapping[str, float], feasible: bool
    ) -> tuple[list[float], list[float], float]:
        """:meth:`score` for a single design given as plain floats (the env-step fast path);
        returns ``(values, violations, reward)`` equal to the vectorised results."""
        if not feasible:
            return (
                [math.nan] * len(self.terms),
                [math.inf] * len(self.constraints),
                self.infeasible_reward,
            )
        vals = [float(t.compute(metrics)) for t in self.terms]  # type: ignore[arg-type]
        viol = []
        for c in self.constraints:
            v = metrics[c.metric]
            d = v - c.bound if c.op in ("<=", "<") else c.bound - v
            viol.append(math.inf if math.isnan(d) else max(d, 0.0))
        if len(vals) == 1:
            r = -vals[0]
        elif all(v > 0 for v in vals):
            r = -sum(math.log10(v) for v in vals)
        else:
            r = -sum(vals)
        if not math.isfinite(r) or any(v != 0 for v in viol):
            r = self.infeasible_reward
        return vals, viol, r

    def score(self, evals: Evaluations) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(values, violations, reward)`` computed once (see the three methods)."""
        vals = self.values(evals)
        viol = self.violations(evals)
        return vals, viol, self._reward(evals, vals, viol)

    def violations(self, evals: Evaluations) -> np.ndarray:
        """``(n, c)`` constraint violations, 0 where satisfied; ``inf`` where infeasible."""
        if not self.constraints:
            return np.zeros((len(evals), 0))
        out = np.stack([c.violation(evals.metrics) for c in self.constraints], axis=1)
        out[~evals.feasible] = np.inf
        return np.nan_to_num(out, nan=np.inf)

    def admissible(self, evals: Evaluations) -> np.ndarray:
        """Bool ``(n,)``: feasible and every constraint satisfied."""
        ok = evals.feasible.copy()
        if self.constraints:
            ok &= np.all(self.violations(evals) == 0, axis=1)
        return ok

    def reward(self, evals: Evaluations) -> np.ndarray:
        """Scalar reward per design (higher is better).

        Single objective: ``-value``. Several objectives: ``-sum(log10(values))`` when every
        value is positive (a scale-free scalarisation), else ``-sum(values)``. Infeasible or
        constraint-breaking designs get ``infeasible_reward``.
        """
        return self._reward(evals, self.values(evals), self.violations(evals))

    def _reward(self, evals: Evaluations, vals: np.ndarray, viol: np.ndarray) -> np.ndarray:
        if vals.shape[1] == 1:
            r = -vals[:, 0]
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                positive = np.all(vals > 0, axis=1)
                r = np.where(
                    positive, -np.sum(np.log10(np.abs(vals)), axis=1), -np.sum(vals, axis=1)
                )
        ok = evals.feasible & np.isfinite(r)
        if viol.shape[1]:
            ok &= np.all(viol == 0, axis=1)
        return np.where(ok, r, self.infeasible_reward)

    def scalar(self, evals: Evaluations) -> np.ndarray:
        """Single-objective value per design (lower is better), NaN if inadmissible.

        Raises:
            ConfigError: The objective has several columns.
        """
        if self.is_multi:
            raise ConfigError(
                f"this objective has {self.n_objectives} columns {list(self.labels)}; a single "
                "scalar needs one objective (or use a weighted spec)"
            )
        v = self.values(evals)[:, 0]
        return np.where(self.admissible(evals), v, math.nan)
