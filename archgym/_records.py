"""Evaluation records: the record-file format, built column by column and encoded as JSON lines.

One record per evaluation, with its fields in this order::

    {"eval_id": 7, "batch": 3, "batch_size": 2, "design": {...}, "metrics": {...},
     "feasible": true, "reason": "", "objective": [...], "violation": [...],
     "admissible": true, "reward": -0.5, "eval_s": 0.0004, "t_s": 0.12}

Floats are stored as JSON numbers; NaN becomes ``null`` and +-inf the strings ``"inf"`` /
``"-inf"`` (JSON has neither). Records are built from the batch's numpy columns (one
``tolist`` per column, one finiteness check per column, not one per value), and several
batches can be built in one call (:func:`build_records`), which is what a buffered run store
does when it writes: the per-batch cost of building is then paid once per write, not once
per batch of one design.

Encoding is orjson's, one call per record (about 10x the standard library's C encoder); a
record orjson refuses (an int beyond 64 bits, a non-string key, a string with a lone
surrogate) is written by the standard library instead, as before. Either way a line parses
(``json.loads``) to exactly the record: floats are written shortest-repr like Python's
(``1e-05`` may appear as ``0.00001``), ints stay ints, non-ASCII text is UTF-8 rather than
``\\u`` escapes. Reading (:func:`loads`, :func:`loads_lines`) is orjson's too, with the
standard library for what orjson refuses or would change: the ``NaN``/``Infinity`` tokens
that files written by the standard library can hold, and ints of 19 digits or more (which
orjson would turn into floats).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from archgym.results import Results

__all__ = [
    "make_records",
    "build_records",
    "batch_fields",
    "batch_columns",
    "microsecond",
    "microseconds",
    "rows_of",
    "admissible_of",
    "record_of_one",
    "encode_records",
    "json_float",
    "loads",
    "loads_lines",
    "Part",
]

#: One appended batch: its results, the eval_id of its first record, its batch number and
#: the run's elapsed seconds when it was recorded.
Part = tuple[Results, int, int, float]

_INF = math.inf
_FLOAT64 = np.float64
_encode = json.JSONEncoder(separators=(",", ":")).encode
_dumps = orjson.dumps
_orjson_loads = orjson.loads
#: A run of digits orjson would not parse as an int (beyond the 64-bit range, which starts at
#: 19 digits; Python's float repr never writes more than 17 digits in a row).
_LONG_INT = re.compile(rb"\d{19}")


def json_float(x: Any) -> Any:
    """``x`` as stored: floats (numpy's too) as Python floats, NaN as ``None``, +-inf as
    ``"inf"``/``"-inf"``, other numpy scalars as Python scalars, anything else unchanged."""
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) else (x if math.isfinite(x) else ("inf" if x > 0 else "-inf"))
    if isinstance(x, np.generic):
        return x.item()
    return x


#: Up to this many values a column is checked for NaN/inf in Python (two numpy calls cost
#: more than the loop); longer ones with numpy.
_SMALL = 32


def _column(arrays: list[np.ndarray]) -> list[Any]:
    """The concatenated 1-D columns, or ``(n, k)`` matrices as lists of rows, as stored
    values (see :func:`json_float`)."""
    a = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    out = a.tolist()
    rows = out if a.ndim == 2 else [out]
    kind = a.dtype.kind
    if kind == "f":
        if a.size <= _SMALL:
            for row in rows:
                for j, x in enumerate(row):
                    if x != x or x == _INF or x == -_INF:
                        row[j] = json_float(x)
        else:
            bad = ~np.isfinite(a)
            if bad.any():
                for i, j in zip(*np.nonzero(bad.reshape(len(rows), -1)), strict=True):
                    rows[i][j] = json_float(rows[i][j])
    elif kind not in "biu":  # object columns: value by value
        for row in rows:
            row[:] = [json_float(x) for x in row]
    return out


def _admissible(feasible: list[np.ndarray], violations: list[np.ndarray]) -> list[bool]:
    """:attr:`Results.admissible` of the joined batches, as stored (feasible and within
    every constraint), computed once for all of them."""
    ok = feasible[0] if len(feasible) == 1 else np.concatenate(feasible)
    vio = violations[0] if len(violations) == 1 else np.concatenate(violations)
    out: list[bool] = admissible_of(ok, vio).tolist()
    return out


def admissible_of(feasible: np.ndarray, violations: np.ndarray) -> np.ndarray:
    """Bool ``(n,)``: ``feasible`` and every constraint's violation (``(n, c)``) zero."""
    if violations.ndim == 2 and violations.shape[1]:
        return feasible & np.all(violations == 0, axis=1)
    return feasible


def _design(d: dict[str, Any]) -> dict[str, Any]:
    """A stored copy of a design: plain values copied as they are, others converted."""
    for v in d.values():
        t = type(v)
        if t is float:
            if v != v or v == _INF or v == -_INF:
                break
        elif t is not int and t is not str and t is not bool:
            break
    else:
        return dict(d)
    return {k: json_float(v) for k, v in d.items()}


def make_records(
    results: Results, start: int, batch: int, elapsed_s: float = 0.0
) -> list[dict[str, Any]]:
    """The records of one batch, numbered from ``start`` (see :func:`build_records`)."""
    if len(results) == 1:
        return [record_of_one(results, start, batch, elapsed_s)]
    return build_records([(results, start, batch, elapsed_s)])


def build_records(parts: Sequence[Part]) -> list[dict[str, Any]]:
    """The records of several batches, in order: each batch's records are numbered from its
    ``start`` and carry its ``batch`` number, size, per-design model time and elapsed time.

    Batches whose cost model returned different metric names are built one by one.
    """
    parts = list(parts)
    if not parts:
        return []
    names = list(parts[0][0].evals.metrics)
    if len(parts) > 1 and any(list(p[0].evals.metrics) != names for p in parts):
        return [rec for p in parts for rec in build_records([p])]
    results = [p[0] for p in parts]
    ids, batches, sizes, per_s, t_s = batch_fields(parts)
    cols = [_column([r.evals.metrics[m] for r in results]) for m in names]
    metric_rows = zip(*cols, strict=True) if cols else iter([()] * len(ids))
    values = _column([r.values for r in results])
    violation_arrays = [r.violations for r in results]
    violations = _column(violation_arrays)
    rewards = _column([r.reward for r in results])
    feasible_arrays = [r.feasible for r in results]
    feasible = _column(feasible_arrays)
    admissible = _admissible(feasible_arrays, violation_arrays)
    reasons = [s for r in results for s in r.evals.reasons]
    designs = [_design(d) for r in results for d in r.designs]
    return rows_of(
        ids,
        batches,
        sizes,
        designs,
        metric_rows,
        feasible,
        reasons,
        values,
        violations,
        admissible,
        rewards,
        per_s,
        t_s,
        names,
    )


def batch_fields(
    parts: Sequence[Part],
) -> tuple[list[int], list[int], list[int], list[float], list[float]]:
    """Per record of the batches: ``eval_id``, ``batch``, ``batch_size``, ``eval_s`` (the
    batch's model time per design) and ``t_s`` (its elapsed time, to the microsecond)."""
    return batch_columns(
        [p[1] for p in parts],
        [p[2] for p in parts],
        [len(p[0]) for p in parts],
        [p[0].eval_time_s for p in parts],
        [p[3] for p in parts],
    )


def microsecond(t: float) -> float:
    """``t`` seconds rounded to the microsecond (half up), as stored in ``t_s``:
    :func:`microseconds` of one value, the same float (the same IEEE operations)."""
    x = float(t) * 1e6 + 0.5
    return (x - x % 1.0) / 1e6


def microseconds(ts: Sequence[float]) -> list[float]:
    """:func:`microsecond` of each of ``ts``, in one numpy pass (``round(t, 6)`` per value,
    correctly rounded in decimal, cost a third of a run's columns document)."""
    x = np.asarray(ts, dtype=np.float64) * 1e6 + 0.5
    with np.errstate(invalid="ignore"):  # inf stays as microsecond leaves it (NaN), quietly
        out: list[float] = ((x - np.mod(x, 1.0)) / 1e6).tolist()
    return out


def batch_columns(
    starts: Sequence[int],
    numbers: Sequence[int],
    sizes: Sequence[int],
    eval_s: Sequence[float],
    elapsed_s: Sequence[float],
) -> tuple[list[int], list[int], list[int], list[float], list[float]]:
    """:func:`batch_fields` of batches given by their first ``eval_id``, batch number,
    size, model time (for the whole batch) and elapsed time, one entry per batch."""
    if all(n == 1 for n in sizes):  # batches of one design (the usual search)
        return (
            list(starts),
            list(numbers),
            [1] * len(sizes),
            [t / 1 for t in eval_s],
            microseconds(elapsed_s),
        )
    ids: list[int] = []
    batches: list[int] = []
    per_record: list[int] = []
    per_s: list[float] = []
    t_s: list[float] = []
    for start, batch, n, model_s, elapsed in zip(
        starts, numbers, sizes, eval_s, elapsed_s, strict=True
    ):
        ids.extend(range(start, start + n))
        batches.extend([batch] * n)
        per_record.extend([n] * n)
        per_s.extend([model_s / max(n, 1)] * n)
        t_s.extend([microsecond(elapsed)] * n)
    return ids, batches, per_record, per_s, t_s


def rows_of(*fields: Any) -> list[dict[str, Any]]:
    """Records from per-record sequences of their fields, in record order (``metrics`` as
    rows of values), then the metric names: ``(eval_id, batch, batch_size, design,
    metrics, feasible, reason, objective, violation, admissible, reward, eval_s, t_s,
    names)``. Values are taken as they are (already as stored)."""
    *columns, names = fields
    return [
        {
            "eval_id": i,
            "batch": b,
            "batch_size": n,
            "design": d,
            "metrics": dict(zip(names, m, strict=True)),
            "feasible": f,
            "reason": why,
            "objective": v,
            "violation": vio,
            "admissible": ok,
            "reward": rew,
            "eval_s": per,
            "t_s": t,
        }
        for i, b, n, d, m, f, why, v, vio, ok, rew, per, t in zip(*columns, strict=True)
    ]


def _stored_floats(xs: list[float]) -> list[Any]:
    """Python floats as stored (:func:`json_float`): ``xs`` itself when every one is finite
    (one ``sum``, the usual case), else a converted copy."""
    total = sum(xs)
    if total - total != 0:  # some NaN or inf (or a sum beyond the float range)
        return [json_float(x) for x in xs]
    return xs


def _stored_row(a: np.ndarray) -> list[Any]:
    """The first row of ``a`` (a 1-D or ``(1, k)`` array) as stored: :func:`_column` for one row."""
    out = a.tolist()
    if a.ndim == 2:
        out = out[0]
    kind = a.dtype.kind
    if kind == "f":
        out = _stored_floats(out)
    elif kind not in "biu":
        out = [json_float(x) for x in out]
    return out


def record_of_one(
    results: Results, eval_id: int, batch: int, elapsed_s: float = 0.0
) -> dict[str, Any]:
    """The record of a batch of one design: :func:`make_records` ``(...)[0]``, built from
    the design's own values (a few Python operations) instead of columns (a dozen numpy
    calls, which cost more than the record for one row)."""
    ev = results.evals
    lone = ev.__dict__.get("_floats")  # a model's lone-design floats (Evaluations.from_floats)
    if lone is not None:
        names = ev.__dict__["_names"]
        # checked floats: no per-column numpy call
        metrics = dict(zip(names, _stored_floats(list(lone[: len(names)]))))  # noqa: B905
    else:
        metrics = _metrics_of_one(ev.metrics)
    feasible = bool(ev.feasible[0])
    violation = _stored_row(results.violations)
    return {
        "eval_id": eval_id,
        "batch": batch,
        "batch_size": 1,
        "design": _design(results.designs[0]),
        "metrics": metrics,
        "feasible": feasible,
        "reason": ev.reasons[0],
        "objective": _stored_row(results.values),
        "violation": violation,
        "admissible": feasible and all(v == 0 for v in violation),
        "reward": _stored_row(results.reward)[0],
        "eval_s": results.eval_time_s / 1,
        "t_s": microsecond(elapsed_s),
    }


def _metrics_of_one(cols: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The stored metrics of a one-design batch's ``(1,)`` columns, as :func:`_column`
    stores them."""
    first = [col.item() for col in cols.values()]  # Python scalars, as tolist() gives them
    if all(type(x) is float for x in first):  # the usual case: float columns
        metrics = dict(zip(cols, _stored_floats(first)))  # noqa: B905 - one value per column
    else:  # int, bool or object columns too: each as _column stores it
        metrics = {
            name: x if col.dtype.kind in "biu" else json_float(x)
            for (name, col), x in zip(cols.items(), first)  # noqa: B905
        }
    return metrics


def _dumps_one(record: dict[str, Any]) -> bytes:
    """One record by orjson, or by the standard library where orjson refuses it."""
    try:
        return _dumps(record)
    except TypeError:  # orjson.JSONEncodeError: big int, non-str key, lone surrogate...
        return _encode(record).encode()


def encode_records(records: Sequence[dict[str, Any]]) -> bytes:
    """The records as JSON lines, each ending in a newline (one line per record; each line
    parses to exactly its record, see the module docstring)."""
    if not records:
        return b""
    try:
        return b"\n".join(map(_dumps, records)) + b"\n"
    except TypeError:  # some record orjson refuses: record by record
        return b"\n".join(map(_dumps_one, records)) + b"\n"


def loads(data: bytes) -> Any:
    """Parse one JSON document as the standard library's ``json.loads`` does (``NaN`` and
    ``Infinity`` tokens, big ints), by orjson where that gives the same value.

    Raises:
        ValueError: ``data`` is not valid JSON (the standard library's error).
        RecursionError: Nested too deep for the standard library.
    """
    if _LONG_INT.search(data) is None:
        try:
            return _orjson_loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def loads_lines(body: bytes) -> list[Any] | None:
    """Every line of ``body`` (complete lines, each ending in a newline) parsed at once, or
    ``None`` if some line is not valid JSON (or nests too deep)."""
    n = body.count(b"\n")
    if not n:
        return []
    try:
        parsed = loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, list) and len(parsed) == n else None
