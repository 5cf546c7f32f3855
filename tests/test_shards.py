"""Run shards (archgym._shards, store.ShardRunStore): a sweep's runs in one append-only file
per worker process, read back by every reader as if each run had its directory."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archgym import _shards
from archgym.errors import StoreError
from archgym.runner import Experiment, run_experiment
from archgym.store import ShardRunStore, is_run, load_runs, read_manifest, read_records
from archgym.sweep import is_complete

EXP = {"env": "test/Bowl-v0", "agent": "random", "seed": 3, "budget": 12, "batch_size": 1}
TIMING = ("eval_s", "t_s")


def _untimed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def _run(bowl_env: Any, out: Path, shard: bool, **exp: Any) -> Any:
    options = {"shard": True} if shard else None
    return run_experiment(
        Experiment(**{**EXP, **exp}), out=out, env=bowl_env, store_options=options
    )


def _shard_files(sweep: Path) -> list[Path]:
    return sorted((sweep / "shards").glob("*.jsonl"))


def test_a_sharded_run_reads_back_as_its_run_directory_would(bowl_env, tmp_path) -> None:
    # the same experiment through a run directory and through the shards: equal records and
    # manifests but for timing; catches an encoding, an offset or a block-size bug
    _run(bowl_env, tmp_path / "dir" / "e0", shard=False)
    _run(bowl_env, tmp_path / "sweep" / "e0", shard=True)
    _run(bowl_env, tmp_path / "sweep" / "e1", shard=True, seed=4)
    assert not (tmp_path / "sweep" / "e0").exists() and len(_shard_files(tmp_path / "sweep")) == 1
    a, b = read_manifest(tmp_path / "dir" / "e0"), read_manifest(tmp_path / "sweep" / "e0")
    for m in (a, b):
        for k in ("created", "updated", "best"):
            m.pop(k)
    assert a == b and b["status"] == "complete" and b["n_evaluations"] == 12
    ra, _ = read_records(tmp_path / "dir" / "e0", a)
    rb, _ = read_records(tmp_path / "sweep" / "e0", b)
    assert len(rb) == 12 and _untimed(ra) == _untimed(rb)
    assert read_manifest(tmp_path / "sweep" / "e1")["seed"] == 4  # the other block
    df = load_runs(tmp_path / "sweep")
    assert sorted(set(df["run"])) == [str(tmp_path / "sweep" / e) for e in ("e0", "e1")]
    assert len(df) == 24 and list(df[df["seed"] == 3]["eval_id"]) == list(range(12))
    assert is_run(tmp_path / "sweep" / "e1") and not is_run(tmp_path / "sweep" / "e2")
    with pytest.raises(StoreError, match="e2 is not an archgym run directory"):
        read_manifest(tmp_path / "sweep" / "e2")


def _two_runs(bowl_env: Any, sweep: Path) -> tuple[Path, Path, bytes]:
    """Runs ``a`` and ``b`` in ``sweep``'s one shard file: the sweep, the file, its bytes."""
    _run(bowl_env, sweep / "a", shard=True)
    _run(bowl_env, sweep / "b", shard=True, seed=5)
    (f,) = _shard_files(sweep)
    return sweep, f, f.read_bytes()


def test_a_torn_last_block_is_skipped_and_the_runs_before_it_kept(bowl_env, tmp_path) -> None:
    # a worker killed mid-write leaves a torn block at the end of its file: that run is
    # missing (the sweep reruns it), the ones before it intact
    sweep, f, data = _two_runs(bowl_env, tmp_path / "s")
    for cut in (len(data) - 7, data.rindex(b'{"run"') + 20):  # in the records; the header
        f.write_bytes(data[:cut])
        assert is_complete(sweep / "a", 12) and not is_complete(sweep / "b", 12)
        assert set(_shards.runs_in(sweep)) == {"a"}


def test_damage_before_the_end_of_a_shard_is_an_error_with_its_fix(bowl_env, tmp_path) -> None:
    sweep, f, data = _two_runs(bowl_env, tmp_path / "s")
    f.write_bytes(b"garbage" + data[7:])
    with pytest.raises(StoreError, match=r"corrupt at byte 0 .*Move the file away"):
        read_manifest(sweep / "b")
    from archgym.report._data import load_sweep_data

    with pytest.raises(StoreError, match="corrupt at byte 0"):  # not "holds no runs"
        load_sweep_data(sweep)
    # the records of a block damaged (its columns document): named with the shard and the
    # byte, with the fix; the other run stays readable
    head = data.index(b"\n") + 1
    f.write_bytes(data[: head + 1] + b"{not json" + data[head + 10 :])
    with pytest.raises(StoreError, match=r"corrupt at byte \d+ \(its records: .*Move the file"):
        read_records(sweep / "a")
    assert len(read_records(sweep / "b")[0]) == 12


def _manifest(status: str, updated: str, seed: int) -> dict[str, Any]:
    return {"env_id": "test/Bowl-v0", "status": status, "updated": updated, "seed": seed}


def test_of_several_blocks_of_a_run_the_complete_one_then_the_latest_is_the_run(
    tmp_path,
) -> None:
    # a failed attempt and its rerun, or a retried task's second complete copy, share an id;
    # taking the last block regardless would hide a complete run behind a failed retry
    w = _shards.ShardWriter(tmp_path / "shards")
    w.write_run("x", _manifest("failed", "2026-01-01T00:00:02", 1), b"")
    w.write_run("x", _manifest("complete", "2026-01-01T00:00:01", 2), b"")
    w.write_run("x", _manifest("failed", "2026-01-01T00:00:03", 3), b"")
    w.write_run("y", _manifest("failed", "2026-01-01T00:00:05", 4), b"")
    w.write_run("y", _manifest("interrupted", "2026-01-01T00:00:06", 5), b"")
    w.close()
    assert read_manifest(tmp_path / "x")["seed"] == 2
    assert read_manifest(tmp_path / "y")["seed"] == 5


def test_a_failed_write_is_cut_back_so_later_blocks_stay_readable(
    bowl_env, tmp_path, monkeypatch
) -> None:
    sweep = tmp_path / "s"
    _run(bowl_env, sweep / "a", shard=True)
    real = os.write

    def half(fd: int, blob: bytes) -> int:  # a full disk: part of the block, then no more
        return real(fd, blob[: len(blob) // 2])

    monkeypatch.setattr(_shards.os, "write", half)
    with pytest.raises(StoreError, match="cannot write .*short write"):
        _run(bowl_env, sweep / "b", shard=True)
    monkeypatch.setattr(_shards.os, "write", real)
    _run(bowl_env, sweep / "c", shard=True)  # after the cut-back: no torn block before it
    assert set(_shards.runs_in(sweep)) == {"a", "c"} and is_complete(sweep / "c", 12)


def _child_run(sweep: str) -> None:
    from archgym.store import ShardRunStore

    with ShardRunStore.create(Path(sweep) / "child", {"env_id": "e"}) as store:
        store.set_status("complete")


def test_each_process_writes_its_own_shard_file(tmp_path) -> None:
    # one writer per file: a forked worker must not append to its parent's descriptor
    with ShardRunStore.create(tmp_path / "parent", {"env_id": "e"}) as store:
        store.set_status("complete")
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_child_run, args=(str(tmp_path),))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    with ShardRunStore.create(tmp_path / "parent2", {"env_id": "e"}) as store:
        store.set_status("complete")
    files = _shard_files(tmp_path)
    assert len(files) == 2
    owner = {f: {json.loads(x)["run"] for x in f.read_text().splitlines()} for f in files}
    assert sorted(map(sorted, owner.values())) == [["child"], ["parent", "parent2"]]


def test_a_shard_run_never_shadows_a_run_directory(bowl_env, tmp_path) -> None:
    _run(bowl_env, tmp_path / "e0", shard=False)
    with pytest.raises(StoreError, match="already holds a run directory"):
        ShardRunStore.create(tmp_path / "e0", {"env_id": "e"})


def test_show_reads_a_run_in_the_shards(bowl_env, tmp_path) -> None:
    # `archgym show` of a sweep's run, addressed as <sweep>/<id>; its env is rebuilt from the
    # manifest, so use a registered env
    exp = Experiment(env="archgym/Systolic-v0", agent="random", seed=1, budget=6)
    run_experiment(exp, out=tmp_path / "s" / "e0", store_options={"shard": True})
    out = subprocess.run(
        [sys.executable, "-m", "archgym.cli", "show", str(tmp_path / "s" / "e0"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["n_evaluations"] == 6 and shown["status"] == "complete"


def test_a_resume_over_a_damaged_shard_stops_with_the_fix(tmp_path) -> None:
    # a shard damaged before its end must stop the resume with its fix, not be read as "no
    # runs" (every experiment silently rerun, and the damaged file left to fail later readers)
    from concurrent.futures import ThreadPoolExecutor

    from archgym.sweep import load_sweep, run_sweep

    text = (
        '[sweep]\nbudget = 4\nseeds = 2\nobjective = "edp"\n\n[[envs]]\n'
        'id = "archgym/Systolic-v0"\nlabel = "s"\n\n[[agents]]\nname = "random"\n'
    )
    spec = load_sweep("t.toml", text=text, check_build=False)
    with ThreadPoolExecutor(1) as ex:
        assert run_sweep(spec, tmp_path, ex, progress=None).n_complete == 2
        (f,) = _shard_files(tmp_path)
        f.write_bytes(b"garbage" + f.read_bytes()[7:])
        with pytest.raises(StoreError, match="corrupt at byte 0 .*Move the file away"):
            run_sweep(spec, tmp_path, ex, progress=None, resume=True)
        f.rename(tmp_path / "moved-away.jsonl")
        again = run_sweep(spec, tmp_path, ex, progress=None, resume=True)
    assert (again.n_skipped, again.n_complete) == (0, 2)
