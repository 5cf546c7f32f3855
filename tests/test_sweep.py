"""Sweeps: experiment-file validation (with line numbers), expansion, local sweeps, resume
after a real kill -9, the sweep lock, and Dask on a real local cluster."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from archgym.errors import StoreError
from archgym.store import read_manifest, read_records
from archgym.sweep import SweepFileError, is_complete, load_sweep, open_executor, run_sweep

REPO = Path(__file__).resolve().parents[1]

BASE = """\
[sweep]
budget = 12
seeds = 2
objective = "edp"

[[envs]]
id = "archgym/Systolic-v0"
kwargs = { workload = "resnet18" }
label = "r18"

[[agents]]
name = "random"

[[agents]]
name = "random-walk"
grid = { explore = [0.0, 0.5], patience = [5, 10, 20] }
"""


def _err(text: str) -> SweepFileError:
    with pytest.raises(SweepFileError) as info:
        load_sweep("exp.toml", text=text)
    return info.value


def test_grid_expansion_counts_and_ids() -> None:
    spec = load_sweep("exp.toml", text=BASE)
    # (1 random setting + 2 x 3 random-walk grid points) x 2 seeds = 14
    assert len(spec.items) == 14
    ids = [i.id for i in spec.items]
    assert len(set(ids)) == 14
    assert "r18.random-walk.h005.s1" in ids
    last = spec.items[-1].experiment
    assert last.agent_kwargs == {"explore": 0.5, "patience": 20} and last.seed == 1
    assert last.budget == 12 and last.objective == "edp"
    # same file -> same expansion (stable ids for resume)
    assert load_sweep("exp.toml", text=BASE).fingerprint() == spec.fingerprint()


def test_random_samples_are_seeded_and_in_range() -> None:
    text = BASE.replace(
        "grid = { explore = [0.0, 0.5], patience = [5, 10, 20] }",
        "samples = 7\nrandom = { explore = { low = 0.0, high = 0.3 }, "
        "patience = { low = 5, high = 500, log = true }, n_params = { choices = [1, 2] } }",
    )
    a, b = load_sweep("e.toml", text=text), load_sweep("e.toml", text=text)
    assert len(a.items) == (1 + 7) * 2
    hp = [i.experiment.agent_kwargs for i in a.items if i.agent_label == "random-walk"]
    assert hp == [i.experiment.agent_kwargs for i in b.items if i.agent_label == "random-walk"]
    assert all(
        0 <= h["explore"] <= 0.3 and 5 <= h["patience"] <= 500 and h["n_params"] in (1, 2)
        for h in hp
    )
    assert all(isinstance(h["patience"], int) for h in hp)
    other = load_sweep("e.toml", text=text.replace("budget = 12", "budget = 12\nsample_seed = 3"))
    assert [i.experiment.agent_kwargs for i in other.items] != [
        i.experiment.agent_kwargs for i in a.items
    ]


def test_seed_override_scales_the_sweep() -> None:
    assert len(load_sweep("e.toml", text=BASE, overrides={"seeds": 5}).items) == 35


def test_unknown_key_names_field_and_line() -> None:
    e = _err(BASE.replace("budget = 12", "budgit = 12"))
    assert e.line == 2 and e.field == "sweep.budgit"
    assert "exp.toml, line 2" in str(e) and "did you mean 'budget'" in str(e)


def test_unknown_hyperparameter_names_its_line() -> None:
    e = _err(BASE.replace("patience = [5, 10, 20]", "patiance = [5, 10, 20]"))
    assert e.line == 16 and e.field == "agents[1].grid.patiance"
    assert "accepted" in str(e) and "patience" in str(e)


def test_second_array_table_is_located() -> None:
    text = (
        BASE + '\n[[agents]]\nname = "tpe"\n\n[agents.grid]\nn_startup_trials = [3]\nbogus = [1]\n'
    )
    e = _err(text)
    assert e.field == "agents[2].grid.bogus" and e.line == 23


def test_empty_grid_is_zero_experiments() -> None:
    e = _err(BASE.replace("patience = [5, 10, 20]", "patience = []"))
    assert e.line == 16 and "zero experiments" in str(e)
    e = _err(BASE.replace("seeds = 2", "seeds = []"))
    assert e.line == 3 and "zero experiments" in str(e)


def test_malformed_toml_gives_line() -> None:
    e = _err(BASE.replace('objective = "edp"', 'objective = "edp'))
    assert e.line == 4 and "not valid TOML" in str(e)


def test_unknown_env_and_agent() -> None:
    e = _err(BASE.replace('"archgym/Systolic-v0"', '"archgym/Systolc-v0"'))
    assert e.line == 7 and "Did you mean 'archgym/Systolic-v0'" in str(e)
    e = _err(BASE.replace('name = "random-walk"', 'name = "random-wlk"'))
    assert e.line == 15 and "random-walk" in str(e)


def test_bad_value_and_unbuildable_combination() -> None:
    e = _err(BASE.replace("patience = [5, 10, 20]", 'patience = ["many"]'))
    assert e.line == 14 and "patience" in str(e)
    # random-walk is single-objective: a 2-objective sweep is refused before anything runs
    e = _err(BASE.replace('objective = "edp"', 'objective = ["latency_s", "energy_j"]'))
    assert e.line == 14 and "single objective" in str(e)


def test_local_sweep_records_everything(tmp_path: Path) -> None:
    spec = load_sweep("exp.toml", text=BASE.replace("seeds = 2", "seeds = 1"))
    with open_executor("local", workers=2) as ex:
        res = run_sweep(spec, tmp_path / "s", ex, progress=None)
    assert (res.n_complete, res.n_failed, res.n_skipped) == (7, 0, 0)
    saved = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert saved["n_experiments"] == 7 and "[[agents]]" in saved["text"]
    lines = [json.loads(x) for x in (tmp_path / "s" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(i.id for i in spec.items)
    for it in spec.items:
        m = read_manifest(tmp_path / "s" / it.id)  # a run in the sweep's shards
        assert m["status"] == "complete" and m["n_evaluations"] == 12
        assert not (tmp_path / "s" / it.id).exists()  # no directory per run
    # a second run without --resume is refused; with it, nothing is redone
    with open_executor("local", workers=1) as ex:
        with pytest.raises(StoreError, match="already holds a sweep"):
            run_sweep(spec, tmp_path / "s", ex, progress=None)
        again = run_sweep(spec, tmp_path / "s", ex, resume=True, progress=None)
    assert (again.n_skipped, again.n_complete) == (7, 0)
    # a different file cannot resume into the same directory
    other = load_sweep("exp.toml", text=BASE)
    with open_executor("local", workers=1) as ex, pytest.raises(StoreError, match="different"):
        run_sweep(other, tmp_path / "s", ex, resume=True, progress=None)


def test_failing_experiment_is_recorded_and_sweep_goes_on(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    spec = load_sweep("exp.toml", text=BASE.replace("seeds = 2", "seeds = 1"))
    bad = spec.items[1]
    bad.experiment.env_kwargs["workload"] = "no-such-workload"  # fails inside the task
    with ThreadPoolExecutor(2) as ex:  # any concurrent.futures Executor works
        res = run_sweep(spec, tmp_path / "s", ex, progress=None)
    assert (res.n_complete, res.n_failed) == (6, 1)
    assert res.failures[0][0] == bad.id and "no-such-workload" in res.failures[0][1]
    rec = [json.loads(x) for x in (tmp_path / "s" / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rec if r["id"] == bad.id] == ["failed"]


def _best(out: Path) -> dict[str, object]:
    rec = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    return {r["id"]: r["best_objective"] for r in rec}


def test_tasks_of_several_experiments_give_the_same_runs(tmp_path: Path) -> None:
    # A task runs several experiments of one env, building the env once; the results must
    # be those of one experiment per task (an env reused with state left from the previous
    # experiment, or records written to the wrong run directory, would change them).
    from concurrent.futures import ThreadPoolExecutor

    from archgym.sweep._driver import _tasks

    text = BASE + '\n[[envs]]\nid = "archgym/Accelerator-v2"\nlabel = "acc"\n'
    spec = load_sweep("exp.toml", text=text.replace("seeds = 2", "seeds = 1"))
    tasks = _tasks(spec.items, 4)
    assert sorted(len(t) for t in tasks) == [3, 3, 4, 4]
    assert all(len({i.experiment.env for i in t}) == 1 for t in tasks)
    with ThreadPoolExecutor(2) as ex:
        one = run_sweep(spec, tmp_path / "one", ex, progress=None, chunk=1)
        four = run_sweep(spec, tmp_path / "four", ex, progress=None, chunk=4)
    assert one.n_complete == four.n_complete == 14
    assert _best(tmp_path / "one") == _best(tmp_path / "four")
    for it in spec.items:
        assert _records(tmp_path / "one" / it.id) == _records(tmp_path / "four" / it.id), it.id


def test_the_default_task_size_follows_the_executors_workers() -> None:
    # at least 8 tasks per worker, at most 16 experiments per task (Dask: 4 and 32); a plain
    # executor keeps the old rule. Catches a chunk that ignores the workers (one task per worker would
    # leave workers idle at the end) or that is read from the wrong attribute
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from archgym.sweep._driver import _is_dask, _n_workers, auto_chunk

    assert [auto_chunk(n, 2) for n in (5, 200, 1000)] == [1, 12, 16]
    assert [auto_chunk(n, 64) for n in (200, 100_000)] == [1, 16]
    assert [auto_chunk(n) for n in (5, 200, 1000)] == [1, 6, 8]
    # a Dask task costs ~25x a local pool's: at least 4 tasks per worker, up to 32 per task
    assert [auto_chunk(n, 2, dask=True) for n in (5, 200, 1000)] == [1, 25, 32]
    assert _n_workers(SimpleNamespace(workers=3)) == 3  # a LocalPool
    dask_like = SimpleNamespace(_client=SimpleNamespace(nthreads=lambda: {"a": 2, "b": 4}))
    assert _n_workers(dask_like) == 6
    assert _is_dask(dask_like) and not _is_dask(SimpleNamespace(workers=3))
    with ThreadPoolExecutor(2) as ex:
        assert _n_workers(ex) is None


def _records(run_dir: Path) -> list[dict[str, object]]:
    timing = {"eval_s", "t_s"}
    return [{k: v for k, v in r.items() if k not in timing} for r in read_records(run_dir)[0]]


def test_bad_chunk_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from archgym.errors import ConfigError

    spec = load_sweep("exp.toml", text=BASE)
    with ThreadPoolExecutor(1) as ex, pytest.raises(ConfigError, match="chunk must be a positive"):
        run_sweep(spec, tmp_path / "s", ex, progress=None, chunk=0)
    assert not (tmp_path / "s").exists()


def test_two_sweeps_on_one_directory_are_refused(tmp_path: Path) -> None:
    from archgym.sweep._driver import _SweepLock

    (tmp_path / "s").mkdir()
    held = _SweepLock(tmp_path / "s")  # as if another sweep process were running
    try:
        spec = load_sweep("exp.toml", text=BASE)
        with (
            open_executor("local", workers=1) as ex,
            pytest.raises(StoreError, match="another sweep"),
        ):
            run_sweep(spec, tmp_path / "s", ex, progress=None)
        assert not (tmp_path / "s" / "sweep.json").exists()  # refused before writing anything
    finally:
        held.release()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "archgym.cli", *args]


def test_two_concurrent_cli_sweeps(tmp_path: Path) -> None:
    f = tmp_path / "exp.toml"
    # long enough to be still running when the second starts (it is killed afterwards): with
    # workers forked from the sweep process, 400 evaluations each finished first
    f.write_text(BASE.replace("budget = 12", "budget = 20000"))
    out = tmp_path / "s"
    first = subprocess.Popen(
        _cli("sweep", str(f), "--out", str(out), "--workers", "1", "--quiet"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(200):
            if (out / "sweep.json").exists():
                break
            time.sleep(0.05)
        second = subprocess.run(
            _cli("sweep", str(f), "--out", str(out), "--resume", "--quiet"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3
        assert "being written by another sweep" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_kill_and_resume(tmp_path: Path) -> None:
    """A real sweep killed with SIGKILL mid-way resumes to exactly one complete record set
    per experiment, with no duplicated evaluation."""
    f = tmp_path / "exp.toml"
    f.write_text(BASE.replace("budget = 12", "budget = 150").replace("seeds = 2", "seeds = 3"))
    out = tmp_path / "s"
    proc = subprocess.Popen(
        _cli("sweep", str(f), "--out", str(out), "--workers", "2", "--quiet"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    results = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once a few experiments are done
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    spec = load_sweep(str(f))
    n = len(spec.items)
    done_before = sum(is_complete(out / i.id, 150) for i in spec.items)
    assert 0 < done_before < n, "the kill should land mid-sweep"
    r = subprocess.run(
        _cli("sweep", str(f), "--out", str(out), "--workers", "2", "--resume", "--quiet"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    m = re.search(r"done: (\d+) completed, (\d+) already complete, (\d+) failed", r.stdout)
    assert m, r.stdout
    completed, skipped, failed = map(int, m.groups())
    # Every experiment complete at the kill is skipped, none is run twice. A pool worker
    # orphaned by the kill may still finish the experiment it was running, so `skipped` can
    # exceed `done_before`.
    assert done_before <= skipped <= n and completed == n - skipped and failed == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["shards"]
    for it in spec.items:
        m = read_manifest(out / it.id)
        recs, _ = read_records(out / it.id, m)
        assert m["status"] == "complete" and m["n_evaluations"] == 150
        assert [r["eval_id"] for r in recs] == list(range(150))  # one set, no duplicates


def test_dask_executor_with_real_local_cluster(tmp_path: Path) -> None:
    spec = load_sweep("exp.toml", text=BASE.replace("seeds = 2", "seeds = 1"))
    with open_executor("dask", workers=2) as ex:  # LocalCluster on 127.0.0.1, 2 processes
        res = run_sweep(spec, tmp_path / "s", ex, progress=None)
    assert (res.n_complete, res.n_failed) == (7, 0)
    pids = {
        json.loads(x)["pid"] for x in (tmp_path / "s" / "results.jsonl").read_text().splitlines()
    }
    assert os.getpid() not in pids
    # a task submitted twice with the same arguments (a retry) runs twice: Dask's default
    # (pure) would key both by their arguments and hand back the first one's future
    with open_executor("dask", workers=1) as ex:
        first = ex.submit(_append_line, str(tmp_path / "runs.txt"))
        first.result()
        ex.submit(_append_line, str(tmp_path / "runs.txt")).result()
    assert (tmp_path / "runs.txt").read_text() == "ran\nran\n"


def _append_line(path: str) -> None:
    with open(path, "a") as fh:
        fh.write("ran\n")


@pytest.mark.timeout(60)  # a hang guard: timeout_s=2 must end the wait
def test_dask_unreachable_address_fails_fast() -> None:
    from archgym.errors import ConfigError

    with pytest.raises(ConfigError, match="did not answer"):
        with open_executor("dask", address="tcp://127.0.0.1:1", timeout_s=2):
            pass


def test_cli_dry_run_and_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "exp.toml"
    f.write_text(BASE)
    r = subprocess.run(
        _cli("sweep", str(f), "--out", str(tmp_path / "o"), "--dry-run"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and len(r.stdout.split()) == 14
    f.write_text(textwrap.dedent(BASE).replace("seeds = 2", "seed = 2"))
    r = subprocess.run(
        _cli("sweep", str(f), "--out", str(tmp_path / "o")),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "line 3: sweep.seed: unknown key" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["quickstart", "lottery", "pareto_accelerator"])
def test_shipped_experiment_files_validate(name: str) -> None:
    spec = load_sweep(REPO / "experiments" / f"{name}.toml", check_build=(name != "lottery"))
    assert spec.items
    if name == "lottery":
        assert len(spec.items) == 1000
        assert (
            len(
                load_sweep(
                    REPO / "experiments" / "lottery.toml",
                    overrides={"seeds": 105},
                    check_build=False,
                ).items
            )
            == 21000
        )


def test_run_directories_on_request_and_either_layout_resumes_the_other(tmp_path: Path) -> None:
    # layout="dirs" (`archgym sweep --run-dirs`) writes one run directory per experiment, as
    # before the shards; a resume in the default layout counts them complete (a reader of one
    # layout only would rerun them all), and the runs read the same either way
    from concurrent.futures import ThreadPoolExecutor

    from archgym.errors import ConfigError

    spec = load_sweep("exp.toml", text=BASE.replace("seeds = 2", "seeds = 1"))
    with ThreadPoolExecutor(2) as ex:
        with pytest.raises(ConfigError, match="layout must be one of"):
            run_sweep(spec, tmp_path / "s", ex, progress=None, layout="files")
        assert not (tmp_path / "s").exists()
        first = run_sweep(spec, tmp_path / "s", ex, progress=None, layout="dirs")
        assert first.n_complete == len(spec.items)
        assert not (tmp_path / "s" / "shards").exists()
        for it in spec.items:
            assert (tmp_path / "s" / it.id / "records.jsonl").is_file()
        again = run_sweep(spec, tmp_path / "s", ex, progress=None, resume=True)
        assert (again.n_skipped, again.n_complete) == (len(spec.items), 0)
        other = run_sweep(spec, tmp_path / "t", ex, progress=None)
    assert _best(tmp_path / "s") == _best(tmp_path / "t")
    for it in spec.items:
        assert _records(tmp_path / "s" / it.id) == _records(tmp_path / "t" / it.id), it.id
    assert other.n_complete == len(spec.items)
