"""The run summary's Pareto front: the small-front path equals the general one."""

import numpy as np
import pytest

import archgym.runner as runner
from archgym.pareto import pareto_mask


@pytest.mark.parametrize("k", [3, 4])
def test_small_front_equals_pareto_mask(k, monkeypatch) -> None:
    # catches a dominance test that is off on ties (equal in some objectives), duplicates or
    # NaN rows: integer points in a small range make all three common
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 40, 100, 300):
        v = rng.integers(0, 4, size=(n, k)).astype(float)
        v[rng.random(n) < 0.1, rng.integers(0, k)] = np.nan
        fast = runner._front_mask(v)
        monkeypatch.setattr(runner, "_SMALL_FRONT", 0)  # the general path only
        general = runner._front_mask(v)
        monkeypatch.undo()
        np.testing.assert_array_equal(fast, general)
        np.testing.assert_array_equal(fast, pareto_mask(v))  # duplicates all kept, NaN never


def test_matrix_reads_stored_numbers_and_refuses_ragged_rows() -> None:
    # the flat fast path must give what the value-by-value rule gives (null -> NaN,
    # "inf"/"-inf" -> +-inf, ints as floats), and must not reshape rows of unequal length
    # that happen to hold n * k values in all
    from archgym.runner import _matrix

    got = _matrix([[1, "inf", 3.5], [None, 2.0, "-inf"]], 3)
    np.testing.assert_array_equal(got, [[1.0, np.inf, 3.5], [np.nan, 2.0, -np.inf]])
    assert _matrix([[0.25, 2]], 2).tolist() == [[0.25, 2.0]] and _matrix([], 3).shape == (0, 3)
    with pytest.raises(ValueError):
        _matrix([[1.0, 2.0, 3.0], [4.0]], 2)
