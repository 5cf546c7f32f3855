"""Features of a proxy: numeric columns from a design space's parameters and the workload.

The encoding is a pure function of the space's :meth:`~archgym.space.DesignSpace.spec` (no
fitted state), so a proxy file rebuilds it exactly from the spec it stores:

===============  ==================================================================
parameter kind   feature(s)
===============  ==================================================================
Categorical      one-hot: one 0/1 column ``name=value`` per choice
Ordinal          ``log2(value)`` if every value is a positive number and they span a
                 factor >= 8 (powers of two, memory sizes); the value itself for other
                 numbers; the index for non-numeric values
Integer, Float   the value, or ``log2(value)`` on a log scale
===============  ==================================================================

Derived features (:mod:`archgym.proxy._derived`) follow the parameter features when the
space's name has a registered set (``derived="auto"``), e.g. ``log2(pes)`` for Accelerator-v2.

Workload features (:func:`workload_features`) describe a DNN workload of GEMM layers by
five numbers; a proxy uses them only when its training runs span several workloads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from archgym.errors import DesignError

__all__ = ["FeatureEncoder", "workload_features", "WORKLOAD_FEATURES"]

#: Names of the workload features, in order.
WORKLOAD_FEATURES: tuple[str, ...] = (
    "wl.layers",
    "wl.log2_macs",
    "wl.log2_ifmap_words",
    "wl.log2_filter_words",
    "wl.log2_ofmap_words",
)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class FeatureEncoder:
    """Turns design columns into a float feature matrix.

    Args:
        space_spec: ``DesignSpace.spec()`` of the space the proxy is trained on.
        derived: ``"auto"`` appends the derived features registered for the space's name (if
            any); a ``"name/version"`` key appends that set; ``None`` appends none.

    Attributes:
        param_names: Parameters read, in space order.
        feature_names: Output columns, in order.
        derived: Key of the derived feature set used, or ``None``.

    Raises:
        ConfigError: ``derived`` names a set this archgym does not have.
    """

    def __init__(self, space_spec: Mapping[str, Any], derived: str | None = "auto") -> None:
        from archgym.proxy._derived import derived_features, derived_key

        self.space_spec = dict(space_spec)
        self.derived = derived_key(space_spec) if derived == "auto" else derived
        self._derived_fn = derived_features(self.derived) if self.derived else None
        self._plan: list[tuple[str, str, Any]] = []  # (param, how, detail)
        names: list[str] = []
        for p in space_spec["params"]:
            name, kind = p["name"], p["kind"]
            if kind == "Categorical":
                values = list(p["values"])
                self._plan.append((name, "onehot", values))
                names.extend(f"{name}={v}" for v in values)
            elif kind == "Ordinal":
                values = list(p["values"])
                if all(_is_number(v) for v in values):
                    lo, hi = min(values), max(values)
                    how = "log2" if lo > 0 and hi / lo >= 8 else "value"
                    self._plan.append((name, how, values))
                    names.append(f"log2({name})" if how == "log2" else name)
                else:
                    self._plan.append((name, "index", values))
                    names.append(f"index({name})")
            elif kind in ("Integer", "Float"):
                how = "log2" if p.get("log") else "value"
                self._plan.append((name, how, None))
                names.append(f"log2({name})" if how == "log2" else name)
            else:
                raise DesignError(
                    f"parameter {name!r} has kind {kind!r}, which the proxy features do not know; "
                    "known kinds: Categorical, Ordinal, Integer, Float"
                )
        self.param_names: tuple[str, ...] = tuple(p["name"] for p in space_spec["params"])
        self._derived_names: tuple[str, ...] = ()
        if self._derived_fn is not None:
            probe = {p["name"]: np.asarray([_first_value(p)]) for p in space_spec["params"]}
            self._derived_names = tuple(self._derived_fn(probe))
        self.feature_names: tuple[str, ...] = tuple(names) + self._derived_names

    def numeric_features(self) -> dict[str, tuple[int, str]]:
        """``{param: (column, "log2" or "value")}`` of the parameters encoded as one number
        (a value or its log2), so that the value can be read back from a feature matrix."""
        out, col = {}, 0
        for name, how, detail in self._plan:
            if how in ("log2", "value"):
                out[name] = (col, how)
            col += len(detail) if how == "onehot" else 1
        return out

    def transform(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Columns (one array per parameter, e.g. a DataFrame) -> ``(n, n_features)`` floats.

        Raises:
            DesignError: A parameter is missing, or holds a value outside its choices.
        """
        missing = [n for n in self.param_names if n not in columns]
        if missing:
            raise DesignError(
                f"the proxy needs design parameters {list(self.param_names)}; missing {missing}"
            )
        blocks: list[np.ndarray] = []
        for name, how, detail in self._plan:
            col = np.asarray(columns[name])
            if how == "onehot":
                hot = np.stack([_equal(col, v) for v in detail], axis=1).astype(float)
                bad = hot.sum(axis=1) == 0
                if bad.any():
                    raise DesignError(
                        f"parameter {name!r} must be one of {detail}, but got "
                        f"{col[np.argmax(bad)]!r}"
                    )
                blocks.append(hot)
                continue
            if how == "index":
                idx = np.full(col.shape[0], -1.0)
                for i, v in enumerate(detail):
                    idx[_equal(col, v)] = i
                if (idx < 0).any():
                    raise DesignError(
                        f"parameter {name!r} must be one of {detail}, but got "
                        f"{col[np.argmax(idx < 0)]!r}"
                    )
                blocks.append(idx[:, None])
                continue
            try:
                x = col.astype(float)
            except (TypeError, ValueError):
                raise DesignError(
                    f"parameter {name!r} must be numeric, but got values like {col[:3].tolist()}"
                ) from None
            blocks.append((np.log2(x) if how == "log2" else x)[:, None])
        n = len(np.asarray(columns[self.param_names[0]]))
        if self._derived_fn is not None:
            extra = self._derived_fn({k: np.asarray(columns[k]) for k in self.param_names})
            blocks += [np.asarray(extra[k], dtype=float).reshape(n, 1) for k in self._derived_names]
        return np.hstack(blocks) if blocks else np.zeros((n, 0))


def _first_value(p: Mapping[str, Any]) -> Any:
    """A valid value of a parameter spec (to learn the derived feature names)."""
    return p["values"][0] if p.get("values") else p.get("low", 1)


def _equal(col: np.ndarray, value: Any) -> np.ndarray:
    """Elementwise ``col == value`` that never matches ``"4"`` to ``4`` or ``True`` to ``1``."""
    if col.dtype.kind == "U":  # every element is a str: only a str value can match
        return col == value if type(value) is str else np.zeros(col.shape, dtype=bool)
    if col.dtype.kind in "OS" or isinstance(value, (str, bool)):
        return np.array([type(c) is type(value) and c == value for c in col.tolist()], dtype=bool)
    return col == value


def workload_features(workload: Any) -> dict[str, float] | None:
    """Five numbers describing a workload of GEMM layers, or ``None`` if it has none.

    Works for :class:`archgym.workloads.Workload` (anything with ``as_arrays()`` giving ``m``,
    ``n``, ``k``, ``instances``, ``macs``, ``ifmap_words``): layer count and the log2 of total
    MACs, ifmap, filter and ofmap words over all layer instances.
    """
    as_arrays = getattr(workload, "as_arrays", None)
    if not callable(as_arrays):
        return None
    a = as_arrays()
    inst = a["instances"].astype(float)
    vals = (
        float(len(a["m"])),
        math.log2(float(a["macs"].astype(float).sum())),
        math.log2(float((a["ifmap_words"] * inst).sum())),
        math.log2(float((a["k"] * a["n"] * inst).sum())),
        math.log2(float((a["m"] * a["n"] * inst).sum())),
    )
    return dict(zip(WORKLOAD_FEATURES, vals, strict=True))


def workload_name(workload: Any) -> str | None:
    """A workload's name (its ``name`` attribute, or itself if a string)."""
    if isinstance(workload, str):
        return workload
    name = getattr(workload, "name", None)
    return str(name) if name is not None else None


def stack_workload(X: np.ndarray, feats: Sequence[float]) -> np.ndarray:
    """Append the same workload feature vector to every row of ``X``."""
    return np.hstack([X, np.tile(np.asarray(feats, dtype=float), (X.shape[0], 1))])
