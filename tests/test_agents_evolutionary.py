"""Hand-written agents: the genetic algorithm (``ga``) and ant-colony optimisation (``aco``),
and the search quality of every hand-written agent (``ga``, ``aco``, ``random-walk``).

Uses the ``bowl_env`` fixture (tests/conftest.py): latency_s = (a-5)^2 + 1 + 0.5*[kind=='b'],
size=16 infeasible; by hand the optimum is latency 1.0 at a=5, kind='a'. Search quality is
tested on the ``valley_env`` fixture, where random search fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from archgym.errors import ConfigError
from archgym.registry import make_agent
from tests.conftest import VALLEY_SUCCESS_S, search_best


def _search(agent, env, budget: int, batch: int = 1) -> tuple[list, np.ndarray]:
    designs_all, vals = [], []
    while len(vals) < budget:
        designs = agent.ask(min(batch, budget - len(vals)))
        res = env.evaluate(designs)
        agent.tell(res.designs, res)
        designs_all += res.designs
        vals += list(res.values[:, 0])
    return designs_all, np.array(vals)


# -- genetic algorithm ----------------------------------------------------------------------
def test_ga_starts_from_seeded_random_samples(bowl_env) -> None:
    agent = make_agent("ga", bowl_env.space, seed=3, population_size=6)
    rng = np.random.default_rng(3)
    expected = [bowl_env.space.sample(rng, 1)[0] for _ in range(6)]
    assert agent.ask(6) == expected


def test_ga_rarely_repeats_an_evaluated_design(bowl_env) -> None:
    designs, _ = _search(make_agent("ga", bowl_env.space, seed=0), bowl_env, 50)
    unique = {tuple(sorted(d.items())) for d in designs}
    # Uniform random draws would give 100 * (1 - 0.99**50) = 39.5 distinct designs on average
    # (100 designs in the space); the GA, converging on a small neighbourhood, still does
    # better because it re-draws children it has already evaluated (seeds 0-4 give 41-46).
    assert len(unique) >= 40


def test_ga_population_is_the_best_told_so_far(bowl_env) -> None:
    agent = make_agent("ga", bowl_env.space, seed=0, population_size=3)
    designs = [{"a": a, "size": 1, "kind": "a"} for a in (0, 5, 9, 4)] + [
        {"a": 5, "size": 16, "kind": "a"}
    ]
    agent.tell(designs, bowl_env.evaluate(designs))
    # latency (a-5)^2+1: a=5 -> 1, a=4 -> 2, a=0 -> 26, a=9 -> 17; size 16 is infeasible (inf)
    assert [key for key, _ in agent._population] == [(0.0, 1.0), (0.0, 2.0), (0.0, 17.0)]


def test_ga_ranks_constraint_breakers_by_violation_ahead_of_infeasible(bowl_env) -> None:
    from archgym.testing import derive_env

    env = derive_env(bowl_env, objective="latency_s")
    env = type(env)(env.space, env.cost_model, env.workload, "latency_s", ["latency_s <= 5"])
    agent = make_agent("ga", env.space, seed=0, population_size=4)
    designs = [{"a": a, "size": 1, "kind": "a"} for a in (0, 9, 5)] + [
        {"a": 5, "size": 16, "kind": "a"}
    ]
    agent.tell(designs, env.evaluate(designs))
    # latency (a-5)^2+1: a=5 -> 1 (admissible); a=9 -> 17 breaks `<= 5` by 12, a=0 -> 26 by 21;
    # size 16 is infeasible (violation inf)
    keys = [key for key, _ in agent._population]
    assert keys[:3] == [(0.0, 1.0), (12.0, float("inf")), (21.0, float("inf"))]
    assert keys[3][0] == float("inf")


def test_ga_rejects_bad_hyperparameters(bowl_env) -> None:
    with pytest.raises(ConfigError, match=r"crossover_prob must be in \[0, 1\], got 1.5"):
        make_agent("ga", bowl_env.space, crossover_prob=1.5)
    with pytest.raises(ConfigError, match="population_size must be >= 2"):
        make_agent("ga", bowl_env.space, population_size=1)


# -- ant colony -----------------------------------------------------------------------------
def test_aco_pheromone_update_matches_a_hand_calculation(bowl_env) -> None:
    agent = make_agent(
        "aco",
        bowl_env.space,
        seed=0,
        ant_count=2,
        evaporation=0.5,
        deposit=1.0,
        tau_min=0.01,
        tau_max=100.0,
    )
    designs = [{"a": 5, "size": 2, "kind": "a"}, {"a": 0, "size": 1, "kind": "b"}]
    agent.tell(designs, bowl_env.evaluate(designs))
    # Every value starts at 1 and evaporates to 0.5. The colony's best ant (a=5, latency 1)
    # is also the best so far, so its values get 0.5 + 1 + 1 = 2.5.
    tau_a, tau_size, tau_kind = agent._tau
    assert tau_a[5] == pytest.approx(2.5) and tau_a[0] == pytest.approx(0.5)
    assert tau_size.tolist() == pytest.approx([0.5, 2.5, 0.5, 0.5, 0.5])
    assert tau_kind.tolist() == pytest.approx([2.5, 0.5])


def test_aco_fully_greedy_ants_follow_the_strongest_trail(bowl_env) -> None:
    agent = make_agent("aco", bowl_env.space, seed=0, ant_count=2, greediness=1.0)
    designs = [{"a": 5, "size": 2, "kind": "a"}, {"a": 0, "size": 1, "kind": "b"}]
    agent.tell(designs, bowl_env.evaluate(designs))
    asked = agent.ask(3)
    # Every greedy ant re-builds the trail {a=5, size=2, kind=a}; it was evaluated already,
    # so each ant steps away by a mutation: new designs, the first one parameter away.
    keys = [tuple(sorted(d.items())) for d in asked]
    assert len(set(keys)) == 3 and not {tuple(sorted(d.items())) for d in designs} & set(keys)
    trail = {"a": 5, "size": 2, "kind": "a"}
    assert sum(asked[0][k] != v for k, v in trail.items()) == 1


def test_aco_infeasible_ants_deposit_nothing(bowl_env) -> None:
    agent = make_agent("aco", bowl_env.space, seed=0, ant_count=1, evaporation=0.5, tau_min=0.01)
    designs = [{"a": 5, "size": 16, "kind": "a"}]  # infeasible
    agent.tell(designs, bowl_env.evaluate(designs))
    assert all(np.allclose(t, 0.5) for t in agent._tau)


def test_aco_rejects_bad_hyperparameters(bowl_env) -> None:
    with pytest.raises(ConfigError, match=r"evaporation must be in \[0, 1\], got 2.0"):
        make_agent("aco", bowl_env.space, evaporation=2.0)
    with pytest.raises(ConfigError, match="tau_min <= tau_max"):
        make_agent("aco", bowl_env.space, tau_min=5.0, tau_max=1.0)
    with pytest.raises(ConfigError, match="no hyperparameter 'ants'.*ant_count=16"):
        make_agent("aco", bowl_env.space, ants=3)


def test_aco_bins_continuous_parameters() -> None:
    from archgym.space import DesignSpace, Float

    space = DesignSpace([Float("x", 0.0, 1.0)], name="unit")
    agent = make_agent("aco", space, seed=0, float_bins=4)
    xs = sorted({d["x"] for d in agent.ask(40)})
    assert xs == pytest.approx([0.125, 0.375, 0.625, 0.875])  # bin centres of 4 bins


# -- search quality on the valley (tests/conftest.py) ----------------------------------------
# 67 of the valley's 1,048,576 designs reach latency_s <= VALLEY_SUCCESS_S. Success rates over
# seeds 0-39 with default hyperparameters, measured by
# `nice python -m tests.measure_agent_success --seeds 40` (each agent, then uniform random
# search at the same budget and seeds; random search is tested in test_agents_optuna.py):
#   ga           budget 200: 40/40   random: 0/40 (expected 1.3 %)
#   aco          budget 400: 40/40   random: 0/40 (expected 2.5 %)
#   random-walk  budget 300: 40/40   random: 0/40 (expected 1.9 %)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("name", "budget"), [("ga", 200), ("aco", 400), ("random-walk", 300)])
def test_hand_written_agents_walk_down_the_valley(
    valley_env, name: str, budget: int, seed: int
) -> None:
    agent = make_agent(name, valley_env.space, seed=seed)
    assert search_best(agent, valley_env, budget) <= VALLEY_SUCCESS_S
