"""Shared fixtures, independent of any domain model: a tiny, exactly known env (``bowl_env``),
a large one with a tiny success region for agent-quality tests (``valley_env``), and a
fixture that undoes registrations (``clean_registry``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.space import Categorical, DesignSpace, Integer, Ordinal


class BowlCostModel(CostModel):
    """latency_s = (a-5)^2 + 1 + 0.5*(kind=='b'); energy_j = a + size; size=16 -> infeasible."""

    name = "bowl"
    version = "1"
    metrics = (
        Metric("latency_s", "s", "min"),
        Metric("energy_j", "J", "min"),
        Metric("area_mm2", "mm^2", "min"),
    )

    def evaluate_columns(self, columns, workload):
        a = columns["a"].astype(float)
        size = columns["size"].astype(float)
        kind_b = columns["kind"] == "b"
        feasible = size != 16
        lat = (a - 5) ** 2 + 1 + 0.5 * kind_b
        energy = a + size
        area = size / 4
        nan = np.where(feasible, 1.0, np.nan)
        reasons = ["" if f else "size 16 does not fit" for f in feasible]
        return Evaluations(
            {"latency_s": lat * nan, "energy_j": energy * nan, "area_mm2": area * nan},
            feasible,
            reasons,
        )


def bowl_space() -> DesignSpace:
    return DesignSpace(
        [Integer("a", 0, 9), Ordinal("size", [1, 2, 4, 8, 16]), Categorical("kind", ["a", "b"])],
        name="bowl",
    )


@pytest.fixture
def bowl_env() -> DSEEnv:
    return DSEEnv(bowl_space(), BowlCostModel(), None, "latency_s", env_id="test/Bowl-v0")


# -- valley: agent-quality tests ---------------------------------------------------------
VALLEY_LEVELS = 16  # values per parameter: x0..x4 in 0..15, 16**5 = 1,048,576 designs
VALLEY_TARGET = (3, 11, 6, 13, 8)  # the unique optimum (latency_s 1.0), off-centre
VALLEY_WEIGHTS = (1.0, 2.0, 1.5, 1.0, 2.5)  # unequal curvature per parameter
#: A search "succeeds" once it evaluated a design with latency_s <= VALLEY_SUCCESS_S. Exactly
#: 67 of the 1,048,576 designs do (6.4e-5; enumerated in tests/test_agents_optuna.py), so
#: uniform random search succeeds with probability 1 - (1 - 6.4e-5)**B: 1.0 % at B = 150,
#: 3.1 % at B = 500.
VALLEY_SUCCESS_S = 5.0


class ValleyCostModel(CostModel):
    """latency_s = 1 + sum_i w_i (x_i - t_i)^2 over five integers; every design feasible.

    A smooth, ill-conditioned valley: an agent that learns from what it evaluated walks down
    it; random search, blind to the structure, almost never lands within 4 of the optimum.
    """

    name = "valley"
    version = "1"
    metrics = (Metric("latency_s", "s", "min"),)

    def evaluate_columns(self, columns, workload):
        x = np.stack([columns[f"x{i}"].astype(float) for i in range(len(VALLEY_TARGET))], 1)
        lat = 1.0 + ((x - np.array(VALLEY_TARGET)) ** 2 * np.array(VALLEY_WEIGHTS)).sum(axis=1)
        n = len(lat)
        return Evaluations({"latency_s": lat}, np.ones(n, dtype=bool), [""] * n)


def valley_space() -> DesignSpace:
    return DesignSpace(
        [Integer(f"x{i}", 0, VALLEY_LEVELS - 1) for i in range(len(VALLEY_TARGET))],
        name="valley",
    )


@pytest.fixture
def valley_env() -> DSEEnv:
    return DSEEnv(valley_space(), ValleyCostModel(), None, "latency_s", env_id="test/Valley-v0")


def search_best(agent, env: DSEEnv, budget: int) -> float:
    """Best objective value ``agent`` finds in ``budget`` evaluations: one design at a time
    through ask/tell, or through the env for agents that drive it (PPO)."""
    if getattr(agent, "drives_env", False):
        seen: list[float] = []
        listener = lambda res: seen.extend(res.values[:, 0])  # noqa: E731
        env.add_listener(listener)
        try:
            agent.run_env(env, budget)
        finally:
            env.remove_listener(listener)
        assert len(seen) == budget
        return float(np.nanmin(seen))
    best = np.inf
    for _ in range(budget):
        res = env.evaluate(agent.ask(1))
        agent.tell(res.designs, res)
        best = min(best, float(np.nanmin(res.values[:, 0])))
    return best


# -- registrations ---------------------------------------------------------------------------
@contextlib.contextmanager
def registry_snapshot() -> Iterator[None]:
    """Undo, on exit, every env, agent and cost-model registration made inside: archgym's
    registries and ``gymnasium.registry`` (where :func:`archgym.register` also puts envs)."""
    import gymnasium

    from archgym import registry

    kinds = (registry._ENVS, registry._AGENTS, registry._COST_MODELS)
    for kind in kinds:
        kind.all()  # load built-ins and plugins now: they stay registered
    saved = [dict(kind.specs) for kind in kinds]
    saved_gym = dict(gymnasium.registry)
    try:
        yield
    finally:
        for kind, specs in zip(kinds, saved, strict=True):
            kind.specs.clear()
            kind.specs.update(specs)
        gymnasium.registry.clear()
        gymnasium.registry.update(saved_gym)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Registrations the test makes are removed afterwards (see :func:`registry_snapshot`)."""
    with registry_snapshot():
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``scalesim``/``zigzag`` run whenever that simulator is importable (the
    ``archgym[scalesim]``/``archgym[zigzag]`` extras, e.g. the ``.sim`` venv of
    ``.ci/simulators``) and are skipped, with the pip command, where it is not."""
    import importlib.util

    have = {
        "scalesim": importlib.util.find_spec("scalesim") is not None,
        "zigzag": importlib.util.find_spec("zigzag") is not None,
    }
    for item in items:
        for extra, ok in have.items():
            if item.get_closest_marker(extra) is not None and not ok:
                item.add_marker(
                    pytest.mark.skip(reason=f'needs {extra}: pip install "archgym[{extra}]"')
                )
