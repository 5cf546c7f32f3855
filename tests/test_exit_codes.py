"""Exit codes mean what the README says (issue 15, failure 6): 2 for every bad input, 3 for
every store problem, 1 only for a failed run; library calls raise archgym errors only.
Hypothesis drives the CLI's argument grammar and the public API."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archgym
from archgym.cli import main
from archgym.errors import ArchGymError
from archgym.runner import Experiment

# -- known cases from the issue --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["run", "--env-opt", "infeasible_reward=abc", "--budget", "2"], 2, "could not convert"),
        (["run", "--seed", "4294967296", "--budget", "2"], 2, "over the limit of 4,294,967,295"),
        (["run", "--agent", "", "--budget", "2"], 2, "unknown agent ''"),
        (["run", "--out", "", "--budget", "2"], 2, "--out must name a run directory"),
        (
            ["run", "--agent", "aco", "--agent-opt", "alpha=-inf", "--budget", "2"],
            2,
            "finite number",
        ),
        (
            ["run", "--agent", "cmaes", "--agent-opt", "popsize=99999999999", "--budget", "2"],
            2,
            "over the limit",
        ),
        (
            ["run", "--agent", "ga", "--agent-opt", "population_size=-3", "--budget", "2"],
            2,
            "must be >= 0",
        ),
        (["run", "--batch-size", "99999999", "--budget", "2"], 2, "over the limit of 1,000,000"),
        (
            ["run", "--objective", "weighted:latency_s=nan", "--budget", "2"],
            2,
            "must be a finite number",
        ),
        (
            [
                "run",
                "--objective",
                "weighted:latency_s=1",
                "--objective",
                "edp",
                "--budget",
                "2",
                "--env-opt",
                "workload=resnet18",
                "--agent",
                "nsga2",
                "--agent-opt",
                "population_size=nan",
            ],
            2,
            "finite number",
        ),
        (["run", "--budget", "100000000000"], 2, "over the limit of 10,000,000"),
        (
            ["nas", "build-table", "--out", "t.parquet", "--limit", "-1"],
            2,
            "must be >= 1, but got -1",
        ),
        (["proxy", "eval", "p.json", "--top-k", "-1"], 2, "must be >= 1"),
        (["sweep", "x.toml", "--out", "o", "--seeds", "4294967296"], 2, "must be <= 100,000"),
        (
            ["sweep", "x.toml", "--out", "o", "--timeout", "nan"],
            2,
            "positive, finite number of seconds",
        ),
        (
            ["validate", "accelerator", "--against", "scalesim", "--layers", "nosuchlayer"],
            2,
            "not layers",
        ),
    ],
)
def test_bad_input_is_exit_2(argv, code, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with contextlib.suppress(SystemExit):
        assert main([*argv, *(["--quiet"] if argv[0] == "run" else [])]) == code
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        return
    err = capsys.readouterr().err  # argparse errors exit through SystemExit(2)
    assert message in err


def test_report_into_a_file_and_nas_table_over_a_file_are_exit_3(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    archgym.run_experiment(Experiment(budget=3), out=tmp_path / "runs" / "r")
    assert main(["report", str(tmp_path / "runs"), "--out", str(blocker)]) == 3
    assert main(["nas", "build-table", "--out", str(blocker), "--quiet"]) == 3
    assert blocker.read_text() == "mine"


# -- the CLI grammar, generated -----------------------------------------------------------------
_JUNK = st.sampled_from(
    ["", "x", "-1", "0", "1", "2", "nan", "inf", "-inf", "1e9", "4294967296", "a=b", "=", "{"]
)
_ENVS = st.sampled_from(["archgym/Systolic-v0", "archgym/Accelerator-v2", "archgym/Nope-v0", ""])
_AGENTS = st.sampled_from(["random", "random-walk", "ga", "aco", "tpe", "", "nope"])
_KV = st.tuples(
    st.sampled_from(
        [
            "workload",
            "infeasible_reward",
            "mode",
            "explore",
            "patience",
            "population_size",
            "alpha",
            "x",
        ]
    ),
    st.one_of(_JUNK, st.sampled_from(["resnet18", "bert_base", "0.5", "3", "-5", "1e30"])),
).map(lambda kv: f"{kv[0]}={kv[1]}")


@st.composite
def run_argv(draw: Any, out: str) -> list[str]:
    argv = [
        "run",
        "--quiet",
        "--budget",
        draw(st.sampled_from(["1", "2", "3", "0", "-2", "x", "1e3", "99999999999"])),
    ]
    if draw(st.booleans()):
        argv += ["--env", draw(_ENVS)]
    if draw(st.booleans()):
        argv += ["--agent", draw(_AGENTS)]
    for kv in draw(st.lists(_KV, max_size=2)):
        argv += ["--env-opt", kv]
    for kv in draw(st.lists(_KV, max_size=2)):
        argv += ["--agent-opt", kv]
    if draw(st.booleans()):
        argv += ["--seed", draw(st.one_of(_JUNK, st.integers(-5, 2**33).map(str)))]
    if draw(st.booleans()):
        argv += ["--batch-size", draw(_JUNK)]
    if draw(st.booleans()):
        argv += [
            "--objective",
            draw(st.sampled_from(["edp", "latency_s", "max:utilization", "nope", ""])),
        ]
    if draw(st.booleans()):
        argv += [
            "--constraint",
            draw(st.sampled_from(["area_mm2 <= 10", "area_mm2 <= nan", "x", "area_mm2 < -1"])),
        ]
    if draw(st.booleans()):
        argv += ["--out", out]
        if draw(st.booleans()):
            argv.append("--resume")
    return argv


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_cli_grammar_exits_0_2_or_3_never_1(tmp_path: Path, data: Any) -> None:
    out = str(tmp_path / f"run{data.draw(st.integers(0, 3))}")
    argv = data.draw(run_argv(out))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    # 1 only for a failed run: one that ran and found no admissible design
    failed_run = code == 1 and "no admissible design" in err.getvalue()
    assert code in (0, 2, 3) or failed_run, (argv, code, err.getvalue()[-500:])
    assert "Traceback" not in err.getvalue()


# -- the public API, generated -----------------------------------------------------------------
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(-3, 3), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(
    budget=_VALUES,
    seed=_VALUES,
    batch=_VALUES,
    agent=st.one_of(_AGENTS, _VALUES),
    hp=st.dictionaries(
        st.sampled_from(["explore", "patience", "population_size", "alpha"]), _VALUES, max_size=2
    ),
)
def test_experiment_raises_archgym_errors_only(budget, seed, batch, agent, hp) -> None:
    try:
        exp = Experiment(agent=agent, budget=budget, seed=seed, batch_size=batch, agent_kwargs=hp)
    except ArchGymError:
        return
    if exp.budget <= 3:
        try:
            archgym.run_experiment(exp)
        except ArchGymError:
            pass


@pytest.fixture(scope="module")
def envs() -> dict[str, Any]:
    return {m: archgym.make("archgym/Systolic-v0", mode=m) for m in ("one-step", "sequential")}


_ACTIONS = st.one_of(
    _VALUES,
    st.lists(
        st.one_of(st.integers(-3, 40), st.floats(allow_nan=True, allow_infinity=True)), max_size=10
    ).map(np.array),
    st.dictionaries(st.sampled_from(["rows", "cols", "dataflow", "x"]), _VALUES, max_size=4),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mode=st.sampled_from(["one-step", "sequential"]), action=_ACTIONS)
def test_step_raises_archgym_errors_only(envs, mode, action) -> None:
    env = envs[mode]
    env.reset(seed=0)
    try:
        env.step(action)
    except ArchGymError:
        pass


def test_a_float_action_is_never_truncated(envs) -> None:
    env = envs["sequential"]
    env.reset(seed=0)
    with pytest.raises(archgym.errors.DesignError, match="must be an integer"):
        env.step(2.7)
    env.step(np.float64(2.0))  # an integral float is fine


_PATHS = st.sampled_from(["", "missing", "a-file", "empty-dir", "run", "bad.toml", "proxy.json"])


@st.composite
def other_argv(draw: Any, root: Path) -> list[str]:
    def path() -> str:
        return str(root / draw(_PATHS))

    kind = draw(st.sampled_from(["show", "sweep", "proxy", "report", "validate", "nas"]))
    if kind == "show":
        return ["show", path(), *draw(st.sampled_from([[], ["--json"]]))]
    if kind == "sweep":
        opts = ["--dry-run", "--out", path()]
        for flag in ("--seeds", "--budget", "--workers", "--timeout"):
            if draw(st.booleans()):
                opts += [flag, draw(_JUNK)]
        return ["sweep", path(), *opts, "--quiet"]
    if kind == "proxy":
        return [
            "proxy",
            "eval",
            path(),
            "--speed-n",
            draw(st.sampled_from(["0", "-1", "x"])),
            "--top-k",
            draw(_JUNK),
        ]
    if kind == "report":
        return ["report", path(), "--out", path()]
    if kind == "validate":
        return [
            "validate",
            "accelerator",
            "--against",
            draw(st.sampled_from(["scalesim", "zigzag", "x"])),
            "--layers",
            draw(st.sampled_from(["conv1x1_c32", "nosuch", ""])),
            "--rows",
            draw(_JUNK),
        ]
    # nas build-table always gets one bad value, so nothing is trained
    return [
        "nas",
        "build-table",
        "--out",
        path(),
        "--limit",
        draw(st.sampled_from(["0", "-1", "x"])),
    ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_other_commands_exit_0_2_or_3(tmp_path_factory: Any, data: Any) -> None:
    root = tmp_path_factory.mktemp("cli")
    (root / "a-file").write_text("x")
    (root / "empty-dir").mkdir()
    (root / "bad.toml").write_text("[sweep\nbudget = ")
    (root / "proxy.json").write_text(
        '{"format": "archgym-proxy", "format_version": 1, "payload": {}}'
    )
    argv = data.draw(other_argv(root))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    assert code in (0, 2, 3), (argv, code, err.getvalue()[-500:])
    assert "Traceback" not in err.getvalue()
