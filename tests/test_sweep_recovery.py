"""Sweeps survive a lost worker (issue 15, failure 7): the local pool is rebuilt and the lost
tasks run again (bounded), and a retried task (Dask's automatic retry) takes over its own
run directory instead of failing with "already holds a run". Limits (failure 5) of sweep
files are checked up front."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from archgym.errors import ConfigError, StoreError
from archgym.runner import Experiment, run_experiment
from archgym.store import read_manifest, read_records
from archgym.sweep import SweepFileError, load_sweep, run_item, run_sweep
from archgym.sweep._driver import MAX_LOST_RETRIES
from archgym.sweep._executors import LocalPool

SWEEP = """\
[sweep]
budget = {budget}
seeds = {seeds}
objective = "edp"

[[envs]]
id = "archgym/Systolic-v0"
kwargs = {{ workload = "resnet18" }}
label = "r18"

[[agents]]
name = "{agent}"
"""


def _spec(budget: int = 8, seeds: int = 2, agent: str = "random") -> Any:
    text = SWEEP.format(budget=budget, seeds=seeds, agent=agent)
    return load_sweep("t.toml", text=text, check_build=False)


def test_a_killed_local_worker_is_replaced_and_its_experiment_rerun(tmp_path: Path) -> None:
    spec = _spec(budget=40, seeds=4, agent="tpe")
    out = tmp_path / "sweep"
    pool = LocalPool(2)
    killed: list[int] = []

    def killer() -> None:  # kill -9 a worker once an experiment is under way
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            started = [p for p in out.glob("shards/*.jsonl") if p.stat().st_size > 0]
            procs = list(getattr(pool._pool, "_processes", {}) or {})
            if started and procs:
                os.kill(procs[0], signal.SIGKILL)
                killed.append(procs[0])
                return
            time.sleep(0.01)

    t = threading.Thread(target=killer)
    t.start()
    try:
        res = run_sweep(spec, out, pool, progress=None, chunk=1)
    finally:
        t.join()
        pool.shutdown()
    assert killed, "the test must kill a worker"
    assert pool.rebuilds >= 1
    assert res.n_failed == 0 and res.n_complete == len(spec.items), res.failures
    for it in spec.items:
        recs, _ = read_records(out / it.id)
        assert [r["eval_id"] for r in recs] == list(range(40))


class _Lost(Executor):
    """An executor whose tasks lose their worker: after noting their start in the shards (as
    a task does first) when ``started``, else before; from call ``run_from`` on, tasks run."""

    def __init__(self, started: bool, run_from: int = 10**9) -> None:
        self.started = started
        self.run_from = run_from
        self.rebuilds = 0
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        from archgym._shards import ShardWriter

        self.calls += 1
        fut: Future[Any] = Future()
        if self.calls >= self.run_from:
            fut.set_result(fn(*args, **kwargs))
            return fut
        if self.started:
            ShardWriter.for_sweep(Path(args[1][0]).parent).write_started([Path(args[1][0]).name])
        fut.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        return fut

    def rebuild(self) -> None:
        self.rebuilds += 1


def test_retries_of_a_lost_task_are_bounded_then_recorded_as_failed(tmp_path: Path) -> None:
    spec = _spec(seeds=1)
    ex = _Lost(started=True)
    res = run_sweep(spec, tmp_path, ex, progress=None, chunk=1)
    assert res.n_failed == 1 and "retries exhausted" in res.failures[0][1]
    assert ex.calls == MAX_LOST_RETRIES + 1
    rec = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[-1])
    assert rec["status"] == "failed" and "was lost" in rec["error"]


def test_a_lost_task_that_never_started_keeps_its_retries(tmp_path: Path) -> None:
    # a task lost with its pool before it started (no start line in the shards) is not
    # charged a retry: it runs once the pool works, however often that took; counting every
    # loss would fail it after MAX_LOST_RETRIES + 1 calls
    spec = _spec(seeds=1)
    ex = _Lost(started=False, run_from=MAX_LOST_RETRIES + 3)
    res = run_sweep(spec, tmp_path, ex, progress=None, chunk=1)
    assert (res.n_complete, res.n_failed) == (1, 0), res.failures
    assert ex.calls == MAX_LOST_RETRIES + 3


def _item(spec: Any) -> dict[str, Any]:
    return spec.items[0].to_dict()


def test_a_retried_task_takes_over_its_partial_run(tmp_path: Path) -> None:
    spec = _spec()
    item = _item(spec)
    run_dir = tmp_path / item["id"]
    run_experiment(Experiment(**item["experiment"]), out=run_dir)
    m = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(
        json.dumps({**m, "status": "running", "n_evaluations": 3})
    )
    lines = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    (run_dir / "records.jsonl").write_bytes(b"".join(lines[:3]))  # the lost worker's partial run
    out = run_item(item, str(run_dir))
    assert out["status"] == "complete", out.get("error")
    assert [r["eval_id"] for r in read_records(run_dir)[0]] == list(range(8))


def _shard_bytes(sweep_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((sweep_dir / "shards").glob("*.jsonl")))


def test_a_retried_task_keeps_a_run_it_had_completed(tmp_path: Path) -> None:
    spec = _spec()
    item = _item(spec)
    run_dir = tmp_path / item["id"]
    first = run_item(item, str(run_dir))
    before = _shard_bytes(tmp_path)
    assert before and not run_dir.exists()  # the run is in the shards
    again = run_item(item, str(run_dir), retry=True)
    assert again["status"] == "complete" and again["best_objective"] == first["best_objective"]
    assert _shard_bytes(tmp_path) == before  # kept, not run again


def test_a_run_of_a_legacy_run_directory_is_kept_by_a_retry(tmp_path: Path) -> None:
    # a sweep written before the shards: its complete run directory is the run
    spec = _spec()
    item = _item(spec)
    run_dir = tmp_path / item["id"]
    res = run_experiment(Experiment(**item["experiment"]), out=run_dir)
    before = (run_dir / "records.jsonl").read_bytes()
    again = run_item(item, str(run_dir))
    assert again["status"] == "complete" and again["best_objective"] == res.best["objective"]
    assert (run_dir / "records.jsonl").read_bytes() == before and not (tmp_path / "shards").exists()


def test_a_retried_task_never_overwrites_another_experiment(tmp_path: Path) -> None:
    spec = _spec()
    item = _item(spec)
    run_dir = tmp_path / item["id"]
    run_experiment(Experiment(**{**item["experiment"], "seed": 99}), out=run_dir)
    out = run_item(item, str(run_dir))
    assert out["status"] == "failed" and "another experiment" in out["error"]
    assert json.loads((run_dir / "manifest.json").read_text())["seed"] == 99
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "notes.txt").write_text("mine")
    out = run_item(item, str(tmp_path / "odd"))
    assert out["status"] == "failed" and "not a run of this sweep" in out["error"]


# -- failure 5: sizes refused up front ---------------------------------------------------------
_GRID = str(list(range(1, 1001)))


@pytest.mark.timeout(60)  # a hang guard: building a sweep that size would run for hours
@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("seeds = 2", "seeds = 100000000", "asks for 100,000,000 seeds, over the limit"),
        ("seeds = 2", "seeds = [4294967296]", r"seeds must be integers in \[0, 2\*\*32 - 1\]"),
        ("budget = 8", "budget = 100000000000", "over the limit of 10,000,000"),
        (
            'name = "random"',
            'name = "random-walk"\nsamples = 1000000000\nrandom = { patience = { low = 1, high = 5 } }',
            "samples: is 1,000,000,000, over the limit",
        ),
        (
            'name = "random"',
            f'name = "random-walk"\ngrid = {{ patience = {_GRID}, n_params = {_GRID} }}',
            "over the limit",
        ),
        (
            'name = "random"',
            'name = "random-walk"\nrandom = { explore = { low = 0.0, high = inf } }',
            "low and high must be finite",
        ),
        (
            'name = "random"',
            'name = "ga"\nparams = { population_size = 99999999999 }',
            "over the limit of 1,000,000",
        ),
        ('name = "random"', 'name = "ga"\nparams = { population_size = -5 }', "must be >= 0"),
    ],
)
def test_sizes_that_would_not_fit_are_refused_before_anything_runs(old, new, match) -> None:
    text = SWEEP.format(budget=8, seeds=2, agent="random").replace(old, new)
    with pytest.raises(SweepFileError, match=match):
        load_sweep("big.toml", text=text, check_build=False)


def test_cli_seed_override_is_limited(tmp_path: Path) -> None:
    from archgym.cli import main

    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(SWEEP.format(budget=8, seeds=2, agent="random")))
    with pytest.raises(SystemExit) as exc:  # argparse refuses it: a usage error, exit 2
        main(
            ["sweep", str(path), "--out", str(tmp_path / "o"), "--seeds", "4294967296", "--dry-run"]
        )
    assert exc.value.code == 2
    assert not (tmp_path / "o").exists()


def test_store_error_for_another_sweeps_directory_still_stands(tmp_path: Path) -> None:
    spec = _spec(seeds=1)
    run_sweep(spec, tmp_path, LocalPool(1), progress=None)
    with pytest.raises(StoreError, match="already holds a sweep"):
        run_sweep(spec, tmp_path, LocalPool(1), progress=None)


def test_a_retried_task_waits_for_the_run_lock_of_an_orphan(tmp_path: Path) -> None:
    # an orphan worker of a killed sweep may still be writing the run a retried task takes
    # over: the take-over waits for its lock (the run directory's own), then proceeds
    from archgym.store import RunStore
    from archgym.sweep._driver import _wait_run_lock

    run_dir = tmp_path / "r"
    store = RunStore.create(run_dir, {"env_id": "e"}, buffered=True, durable=False)
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="still being written by another process"):
            _wait_run_lock(run_dir, timeout_s=0.3)
        assert time.monotonic() - t0 >= 0.3
    finally:
        store.close()
    _wait_run_lock(run_dir, timeout_s=0.0)  # released: no wait


def test_a_task_describes_each_env_once_and_records_it_as_is(tmp_path: Path, monkeypatch) -> None:
    # experiments of one task that share an env share its describe() (computed once per
    # task); catches a manifest whose env identity is not the env's own
    from archgym.env import DSEEnv
    from archgym.sweep._driver import run_items

    spec = _spec(seeds=3)
    items = [it.to_dict() for it in spec.items[:3]]
    assert len({json.dumps(it["experiment"]["env"]) for it in items}) == 1
    calls = []
    describe = DSEEnv.describe

    def counted(self: Any) -> Any:
        calls.append(self)
        return describe(self)

    monkeypatch.setattr(DSEEnv, "describe", counted)
    out = run_items(items, [str(tmp_path / it["id"]) for it in items])
    assert [o["status"] for o in out] == ["complete"] * 3
    assert len(calls) == 1
    monkeypatch.setattr(DSEEnv, "describe", describe)
    run_experiment(Experiment(**items[0]["experiment"]), out=tmp_path / "alone")  # its own env
    alone = json.loads((tmp_path / "alone" / "manifest.json").read_text())["env"]
    for it in items:
        assert read_manifest(tmp_path / it["id"])["env"] == alone
    with pytest.raises(ConfigError, match="pass the env too"):
        run_experiment(Experiment(**items[0]["experiment"]), described=alone)
