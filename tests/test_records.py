"""Evaluation records built column by column (archgym._records) and the buffered store that
builds them when it writes: the same records and bytes as one record at a time."""

import json
import math
import re

import numpy as np

from archgym._records import build_records, encode_records, make_records
from archgym.cost_model import Evaluations
from archgym.results import Results
from archgym.store import RunStore, read_manifest, read_records


def _stored(x):
    """The record format's rule for one value, written out plainly (the specification the
    column-wise builder must meet): NaN -> None, +-inf -> "inf"/"-inf", numpy -> Python."""
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return None
        return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")
    return x.item() if isinstance(x, np.generic) else x


def _reference(results, start, batch, elapsed_s):
    """One record at a time, value by value: the format as documented."""
    n = len(results)
    out = []
    for i in range(n):
        out.append(
            {
                "eval_id": start + i,
                "batch": batch,
                "batch_size": n,
                "design": {k: _stored(v) for k, v in results.designs[i].items()},
                "metrics": {k: _stored(v[i]) for k, v in results.evals.metrics.items()},
                "feasible": bool(results.feasible[i]),
                "reason": results.evals.reasons[i],
                "objective": [_stored(x) for x in results.values[i]],
                "violation": [_stored(x) for x in results.violations[i]],
                "admissible": bool(results.admissible[i]),
                "reward": _stored(results.reward[i]),
                "eval_s": results.eval_time_s / n,
                "t_s": round(float(elapsed_s), 6),
            }
        )
    return out


def _odd_results(n, seed):
    """A batch with every awkward value: NaN and +-inf metrics, an int metric, numpy scalars
    and a NaN in designs, a comma in a reason, infeasible rows, two objectives, a constraint."""
    rng = np.random.default_rng(seed)
    lat = rng.random(n)
    lat[0] = np.nan
    if n > 2:
        lat[1], lat[2] = np.inf, -np.inf
    feasible = ~np.isnan(lat)
    evals = Evaluations(
        metrics={"latency_s": lat, "cycles": rng.integers(1, 10**9, n).astype(float)},
        feasible=feasible,
        reasons=["" if f else "buffer too small, 8 kB < 16 kB" for f in feasible],
    )
    evals.metrics["count"] = np.arange(n)  # an int column, kept as ints
    designs = [
        {"rows": np.int64(8 * (i + 1)), "clock": float(i) / 3, "flow": "ws", "fast": bool(i % 2)}
        for i in range(n)
    ]
    designs[-1]["clock"] = np.float64("nan")
    values = np.c_[lat, rng.random(n)]
    violations = np.c_[np.where(rng.random(n) < 0.5, 0.0, rng.random(n))]
    violations[0, 0] = np.inf
    return Results(designs, evals, values, violations, -values.sum(axis=1), eval_time_s=0.3)


def test_records_equal_the_format_value_by_value() -> None:
    parts = [
        (_odd_results(n, s), start, b, t)
        for n, s, start, b, t in [(4, 0, 0, 0, 0.12345678), (1, 1, 4, 1, 1.5), (3, 2, 5, 2, 2.0)]
    ]
    expected = [r for p in parts for r in _reference(*p)]
    assert build_records(parts) == expected  # several batches built at once
    assert [r for p in parts for r in make_records(*p)] == expected  # one batch at a time
    # types too (== holds for 1 == 1.0 == True): ints stay ints, numpy becomes Python
    got = build_records(parts)
    assert [type(r["metrics"]["count"]) for r in got] == [int] * 8
    assert [type(r["design"]["rows"]) for r in got] == [int] * 8
    assert got[0]["metrics"]["latency_s"] is None and got[1]["metrics"]["latency_s"] == "inf"
    assert got[3]["design"]["clock"] is None and got[0]["violation"] == ["inf"]


def test_encoded_lines_are_the_bytes_of_json_dumps() -> None:
    recs = build_records([(_odd_results(5, 3), 0, 0, 0.5)])
    lines = encode_records(recs).split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6
    assert lines[:-1] == [json.dumps(r, separators=(",", ":")).encode() for r in recs]
    assert encode_records([]) == b""


def test_batches_with_different_metrics_are_built_one_by_one() -> None:
    a, b = _odd_results(2, 0), _odd_results(2, 1)
    del b.evals.metrics["count"]
    assert build_records([(a, 0, 0, 0.0), (b, 2, 1, 0.0)]) == _reference(a, 0, 0, 0.0) + _reference(
        b, 2, 1, 0.0
    )


def _append_all(store, env, sizes):
    for i, n in enumerate(sizes):
        store.append(env.evaluate(env.space.sample(np.random.default_rng(i), n)), 0.25 * i)


def test_buffered_store_writes_what_an_unbuffered_one_writes(bowl_env, tmp_path) -> None:
    # a buffered store builds its records only when it writes: numbering (eval_id, batch)
    # across deferred batches, an empty batch (no records, no batch number) and the flush
    # must give the same file as writing batch by batch
    sizes = [1, 3, 0, 1, 2, 0, 1]
    with RunStore.create(tmp_path / "u", {"env_id": "e"}) as plain:
        _append_all(plain, bowl_env, sizes)
        plain.set_status("complete")
    with RunStore.create(tmp_path / "b", {"env_id": "e"}, buffered=True, durable=False) as buf:
        _append_all(buf, bowl_env, sizes)
        assert len(buf.records) == 8  # built on demand, before any write
        _append_all(buf, bowl_env, [2])
        buf.set_status("complete")
    # the same bytes but for eval_s, the model's measured time
    u, b = (
        re.sub(rb'"eval_s":[^,]*', b"", (tmp_path / d / "records.jsonl").read_bytes()) for d in "ub"
    )
    assert b.startswith(u) and len(u.splitlines()) == 8 and len(b.splitlines()) == 10
    assert len(read_records(tmp_path / "b")[0]) == 10
    recs = read_records(tmp_path / "u")[0]
    assert [r["batch"] for r in recs] == [0, 1, 1, 1, 2, 3, 3, 4]
    assert [r["eval_id"] for r in recs] == list(range(8))


def test_buffered_store_keeps_the_design_it_was_given(bowl_env, tmp_path) -> None:
    res = bowl_env.evaluate(bowl_env.space.sample(np.random.default_rng(0), 2))
    before = [dict(d) for d in res.designs]
    with RunStore.create(tmp_path, {"env_id": "e"}, buffered=True, durable=False) as store:
        store.append(res)
        res.designs[0]["a"] = 99  # an agent reusing the dict it was told must not rewrite history
        store.set_status("complete")
    assert [r["design"] for r in read_records(tmp_path)[0]] == before


def test_buffered_store_flushes_every_flush_records(bowl_env, tmp_path, monkeypatch) -> None:
    import archgym.store as store_module

    monkeypatch.setattr(store_module, "FLUSH_RECORDS", 4)
    store = RunStore.create(tmp_path, {"env_id": "e"}, buffered=True, durable=False)
    _append_all(store, bowl_env, [1, 2])
    assert (tmp_path / "records.jsonl").read_bytes() == b""
    _append_all(store, bowl_env, [1])  # the 4th record: written, in one piece
    assert len(read_records(tmp_path)[0]) == 4
    store.close()


def test_task_store_writes_its_manifest_with_its_records(bowl_env, tmp_path) -> None:
    # a sweep task's store (buffered, not durable) skips the manifest of a run that has not
    # recorded anything yet; catches a manifest that never comes (closed without a status
    # change) or that counts records not yet written
    store = RunStore.create(tmp_path / "a", {"env_id": "e"}, buffered=True, durable=False)
    _append_all(store, bowl_env, [2])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".lock", "records.jsonl"]
    store.set_status("complete")
    assert read_manifest(tmp_path / "a")["n_evaluations"] == 2
    store.close()
    store = RunStore.create(tmp_path / "b", {"env_id": "e"}, buffered=True, durable=False)
    _append_all(store, bowl_env, [3])
    store.close()
    m = read_manifest(tmp_path / "b")
    assert m["status"] == "running" and m["n_evaluations"] == 3
    assert len(read_records(tmp_path / "b", m)[0]) == 3
    with RunStore.create(tmp_path / "c", {"env_id": "e"}):  # a durable store: at once
        assert read_manifest(tmp_path / "c")["n_evaluations"] == 0
