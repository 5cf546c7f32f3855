"""A run's records as a columns document (archgym._columns): what a sweep task writes into
its shard must read back as exactly the records the record path writes, and the best design
picked from the batches must be the one picked from the records."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from archgym import _columns, _shards
from archgym._records import build_records, encode_records, loads_lines
from archgym.cost_model import Evaluations
from archgym.registry import make
from archgym.results import Results
from archgym.runner import _admissible_best, _best_fields
from archgym.store import ShardRunStore, read_manifest, read_records


def _as_read(records: list[dict[str, Any]]) -> Any:
    """Records as a reader gets them (written as lines, parsed back)."""
    return loads_lines(encode_records(records))


def _parts_of(batches: list[Results]) -> list[Any]:
    parts, start = [], 0
    for b, res in enumerate(batches):
        parts.append((res, start, b, 0.25 * b))
        start += len(res)
    return parts


def _round_trip(parts: list[Any]) -> Any:
    designs = [dict(d) for p in parts for d in p[0].designs]
    doc = _columns.encode_columns(parts, designs)
    assert doc is not None and doc.endswith(b"\n") and doc.count(b"\n") == 1
    n = sum(len(p[0]) for p in parts)
    return _as_read(_columns.records_of_columns(orjson.loads(doc), n))


def _env_batches(seed: int, sizes: list[int]) -> list[Results]:
    # two objectives and a constraint that many designs break (inadmissible rows), lone-design
    # floats and batched columns mixed (non-finite values: the synthetic test below)
    env = make(
        "archgym/Accelerator-v2",
        workload="resnet18",
        objective=["edp", "area_mm2"],
        constraints=["area_mm2 <= 3"],
    )
    rng = np.random.default_rng(seed)
    return [env.evaluate(env.space.sample(rng, k)) for k in sizes]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_columns_read_back_as_the_records_of_the_same_batches(seed: int) -> None:
    # every field, value for value (ints, floats, NaN as null, inf as "inf", lists of rows),
    # for lone designs and batches mixed; catches a column out of order, a wrong eval_id or
    # batch number, inf written as null, a per-batch time spread wrongly
    batches = _env_batches(seed, [1, 1, 3, 1, 5, 1, 1, 2])
    parts = _parts_of(batches)
    expected = _as_read(build_records(parts))
    assert any(not r["admissible"] for r in expected)
    assert _round_trip(parts) == expected


def test_lone_floats_without_a_block_read_back_as_their_records() -> None:
    # env.step's results hold a lone design's floats only (no (k, 1) block until metrics are
    # read): mixed with a model's blocks they must give the records' values in order
    names = ["latency_s", "energy_j"]
    lone = Evaluations.from_floats(names, (2e-3, 0.5, 7.0))  # items beyond the names: ignored
    assert "_block" not in lone.__dict__
    one = np.ones((1, 1))
    a = Results([{"x": 1}], lone, one * 2e-3, np.zeros((1, 0)), -one[0] * 2e-3, 1e-6)
    block = Evaluations.from_block(
        names, np.array([[1e-3, 4e-3], [0.25, np.inf]]), np.array([True, True]), ["", ""]
    )
    b = Results(
        [{"x": 2}, {"x": 3}],
        block,
        np.array([[1e-3], [4e-3]]),
        np.zeros((2, 0)),
        np.array([-1e-3, -4e-3]),
        2e-6,
    )
    lone2 = Evaluations.from_floats(names, (5e-3, 0.75))
    c = Results([{"x": 4}], lone2, one * 5e-3, np.zeros((1, 0)), -one[0] * 5e-3, 1e-6)
    parts = _parts_of([a, b, c])
    got = _round_trip(parts)
    assert got == _as_read(build_records(parts))
    assert [r["metrics"]["energy_j"] for r in got] == [0.5, 0.25, "inf", 0.75]


def _synthetic(metrics: dict[str, np.ndarray], reward: np.ndarray) -> Results:
    n = len(reward)
    feasible = ~np.isnan(metrics["latency_s"])
    evals = Evaluations(metrics, feasible, ["" if f else "too big" for f in feasible])
    values = np.where(feasible, metrics["latency_s"], np.nan).reshape(n, 1)
    violations = np.where(feasible, 0.0, np.inf).reshape(n, 1)
    designs = [{"x": i, "tile": float(i) / 2, "name": f"d{i}"} for i in range(n)]
    return Results(designs, evals, values, violations, reward, 0.5)


def test_non_finite_metrics_rewards_and_violations_read_back_exactly() -> None:
    inf = np.inf
    res = _synthetic(
        {
            "latency_s": np.array([1e-5, np.nan, 3.0, 0.1]),
            "cycles": np.array([10, 0, 2**40, 7], dtype=np.int64),
            "fits": np.array([True, False, True, True]),
            "slack": np.array([inf, -inf, 0.0, np.nan]),
        },
        np.array([-1e-5, -inf, -3.0, np.nan]),
    )
    lone = _synthetic(
        {
            "latency_s": np.array([2.0]),
            "cycles": np.array([3]),
            "fits": np.array([False]),
            "slack": np.array([1.5]),
        },
        np.array([-2.0]),
    )
    parts = _parts_of([res, lone])
    got = _round_trip(parts)
    assert got == _as_read(build_records(parts))
    assert got[0]["metrics"]["slack"] == "inf" and got[1]["metrics"]["slack"] == "-inf"
    # Evaluations holds metrics as float arrays: ints and bools are stored as floats
    assert got[2]["metrics"]["cycles"] == 2.0**40 and got[1]["metrics"]["fits"] == 0.0
    assert got[1]["reward"] == "-inf" and got[3]["reward"] is None


def test_columns_it_cannot_write_exactly_are_refused_and_the_store_writes_records(
    tmp_path,
) -> None:
    # float32 objective values (orjson would write float32's shortest form, not the float64
    # value records hold) and a design orjson refuses (an int beyond 64 bits): encode_columns
    # declines, the store falls back to records, and the run reads back the same
    res = _synthetic({"latency_s": np.array([0.1, 0.2])}, np.array([-0.1, -0.2]))
    f32 = Results(
        res.designs, res.evals, res.values.astype(np.float32), res.violations, res.reward, 0.0
    )
    assert _columns.encode_columns(_parts_of([f32]), [dict(d) for d in res.designs]) is None
    big = Results(
        [{**d, "x": 2**70} for d in res.designs],
        res.evals,
        res.values,
        res.violations,
        res.reward,
        0.0,
    )
    assert _columns.encode_columns(_parts_of([big]), [dict(d) for d in big.designs]) is None
    store = ShardRunStore.create(tmp_path / "s" / "r", {"env_id": "x"})
    store.append(big, 0.5)
    expected = _as_read(store.records)
    store.set_status("complete")
    store.close()
    assert read_records(tmp_path / "s" / "r")[0] == expected
    assert expected[0]["design"]["x"] == 2**70
    assert not _shards.find(tmp_path / "s" / "r").columns


def test_a_design_changed_after_it_was_recorded_is_stored_as_it_was(tmp_path) -> None:
    # an agent may change a design it was told; the store copies it at append, as the
    # record path did (keeping a reference would store the changed design)
    res = _synthetic({"latency_s": np.array([1.0])}, np.array([-1.0]))
    store = ShardRunStore.create(tmp_path / "s" / "r", {"env_id": "x"})
    store.append(res, 0.1)
    res.designs[0]["x"] = 99
    store.set_status("complete")
    store.close()
    (rec,) = read_records(tmp_path / "s" / "r")[0]
    assert rec["design"]["x"] == 0 and _shards.find(tmp_path / "s" / "r").columns
    assert read_manifest(tmp_path / "s" / "r")["n_evaluations"] == 1


@pytest.mark.parametrize("seed", range(6))
def test_the_best_from_the_batches_is_the_best_from_the_records(seed: int) -> None:
    # the sweep's manifest 'best' comes from the batches, the summaries of 'archgym show'
    # from the records: the same design, ties to the first, none when none is admissible
    env = make(
        "archgym/Accelerator-v2",
        workload="resnet18",
        objective="edp",
        constraints=["area_mm2 <= 4"],
    )
    rng = np.random.default_rng(seed)
    batches = [env.evaluate(env.space.sample(rng, k)) for k in (1, 2, 1, 4, 1)]
    batches.append(batches[1])  # a tie: the first of the equal designs wins
    parts = _parts_of(batches)
    records = _as_read(build_records(parts))
    expected = _admissible_best(records, env)[2]
    i = _columns.best_index(_columns.stack(batches))
    if expected is None:
        assert i is None
    else:
        got = _best_fields(records[i], env.objective)
        assert got["eval_id"] == expected["eval_id"] == i


def test_no_admissible_design_has_no_best_and_several_objectives_rank_by_reward() -> None:
    lat = np.array([np.nan, np.nan])
    assert (
        _columns.best_index(_columns.stack([_synthetic({"latency_s": lat}, np.array([0.0, 0.0]))]))
        is None
    )
    res = _synthetic({"latency_s": np.array([3.0, 1.0, 2.0])}, np.array([-5.0, -1.0, -0.5]))
    two = Results(
        res.designs, res.evals, np.c_[res.values, res.values], res.violations, res.reward, 0.0
    )
    assert (
        _columns.best_index(_columns.stack([two])) == 2
    )  # highest reward, not lowest first objective
    assert _columns.best_index(_columns.stack([res])) == 1


def test_a_damaged_or_short_columns_document_is_refused() -> None:
    res = _synthetic({"latency_s": np.array([1.0, 2.0])}, np.array([-1.0, -2.0]))
    doc = orjson.loads(_columns.encode_columns(_parts_of([res]), [dict(d) for d in res.designs]))
    with pytest.raises(ValueError, match="do not all hold 3 values"):
        _columns.records_of_columns(doc, 3)
    with pytest.raises(ValueError, match="not a columns document"):
        _columns.records_of_columns({k: v for k, v in doc.items() if k != "reward"}, 2)


def _store_run(tmp_path, batches: list[Results], name: str) -> tuple[ShardRunStore, Any]:
    store = ShardRunStore.create(tmp_path / "s" / name, {"env_id": "x", "budget": 3})
    for b, res in enumerate(batches):
        store.append(res, 0.25 * b)
    return store, store.best_record()


@pytest.mark.parametrize("seed", [0, 1])
def test_the_shard_store_keeps_plain_batches_as_columns_written_as_from_the_batches(
    tmp_path, seed: int
) -> None:
    # a sweep task's store copies a cost model's batches into columns (it keeps no Results
    # per evaluation); what it writes must be byte for byte what encode_columns makes of the
    # batches themselves, past the columns' first capacity (the budget, 3 here), with lone
    # designs and batches mixed; its best must be the records' best. Catches a row written
    # to the wrong place, a lost batch boundary, growth that drops rows
    batches = _env_batches(seed, [1, 1, 3, 1, 5, 1, 1, 2])
    parts = _parts_of(batches)
    designs = [dict(d) for r in batches for d in r.designs]
    store, best = _store_run(tmp_path, batches, "r")
    assert store._buffer is not None and store._buffer.n == 15  # kept as columns
    assert store._buffer.encode(store._designs) == _columns.encode_columns(parts, designs)
    records = _as_read(build_records(parts))
    i = _columns.best_index(_columns.stack(batches))
    assert best is not None and i is not None and _as_read([best]) == [records[i]]
    store.set_status("complete")
    store.close()
    assert read_records(tmp_path / "s" / "r")[0] == records
    assert _shards.find(tmp_path / "s" / "r").columns


def test_a_batch_the_columns_cannot_hold_turns_the_store_back_to_batches(tmp_path) -> None:
    # a batch with metrics as a plain dict (no model block), after plain ones: the store
    # rebuilds the batches it had copied and keeps the rest as they come; the run reads back
    # as the records of all of them, in order, each with its batch number and time
    plain = _env_batches(3, [1, 2, 1])
    one = _synthetic({"latency_s": np.array([0.5, np.nan])}, np.array([-0.5, -np.inf]))
    odd = Results(one.designs, one.evals, np.c_[one.values, one.values], one.violations, one.reward)
    store, _ = _store_run(tmp_path, plain, "r")
    store.append(odd, 9.0)
    assert store._buffer is None
    expected = _as_read(build_records(_parts_of(plain) + [(odd, 4, 3, 9.0)]))
    assert _as_read(store.records) == expected
    store.set_status("complete")
    store.close()
    assert read_records(tmp_path / "s" / "r")[0] == expected


def test_columns_are_copies_a_model_reusing_its_arrays_cannot_change(tmp_path) -> None:
    # a model may hand out the same output arrays again (a lone-design fast path reusing
    # its buffers): the store must hold the values of each call, not views of the arrays
    names = ["latency_s"]
    block, feasible = np.array([[1.0]]), np.array([True])
    store = ShardRunStore.create(tmp_path / "s" / "r", {"env_id": "x"})
    for x in (3.0, 1.0, 2.0):
        block[0, 0] = x
        evals = Evaluations.from_block(names, block, feasible, [""])
        store.append(Results([{"x": x}], evals, block.T.copy(), np.zeros((1, 0)), -block[0]), x)
    best = store.best_record()
    assert best is not None and best["design"] == {"x": 1.0} and best["eval_id"] == 1
    store.set_status("complete")
    store.close()
    (recs,) = read_records(tmp_path / "s" / "r")[:1]
    assert [r["metrics"]["latency_s"] for r in recs] == [3.0, 1.0, 2.0]
