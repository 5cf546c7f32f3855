"""Runner: determinism under a seed, budgets, resume after a real kill -9, mismatched resume."""

import copy
import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import archgym
from archgym.errors import ConfigError, StoreError
from archgym.runner import Experiment, run_experiment
from archgym.store import read_manifest


def _designs(run: Path) -> list[dict]:
    return [json.loads(x)["design"] for x in (run / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("agent", ["random", "random-walk", "tpe"])
def test_same_seed_same_records(agent: str, tmp_path: Path) -> None:
    exp = Experiment(env="archgym/Systolic-v0", agent=agent, budget=25, seed=4)
    run_experiment(exp, out=tmp_path / "a")
    run_experiment(exp, out=tmp_path / "b")
    assert _designs(tmp_path / "a") == _designs(tmp_path / "b")
    other = run_experiment(
        Experiment(env="archgym/Systolic-v0", agent=agent, budget=25, seed=5), out=tmp_path / "c"
    )
    assert other.n_evaluations == 25
    assert _designs(tmp_path / "a") != _designs(tmp_path / "c")


def test_budget_is_exact_with_batches(bowl_env, tmp_path: Path) -> None:
    exp = Experiment(agent="random", budget=10, batch_size=4)
    res = run_experiment(exp, out=tmp_path, env=bowl_env)
    assert res.n_evaluations == 10 and res.status == "complete"
    records = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text().splitlines()]
    # batches of 4, 4 and the 2 left of the budget
    assert [r["batch"] for r in records] == [0] * 4 + [1] * 4 + [2] * 2
    assert [r["batch_size"] for r in records] == [4] * 8 + [2] * 2
    # best = the lowest latency, by hand ((a-5)^2 + 1 + 0.5 [kind b]), of the feasible records
    by_hand = {
        r["eval_id"]: (r["design"]["a"] - 5) ** 2 + 1 + 0.5 * (r["design"]["kind"] == "b")
        for r in records
        if r["design"]["size"] != 16
    }
    best_id = min(by_hand, key=lambda i: (by_hand[i], i))
    assert res.best["eval_id"] == best_id
    assert res.best["metrics"]["latency_s"] == by_hand[best_id]


def test_best_is_min_over_admissible_records(bowl_env, tmp_path) -> None:
    res = run_experiment(Experiment(agent="random", budget=40, seed=1), out=tmp_path, env=bowl_env)
    df = archgym.load_runs(tmp_path)
    ok = df[df["admissible"]]
    assert res.best["metrics"]["latency_s"] == ok["latency_s"].min()
    assert (~df["feasible"]).sum() > 0  # size=16 designs were sampled and recorded as infeasible
    assert set(df.loc[~df["feasible"], "reason"]) == {"size 16 does not fit"}


def test_best_only_summary_stores_what_the_full_one_stores(bowl_env, tmp_path) -> None:
    # summary="best" (a sweep task's) skips the front, the hypervolume and the outcome
    # counts; it must store the same records and the same best, and show must read it
    exp = Experiment(agent="random", budget=40, seed=1)
    full = run_experiment(exp, out=tmp_path / "full", env=bowl_env)
    best = run_experiment(exp, out=tmp_path / "best", env=bowl_env, summary="best")
    assert best.best == full.best and best.best is not None
    assert full.pareto_rows and best.pareto_rows == [] and best.outcomes is None
    m_full = read_manifest(tmp_path / "full")
    m_best = read_manifest(tmp_path / "best")
    assert m_best["best"] == m_full["best"] and m_best["status"] == "complete"
    df_full, df_best = archgym.load_runs(tmp_path / "full"), archgym.load_runs(tmp_path / "best")
    cols = [c for c in df_full.columns if c not in ("run", "eval_s", "t_s")]
    assert df_best[cols].equals(df_full[cols])
    with pytest.raises(ConfigError, match="summary must be 'full' or 'best'"):
        run_experiment(exp, env=bowl_env, summary="front")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget": 0}, "budget must be a positive integer"),
        ({"budget": "10"}, "budget must be"),
        ({"seed": -1}, "seed must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"env": 3}, "env must be a registered name"),
        ({"env_kwargs": "x"}, "env_kwargs must be a mapping"),
    ],
)
def test_bad_experiment(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        Experiment(**kwargs)


def test_resume_completes_exactly_the_same_run(tmp_path: Path) -> None:
    exp = Experiment(env="archgym/Systolic-v0", agent="tpe", budget=30, seed=2)
    run_experiment(exp, out=tmp_path / "ref")
    partial = Experiment(env="archgym/Systolic-v0", agent="tpe", budget=12, seed=2)
    run_experiment(partial, out=tmp_path / "cut")
    # same experiment with a larger budget resumes the cut run (budget is not part of identity)
    res = run_experiment(exp, out=tmp_path / "cut", resume=True)
    assert res.n_evaluations == 30
    assert _designs(tmp_path / "cut") == _designs(tmp_path / "ref")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"seed": 1}, "seed=0.*seed=1"),
        ({"env_kwargs": {"workload": "bert_base"}}, "env_kwargs"),
        ({"objective": "latency_s"}, "objective"),
        ({"constraints": ["area_mm2 <= 5"]}, "constraints"),
        ({"agent": "random-walk"}, "agent"),
    ],
)
def test_resume_refuses_a_different_experiment(tmp_path: Path, change, match) -> None:
    base = {"env": "archgym/Systolic-v0", "agent": "random", "budget": 3, "seed": 0}
    run_experiment(Experiment(**base), out=tmp_path)
    before = (tmp_path / "records.jsonl").read_bytes()
    with pytest.raises(StoreError, match=f"cannot resume .*{match}"):
        run_experiment(Experiment(**{**base, "budget": 5, **change}), out=tmp_path, resume=True)
    assert (tmp_path / "records.jsonl").read_bytes() == before  # nothing mixed in
    res = run_experiment(Experiment(**{**base, "budget": 5}), out=tmp_path, resume=True)
    assert res.n_evaluations == 5  # a larger budget is the one allowed change, and is recorded
    assert json.loads((tmp_path / "manifest.json").read_text())["budget"] == 5


def test_resume_after_kill_9_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    args = [
        "--env",
        "archgym/Systolic-v0",
        "--agent",
        "tpe",
        "--budget",
        "160",
        "--seed",
        "3",
        "--quiet",
    ]
    ref = tmp_path / "ref"
    subprocess.run(
        [sys.executable, "-m", "archgym.cli", "run", *args, "--out", str(ref)],
        check=True,
        timeout=300,
    )
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "archgym.cli", "run", *args, "--out", str(cut)])
    records = cut / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if records.exists() and records.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_cut = records.read_bytes().count(b"\n")
    assert 40 <= n_cut < 160, "the run must be killed mid-way"
    assert json.loads((cut / "manifest.json").read_text())["status"] == "running"
    done = subprocess.run(
        [sys.executable, "-m", "archgym.cli", "run", *args, "--out", str(cut), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    recs = [json.loads(x) for x in records.read_text().splitlines()]
    assert [r["eval_id"] for r in recs] == list(range(160))
    assert [r["design"] for r in recs] == _designs(ref)
    manifest = json.loads((cut / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] == 1


def test_hyperparameter_ranges_are_checked(bowl_env) -> None:
    for bad, match in (({"explore": 2.0}, "0 <= explore <= 1"), ({"patience": 0}, "patience >= 1")):
        with pytest.raises(ConfigError, match=match):
            archgym.make_agent("random-walk", bowl_env.space, **bad)


@pytest.mark.parametrize(
    "env_kwargs",
    [
        {"workload": "resnet18", "layers": [1, {"a": 2.0, "b": None}], "flag": True},
        {"shape": (1, 2), "scale": np.float64(1.5)},  # not plain JSON: dataclasses.asdict
    ],
)
def test_experiment_to_dict_is_asdict_and_a_deep_copy(env_kwargs) -> None:
    # the manifest's experiment: built directly for plain JSON data, by asdict otherwise;
    # either way equal to asdict, and a copy the caller can change without changing the
    # experiment (a shallow copy would share the nested list and dict)
    exp = Experiment(env_kwargs=env_kwargs, agent_kwargs={}, constraints=["a <= 1"])
    pristine = copy.deepcopy(env_kwargs)
    d = exp.to_dict()
    assert d == dataclasses.asdict(exp) and type(d["env_kwargs"]) is dict
    for v in d["env_kwargs"].values():
        if isinstance(v, list):
            v[1]["a"] = 9.0
            v.append(3)
    d["constraints"].append("b <= 2")
    assert exp.to_dict() == dataclasses.asdict(exp) and exp.constraints == ["a <= 1"]
    assert exp.env_kwargs == pristine
