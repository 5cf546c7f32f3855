"""Objectives and constraints, checked by hand on tiny metric arrays."""

import numpy as np
import pytest

from archgym.cost_model import Evaluations, Metric
from archgym.errors import ConfigError
from archgym.objective import Objective
from archgym.pareto import hypervolume, pareto_mask

METRICS = [
    Metric("latency_s", "s", "min"),
    Metric("energy_j", "J", "min"),
    Metric("area_mm2", "mm^2", "min"),
    Metric("accuracy", "", "max"),
]


def _evals() -> Evaluations:
    return Evaluations(
        metrics={
            "latency_s": np.array([2.0, 1.0, 4.0, np.nan]),
            "energy_j": np.array([3.0, 5.0, 1.0, np.nan]),
            "area_mm2": np.array([4.0, 12.0, 6.0, np.nan]),
            "accuracy": np.array([0.9, 0.8, 0.95, np.nan]),
        },
        feasible=np.array([True, True, True, False]),
        reasons=["", "", "", "tile does not fit"],
    )


def test_single_metric_uses_declared_direction() -> None:
    ev = _evals()
    o = Objective("accuracy", METRICS)
    assert o.labels == ("max:accuracy",)
    np.testing.assert_allclose(o.values(ev)[:3, 0], [-0.9, -0.8, -0.95])
    assert np.isnan(o.values(ev)[3, 0])
    np.testing.assert_allclose(o.reward(ev), [0.9, 0.8, 0.95, -1e6])


def test_edp_product_weighted_and_target() -> None:
    ev = _evals()
    np.testing.assert_allclose(Objective("edp", METRICS).values(ev)[:3, 0], [6.0, 5.0, 4.0])
    np.testing.assert_allclose(
        Objective("latency_s*area_mm2", METRICS).values(ev)[:3, 0], [8, 12, 24]
    )
    w = Objective(
        {"weighted": {"latency_s": 1.0, "accuracy": 10.0}, "scale": {"latency_s": 2.0}}, METRICS
    )
    # 1*lat/2 - 10*acc (accuracy is maximised, so its weight is negated)
    np.testing.assert_allclose(w.values(ev)[:3, 0], [1 - 9, 0.5 - 8, 2 - 9.5])
    t = Objective({"target": {"latency_s": 2.0, "energy_j": 2.0}}, METRICS)
    # ArchGym target spec: |m - t| / |t| summed: (0 + 0.5), (0.5 + 1.5), (1 + 0.5)
    np.testing.assert_allclose(t.values(ev)[:3, 0], [0.5, 2.0, 1.5])


def test_constraints_and_reward() -> None:
    ev = _evals()
    o = Objective("latency_s", METRICS, constraints=["area_mm2 <= 10", "accuracy >= 0.85"])
    np.testing.assert_allclose(o.violations(ev)[:3], [[0, 0], [2, 0.05], [0, 0]])
    assert list(o.admissible(ev)) == [True, False, True, False]
    np.testing.assert_allclose(o.reward(ev), [-2.0, -1e6, -4.0, -1e6])


def test_multi_objective_values_and_reward() -> None:
    ev = _evals()
    o = Objective(["latency_s", "max:accuracy"], METRICS)
    assert o.is_multi and o.n_objectives == 2
    np.testing.assert_allclose(o.values(ev)[0], [2.0, -0.9])
    m = Objective(["latency_s", "energy_j"], METRICS)
    np.testing.assert_allclose(m.reward(ev)[:3], -np.log10([6.0, 5.0, 4.0]))
    with pytest.raises(ConfigError, match="single scalar"):
        m.scalar(ev)


@pytest.mark.parametrize(
    ("spec", "constraints", "match"),
    [
        ("latncy_s", (), "unknown metric 'latncy_s'.*Did you mean 'latency_s'"),
        ("up:latency_s", (), "direction must be 'min' or 'max'"),
        ([], (), "at least one objective"),
        (42, (), "objective must be"),
        ("latency_s", ("area_mm2 = 3",), "constraint must look like"),
        ("latency_s", ("power_w <= 3",), "constraint names unknown metric 'power_w'"),
        ({"target": {"latency_s": 0}}, (), "non-zero"),
    ],
)
def test_bad_specs_are_clear(spec, constraints, match) -> None:
    with pytest.raises(ConfigError, match=match):
        Objective(spec, METRICS, constraints)


def test_pareto_and_hypervolume_by_hand() -> None:
    pts = np.array([[1.0, 4.0], [2.0, 2.0], [4.0, 1.0], [3.0, 3.0], [np.nan, 0.0]])
    assert list(pareto_mask(pts)) == [True, True, True, False, False]
    # staircase under reference (5, 5): 4*1 (x 1..2) + 3*2 ... computed as union of boxes:
    # [1,5]x[4,5]=4, [2,5]x[2,4]=6, [4,5]x[1,2]=1 -> 11
    assert hypervolume(pts, np.array([5.0, 5.0])) == pytest.approx(11.0)
    cube = np.array([[1.0, 1.0, 1.0]])
    assert hypervolume(cube, np.array([2.0, 3.0, 4.0])) == pytest.approx(1 * 2 * 3)
