"""Typed design spaces: the single source of truth for what a design is.

A :class:`DesignSpace` is an ordered list of named parameters plus constraints between them::

    space = DesignSpace(
        [Ordinal("rows", [4, 8, 16, 32]), Categorical("dataflow", ["os", "ws", "is"]),
         Integer("banks", 1, 8), Float("clock_ghz", 0.2, 2.0, log=True)],
        constraints=[Constraint("rows_le_64_banks", lambda d: d["rows"] <= 64 * d["banks"],
                                "rows <= 64 * banks")],
    )
    rng = np.random.default_rng(0)
    designs = space.sample(rng, 10)        # list of dicts, all valid
    space.validate({"rows": 5, ...})       # DesignError naming `rows`, the rule and the value

Designs are plain ``dict[str, value]``. Every conversion an agent needs lives here: unit-cube
encoding (:meth:`DesignSpace.encode` / :meth:`DesignSpace.decode`), index encoding for discrete
spaces, Gymnasium spaces, Optuna distributions, neighbours and mutations, enumeration.

A parameter may be *conditional* (``active_if={"num_blocks": [2, 3]}``): when its condition does
not hold it is inactive, and validation pins it to its default so equivalent designs compare
equal.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.errors import DesignError

__all__ = [
    "Param",
    "Integer",
    "Float",
    "Categorical",
    "Ordinal",
    "Constraint",
    "DesignSpace",
]

Design = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """Base of all parameter kinds. Use a subclass.

    Attributes:
        name: Key of the parameter in a design dict.
        active_if: Optional condition ``{other_param: allowed_values}``; the parameter is
            inactive (pinned to its default) unless every listed parameter takes an allowed value.
        description: One line for documentation and ``archgym list``.
    """

    name: str
    active_if: Mapping[str, Sequence[Any]] | None = field(default=None, kw_only=True)
    description: str = field(default="", kw_only=True)

    # -- discrete view (every kind but Float) ------------------------------------------
    @property
    def values(self) -> tuple[Any, ...] | None:
        """All values in order, or ``None`` for a continuous parameter."""
        return None

    @property
    def n_choices(self) -> int | None:
        """Number of values, or ``None`` for a continuous parameter."""
        vals = self.values
        return None if vals is None else len(vals)

    @property
    def default(self) -> Any:
        """Value used when the parameter is inactive."""
        vals = self.values
        assert vals is not None
        return vals[0]

    def _lookup(self) -> dict[tuple[str, Any], int]:
        cache = self.__dict__.get("_index_cache")
        if cache is None:
            cache = {}
            for i, v in enumerate(self.values or ()):
                cache.setdefault(_typed_key(v), i)
            object.__setattr__(self, "_index_cache", cache)
        return cache

    def index(self, value: Any) -> int:
        """Position of ``value`` in :attr:`values` (discrete kinds)."""
        try:
            i = self._lookup().get(_typed_key(value))
        except TypeError:  # unhashable
            i = None
        if i is None:
            raise self._error(value)
        return i

    def _rule(self) -> str:
        return f"must be one of {list(self.values or ())}"

    def _error(self, value: Any) -> DesignError:
        return DesignError(f"parameter {self.name!r} {self._rule()}, but got {value!r}.")

    def validate(self, value: Any) -> Any:
        """Return ``value`` normalised to the canonical Python type, or raise DesignError."""
        vals = self.values
        assert vals is not None
        return vals[self.index(value)]

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        """``n`` values drawn uniformly (over the index, for discrete kinds)."""
        vals = self.values
        assert vals is not None
        return [vals[i] for i in rng.integers(0, len(vals), size=n)]

    def to_unit(self, value: Any) -> float:
        """Map a value into ``[0, 1]`` (index midpoints for discrete kinds)."""
        n = self.n_choices
        assert n is not None
        return (self.index(value) + 0.5) / n

    def from_unit(self, u: float) -> Any:
        """Inverse of :meth:`to_unit`; any ``u`` in ``[0, 1]`` maps to a valid value."""
        vals = self.values
        assert vals is not None
        i = min(int(float(np.clip(u, 0.0, 1.0)) * len(vals)), len(vals) - 1)
        return vals[i]

    def neighbors(self, value: Any) -> list[Any]:
        """Values one step away (adjacent for ordered kinds)."""
        vals = self.values
        assert vals is not None
        i = self.index(value)
        return [vals[j] for j in (i - 1, i + 1) if 0 <= j < len(vals)]

    def to_optuna(self) -> Any:
        """The Optuna distribution of this parameter (ordered kinds map to their index)."""
        import optuna.distributions as od

        n = self.n_choices
        assert n is not None
        return od.IntDistribution(0, n - 1)

    def from_optuna(self, raw: Any) -> Any:
        """Decode a value sampled from :meth:`to_optuna`."""
        vals = self.values
        assert vals is not None
        return vals[int(raw)]

    def to_optuna_value(self, value: Any) -> Any:
        """Encode ``value`` for :meth:`to_optuna`'s distribution (inverse of from_optuna)."""
        return self.index(value)

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description (used for the space fingerprint)."""
        out: dict[str, Any] = {"kind": type(self).__name__, "name": self.name}
        if self.values is not None:
            out["values"] = [_jsonable(v) for v in self.values]
        if self.active_if:
            out["active_if"] = {k: [_jsonable(v) for v in vs] for k, vs in self.active_if.items()}
        return out


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``True`` with ``1`` or ``"4"`` with ``4``."""
    if isinstance(b, np.generic):
        b = b.item()
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable types are simply unequal
        return False


def _typed_key(v: Any) -> tuple[str, Any]:
    """A hashable key under which equal values of compatible types meet (1 == 1.0) but
    booleans, strings and numbers never do."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, (int, float)):
        return ("n", v)
    return (type(v).__name__, v)


def _jsonable(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


@dataclass(frozen=True)
class Integer(Param):
    """Integers ``low..high`` inclusive, optionally sampled log-uniformly."""

    low: int = 0
    high: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise DesignError(
                f"Integer {self.name!r}: `low <= high` must hold, but got "
                f"(low={self.low}, high={self.high})."
            )
        if self.log and self.low <= 0:
            raise DesignError(f"Integer {self.name!r}: log scale needs low > 0, got {self.low}.")

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.low, self.high + 1))

    @property
    def n_choices(self) -> int:
        return self.high - self.low + 1

    @property
    def default(self) -> int:
        return self.low

    def index(self, value: Any) -> int:
        return int(self.validate(value)) - self.low

    def _rule(self) -> str:
        return f"must be an integer in [{self.low}, {self.high}]"

    def validate(self, value: Any) -> int:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(value)
        if isinstance(value, float) and not value.is_integer():
            raise self._error(value)
        if not self.low <= value <= self.high:
            raise self._error(value)
        return int(value)

    def sample(self, rng: np.random.Generator, n: int) -> list[int]:
        if self.log:
            u = rng.uniform(math.log(self.low), math.log(self.high + 1), size=n)
            return [min(int(math.exp(x)), self.high) for x in u]
        return [int(x) for x in rng.integers(self.low, self.high + 1, size=n)]

    def neighbors(self, value: Any) -> list[int]:
        v = self.validate(value)
        return [x for x in (v - 1, v + 1) if self.low <= x <= self.high]

    def to_optuna(self) -> Any:
        import optuna.distributions as od

        return od.IntDistribution(self.low, self.high, log=self.log)

    def from_optuna(self, raw: Any) -> int:
        return int(raw)

    def to_optuna_value(self, value: Any) -> int:
        return self.validate(value)

    def spec(self) -> dict[str, Any]:
        out = super().spec()
        out.pop("values", None)
        out.update(low=self.low, high=self.high, log=self.log)
        return out


@dataclass(frozen=True)
class Float(Param):
    """Reals in ``[low, high]``, optionally on a log scale."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise DesignError(
                f"Float {self.name!r}: `low < high` must hold, but got "
                f"(low={self.low}, high={self.high})."
            )
        if self.log and self.low <= 0:
            raise DesignError(f"Float {self.name!r}: log scale needs low > 0, got {self.low}.")

    @property
    def default(self) -> float:
        return float(self.low)

    def _rule(self) -> str:
        return f"must be a number in [{self.low}, {self.high}]"

    def validate(self, value: Any) -> float:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(value)
        if not (self.low <= value <= self.high):  # also rejects NaN
            raise self._error(value)
        return float(value)

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        return [self.from_unit(u) for u in rng.uniform(0.0, 1.0, size=n)]

    def to_unit(self, value: Any) -> float:
        v = self.validate(value)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = float(np.clip(u, 0.0, 1.0))
        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        return float(min(max(x, self.low), self.high))

    def index(self, value: Any) -> int:
        raise DesignError(f"parameter {self.name!r} is continuous and has no index.")

    def neighbors(self, value: Any) -> list[float]:
        u = self.to_unit(value)
        return [self.from_unit(u - 0.05), self.from_unit(u + 0.05)]

    def to_optuna(self) -> Any:
        import optuna.distributions as od

        return od.FloatDistribution(self.low, self.high, log=self.log)

    def from_optuna(self, raw: Any) -> float:
        return float(raw)

    def to_optuna_value(self, value: Any) -> float:
        return self.validate(value)

    def spec(self) -> dict[str, Any]:
        out = super().spec()
        out.update(low=self.low, high=self.high, log=self.log)
        return out


@dataclass(frozen=True)
class Categorical(Param):
    """Unordered choices (strings, numbers or booleans)."""

    choices: Sequence[Any] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise DesignError(f"Categorical {self.name!r} needs at least one choice.")

    @property
    def values(self) -> tuple[Any, ...]:
        return self.choices  # type: ignore[return-value]  # a tuple since __post_init__

    def neighbors(self, value: Any) -> list[Any]:
        v = self.validate(value)
        return [c for c in self.choices if not _same(c, v)]

    def to_optuna(self) -> Any:
        import optuna.distributions as od

        return od.CategoricalDistribution(list(self.choices))

    def from_optuna(self, raw: Any) -> Any:
        return self.validate(raw)

    def to_optuna_value(self, value: Any) -> Any:
        return self.validate(value)


@dataclass(frozen=True)
class Ordinal(Param):
    """Ordered discrete values, e.g. powers of two. Neighbours are adjacent values."""

    sequence: Sequence[Any] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "sequence", tuple(self.sequence))
        if not self.sequence:
            raise DesignError(f"Ordinal {self.name!r} needs at least one value.")

    @property
    def values(self) -> tuple[Any, ...]:
        return self.sequence  # type: ignore[return-value]  # a tuple since __post_init__


@dataclass(frozen=True)
class Constraint:
    """A rule between parameters that every valid design satisfies.

    Attributes:
        name: Short identifier, shown in errors.
        check: Predicate on a (complete, normalised) design dict.
        rule: Human-readable statement of the rule, e.g. ``"rows * cols <= 4096"``.
    """

    name: str
    check: Callable[[Mapping[str, Any]], bool]
    rule: str


class DesignSpace:
    """An ordered set of typed parameters with constraints.

    Args:
        params: The parameters, in a stable order (it defines vector encodings).
        constraints: Rules between parameters; a design that breaks one is invalid.
        name: Label used in errors and fingerprints.

    Raises:
        DesignError: Duplicate names, or a condition naming an unknown parameter.
    """

    def __init__(
        self,
        params: Sequence[Param],
        constraints: Sequence[Constraint] = (),
        name: str = "space",
    ) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        self.constraints: tuple[Constraint, ...] = tuple(constraints)
        self.name = name
        names = [p.name for p in self.params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DesignError(f"design space {name!r}: parameter names must be unique, got {dupes}")
        if not self.params:
            raise DesignError(f"design space {name!r} needs at least one parameter")
        self._by_name = {p.name: p for p in self.params}
        self._names = tuple(names)
        self._order = (
            *[q for q in self.params if not q.active_if],
            *[q for q in self.params if q.active_if],
        )
        self._conditional = tuple(p for p in self.params if p.active_if)
        self._discrete = all(p.n_choices is not None for p in self.params)
        for p in self.params:
            for parent in p.active_if or {}:
                if parent not in self._by_name:
                    raise DesignError(
                        f"parameter {p.name!r}: active_if names unknown parameter {parent!r}"
                    )

    # -- basics ------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in order."""
        return self._names

    def __getitem__(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            raise DesignError(
                f"design space {self.name!r} has no parameter {name!r}; it has {list(self.names)}"
            ) from None

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"DesignSpace({self.name!r}, {len(self.params)} params, size={self.size():.3g})"

    @property
    def is_discrete(self) -> bool:
        """True if every parameter has finitely many values."""
        return self._discrete

    def is_active(self, param: Param, design: Mapping[str, Any]) -> bool:
        """Whether ``param``'s condition holds in ``design``."""
        if not param.active_if:
            return True
        return all(
            any(_same(v, design.get(k)) for v in allowed) for k, allowed in param.active_if.items()
        )

    # -- validation --------------------------------------------------------------------
    def validate(self, design: Mapping[str, Any], trusted: bool = False) -> Design:
        """Check a design and return it normalised (canonical types, inactive params pinned).

        Args:
            design: Parameter name -> value.
            trusted: Skip the per-parameter checks (for designs built from this space's own
                values, e.g. decoded indices); conditions and constraints are still applied.

        Raises:
            DesignError: A parameter is missing, unknown, out of range or of the wrong type,
                or a constraint fails. The message names the parameter, the rule and the value.
        """
        if trusted:
            fast = dict(design)
            for p in self._conditional:
                if not self.is_active(p, fast):
                    fast[p.name] = p.default
            return self._check_constraints(fast)
        if not isinstance(design, Mapping):
            raise DesignError(
                f"a design must be a mapping of parameter name to value, got {type(design).__name__}"
            )
        unknown = [k for k in design if k not in self._by_name]
        if unknown:
            raise DesignError(
                f"design has unknown parameter(s) {unknown}; {self.name!r} expects {list(self.names)}"
            )
        out: Design = {}
        # unconditional parameters first, then conditional ones in order, so a condition is
        # judged on validated values; an inactive parameter's value is ignored and pinned
        for p in self._order:
            if p.active_if and not self.is_active(p, out):
                out[p.name] = p.default
                continue
            if p.name not in design:
                raise DesignError(
                    f"design is missing parameter {p.name!r} ({p._rule()}); "
                    f"{self.name!r} expects {list(self.names)}"
                )
            out[p.name] = p.validate(design[p.name])
        if self._conditional:
            out = {n: out[n] for n in self._names}  # back to the space's order
        return self._check_constraints(out)

    def _check_constraints(self, out: Design) -> Design:
        for c in self.constraints:
            if not c.check(out):
                shown = {k: out[k] for k in self.names}
                raise DesignError(
                    f"design breaks constraint {c.name!r}: {c.rule} must hold; got {shown}"
                )
        return out

    def is_valid(self, design: Mapping[str, Any]) -> bool:
        """True if :meth:`validate` would accept ``design``."""
        try:
            self.validate(design)
        except DesignError:
            return False
        return True

    # -- sampling and search moves ------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int = 1, max_tries: int = 1000) -> list[Design]:
        """Draw ``n`` valid designs uniformly (rejection sampling against the constraints).

        Raises:
            DesignError: No valid design was found in ``max_tries`` rounds.
        """
        out: list[Design] = []
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > max_tries:
                raise DesignError(
                    f"could not sample a design satisfying the constraints of {self.name!r} "
                    f"in {max_tries} rounds; the constraints may exclude every design"
                )
            k = max(n - len(out), 8)
            cols = {p.name: p.sample(rng, k) for p in self.params}
            for i in range(k):
                cand = {name: cols[name][i] for name in self.names}
                try:
                    out.append(self.validate(cand))
                except DesignError:
                    continue
                if len(out) == n:
                    break
        return out

    def neighbors(self, design: Mapping[str, Any]) -> list[Design]:
        """All valid designs that differ from ``design`` in one active parameter by one step."""
        base = self.validate(design)
        out: list[Design] = []
        for p in self.params:
            if not self.is_active(p, base):
                continue
            for v in p.neighbors(base[p.name]):
                cand = dict(base)
                cand[p.name] = v
                if self.is_valid(cand):
                    out.append(self.validate(cand))
        return out

    def mutate(
        self, design: Mapping[str, Any], rng: np.random.Generator, n_params: int = 1
    ) -> Design:
        """Change ``n_params`` randomly chosen active parameters, each to a neighbouring value
        (ordered kinds) or another choice (categorical). Returns a valid design; if no valid
        mutation is found in 100 tries, a fresh sample."""
        base = self.validate(design)
        for _ in range(100):
            cand = dict(base)
            active = [p for p in self.params if self.is_active(p, base)]
            picks = rng.choice(len(active), size=min(n_params, len(active)), replace=False)
            for i in picks:
                p = active[int(i)]
                opts = p.neighbors(cand[p.name])
                if opts:
                    cand[p.name] = opts[int(rng.integers(len(opts)))]
            if cand != base and self.is_valid(cand):
                return self.validate(cand)
        return self.sample(rng, 1)[0]

    # -- size and enumeration -----------------------------------------------------------
    def size(self) -> float:
        """Number of parameter combinations, ignoring constraints and conditions
        (``inf`` if any parameter is continuous)."""
        total = 1.0
        for p in self.params:
            n = p.n_choices
            if n is None:
                return math.inf
            total *= n
        return total

    def enumerate(self, limit: int = 1_000_000) -> Iterator[Design]:
        """Yield every valid design, once each (conditional duplicates collapsed).

        Raises:
            DesignError: The space is continuous or larger than ``limit`` combinations.
        """
        size = self.size()
        if size > limit:
            raise DesignError(
                f"design space {self.name!r} has {size:.3g} combinations, more than limit={limit}; "
                "enumerate a reduced space (DesignSpace.restrict) or raise the limit"
            )
        seen: set[tuple[Any, ...]] = set()
        value_lists = [p.values for p in self.params]
        for combo in itertools.product(*value_lists):  # type: ignore[arg-type]
            cand = dict(zip(self.names, combo, strict=True))
            try:
                d = self.validate(cand)
            except DesignError:
                continue
            key = tuple(d[n] for n in self.names)
            if key in seen:
                continue
            seen.add(key)
            yield d

    def count(self, limit: int = 1_000_000) -> int:
        """Number of distinct valid designs (enumerates; see :meth:`enumerate`)."""
        return sum(1 for _ in self.enumerate(limit))

    def restrict(self, name: str | None = None, **values: Sequence[Any]) -> DesignSpace:
        """A sub-space where each named parameter keeps only the given values (in order).

        Example: ``space.restrict(rows=[8, 16], dataflow=["os"])``.
        """
        params: list[Param] = []
        for p in self.params:
            if p.name not in values:
                params.append(p)
                continue
            keep = [p.validate(v) for v in values[p.name]]
            kind = Categorical if isinstance(p, Categorical) else Ordinal
            kw: dict[str, Any] = {"active_if": p.active_if, "description": p.description}
            params.append(kind(p.name, keep, **kw))
        for k in values:
            self[k]  # raises for unknown names
        return DesignSpace(params, self.constraints, name or f"{self.name}-restricted")

    # -- encodings --------------------------------------------------------------------
    def encode(self, designs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Designs -> ``(n, d)`` floats in ``[0, 1]`` (discrete values at index midpoints)."""
        return np.array(
            [[p.to_unit(d[p.name]) for p in self.params] for d in designs], dtype=float
        ).reshape(len(designs), len(self.params))

    def decode(self, x: np.ndarray | Sequence[float]) -> Design:
        """A unit-cube vector -> a design (not constraint-checked; see :meth:`validate`)."""
        arr = np.asarray(x, dtype=float).reshape(-1)
        if arr.shape[0] != len(self.params):
            raise DesignError(f"expected a vector of {len(self.params)} values, got {arr.shape[0]}")
        return {p.name: p.from_unit(u) for p, u in zip(self.params, arr, strict=True)}

    def encode_indices(self, design: Mapping[str, Any]) -> np.ndarray:
        """A design of a discrete space -> its value indices, shape ``(d,)``."""
        return np.fromiter(
            (p.index(design[p.name]) for p in self.params), np.int64, len(self.params)
        )

    def decode_indices(self, idx: Sequence[int] | np.ndarray) -> Design:
        """Value indices -> a design (not constraint-checked)."""
        arr = np.asarray(idx).reshape(-1)
        if arr.shape[0] != len(self.params):
            raise DesignError(f"expected {len(self.params)} indices, got {arr.shape[0]}")
        out: Design = {}
        for p, i in zip(self.params, arr, strict=True):
            vals = p.values
            if vals is None:
                raise DesignError(f"parameter {p.name!r} is continuous and has no index")
            if not 0 <= int(i) < len(vals):
                raise DesignError(
                    f"parameter {p.name!r}: index must be in [0, {len(vals) - 1}], got {int(i)}"
                )
            out[p.name] = vals[int(i)]
        return out

    def to_columns(self, designs: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """Designs -> one numpy array per parameter (the cost-model batch format)."""
        return {n: np.asarray([d[n] for d in designs]) for n in self.names}

    # -- conversions ----------------------------------------------------------------
    def to_gymnasium(self) -> Any:
        """The Gymnasium action space: ``MultiDiscrete`` of value indices if every parameter is
        discrete, else a unit ``Box`` (decoded by :meth:`decode`)."""
        from gymnasium import spaces

        if self.is_discrete:
            return spaces.MultiDiscrete([int(p.n_choices or 0) for p in self.params])
        return spaces.Box(0.0, 1.0, shape=(len(self.params),), dtype=np.float64)

    def to_optuna(self) -> dict[str, Any]:
        """Parameter name -> Optuna distribution. Ordered kinds become integer indices so that
        samplers see their order; decode with :meth:`from_optuna`."""
        return {p.name: p.to_optuna() for p in self.params}

    def from_optuna(self, params: Mapping[str, Any]) -> Design:
        """Decode Optuna trial params (from :meth:`to_optuna`'s distributions) to a design."""
        return {p.name: p.from_optuna(params[p.name]) for p in self.params}

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description of the space."""
        return {
            "name": self.name,
            "params": [p.spec() for p in self.params],
            "constraints": [{"name": c.name, "rule": c.rule} for c in self.constraints],
        }

    def fingerprint(self) -> str:
        """A short stable hash of :meth:`spec`; proxies and records use it to refuse a
        model trained on another space."""
        blob = json.dumps(self.spec(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
