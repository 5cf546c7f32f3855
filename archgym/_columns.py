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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from archgym._records import Part, _column, _design, admissible_of, batch_fields, rows_of
from archgym.results import Results

__all__ = ["encode_columns", "records_of_columns", "best_index", "stack", "Stacked", "FIELDS"]

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
        block = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
        if np.isinf(block).any():
            return {m: _stored(block[j]) for j, m in enumerate(names)}
        return dict(zip(names, np.ascontiguousarray(block), strict=True))
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
    ids, batches, sizes, per_s, t_s = batch_fields(parts)
    st = stacked if stacked is not None else stack(results)
    if any(a.dtype.char not in _EXACT for a in (st.values, st.violations, st.reward, st.feasible)):
        return None
    doc = {
        "eval_id": ids,
        "batch": batches,
        "batch_size": sizes,
        "metrics": metrics,
        "feasible": st.feasible,
        "reason": [s for r in results for s in r.evals.reasons],
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
