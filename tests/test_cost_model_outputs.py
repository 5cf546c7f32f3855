"""CostModel.evaluate: NaN, infinite or negative outputs of a backend become infeasible with the
reason (issue 15, failure 8: a simulator's NaN or negative output was accepted as feasible)."""

import numpy as np
import pytest

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.space import DesignSpace, Integer


class _Broken(CostModel):
    """A 'simulator' that returns what a broken backend may print: NaN, negative, inf."""

    name = "broken-sim"
    version = "1"
    metrics = (
        Metric("latency_s", "s"),
        Metric("gain_db", "dB", "max", signed=True),
        Metric("note", "", "max", optional=True),
    )

    def evaluate_columns(self, columns, workload):
        a = columns["a"].astype(float)
        table = {0: 1.0, 1: np.nan, 2: -3.0, 3: np.inf, 4: 2.0}
        lat = np.array([table[int(x)] for x in a])
        gain = -a  # signed: negative is fine
        note = np.where(a == 4, np.nan, 1.0)  # optional: NaN is fine
        return Evaluations(
            {"latency_s": lat, "gain_db": gain, "note": note}, np.ones(len(a), bool), [""] * len(a)
        )


def test_nan_negative_and_infinite_outputs_are_infeasible_with_the_reason() -> None:
    ev = _Broken().evaluate([{"a": i} for i in range(5)])
    assert ev.feasible.tolist() == [True, False, False, False, True]
    assert "latency_s=nan" in ev.reasons[1] and "treated as infeasible" in ev.reasons[1]
    assert "latency_s=-3.0" in ev.reasons[2] and "latency_s=inf" in ev.reasons[3]
    assert np.isnan(
        ev.metrics["gain_db"][1:4]
    ).all()  # the whole row is NaN, as for any infeasible one
    assert ev.metrics["gain_db"][4] == -4.0 and np.isnan(
        ev.metrics["note"][4]
    )  # signed / optional kept


def test_an_env_never_ranks_a_broken_output_best() -> None:
    env = DSEEnv(
        DesignSpace([Integer("a", 0, 4)]), _Broken(), None, "latency_s", env_id="test/Broken-v0"
    )
    res = env.evaluate([{"a": i} for i in range(5)])
    best = int(np.argmax(res.reward))
    assert best == 0 and not res.admissible[2]  # -3 s would have "won" before


class _Plain(CostModel):
    """No signed or optional metric: the check's fast path (min/max over all metrics)."""

    name = "plain-sim"
    metrics = (Metric("latency_s", "s"), Metric("energy_j", "J"))

    def evaluate_columns(self, columns, workload):
        a = columns["a"].astype(float)
        energy = np.array([{1: np.nan, 2: -1e-9, 3: np.inf}.get(int(x), 1e-3) for x in a])
        return Evaluations(
            {"latency_s": a + 1.0, "energy_j": energy}, np.ones(len(a), bool), [""] * len(a)
        )


def test_broken_outputs_are_caught_without_signed_or_optional_metrics() -> None:
    model = _Plain()
    ok = model.evaluate({"a": np.array([0, 4])})
    assert ok.feasible.all() and ok.reasons == ["", ""]
    for a, shown in ((1, "energy_j=nan"), (2, "energy_j=-1e-09"), (3, "energy_j=inf")):
        ev = model.evaluate({"a": np.array([0, a])})
        assert ev.feasible.tolist() == [True, False] and shown in ev.reasons[1], ev.reasons


def test_columns_of_unequal_length_are_refused() -> None:
    from archgym.cost_model import designs_to_columns
    from archgym.errors import DesignError

    cols, n = designs_to_columns({"a": np.array([1, 2]), "b": np.array([3.0, 4.0])})
    assert n == 2 and cols["b"].tolist() == [3.0, 4.0]
    with pytest.raises(DesignError, match="equal lengths"):
        designs_to_columns({"a": np.array([1, 2]), "b": np.array([3.0])})
