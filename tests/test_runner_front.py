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
