"""Run-store hardening (issue 15): runs are never mixed (failure 1), records are checked on read
(failure 3), a refused resume touches nothing, and a full disk or a read-only place is exit 3
with no stale state (failure 8)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archgym.store as store_mod
from archgym.cli import main
from archgym.errors import StoreError
from archgym.runner import Experiment, run_experiment
from archgym.store import RunStore, load_runs, read_manifest, read_records

EXP = {"env": "archgym/Systolic-v0", "agent": "random", "seed": 0, "batch_size": 2}


def _run(out: Path, budget: int = 6, **kw: Any) -> None:
    run_experiment(Experiment(**{**EXP, "budget": budget, **kw}), out=out)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (path / "records.jsonl").read_text().splitlines()]


def _rewrite(path: Path, recs: list[dict[str, Any]]) -> None:
    (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


# -- failure 1: a run mixed into another -----------------------------------------------------
def test_records_without_a_manifest_are_never_appended_to(tmp_path, capsys) -> None:
    run = tmp_path / "r"
    _run(run)
    (run / "manifest.json").unlink()
    before = (run / "records.jsonl").read_bytes()
    with pytest.raises(
        StoreError, match=r"holds 6 evaluation record\(s\) in records.jsonl but no manifest"
    ):
        _run(run)
    assert (
        main(
            [
                "run",
                "--env",
                "archgym/Accelerator-v2",
                "--budget",
                "3",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 3
    )
    # --resume alone must not run the built-in default experiment into it
    assert main(["run", "--resume", "--out", str(run), "--quiet"]) == 3
    assert "no manifest" in capsys.readouterr().err
    assert (run / "records.jsonl").read_bytes() == before and not (run / "manifest.json").exists()


def test_resume_alone_on_an_empty_directory_is_refused(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["run", "--resume", "--out", str(tmp_path / "empty"), "--quiet"]) == 3
    assert os.listdir(tmp_path / "empty") == []


def test_a_refused_resume_leaves_manifest_and_records_untouched(tmp_path) -> None:
    run = tmp_path / "r"
    _run(run)
    manifest = (run / "manifest.json").read_bytes()
    records = (run / "records.jsonl").read_bytes()
    with pytest.raises(StoreError, match="cannot resume"):
        run_experiment(Experiment(**{**EXP, "budget": 8, "seed": 1}), out=run, resume=True)
    code = main(
        [
            "run",
            "--env",
            "archgym/Systolic-v0",
            "--agent",
            "tpe",
            "--budget",
            "8",
            "--out",
            str(run),
            "--resume",
            "--quiet",
        ]
    )
    assert code == 3
    assert (run / "manifest.json").read_bytes() == manifest  # still "complete", not "running"
    assert (run / "records.jsonl").read_bytes() == records
    assert read_manifest(run)["status"] == "complete"


def test_a_refused_resume_does_not_cut_an_incomplete_batch(tmp_path) -> None:
    run = tmp_path / "r"
    _run(run)
    path = run / "records.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # killed mid-batch: last batch incomplete
    m = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**m, "status": "running", "n_evaluations": 4}))
    cut = path.read_bytes()
    with pytest.raises(StoreError, match="cannot resume"):
        run_experiment(Experiment(**{**EXP, "budget": 8, "agent": "tpe"}), out=run, resume=True)
    assert path.read_bytes() == cut


# -- failure 3: records checked on read --------------------------------------------------------
@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda r: r.insert(3, dict(r[2])),
            r"line 4 is corrupt \(eval_id 2 breaks the sequence.*duplicate",
        ),
        (
            lambda r: r.pop(2),
            r"line 3 is corrupt \(eval_id 3 breaks the sequence.*1 evaluation\(s\) missing",
        ),
        (
            lambda r: r[1].update(feasible="no"),
            r"line 2 is corrupt \(feasible must be true or false, but got 'no'",
        ),
        (
            lambda r: r[1].update(metrics={"latency_s": "fast"}),
            r"line 2 is corrupt \(metrics must map names",
        ),
        (lambda r: r[0].update(eval_id="0"), r"line 1 is corrupt \(eval_id must be an integer"),
        (lambda r: r[4].update(batch=7), r"line 5 is corrupt \(batch must be 1 or 2"),
        (
            lambda r: r[2].update(objective=[1.0, 2.0, 3.0, 4.0]),
            r"objective has 4 values, but the manifest",
        ),
        (lambda r: r[2].update(design=[1, 2]), r"design must be an object"),
    ],
)
def test_bad_records_are_refused_by_load_runs_show_and_resume(
    tmp_path, edit, match, capsys
) -> None:
    run = tmp_path / "r"
    _run(run)
    recs = _lines(run)
    edit(recs)
    _rewrite(run, recs)
    before = (run / "records.jsonl").read_bytes(), (run / "manifest.json").read_bytes()
    with pytest.raises(StoreError, match=match):
        load_runs(run)
    assert main(["show", str(run)]) == 3
    assert "is corrupt" in capsys.readouterr().err
    assert main(["run", "--resume", "--out", str(run), "--budget", "10", "--quiet"]) == 3
    assert ((run / "records.jsonl").read_bytes(), (run / "manifest.json").read_bytes()) == before


def test_complete_run_whose_records_disagree_with_its_manifest(tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _run(a)
    _run(b, seed=1)
    recs = _lines(a)
    extra = [dict(r, eval_id=r["eval_id"] + 6, batch=r["batch"] + 3) for r in _lines(b)]
    _rewrite(
        a, recs + extra
    )  # another run's records appended: the sequence is fine, the count is not
    with pytest.raises(
        StoreError, match="holds 12 records, but the manifest of this complete run counts 6"
    ):
        load_runs(a)


# -- failure 8: full disk, read-only places, stale state ---------------------------------------
def _no_temp_files(run: Path) -> bool:
    return not [p for p in os.listdir(run) if p.endswith(".tmp")]


def test_disk_full_while_appending_is_exit_3_and_resumable(tmp_path, monkeypatch, capsys) -> None:
    run = tmp_path / "r"
    real_write = os.write
    calls = {"n": 0}

    def full(fd: int, data: bytes) -> int:
        if data.startswith(b'{"eval_id"'):
            calls["n"] += 1
            if calls["n"] == 3:  # the third batch: half written, then the disk is full
                real_write(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(store_mod.os, "write", full)
    code = main(
        [
            "run",
            "--env",
            "archgym/Systolic-v0",
            "--agent",
            "random",
            "--batch-size",
            "2",
            "--budget",
            "10",
            "--out",
            str(run),
            "--quiet",
        ]
    )
    assert code == 3 and "No space left on device" in capsys.readouterr().err
    records, _ = read_records(run)
    assert len(records) == 4  # two whole batches; the torn third one was cut back
    assert (run / "records.jsonl").read_bytes().endswith(b"\n")
    m = read_manifest(run)
    assert m["status"] == "failed" and m["n_evaluations"] == 4 and _no_temp_files(run)
    monkeypatch.setattr(store_mod.os, "write", real_write)
    res = run_experiment(Experiment(**{**EXP, "budget": 10}), out=run, resume=True)
    ref = run_experiment(Experiment(**{**EXP, "budget": 10}), out=tmp_path / "ref")
    assert res.status == "complete"
    assert [r["design"] for r in _lines(run)] == [r["design"] for r in _lines(tmp_path / "ref")]
    assert res.best == ref.best


def test_disk_full_when_writing_the_manifest_leaves_no_temp_file(tmp_path, monkeypatch) -> None:
    run = tmp_path / "r"

    def no_space(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.os, "replace", no_space)
    with pytest.raises(StoreError, match="No space left on device"):
        RunStore.create(run, {"env_id": "e"})
    assert not run.exists()  # a failed create leaves nothing behind
    (tmp_path / "kept").mkdir()
    with pytest.raises(StoreError):
        RunStore.create(tmp_path / "kept", {"env_id": "e"})
    assert os.listdir(tmp_path / "kept") == []


def test_read_only_places_are_exit_3(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    # (CI runs as root, so chmod cannot make a directory read-only: a file where a
    # directory is expected fails every write the same way)
    assert main(["run", "--budget", "2", "--out", str(blocker / "run"), "--quiet"]) == 3
    assert main(["run", "--budget", "2", "--out", str(blocker), "--quiet"]) == 3
    odd = tmp_path / "odd"
    (odd / "records.jsonl").mkdir(parents=True)
    assert main(["run", "--budget", "2", "--out", str(odd), "--quiet"]) == 3
    assert "a directory named records.jsonl" in capsys.readouterr().err
    run = tmp_path / "r"
    _run(run)
    (run / "records.jsonl").unlink()
    (run / "records.jsonl").mkdir()
    assert main(["show", str(run)]) == 3
    assert main(["run", "--resume", "--out", str(run), "--budget", "8", "--quiet"]) == 3


def test_show_marks_a_running_run_nobody_writes_as_stopped(tmp_path, capsys) -> None:
    run = tmp_path / "r"
    _run(run)
    m = json.loads((run / "manifest.json").read_text())
    m["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(m))
    assert main(["show", str(run)]) == 0
    assert "status stopped" in capsys.readouterr().out
    assert store_mod.is_live(run) is False
    with RunStore.open(run):
        assert store_mod.is_live(run) is True


def test_agents_that_cannot_replay_refuse_before_touching_the_run(tmp_path) -> None:
    run = tmp_path / "ppo"
    exp = Experiment(env="archgym/Systolic-v0", agent="ppo", budget=4, seed=0)
    run_experiment(exp, out=run)
    manifest = (run / "manifest.json").read_bytes()
    with pytest.raises(StoreError, match="cannot resume"):
        run_experiment(Experiment(**{**exp.to_dict(), "budget": 8}), out=run, resume=True)
    assert (run / "manifest.json").read_bytes() == manifest


def test_values_survive_a_round_trip(tmp_path) -> None:
    """inf metrics are written as "inf" strings and read back as valid records."""
    run = tmp_path / "r"
    _run(run)
    recs = _lines(run)
    recs[0]["reward"] = "-inf"
    recs[0]["objective"] = ["inf"]
    _rewrite(run, recs)
    df = load_runs(run)
    assert len(df) == 6 and np.isinf(df["reward"].iloc[0]) and np.isinf(df["obj:edp"].iloc[0])


def test_a_disk_too_full_for_the_manifest_too_leaves_a_consistent_stopped_run(
    tmp_path, monkeypatch, capsys
) -> None:
    run = tmp_path / "r"
    real_write, real_replace = os.write, os.replace
    state = {"full": False, "batches": 0}

    def write(fd: int, data: bytes) -> int:
        if data.startswith(b'{"eval_id"'):
            state["batches"] += 1
            if state["batches"] == 3:
                state["full"] = True
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def replace(src: Any, dst: Any) -> None:
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(store_mod.os, "write", write)
    monkeypatch.setattr(store_mod.os, "replace", replace)
    argv = ["run", "--env", "archgym/Systolic-v0", "--agent", "random", "--batch-size", "2"]
    assert main([*argv, "--budget", "10", "--out", str(run), "--quiet"]) == 3
    monkeypatch.setattr(store_mod.os, "write", real_write)
    monkeypatch.setattr(store_mod.os, "replace", real_replace)
    m = read_manifest(run)
    records, _ = read_records(run, m)
    # the manifest stays as last written ("running": its count is not final); the records
    # are whole batches, and no process holds the run, so show calls it stopped
    assert m["status"] == "running" and len(records) == 4
    assert _no_temp_files(run)
    capsys.readouterr()
    assert main(["show", str(run)]) == 0
    assert "status stopped" in capsys.readouterr().out  # no process holds it: not "running"
    assert main([*argv, "--budget", "10", "--out", str(run), "--resume", "--quiet"]) == 0
    assert read_manifest(run)["status"] == "complete" and len(read_records(run)[0]) == 10
