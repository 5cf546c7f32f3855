"""DSEEnv.step's lone-design path (value-index actions call ``evaluate_columns`` directly and
check the contract on the floats) against the batch path through ``CostModel.evaluate``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import archgym
from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.errors import DesignError
from archgym.space import DesignSpace, Integer


class _Odd(CostModel):
    """A backend whose outputs for ``a`` = 1, 2, 3 are not measurements (NaN, negative,
    infinite) and whose optional metric is NaN for ``a`` = 4 (a feasible design)."""

    name = "odd-sim"
    metrics = (
        Metric("latency_s", "s"),
        Metric("gain_db", "dB", "max", signed=True),
        Metric("note", "", "max", optional=True),
    )

    def evaluate_columns(self, columns, workload):
        a = columns["a"].astype(float)
        lat = np.array([{1: np.nan, 2: -3.0, 3: np.inf}.get(int(x), 1.0 + x) for x in a])
        note = np.where(a == 4, np.nan, 1.0)
        return Evaluations(
            {"latency_s": lat, "gain_db": -a, "note": note}, np.ones(len(a), bool), [""] * len(a)
        )


class _Counting(_Odd):
    """Overrides ``evaluate``: the env must keep calling it for a lone design too."""

    calls = 0

    def evaluate(self, designs, workload=None):
        type(self).calls += 1
        return super().evaluate(designs, workload)


def _env(model: CostModel) -> DSEEnv:
    return DSEEnv(DesignSpace([Integer("a", 0, 4)]), model, None, "latency_s", env_id="t/Odd-v0")


def _no_nan(x: object) -> bool:
    if isinstance(x, float):
        return not math.isnan(x)
    if isinstance(x, dict):
        return all(_no_nan(v) for v in x.values())
    if isinstance(x, list):
        return all(_no_nan(v) for v in x)
    return True


def test_step_rejects_unphysical_outputs_like_evaluate() -> None:
    # Catches a step path that skips CostModel.evaluate's output check (a NaN, negative or
    # infinite latency scored as feasible) or leaks NaN into info (Gymnasium's checker).
    env = _env(_Odd())
    batch = env.evaluate([{"a": a} for a in range(5)])
    for a in range(5):
        env.reset(seed=0)
        _, reward, _, _, info = env.step(np.array([a]))
        assert info["feasible"] == bool(batch.evals.feasible[a]), a
        assert info["reason"] == batch.evals.reasons[a]
        assert reward == batch.reward[a]
        assert _no_nan(info), info
    env.reset(seed=0)
    info = env.step(np.array([4]))[4]
    assert info["feasible"] and info["metrics"]["note"] is None  # optional NaN kept, shown None
    assert info["metrics"]["gain_db"] == -4.0  # signed: negative is a measurement


def test_a_model_overriding_evaluate_is_still_called_through_it() -> None:
    env = _env(_Counting())
    env.reset(seed=0)
    before = _Counting.calls
    env.step(np.array([0]))
    assert _Counting.calls == before + 1


def test_step_equals_the_batch_api_on_random_designs() -> None:
    # Catches the lone-design path (direct evaluate_columns, cached one-row columns, the
    # observation table) drifting from the batch path on a real model.
    env = archgym.make("archgym/Systolic-v0", workload="resnet18", objective="edp")
    designs = env.space.sample(np.random.default_rng(11), 60)
    batch = env.evaluate(designs)
    env.reset(seed=0)
    for i, d in enumerate(designs):
        obs, reward, _, _, info = env.step(env.space.encode_indices(d))
        assert reward == batch.reward[i]
        assert info["metrics"] == {k: float(v[i]) for k, v in batch.evals.metrics.items()}
        idx = np.asarray(env.space.encode_indices(d))
        nvec = np.array([p.n_choices for p in env.space.params], dtype=float)
        np.testing.assert_array_equal(obs[: len(idx)], (idx + 0.5) / nvec)


def test_bad_value_index_actions_are_refused() -> None:
    # The integer-array fast check must refuse what the per-element check refused.
    env = archgym.make("archgym/Systolic-v0", workload="resnet18")
    env.reset(seed=0)
    good = np.asarray(env.space.encode_indices(env.space.sample(np.random.default_rng(0), 1)[0]))
    nvec = np.array([p.n_choices for p in env.space.params])
    bad = [
        good[:-1],  # too short
        np.where(np.arange(len(good)) == 0, -1, good),  # negative
        np.where(np.arange(len(good)) == 1, nvec[1], good),  # one past the end
        good.astype(float),  # not an index
        good.astype(bool),
        good.reshape(-1, 1),  # not a vector
        good.astype(np.uint8) + np.uint8(200),  # unsigned, out of range
    ]
    for action in bad:
        with pytest.raises(DesignError, match="action must lie in the action space"):
            env.step(action)
    env.step(good)  # and the good one passes
    env.step(good.tolist())
