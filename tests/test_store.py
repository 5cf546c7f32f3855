"""Run store: manifest, append-only records, torn and corrupt files, locking, load_runs."""

import json
import os

import numpy as np
import pytest

import archgym
from archgym.errors import StoreError
from archgym.store import RunStore, load_runs, read_manifest, read_records


def _results(env, n=3, seed=0):
    return env.evaluate(env.space.sample(np.random.default_rng(seed), n))


def test_create_append_load(bowl_env, tmp_path) -> None:
    run = tmp_path / "r1"
    with RunStore.create(run, {"env_id": "test/Bowl-v0", "agent": "x", "seed": 3}) as store:
        store.append(_results(bowl_env, 3))
        store.append(_results(bowl_env, 2, seed=1))
        store.set_status("complete")
    m = read_manifest(run)
    assert m["status"] == "complete" and m["n_evaluations"] == 5 and "numpy" in m["packages"]
    df = load_runs(run)
    assert (
        len(df) == 5
        and list(df["eval_id"]) == [0, 1, 2, 3, 4]
        and list(df["batch"]) == [0, 0, 0, 1, 1]
    )
    assert {
        "a",
        "size",
        "kind",
        "latency_s",
        "energy_j",
        "feasible",
        "reward",
        "agent",
        "seed",
    } <= set(df.columns)
    assert (df["seed"] == 3).all()


def test_existing_run_is_not_overwritten(bowl_env, tmp_path) -> None:
    RunStore.create(tmp_path, {"env_id": "e"}).close()
    with pytest.raises(StoreError, match="already holds a run; pass --resume"):
        RunStore.create(tmp_path, {"env_id": "e"})


def test_unwritable_directory(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot write the run directory"):
        RunStore.create(blocker / "run", {"env_id": "e"})


def test_torn_last_line_is_tolerated_and_truncated_on_resume(bowl_env, tmp_path) -> None:
    with RunStore.create(tmp_path, {"env_id": "e"}) as store:
        store.append(_results(bowl_env, 2))
        store.append(_results(bowl_env, 2, seed=1))
    path = tmp_path / "records.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"eval_id": 4, "batch": 2, "des')  # killed mid-write
    records, _ = read_records(tmp_path)
    assert len(records) == 4
    store = RunStore.open(tmp_path)
    store.close()
    assert path.read_bytes() == whole


def test_incomplete_last_batch_is_dropped_on_resume(bowl_env, tmp_path) -> None:
    with RunStore.create(tmp_path, {"env_id": "e"}) as store:
        store.append(_results(bowl_env, 2))
        store.append(_results(bowl_env, 3, seed=1))
    path = tmp_path / "records.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:4]))  # batch 1 lost its last record
    store = RunStore.open(tmp_path)
    assert len(store.records) == 2 and store.manifest["resumed"] == 1
    store.close()
    assert path.read_bytes() == b"".join(lines[:2])


def test_corrupt_middle_record_names_file_and_line(bowl_env, tmp_path) -> None:
    with RunStore.create(tmp_path, {"env_id": "e"}) as store:
        store.append(_results(bowl_env, 3))
    path = tmp_path / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = "garbage\n"
    path.write_text("".join(lines))
    with pytest.raises(StoreError, match=r"records.jsonl line 2 is corrupt"):
        load_runs(tmp_path)
    assert path.read_text().count("\n") == 3  # nothing was rewritten


def test_corrupt_manifest_and_missing_dirs(tmp_path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="manifest.json is corrupt"):
        read_manifest(tmp_path)
    with pytest.raises(StoreError, match="no such run directory"):
        load_runs(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StoreError, match="contains no archgym runs"):
        load_runs(empty)


def test_second_writer_is_refused(tmp_path) -> None:
    store = RunStore.create(tmp_path, {"env_id": "e"})
    try:
        with pytest.raises(StoreError, match="being written by another archgym process"):
            RunStore.open(tmp_path)
    finally:
        store.close()
    RunStore.open(tmp_path).close()  # free again once closed


def test_load_runs_finds_nested_runs(tmp_path) -> None:
    for seed in (0, 1):
        archgym.run_experiment(
            archgym.Experiment(env="archgym/Systolic-v0", agent="random", budget=4, seed=seed),
            out=tmp_path / "sweep" / f"s{seed}",
        )
    df = load_runs(tmp_path / "sweep")
    assert len(df) == 8 and sorted(df["seed"].unique()) == [0, 1]
    records = [
        json.loads(x)
        for x in (tmp_path / "sweep" / "s0" / "records.jsonl").read_text().splitlines()
    ]
    assert all(r["eval_s"] >= 0 and r["t_s"] >= 0 for r in records)
    assert os.path.exists(tmp_path / "sweep" / "s0" / "manifest.json")


def test_buffered_store_writes_records_before_the_manifest_counts_them(bowl_env, tmp_path) -> None:
    store = RunStore.create(tmp_path, {"env_id": "e"}, buffered=True, durable=False)
    store.append(_results(bowl_env, 2))
    store.append(_results(bowl_env, 3, seed=1))
    assert (tmp_path / "records.jsonl").read_bytes() == b""  # held in memory so far
    store.set_status("complete")
    assert len(read_records(tmp_path)[0]) == 5 == read_manifest(tmp_path)["n_evaluations"]
    store.append(_results(bowl_env, 1, seed=2))
    store.close()  # close flushes too
    assert len(read_records(tmp_path)[0]) == 6


def test_record_missing_a_field_is_corrupt(bowl_env, tmp_path) -> None:
    with RunStore.create(tmp_path, {"env_id": "e"}) as store:
        store.append(_results(bowl_env, 3))
    path = tmp_path / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    rec = json.loads(lines[0])
    del rec["metrics"]
    lines[0] = json.dumps(rec) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(StoreError, match=r"line 1 is corrupt \(missing field\(s\) \['metrics'\]\)"):
        read_records(tmp_path)


def test_the_lock_is_the_run_directory_itself(bowl_env, tmp_path) -> None:
    # a run needs no lock file (a file creation costs 0.1-0.8 ms of CPU on some file
    # systems, a sweep makes one run per experiment); catches a lock that is not held (a
    # second writer let in, is_live false while writing) or that outlives the store
    from archgym.store import is_live

    run = tmp_path / "r"
    with RunStore.create(run, {"env_id": "e"}) as store:
        store.append(_results(bowl_env, 2))
        assert is_live(run) is True
        with pytest.raises(StoreError, match="being written by another archgym process"):
            RunStore.open(run)
        store.set_status("complete")
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "records.jsonl"]
    assert is_live(run) is False
    RunStore.open(run).close()


def test_a_lock_file_held_by_an_earlier_writer_is_respected(bowl_env, tmp_path) -> None:
    # runs written before the directory lock (and on file systems without it) are locked by
    # their .lock file: such a writer must still keep others out and count as live
    import fcntl

    from archgym.store import is_live

    run = tmp_path / "r"
    with RunStore.create(run, {"env_id": "e"}) as store:
        store.append(_results(bowl_env, 1))
        store.set_status("running")
    fd = os.open(run / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the earlier archgym writing it
        assert is_live(run) is True
        with pytest.raises(StoreError, match="being written by another archgym process"):
            RunStore.open(run)
    finally:
        os.close(fd)
    assert is_live(run) is False
    RunStore.open(run).close()


def test_without_directory_locks_the_lock_is_a_file(bowl_env, tmp_path, monkeypatch) -> None:
    # a file system that refuses flock on a directory (NFS emulates flock with fcntl locks,
    # which need a file open for writing): the store falls back to the .lock file, and
    # is_live and a second writer see it
    import fcntl

    import archgym.store as store_mod

    real_flock = fcntl.flock

    def flock(fd, op):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(9, "Bad file descriptor")
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    run = tmp_path / "r"
    with RunStore.create(run, {"env_id": "e"}) as store:
        assert (run / ".lock").read_text() == str(os.getpid())
        assert store_mod.is_live(run) is True
        with pytest.raises(StoreError, match="being written by another archgym process"):
            RunStore.open(run)
        store.append(_results(bowl_env, 1))
        store.set_status("complete")
    assert store_mod.is_live(run) is False
