"""The conformance suites (archgym.testing) on every registered agent x every registered env,
and proof that the suites catch broken agents and envs.

Envs are built with their default (single) objective and with two objectives, so that
multi-objective agents are exercised and single-objective ones must refuse cleanly. Envs
whose optional extras are missing are skipped. Budgets are tiny; GP gets fewer start-up
trials so that its (slow) model still runs within the time limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from archgym.agents import Agent
from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.errors import ConfigError, MissingDependencyError
from archgym.registry import list_agents, list_cost_models, list_envs, make
from archgym.results import Results
from archgym.testing import ConformanceError, check_agent, check_cost_model, check_env, derive_env
from tests.fingerprint_cases import COST_MODEL_CASES, NOT_FINGERPRINTED

AGENTS = sorted(list_agents())
ENVS = sorted(list_envs())
# GP refits per trial and each check makes about five runs: 6 random trials then 2 GP trials
# per run. check_agent on Accelerator-v2 (single objective): 4.9 s CPU at budget 8, 15.8 s at
# budget 10 with the same 6 random trials (measured with time.process_time).
FAST = {"gp": {"budget": 8, "hparams": {"n_startup_trials": 6}}}
_cache: dict[tuple[str, bool], Any] = {}


def _env(env_id: str, multi: bool) -> Any:
    key = (env_id, multi)
    if key not in _cache:
        try:
            env = make(env_id)
        except MissingDependencyError as exc:
            _cache[key] = exc
        else:
            if multi:
                names = [
                    m
                    for m in getattr(env, "report_metrics", ())
                    if m in env.cost_model.metric_names
                ]
                names = (names + [m for m in env.cost_model.metric_names if m not in names])[:2]
                try:
                    env = derive_env(env, objective=names)
                except ConfigError as exc:  # pragma: no cover - an env with one metric
                    env = exc
            _cache[key] = env
    env = _cache[key]
    if isinstance(env, Exception):
        if env_id.startswith("archgym/"):  # built-in envs need only required dependencies
            raise env
        pytest.skip(f"{env_id}: {env}")  # a plugin's env whose extra is not installed
    return env


def _agent_params() -> list[Any]:
    params = []
    for agent in AGENTS:
        for i, env_id in enumerate(ENVS):
            for multi in (False, True):
                marks = []
                if agent == "sb3-ppo" and (i > 0 or multi):
                    marks.append(pytest.mark.slow)  # SB3 takes seconds per run
                if agent == "gp" and env_id != "archgym/Systolic-v0":
                    marks.append(pytest.mark.slow)  # GP: 3-9 s per check; one env by default
                params.append(pytest.param(agent, env_id, multi, marks=marks,
                                           id=f"{agent}-{env_id}-{'multi' if multi else 'single'}"))  # fmt: skip
    return params


@pytest.mark.parametrize("env_id", ENVS)
def test_every_env_conforms(env_id: str) -> None:
    env = _env(env_id, False)
    report = check_env(env)  # incl. Gymnasium's checker: info must compare equal (no NaN)
    assert "gymnasium" in report.passed


@pytest.mark.parametrize(("agent", "env_id", "multi"), _agent_params())
def test_every_agent_conforms_on_every_env(agent: str, env_id: str, multi: bool) -> None:
    env = _env(env_id, multi)
    fast = FAST.get(agent, {})
    report = check_agent(agent, env, budget=fast.get("budget", 10), hparams=fast.get("hparams"))
    cls = list_agents()[agent].load()
    supported = cls.supports_multi if multi else cls.supports_single
    if supported:
        assert {"budget", "valid_designs", "deterministic", "infeasible", "smoke"} <= set(
            report.passed
        )
    else:
        assert report.passed == ["objective_count"]


# -- the suites catch broken components ----------------------------------------------------
class _Base(Agent):
    name = "broken"

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return self.space.sample(self.rng, n)

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        pass


class OverAsker(_Base):
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return self.space.sample(self.rng, n + 1)


class InvalidAsker(_Base):
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return [{**d, "a": 99} for d in self.space.sample(self.rng, n)]


class GlobalRandom(_Base):
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return self.space.sample(np.random.default_rng(), n)  # ignores its seed


class SeedBlind(_Base):
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return self.space.sample(np.random.default_rng(0), n)


class NaNHater(_Base):
    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        if np.isnan(results.values).any():
            raise ValueError("cannot handle NaN")


class AcceptsAnything(_Base):
    supports_multi = True

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        kwargs.pop("no_such_hparam_xyz", None)
        super().__init__(space, seed, **kwargs)


@pytest.mark.parametrize(
    ("cls", "check"),
    [(OverAsker, "budget"), (InvalidAsker, "valid_designs"), (GlobalRandom, "deterministic"),
     (SeedBlind, "seed_effect"), (NaNHater, "infeasible"), (AcceptsAnything, "hparams")],
)  # fmt: skip
def test_check_agent_catches_broken_agents(bowl_env, cls: type[Agent], check: str) -> None:
    env = derive_env(bowl_env, space=bowl_env.space.restrict(size=[1, 2, 4, 8]))  # all feasible
    with pytest.raises(ConformanceError, match=rf"^\[{check}\]"):
        check_agent(cls, env)


def test_check_agent_reports_a_crash_in_a_plain_run(bowl_env) -> None:
    with pytest.raises(ConformanceError, match=r"^\[run\].*ValueError: cannot handle NaN"):
        check_agent(NaNHater, bowl_env)  # size 16 is infeasible: NaN values


def test_a_good_third_party_agent_passes(bowl_env) -> None:
    report = check_agent(_Base, bowl_env)
    assert report.skipped == {
        "smoke": "agent class is not registered; the runner builds agents by name"
    }
    assert "failed_tell" in report.passed


def test_check_agent_restores_the_env(bowl_env) -> None:
    model = bowl_env.cost_model
    check_agent("random", bowl_env)
    assert bowl_env.cost_model is model and bowl_env._listeners == []


class _PositionDependent(CostModel):
    name = "position"
    metrics = (Metric("latency_s", "s"),)

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        n = len(columns["a"])
        return Evaluations(
            {"latency_s": np.arange(n, dtype=float) + columns["a"]}, np.ones(n, bool), [""] * n
        )


def test_check_env_catches_a_batch_inconsistent_model(bowl_env) -> None:
    env = DSEEnv(bowl_env.space, _PositionDependent(), env_id="test/Position-v0")
    with pytest.raises(ConformanceError, match=r"^\[batch_consistent\]"):
        check_env(env)


def test_check_env_passes_the_bowl(bowl_env) -> None:
    assert check_env(bowl_env, gymnasium_check=False).passed[-1] == "describe"


# -- the cost-model suite, on every registered cost model, and on broken ones ---------------
#: Covered below by their own conformance tests (a trained proxy file, live simulators), or
#: not runnable without a GPU.
_OWN_CONFORMANCE = {"proxy", "scalesim", "zigzag"}


@pytest.mark.parametrize("name", sorted(list_cost_models()))
def test_every_cost_model_conforms(name: str) -> None:
    if name in _OWN_CONFORMANCE:
        return  # see test_proxy_cost_model_conforms / test_live_simulators_conform
    if name in NOT_FINGERPRINTED:
        pytest.skip(f"{name}: {NOT_FINGERPRINTED[name]}")
    assert name in COST_MODEL_CASES, f"add {name!r} to tests/fingerprint_cases.py"
    env_id, kwargs = COST_MODEL_CASES[name]
    env = make(env_id, **kwargs)
    assert env.cost_model.name == name
    report = check_cost_model(env.cost_model, env.space, env.workload)
    assert {"evaluate", "feasibility", "deterministic", "vectorised", "describe"} <= set(
        report.passed
    )


def test_proxy_cost_model_conforms(tmp_path) -> None:
    import archgym
    from archgym.proxy import train_proxy

    archgym.run_experiment(
        archgym.Experiment(env="archgym/Systolic-v0", agent="random", budget=120, seed=0),
        out=tmp_path / "run",
    )
    proxy = train_proxy(tmp_path / "run", targets=["latency_s", "energy_j"], cv=0)
    proxy.save(tmp_path / "p.json")
    env = make("archgym/Systolic-v0", cost_model=f"proxy:{tmp_path / 'p.json'}")
    report = check_cost_model(env.cost_model, env.space, env.workload)
    assert {"deterministic", "vectorised", "describe"} <= set(report.passed)


@pytest.mark.parametrize(
    "name", [pytest.param("scalesim", marks=pytest.mark.scalesim),
             pytest.param("zigzag", marks=pytest.mark.zigzag)],
)  # fmt: skip
def test_live_simulators_conform(name: str) -> None:
    from archgym.workloads import Layer

    env = make(
        "archgym/Systolic-v0", cost_model=name, workload=Layer("gemm", "gemm", 1, 8, 1, 1, 16, 8)
    )
    report = check_cost_model(env.cost_model, env.space, env.workload, n=3)
    assert {"evaluate", "deterministic", "vectorised"} <= set(report.passed)


class _GoodModel(CostModel):
    """latency = a; designs with a == 16 are infeasible."""

    name = "good"
    version = "1"
    metrics = (Metric("latency_s", "s"),)
    design_params = frozenset({"a"})

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        a = columns["a"].astype(float)
        ok = a != 16
        return Evaluations(
            {"latency_s": np.where(ok, a, np.nan)}, ok, ["" if o else "a is 16" for o in ok]
        )


class _NoReason(_GoodModel):
    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        out = super().evaluate_columns(columns, workload)
        return Evaluations(out.metrics, out.feasible, [""] * len(out))


class _Noisy(_GoodModel):
    def __init__(self) -> None:
        self.calls = 0

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        self.calls += 1
        out = super().evaluate_columns(columns, workload)
        return Evaluations({"latency_s": out.metrics["latency_s"] + self.calls}, out.feasible,
                           out.reasons)  # fmt: skip


class _BatchMean(_GoodModel):
    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        out = super().evaluate_columns(columns, workload)
        lat = out.metrics["latency_s"]  # depends on the batch: 1 + a / (batch size)
        return Evaluations({"latency_s": 1 + lat / len(lat)}, out.feasible, out.reasons)


class _ReadsUndeclared(_GoodModel):
    design_params = frozenset({"a", "b"})

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        out = super().evaluate_columns(columns, workload)
        extra = columns["c"].astype(float) if "c" in columns else 0.0
        return Evaluations({"latency_s": out.metrics["latency_s"] + extra}, out.feasible,
                           out.reasons)  # fmt: skip


class _Undeclares(_GoodModel):
    metrics = (Metric("latency_s", "s"), Metric("energy_j", "J"))


def _abc_space() -> Any:
    from archgym.space import DesignSpace, Ordinal

    return DesignSpace([Ordinal("a", (1, 2, 4, 8, 16)), Ordinal("b", (1, 2)), Ordinal("c", (1, 3))])


@pytest.mark.parametrize(
    ("cls", "check"),
    [(_NoReason, "feasibility"), (_Noisy, "deterministic"),
     (_BatchMean, "vectorised"), (_ReadsUndeclared, "design_params"), (_Undeclares, "evaluate")],
)  # fmt: skip
def test_check_cost_model_catches_broken_models(cls: type[CostModel], check: str) -> None:
    space = _abc_space()
    with pytest.raises(ConformanceError, match=rf"^\[{check}\]"):
        check_cost_model(cls(), space)


def test_check_cost_model_names_undeclared_space_parameters() -> None:
    with pytest.raises(ConformanceError, match=r"\['b', 'c'\] are not in design_params"):
        check_cost_model(_GoodModel(), _abc_space())
