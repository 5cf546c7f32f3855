"""A run's records as one JSON document of columns: how a sweep task writes a run into its
shard, without building a record dict per evaluation.

A record (:mod:`archgym._records`) is a dict of 13 fields with two nested dicts; building
one costs 5 us of CPU in a hot loop and 9-15 us inside a search, between the agent's and the
cost model's calls (measured on the project's 2-core machine: a lottery sweep's experiments
on Accelerator-v2, about 3-5 % of their CPU). A sweep task writes each run once, when the
experiment ends, and reads none of its records (only the best design), so it keeps each
batch's :class:`~archgym.results.Results` and encodes the run here as columns: one numpy
array, or list, per field, concatenated across batches and serialised by orjson in C::

    {"eval_id": [...], "batch": [...], "batch_size": [...], "design": [{...}, ...],
     "metrics": {"latency_s": [...], ...}, "feasible": [...], "reason": [...],
     "objective": [[...], ...], "violation": [[...], ...], "admissible": [...],
     "reward": [...], "eval_s": [...], "t_s": [...]}

:func:`records_of_columns` turns the document back into the records that
:func:`~archgym._records.build_records` makes of the same batches, value for value (NaN as
``null``, +-inf as ``"inf"``/``"-inf"``, ints as ints), which is what readers get: a run's
records do not depend on how it was written. :func:`encode_columns` returns ``None`` for
batches it cannot write this way exactly (an object or low-precision column, a value orjson
refuses); the caller then writes records (:func:`~archgym._records.encode_records`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from archgym._records import (
    Part,
    _column,
    _design,
    admissible_of,
    batch_columns,
    batch_fields,
    rows_of,
)
from archgym.cost_model import Evaluations
from archgym.results import Results

__all__ = [
    "ColumnBuffer",
    "encode_columns",
    "records_of_columns",
    "best_index",
    "stack",
    "Stacked",
    "FIELDS",
]

#: The fields of a columns document, in record order.
FIELDS = (
    "eval_id",
    "batch",
    "batch_size",
    "design",
    "metrics",
    "feasible",
    "reason",
    "objective",
    "violation",
    "admissible",
    "reward",
    "eval_s",
    "t_s",
)
_OPT = orjson.OPT_SERIALIZE_NUMPY
#: dtypes orjson writes as ``tolist()`` would give them (float32 it writes in float32's
#: shortest form, which differs from the float64 value ``tolist`` returns).
_EXACT = frozenset("?bBhHiIlLqQ") | {"d"}


def _metric_columns(results: list[Results]) -> dict[str, Any] | None:
    """Each metric's values over the batches, as an array (or stored list), or ``None``."""
    names = results[0].evals._metric_names()
    state = [r.evals.__dict__ for r in results]
    k = len(names)
    blocks: list[np.ndarray] = []
    for d in state:  # each batch's (k, n) block; a lone design's floats (env.step's) as one
        b = d.get("_block")
        if b is None and d.get("_floats") is not None:
            b = np.array(d["_floats"][:k], dtype=np.float64).reshape(k, 1)
        if b is None or b.dtype.char != "d":
            break
        blocks.append(b)
    first = state[0].get("_names")
    if (
        first is not None
        and len(blocks) == len(state)
        and all(d.get("_names") is first or d.get("_names") == first for d in state)
    ):  # a model's (k, n) blocks (Evaluations.from_block / from_floats): one concatenation
        return _block_columns(
            names, blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
        )
    if any(list(r.evals.metrics) != names for r in results):
        return None
    out: dict[str, Any] = {}
    for m in names:
        arrays = [r.evals.metrics[m] for r in results]
        col = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        if col.dtype.char not in _EXACT:
            return None  # object, float32...: written as records
        out[m] = _stored(col)
    return out


def _block_columns(names: Sequence[str], block: np.ndarray) -> dict[str, Any]:
    """Each metric's column of a float ``(len(names), n)`` block, as written."""
    if np.isinf(block).any():
        return {m: _stored(block[j]) for j, m in enumerate(names)}
    return dict(zip(names, np.ascontiguousarray(block), strict=True))


def _stored(a: np.ndarray) -> Any:
    """``a`` as written: the array itself (orjson writes NaN as ``null``, as the records do),
    or its stored list where it holds +-inf (``"inf"``/``"-inf"``)."""
    if a.dtype.kind == "f" and np.isinf(a).any():
        return _column([a])
    return a


@dataclass(frozen=True)
class Stacked:
    """The batches' per-design arrays, concatenated once (for :func:`best_index` and
    :func:`encode_columns`).

    Attributes:
        values: ``(n, k)`` objective values.
        violations: ``(n, c)`` constraint violations.
        reward: ``(n,)`` rewards.
        feasible: ``(n,)`` bool.
        admissible: ``(n,)`` bool: feasible and within every constraint.
    """

    values: np.ndarray
    violations: np.ndarray
    reward: np.ndarray
    feasible: np.ndarray
    admissible: np.ndarray


def stack(results: Sequence[Results]) -> Stacked:
    """The arrays of ``results`` (at least one batch), concatenated."""
    if len(results) == 1:
        r = results[0]
        values, vio, reward, feasible = r.values, r.violations, r.reward, r.feasible
    else:
        values = np.concatenate([r.values for r in results])
        vio = np.concatenate([r.violations for r in results])
        reward = np.concatenate([r.reward for r in results])
        feasible = np.concatenate([r.feasible for r in results])
    return Stacked(values, vio, reward, feasible, admissible_of(feasible, vio))


def encode_columns(
    parts: Sequence[Part], designs: list[dict[str, Any]], stacked: Stacked | None = None
) -> bytes | None:
    """The records of ``parts`` (batches as :func:`~archgym._records.build_records` takes
    them) as one line: a JSON columns document and a newline; ``None`` when they cannot be
    written exactly this way (write them as records instead).

    Args:
        parts: The batches, in order.
        designs: Every design of the batches, in order: copies taken when each batch was
            recorded (an agent may change a design it was told after the call).
        stacked: :func:`stack` of the batches, if already made.
    """
    if not parts:
        return None
    results = [p[0] for p in parts]
    metrics = _metric_columns(results)
    if metrics is None:
        return None
    st = stacked if stacked is not None else stack(results)
    reasons = [s for r in results for s in r.evals.reasons]
    return _encode(designs, batch_fields(parts), metrics, st, reasons)


def _encode(
    designs: list[dict[str, Any]],
    fields: tuple[list[int], list[int], list[int], list[float], list[float]],
    metrics: dict[str, Any],
    st: Stacked,
    reasons: list[str],
) -> bytes | None:
    """The columns document of a run's fields (see :func:`encode_columns`)."""
    if any(a.dtype.char not in _EXACT for a in (st.values, st.violations, st.reward, st.feasible)):
        return None
    ids, batches, sizes, per_s, t_s = fields
    doc = {
        "eval_id": ids,
        "batch": batches,
        "batch_size": sizes,
        "metrics": metrics,
        "feasible": st.feasible,
        "reason": reasons,
        "objective": _stored(st.values),
        "violation": _stored(st.violations),
        "admissible": st.admissible,
        "reward": _stored(st.reward),
        "eval_s": per_s,
        "t_s": t_s,
    }
    try:
        shown = orjson.dumps(designs, option=_OPT)
        if b"null" in shown:  # NaN or +-inf in a design (or None): as the records store them
            shown = orjson.dumps([_design(d) for d in designs], option=_OPT)
        rest = orjson.dumps(doc, option=_OPT)
    except TypeError:  # a value orjson refuses (a big int, a non-string key...)
        return None
    return b'{"design":' + shown + b"," + rest[1:] + b"\n"


def records_of_columns(doc: Any, n_records: int) -> list[dict[str, Any]]:
    """The records of a columns document (parsed JSON), as
    :func:`~archgym._records.build_records` makes them.

    Raises:
        ValueError: ``doc`` is not a columns document of ``n_records`` records.
    """
    if not isinstance(doc, dict) or set(doc) != set(FIELDS):
        got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"not a columns document (fields {got})")
    metrics = doc["metrics"]
    if not isinstance(metrics, dict):
        raise ValueError("its metrics are not an object of columns")
    columns = [doc[f] for f in FIELDS if f != "metrics"] + list(metrics.values())
    if any(not isinstance(c, list) or len(c) != n_records for c in columns):
        raise ValueError(f"its columns do not all hold {n_records} values")
    names = list(metrics)
    by_row = zip(*metrics.values(), strict=True) if names else iter([()] * n_records)
    return rows_of(*(by_row if f == "metrics" else doc[f] for f in FIELDS), names)


def best_index(stacked: Stacked) -> int | None:
    """Position (over every design of the batches, in order) of the admissible design with
    the lowest objective (one objective) or the highest reward (several), the first on ties;
    ``None`` if none is admissible. The rule of :func:`archgym.runner._best_record`, on the
    batches' arrays (:func:`stack`)."""
    ok = np.flatnonzero(stacked.admissible)
    if not ok.size:
        return None
    values = stacked.values[ok]
    if values.shape[1] == 1:
        score = values[:, 0].astype(float)
    else:
        score = -stacked.reward[ok].astype(float)
    score = np.where(np.isnan(values).any(axis=1) | np.isnan(score), np.inf, score)
    return int(ok[int(np.argmin(score))])


class ColumnBuffer:
    """A run's batches copied, as they come, into growing columns: what a sweep task's run
    store keeps of each evaluation instead of its :class:`~archgym.results.Results`.

    Holding every batch's ``Results`` (a dozen small objects each, with their numpy arrays)
    until the run ended cost the evaluations themselves: in a 16-experiment task on
    Accelerator-v2 the garbage collector ran 2.9 times as often as in the same experiments
    run bare (891 against 304 young-generation collections over 43 tasks; with the columns
    265 against 262), and a task spent 14.5-15.2 % more CPU than its bare work, 9.4-12.3 %
    with the columns (medians of 30 in-process paired replays each, on the project's 2-core
    machine). Copied here, a batch leaves rows of float arrays and a reason string behind.

    :meth:`add` takes a *plain* batch only: metrics from a cost model's float block or
    lone-design floats (:meth:`~archgym.cost_model.Evaluations.from_block`,
    :meth:`~archgym.cost_model.Evaluations.from_floats`) with the first batch's metric
    names, no extras, float64 objective values, violations and rewards, bool feasibility.
    For anything else it returns ``False`` and the caller keeps the batches itself
    (:meth:`parts` gives back the ones added so far, as they were recorded).
    """

    def __init__(self, capacity: int = 64) -> None:
        self.n = 0  # evaluations added
        self._cap = max(int(capacity), 1)
        self._names: Sequence[str] = ()
        self._k = self._kv = self._c = 0  # metrics, objectives, constraints
        self._metrics = np.empty((0, 0))  # (k, cap)
        self._values = np.empty((0, 0))  # (cap, objectives)
        self._violations = np.empty((0, 0))  # (cap, constraints)
        self._reward = np.empty(0)
        self._feasible = np.empty(0, dtype=bool)
        self._reasons: list[str] = []
        # one entry per batch
        self._starts: list[int] = []
        self._eval_s: list[float] = []
        self._elapsed: list[float] = []

    def add(self, results: Results, elapsed_s: float) -> bool:
        """Copy a plain batch in (see the class docstring); ``False``, with nothing added,
        for any other."""
        ev = results.evals.__dict__
        names = ev.get("_names")
        if names is None or ev["extras"] is not None:
            return False
        values, vio, reward, feasible = (
            results.values,
            results.violations,
            results.reward,
            ev["feasible"],
        )
        reasons = ev["reasons"]
        n = len(reasons)
        i = self.n
        if not i:
            if not self._start(names, values, vio):
                return False
        elif names is not self._names and names != self._names:
            return False
        k, c = self._k, self._c
        if (
            values.dtype.char + vio.dtype.char + reward.dtype.char + feasible.dtype.char != "ddd?"
            or values.shape != (n, self._kv)
            or vio.shape != (n, c)
            or reward.shape != (n,)
            or feasible.shape != (n,)
        ):
            return False
        row = ev.get("_floats") if n == 1 else None  # a lone design's (from_floats)
        if row is not None:
            if len(row) != k:
                row = row[:k]  # items beyond the names are not metrics
        else:
            block = ev.get("_block")
            if block is None or block.dtype.char != "d" or block.shape != (k, n):
                return False
            row = block[:, 0] if n == 1 else block
        j = i + n
        if j > self._cap:
            self._grow(j)
        if n == 1:
            self._metrics[:, i] = row
            self._values[i] = values  # (1, objectives) into a row
            if c:
                self._violations[i] = vio
            self._reward[i] = reward[0]
            self._feasible[i] = feasible[0]
            self._reasons.append(reasons[0])
        else:
            self._metrics[:, i:j] = row
            self._values[i:j] = values
            self._violations[i:j] = vio
            self._reward[i:j] = reward
            self._feasible[i:j] = feasible
            self._reasons.extend(reasons)
        self._starts.append(i)
        self._eval_s.append(results.eval_time_s)
        self._elapsed.append(elapsed_s)
        self.n = j
        return True

    def _start(self, names: Sequence[str], values: np.ndarray, vio: np.ndarray) -> bool:
        """Shape the columns after the first batch; ``False`` if it is not 2-D as expected."""
        if values.ndim != 2 or vio.ndim != 2:
            return False
        cap = self._cap
        self._names = names
        self._k, self._kv, self._c = len(names), values.shape[1], vio.shape[1]
        self._metrics = np.empty((self._k, cap))
        self._values = np.empty((cap, self._kv))
        self._violations = np.empty((cap, self._c))
        self._reward = np.empty(cap)
        self._feasible = np.empty(cap, dtype=bool)
        return True

    def _grow(self, need: int) -> None:
        cap = max(2 * self._cap, need)
        n = self.n
        metrics = np.empty((self._metrics.shape[0], cap))
        metrics[:, :n] = self._metrics[:, :n]
        self._metrics = metrics
        for name in ("_values", "_violations", "_reward", "_feasible"):
            old = getattr(self, name)
            new = np.empty((cap, *old.shape[1:]), dtype=old.dtype)
            new[:n] = old[:n]
            setattr(self, name, new)
        self._cap = cap

    def _end(self, b: int) -> int:
        """One past the last evaluation of batch ``b``."""
        return self._starts[b + 1] if b + 1 < len(self._starts) else self.n

    def stacked(self) -> Stacked:
        """:func:`stack` of the batches added (views; valid until the next :meth:`add`)."""
        n = self.n
        feasible, vio = self._feasible[:n], self._violations[:n]
        return Stacked(
            self._values[:n], vio, self._reward[:n], feasible, admissible_of(feasible, vio)
        )

    def part(self, b: int, designs: list[dict[str, Any]]) -> Part:
        """Batch ``b`` as recorded (its designs from ``designs``, the copies of every design
        in order), rebuilt as a :class:`~archgym.results.Results`."""
        s, e = self._starts[b], self._end(b)
        evals = Evaluations.from_block(
            self._names,
            self._metrics[:, s:e].copy(),
            self._feasible[s:e].copy(),
            self._reasons[s:e],
            check=False,
        )
        res = Results(
            designs[s:e],
            evals,
            self._values[s:e].copy(),
            self._violations[s:e].copy(),
            self._reward[s:e].copy(),
            self._eval_s[b],
        )
        return res, s, b, self._elapsed[b]

    def parts(self, designs: list[dict[str, Any]]) -> list[Part]:
        """Every batch added, as :meth:`part` rebuilds it."""
        return [self.part(b, designs) for b in range(len(self._starts))]

    def batch_of(self, i: int) -> int:
        """The batch that holds evaluation ``i``."""
        return bisect.bisect_right(self._starts, i) - 1

    def encode(self, designs: list[dict[str, Any]]) -> bytes | None:
        """:func:`encode_columns` of the batches added (``None`` if none, or if they cannot
        be written exactly that way)."""
        if not self.n:
            return None
        fields = batch_columns(
            self._starts,
            range(len(self._starts)),
            [self._end(b) - s for b, s in enumerate(self._starts)],
            self._eval_s,
            self._elapsed,
        )
        metrics = _block_columns(self._names, self._metrics[:, : self.n])
        return _encode(designs, fields, metrics, self.stacked(), self._reasons)
