"""DSEEnv: batch evaluation, Gymnasium conformance in both modes, listeners, bad actions."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from archgym.env import DSEEnv
from archgym.errors import ConfigError, DesignError
from archgym.space import Constraint, DesignSpace, Float, Integer
from tests.conftest import BowlCostModel, bowl_space


def test_batch_evaluate_matches_hand_values(bowl_env: DSEEnv) -> None:
    res = bowl_env.evaluate(
        [
            {"a": 5, "size": 1, "kind": "a"},
            {"a": 2, "size": 4, "kind": "b"},
            {"a": 5, "size": 16, "kind": "a"},
        ]
    )
    np.testing.assert_allclose(res.values[:2, 0], [1.0, 10.5])  # (5-5)^2+1 ; (2-5)^2+1+0.5
    assert list(res.feasible) == [True, True, False]
    assert res.evals.reasons[2] == "size 16 does not fit"
    assert np.isnan(res.values[2, 0]) and res.reward[2] == -1e6


def test_bad_design_names_position_and_parameter(bowl_env: DSEEnv) -> None:
    with pytest.raises(
        DesignError,
        match=r"design #1 of the batch: parameter 'a' must be an integer in \[0, 9\], but got 12",
    ):
        bowl_env.evaluate([{"a": 1, "size": 1, "kind": "a"}, {"a": 12, "size": 1, "kind": "a"}])


@pytest.mark.parametrize("mode", ["one-step", "sequential"])
def test_check_env_passes(mode: str) -> None:
    # the bowl has infeasible designs (size 16): info must stay comparable (no NaN)
    env = DSEEnv(bowl_space(), BowlCostModel(), None, "latency_s", mode=mode)
    for seed in range(5):
        check_env(env, skip_render_check=True)
        env.action_space.seed(seed)


def test_check_env_with_continuous_parameter() -> None:
    space = DesignSpace([Integer("a", 0, 9), Float("size", 1.0, 8.0, log=True)])

    class M(BowlCostModel):
        def evaluate_columns(self, columns, workload):
            cols = dict(columns, kind=np.array(["a"] * len(columns["a"])))
            return super().evaluate_columns(cols, workload)

    for mode in ("one-step", "sequential"):
        check_env(DSEEnv(space, M(), None, mode=mode), skip_render_check=True)


def test_one_step_episode_and_info(bowl_env: DSEEnv) -> None:
    obs, info = bowl_env.reset(seed=0)
    assert obs.shape == (6,) and not obs.any()
    obs, reward, term, trunc, info = bowl_env.step({"a": 4, "size": 2, "kind": "a"})
    assert term and not trunc
    assert reward == pytest.approx(-2.0)  # (4-5)^2 + 1
    assert info["metrics"]["energy_j"] == 6.0 and info["feasible"] and info["objective"] == [2.0]
    assert obs[3:].all()
    obs, reward, *_ = bowl_env.step(
        np.array([4, 1, 0])
    )  # MultiDiscrete indices: a=4, size=2, kind=a
    assert reward == pytest.approx(-2.0)
    with pytest.raises(DesignError, match="action must lie in the action space"):
        bowl_env.step(np.array([40, 1, 0]))


def test_sequential_mode_sets_one_parameter_per_step() -> None:
    env = DSEEnv(bowl_space(), BowlCostModel(), None, "latency_s", mode="sequential")
    env.reset(seed=0)
    assert env.action_space.n == 10
    _, r, term, _, info = env.step(5)  # a = 5
    assert not term and r == 0.0 and info["design_so_far"] == {"a": 5}
    _, r, term, _, _ = env.step(0)  # size: 0 * 5 // 10 -> index 0 -> 1
    assert not term
    _, r, term, _, info = env.step(9)  # kind: 9 * 2 // 10 -> index 1 -> 'b'
    assert term and info["design"] == {"a": 5, "size": 1, "kind": "b"} and r == pytest.approx(-1.5)
    with pytest.raises(ConfigError, match="call reset"):
        env.step(0)


def test_decoded_action_breaking_space_constraint_is_infeasible_not_an_error() -> None:
    space = DesignSpace(
        [Integer("a", 0, 9), Integer("size", 1, 4), Integer("k", 0, 1)],
        [Constraint("a_small", lambda d: d["a"] < 8, "a < 8")],
    )

    class M(BowlCostModel):
        def evaluate_columns(self, columns, workload):
            cols = dict(columns, kind=np.where(columns["k"] == 1, "b", "a"))
            return super().evaluate_columns(cols, workload)

    env = DSEEnv(space, M(), None)
    env.reset(seed=0)
    _, reward, term, _, info = env.step(np.array([9, 0, 0]))
    assert term and not info["feasible"] and "a < 8" in info["reason"] and reward == -1e6


def test_listeners_see_every_evaluation(bowl_env: DSEEnv) -> None:
    seen = []
    bowl_env.add_listener(lambda res: seen.append(len(res)))
    bowl_env.evaluate(bowl_env.space.sample(np.random.default_rng(0), 3))
    bowl_env.reset()
    bowl_env.step(bowl_env.action_space.sample())
    assert seen == [3, 1]


def test_bad_mode() -> None:
    with pytest.raises(ConfigError, match="mode must be"):
        DSEEnv(bowl_space(), BowlCostModel(), mode="multi")


@pytest.mark.parametrize(
    ("objective", "constraints"),
    [
        ("latency_s", ()),
        ("edp", ("area_mm2 <= 2",)),
        (["latency_s", "energy_j"], ()),
        ({"target": {"latency_s": 2.0}}, ("energy_j >= 3",)),
    ],
)
def test_step_fast_path_equals_batch_scoring(objective, constraints) -> None:
    env = DSEEnv(bowl_space(), BowlCostModel(), None, objective, constraints)
    batch = env.space.sample(np.random.default_rng(3), 40)
    res = env.evaluate(batch)
    for i, d in enumerate(batch):
        env.reset()
        _, reward, _, _, info = env.step(d)
        assert reward == pytest.approx(res.reward[i])
        assert info["admissible"] == bool(res.admissible[i])
        got = [np.nan if v is None else v for v in info["objective"]]
        np.testing.assert_allclose(got, res.values[i])
        assert (info["metrics"]["latency_s"] is None) == (not res.feasible[i])


@pytest.mark.parametrize("env_id", ["archgym/Systolic-v0", "archgym/Accelerator-v2"])
def test_index_actions_score_like_the_batch(env_id: str) -> None:
    # A step with value indices hands the model prebuilt one-row columns (its fast path);
    # the design, metrics and reward must be those of the same design in a batch.
    import archgym

    env = archgym.make(env_id, workload="mobilenet_v2")
    designs = env.space.sample(np.random.default_rng(5), 30)
    res = env.evaluate(designs)
    assert res.feasible.any()
    for i, d in enumerate(designs):
        env.reset()
        _, reward, _, _, info = env.step(env.space.encode_indices(d))
        assert info["design"] == d
        got = np.array([np.nan if v is None else v for v in info["metrics"].values()])
        want = np.array([res.evals.metrics[k][i] for k in info["metrics"]])
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert reward == pytest.approx(res.reward[i], rel=1e-12)


def test_cost_model_that_ignores_space_parameters_is_refused() -> None:
    import archgym

    with pytest.raises(
        ConfigError, match=r"'systolic-analytical' does not read design parameter\(s\) \['rf_bytes'"
    ):
        archgym.make("archgym/Accelerator-v2", cost_model="systolic-analytical")
    with pytest.raises(ConfigError, match="'accelerator-analytical' does not read"):
        archgym.make("archgym/Systolic-v0", cost_model="accelerator-analytical")
    assert (
        archgym.make("archgym/Systolic-v0", cost_model="systolic-analytical").cost_model.name
        == "systolic-analytical"
    )
