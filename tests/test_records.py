"""Evaluation records built column by column (archgym._records) and the buffered store that
builds them when it writes: the same records and bytes as one record at a time."""

import json
import math
import re

import numpy as np
import pytest

from archgym._records import build_records, encode_records, loads, loads_lines, make_records
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
                "t_s": math.floor(float(elapsed_s) * 1e6 + 0.5) / 1e6,  # half up, to the us
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


def test_long_columns_equal_the_format_value_by_value() -> None:
    # columns and matrices longer than _records._SMALL are checked for NaN/inf by numpy,
    # not value by value; catches a wrong index in that path (rows and columns swapped,
    # an offset between concatenated batches, a missed last value)
    from archgym._records import _SMALL

    res = _odd_results(100, 4)
    res.evals.metrics["latency_s"][[50, 99]] = [np.inf, np.nan]
    res.values[70, 1], res.values[99, 0] = -np.inf, np.nan
    res.violations[99, 0] = np.nan
    res.reward[[3, 98]] = [np.inf, np.nan]
    parts = [(_odd_results(40, 5), 0, 0, 0.5), (res, 40, 1, 1.0)]
    assert len(res) > _SMALL and res.values.size > _SMALL
    got = build_records(parts)
    assert got == [r for p in parts for r in _reference(*p)]
    assert got[140 - 1]["objective"][0] is None and got[40 + 70]["objective"][1] == "-inf"
    assert got[40 + 98]["reward"] is None and got[40 + 50]["metrics"]["latency_s"] == "inf"


def test_encoded_lines_parse_to_exactly_the_records() -> None:
    # orjson writes the lines; each must parse (stdlib json.loads, what any reader uses) to
    # exactly its record, types included (catches ints written as floats, lost precision)
    recs = build_records([(_odd_results(5, 3), 0, 0, 0.5)])
    lines = encode_records(recs).split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6
    assert [json.loads(x) for x in lines[:-1]] == recs
    assert [_types(json.loads(x)) for x in lines[:-1]] == [_types(r) for r in recs]
    assert encode_records([]) == b""


def _types(x):
    if isinstance(x, dict):
        return {k: _types(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_types(v) for v in x]
    return type(x)


def test_numbers_round_trip_exactly() -> None:
    # shortest-repr floats of every magnitude (subnormal, 1e-05 written 0.00001, 1e+300) and
    # ints at the 64-bit edges must come back bit for bit, through the stdlib reader and ours
    rng = np.random.default_rng(16)
    floats = np.r_[
        rng.random(200) * 10.0 ** rng.integers(-320, 300, 200),
        [5e-324, 1e-05, 0.1, 1e16, 1e22, 1.7976931348623157e308, -0.0, 123456789.0],
    ].tolist()
    ints = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]
    recs = [
        {"eval_id": i, "x": x, "n": n}
        for i, (x, n) in enumerate(zip(floats, ints * 21, strict=False))
    ]
    blob = encode_records(recs)
    for read in (json.loads, loads):
        back = [read(line) for line in blob.splitlines()]
        assert [math.copysign(1, r["x"]) * abs(r["x"]) for r in back] == floats
        assert [r["n"] for r in back] == [r["n"] for r in recs]
        assert {type(r["n"]) for r in back} == {int}
    assert loads_lines(blob) == recs


def test_records_orjson_refuses_are_written_by_the_stdlib() -> None:
    # an int beyond 64 bits and a lone surrogate: orjson raises, the stdlib writes them (as
    # before orjson); the other records of the batch are unaffected
    recs = [{"eval_id": 0, "big": 2**70}, {"eval_id": 1, "reason": "\ud800"}, {"eval_id": 2}]
    lines = encode_records(recs).splitlines()
    assert lines[:2] == [json.dumps(r, separators=(",", ":")).encode() for r in recs[:2]]
    assert [json.loads(x) for x in lines] == recs


def test_stdlib_tokens_and_big_ints_are_read_as_the_stdlib_reads_them() -> None:
    # files written by json.dumps hold NaN/Infinity tokens, which orjson refuses; a 19-digit
    # int below -2**63 orjson would turn into a float
    text = json.dumps({"a": math.nan, "b": [math.inf, -math.inf], "c": -(2**63) - 1}).encode()
    got = loads(text)
    assert math.isnan(got["a"]) and got["b"] == [math.inf, -math.inf]
    assert got["c"] == -(2**63) - 1 and type(got["c"]) is int
    assert loads_lines(text + b"\n" + b'{"x":1}\n')[1] == {"x": 1}
    assert loads_lines(b'{"x":1}\n{broken\n') is None
    with pytest.raises(ValueError):
        loads(b"{broken")


def test_batches_with_different_metrics_are_built_one_by_one() -> None:
    a, b = _odd_results(2, 0), _odd_results(2, 1)
    del b.evals.metrics["count"]
    assert build_records([(a, 0, 0, 0.0), (b, 2, 1, 0.0)]) == _reference(a, 0, 0, 0.0) + _reference(
        b, 2, 1, 0.0
    )


def _one_odd(seed):
    """A batch of one design whose every number is drawn from finite, NaN and +-inf values,
    with float64, float32, int and object metric columns, 0-2 constraints."""
    rng = np.random.default_rng(seed)
    pool = np.array([0.0, 1.5, -2.25, 1e-300, 3e38, np.nan, np.inf, -np.inf])
    pick = lambda k: rng.choice(pool, size=k)  # noqa: E731
    feasible = np.array([bool(rng.integers(2))])
    evals = Evaluations(
        metrics={"latency_s": pick(1), "energy_j": pick(1)}, feasible=feasible, reasons=["why"]
    )
    evals.metrics["count"] = rng.integers(-5, 5, 1)
    evals.metrics["half"] = pick(1).astype(np.float32)
    evals.metrics["obj"] = np.array([np.float64(pick(1)[0])], dtype=object)
    designs = [{"rows": np.int64(8), "clock": float(pick(1)[0]), "flow": "ws"}]
    c = int(rng.integers(3))
    violations = np.where(rng.random((1, c)) < 0.5, 0.0, pick(c).reshape(1, c))
    reward = pick(1) if seed % 2 else rng.integers(-3, 3, 1)
    return Results(designs, evals, pick(2).reshape(1, 2), violations, reward, eval_time_s=0.1)


def test_record_of_one_design_equals_the_format_value_by_value() -> None:
    # the row-wise record of a batch of one (what a sweep task and `archgym run` write for
    # every evaluation) against the format, value and type: NaN/inf in every field, int and
    # object columns kept as _column keeps them
    for seed in range(200):
        res = _one_odd(seed)
        (got,) = make_records(res, 5, 2, 0.5)
        (want,) = _reference(res, 5, 2, 0.5)
        assert got == want, seed
        types = lambda r: {  # noqa: E731
            k: [type(x) for x in v.values()] if isinstance(v, dict) else type(v)
            for k, v in r.items()
        }
        assert types(got) == types(want), seed
        assert got == build_records([(res, 5, 2, 0.5), (res, 6, 3, 0.5)])[0]  # by columns


def test_record_of_one_reads_a_models_lone_floats_as_the_format_stores_them() -> None:
    # a model's lone design (Evaluations.from_floats: Python floats, the metrics dict not
    # built) is recorded from its floats: NaN and +-inf must still become null / "inf", the
    # status float beyond the names must not be stored, and the record must equal the
    # column-wise one value by value and type
    pool = [0.0, 1.5, -2.25, 1e-300, 3e38, math.nan, math.inf, -math.inf]
    names = ["latency_s", "energy_j", "area_mm2"]
    for seed in range(100):
        rng = np.random.default_rng(seed)
        floats = tuple(float(rng.choice(pool)) for _ in range(4))  # 3 metrics + a status
        evals = Evaluations.from_floats(names, floats)
        res = Results(
            [{"rows": 8}], evals, np.array([[floats[0]]]), np.zeros((1, 0)), np.array([-1.0]), 0.1
        )
        (got,) = make_records(res, 7, 3, 0.5)
        assert "metrics" not in evals.__dict__  # read from the floats, not the columns
        assert list(got["metrics"]) == names, seed
        (want,) = _reference(res, 7, 3, 0.5)
        assert got == want, seed
        assert [type(x) for x in got["metrics"].values()] == [
            type(x) for x in want["metrics"].values()
        ], seed


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
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["records.jsonl"]
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


def _as_stdlib_wrote_it(run) -> list[bytes]:
    """Rewrite a run as a pre-orjson writer could have: every line by json.dumps (default
    separators, ASCII escapes), null metrics and objectives as NaN tokens, an Infinity
    eval_s, and the manifest by json.dumps(indent=2)."""
    lines = []
    for i, line in enumerate((run / "records.jsonl").read_bytes().splitlines()):
        rec = json.loads(line)
        rec["metrics"] = {k: math.nan if v is None else v for k, v in rec["metrics"].items()}
        rec["objective"] = [math.nan if v is None else v for v in rec["objective"]]
        if i == 1:
            rec["eval_s"] = math.inf
        lines.append(json.dumps(rec).encode())
    (run / "records.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    m = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps(m, indent=2))
    return lines


def test_a_run_written_by_the_stdlib_encoder_loads_shows_and_resumes(
    bowl_env, tmp_path, capsys
) -> None:
    # catches a reader that refuses the NaN/Infinity tokens of pre-orjson files (orjson
    # does), or reads them differently from the null/"inf" the current writer uses
    from archgym.cli import main
    from archgym.runner import Experiment, run_experiment
    from archgym.store import load_runs

    exp = Experiment(agent="random", budget=40, seed=1)
    run_experiment(exp, out=tmp_path / "ref", env=bowl_env)
    for d in ("new", "old"):
        run_experiment(
            Experiment(agent="random", budget=15, seed=1), out=tmp_path / d, env=bowl_env
        )
    lines = _as_stdlib_wrote_it(tmp_path / "old")
    assert any(b"NaN" in x for x in lines) and b"Infinity" in lines[1]

    new, old = read_records(tmp_path / "new")[0], read_records(tmp_path / "old")[0]
    assert len(old) == 15 and old[1]["eval_s"] == math.inf
    for a, b in zip(new, old, strict=True):
        assert [math.nan if v is None else v for v in a["metrics"].values()] == pytest.approx(
            list(b["metrics"].values()), nan_ok=True, rel=0, abs=0
        )
        assert a["design"] == b["design"] and a["feasible"] == b["feasible"]
    df_new, df_old = load_runs(tmp_path / "new"), load_runs(tmp_path / "old")
    cols = [c for c in df_new.columns if c not in ("run", "eval_s", "t_s")]
    assert df_new[cols].equals(df_old[cols])

    assert main(["show", str(tmp_path / "new")]) == 0
    shown_new = capsys.readouterr().out.replace(str(tmp_path / "new"), "RUN")
    shown_new = re.sub(r"[0-9.]+ s of run", "T s of run", shown_new)
    assert main(["show", str(tmp_path / "old")]) == 0
    shown_old = capsys.readouterr().out.replace(str(tmp_path / "old"), "RUN")
    shown_old = re.sub(r"[0-9.]+ s of run", "T s of run", shown_old)
    assert shown_old == shown_new

    res = run_experiment(exp, out=tmp_path / "old", resume=True, env=bowl_env)
    assert res.n_evaluations == 40

    def designs(d):
        return [
            json.loads(x)["design"]
            for x in (tmp_path / d / "records.jsonl").read_bytes().splitlines()
        ]

    assert designs("old") == designs("ref") and len(designs("ref")) == 40
    assert (tmp_path / "old" / "records.jsonl").read_bytes().splitlines()[:15] == lines


def test_buffered_store_after_a_failed_write_numbers_on_from_the_file(
    bowl_env, tmp_path, monkeypatch
) -> None:
    # a failed write drops the unwritten records; catches a store that keeps them in
    # .records, or numbers the next batch (or eval_id) past the dropped ones
    import errno
    import os

    import archgym.store as store_module
    from archgym.errors import StoreError

    real_write = os.write
    state = {"full": False}

    def write(fd, data):
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(store_module, "FLUSH_RECORDS", 3)
    monkeypatch.setattr(store_module.os, "write", write)
    store = RunStore.create(tmp_path, {"env_id": "e"}, buffered=True, durable=False)
    _append_all(store, bowl_env, [1, 2])  # batches 0, 1: written
    _append_all(store, bowl_env, [1])  # batch 2: waits
    state["full"] = True
    with pytest.raises(StoreError, match="No space left on device"):
        _append_all(store, bowl_env, [2])  # batch 3 triggers the write, which fails
    assert len(store.records) == 3
    state["full"] = False
    _append_all(store, bowl_env, [1])
    store.set_status("complete")
    store.close()
    recs = read_records(tmp_path)[0]
    assert [r["eval_id"] for r in recs] == [0, 1, 2, 3]
    assert [r["batch"] for r in recs] == [0, 1, 1, 2]
    assert read_manifest(tmp_path)["n_evaluations"] == 4


def test_elapsed_times_are_stored_to_the_microsecond_alike_one_by_one_and_in_bulk() -> None:
    # a batch's records (one value at a time) and a run's columns (one numpy pass) must
    # store the same t_s, or a run would read back differently by how it was written;
    # catches a vectorised rounding that differs in the last digit (half-even, a truncation)
    from archgym._records import microsecond, microseconds

    rng = np.random.default_rng(0)
    ts = np.concatenate(
        [
            rng.random(2000) * 10 ** rng.uniform(-7, 5, 2000),
            (np.arange(50) + 0.5) / 1e6,  # ties: half up
            [0.0, 1.0, 123.4565, np.nan, np.inf],
        ]
    ).tolist()
    bulk = microseconds(ts)
    one = [microsecond(t) for t in ts]
    assert [repr(x) for x in bulk] == [repr(x) for x in one]
    assert all(abs(a - t) <= 5e-7 * (1 + 1e-9) for a, t in zip(one[:-2], ts[:-2], strict=True))
    assert one[2000:2003] == [1e-6, 2e-6, 3e-6] and one[-5:-3] == [0.0, 1.0]
