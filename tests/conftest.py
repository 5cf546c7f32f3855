"""Shared fixtures: a tiny, exactly known env independent of any domain model, and a
fixture that undoes registrations."""

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
