"""The compact PPO (``ppo``) and the optional Stable-Baselines3 wrapper (``sb3-ppo``).

Uses the ``bowl_env`` fixture (tests/conftest.py): latency_s = (a-5)^2 + 1 + 0.5*[kind=='b'],
size=16 infeasible; by hand the optimum is latency 1.0 at a=5, kind='a'. Search quality is
tested on the ``valley_env`` fixture, where random search fails.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import torch

from archgym._imports import install_hint
from archgym.agents.ppo import shape_returns
from archgym.errors import ConfigError, MissingDependencyError
from archgym.registry import make_agent
from archgym.runner import Experiment, run_experiment
from archgym.testing import derive_env
from tests.conftest import VALLEY_SUCCESS_S, search_best


def _train(env, budget: int, seed: int = 0, **hp) -> np.ndarray:
    """Latency of every evaluation PPO makes, in order (NaN when infeasible)."""
    seen: list[float] = []
    listener = lambda res: seen.extend(res.values[:, 0])  # noqa: E731
    env.add_listener(listener)
    try:
        make_agent("ppo", env.space, seed=seed, **hp).run_env(env, budget)
    finally:
        env.remove_listener(listener)
    return np.array(seen)


def test_rank_shaping_matches_a_hand_calculation() -> None:
    # ranks of [3, 1, 2, 2]: 1 -> 0, the tied 2s -> mean(1, 2) = 1.5, 3 -> 3; / 3 - 0.5
    assert shape_returns(np.array([3.0, 1.0, 2.0, 2.0]), "rank").tolist() == pytest.approx(
        [0.5, -0.5, 0.0, 0.0]
    )
    z = shape_returns(np.array([-1.0e6, -2.0, -1.0, -1.5]), "standardize")
    assert z.argmax() == 2 and z.argmin() == 0 and abs(z.mean()) < 1e-9
    with pytest.raises(ConfigError, match="reward_shaping"):
        shape_returns(np.array([1.0, 2.0]), "log")


@pytest.mark.parametrize("mode", ["one-step", "sequential"])
def test_ppo_makes_exactly_the_budget_and_learns(bowl_env, mode: str) -> None:
    env = derive_env(bowl_env, mode=mode)
    vals = _train(env, 300, episodes_per_update=25)
    assert len(vals) == 300  # 12 full updates; exact count
    first, last = np.nanmean(vals[:50]), np.nanmean(vals[-50:])
    assert last < 0.5 * first  # the policy concentrates on good designs


# Search quality on the valley (tests/conftest.py; 67 of 1,048,576 designs reach latency_s <=
# VALLEY_SUCCESS_S). Measured by `nice python -m tests.measure_agent_success --seeds 40
# --only ppo` (seeds 0-39, default hyperparameters, one-step mode):
#   ppo  budget 500: 40/40   random: 1/40 (expected 3.1 %)
@pytest.mark.parametrize("seed", [0, 1])
def test_ppo_walks_down_the_valley(valley_env, seed: int) -> None:
    agent = make_agent("ppo", valley_env.space, seed=seed)
    assert search_best(agent, valley_env, 500) <= VALLEY_SUCCESS_S


def test_ppo_partial_last_update_keeps_the_budget_exact(bowl_env) -> None:
    assert len(_train(bowl_env, 37, episodes_per_update=16)) == 37


def test_ppo_is_deterministic_and_leaves_global_torch_state_alone(bowl_env) -> None:
    state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    a = _train(bowl_env, 40, seed=5, episodes_per_update=8)
    b = _train(bowl_env, 40, seed=5, episodes_per_update=8)
    c = _train(bowl_env, 40, seed=6, episodes_per_update=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_ppo_runs_through_the_runner_and_store(bowl_env, tmp_path) -> None:
    from archgym.store import read_records

    exp = Experiment(
        env="test/Bowl-v0", agent="ppo", budget=20, seed=0, agent_kwargs={"episodes_per_update": 8}
    )
    result = run_experiment(exp, out=tmp_path / "run", env=bowl_env)
    assert result.n_evaluations == 20 and result.status == "complete"
    records, _ = read_records(tmp_path / "run")
    assert len(records) == 20


def test_ppo_is_driven_through_the_env_not_ask_tell(bowl_env) -> None:
    agent = make_agent("ppo", bowl_env.space)
    assert agent.drives_env
    with pytest.raises(ConfigError, match="run_env"):
        agent.ask(1)
    with pytest.raises(ConfigError, match="episodes_per_update must be >= 2"):
        make_agent("ppo", bowl_env.space, episodes_per_update=1)


def test_ppo_handles_a_continuous_one_step_action_space() -> None:
    from archgym.cost_model import CostModel, Evaluations, Metric
    from archgym.env import DSEEnv
    from archgym.space import DesignSpace, Float

    class Parabola(CostModel):
        name = "parabola"
        metrics = (Metric("latency_s", "s"),)

        def evaluate_columns(self, columns, workload):
            x = columns["x"].astype(float)
            return Evaluations({"latency_s": (x - 0.7) ** 2}, np.ones(len(x), bool), [""] * len(x))

    env = DSEEnv(DesignSpace([Float("x", 0.0, 1.0)]), Parabola())
    vals = _train(env, 64, float_bins=10, episodes_per_update=16)
    assert len(vals) == 64
    assert np.nanmin(vals) == pytest.approx(0.0025)  # bin centre 0.65 or 0.75: (0.05)^2


def test_sb3_ppo_without_the_extra_names_the_pip_command(bowl_env, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # as if not installed
    agent = make_agent("sb3-ppo", bowl_env.space)
    with pytest.raises(MissingDependencyError, match=re.escape(install_hint("sb3"))):
        agent.run_env(bowl_env, 4)


@pytest.mark.parametrize("mode", ["one-step", pytest.param("sequential", marks=pytest.mark.slow)])
def test_sb3_ppo_makes_exactly_the_budget(bowl_env, mode: str) -> None:
    import random

    env = derive_env(bowl_env, mode=mode)
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 - checks the global state is restored
    py_state = random.getstate()
    seen: list[float] = []
    env.add_listener(lambda res: seen.extend(res.values[:, 0]))
    make_agent("sb3-ppo", env.space, seed=0, n_steps=16, batch_size=8).run_env(env, 50)
    assert len(seen) == 50
    assert np.array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert random.getstate() == py_state
