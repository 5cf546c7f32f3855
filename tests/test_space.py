"""DesignSpace: validation errors, sampling determinism, encodings, conversions."""

import math

import numpy as np
import pytest

from archgym.errors import DesignError
from archgym.space import Categorical, Constraint, DesignSpace, Float, Integer, Ordinal


@pytest.fixture
def space() -> DesignSpace:
    return DesignSpace(
        [
            Ordinal("rows", [4, 8, 16, 32]),
            Categorical("dataflow", ["os", "ws", "is"]),
            Integer("banks", 1, 8),
            Float("clock_ghz", 0.2, 2.0, log=True),
            Integer("rf", 0, 3, active_if={"dataflow": ["ws"]}),
        ],
        constraints=[
            Constraint("rows_per_bank", lambda d: d["rows"] <= 8 * d["banks"], "rows <= 8 * banks")
        ],
        name="toy",
    )


def test_validate_names_parameter_rule_and_value(space: DesignSpace) -> None:
    good = {"rows": 8, "dataflow": "os", "banks": 2, "clock_ghz": 1.0, "rf": 0}
    assert space.validate(good) == good
    with pytest.raises(DesignError, match=r"'rows' must be one of \[4, 8, 16, 32\], but got 5"):
        space.validate({**good, "rows": 5})
    with pytest.raises(DesignError, match=r"'banks' must be an integer in \[1, 8\], but got 9"):
        space.validate({**good, "banks": 9})
    with pytest.raises(DesignError, match=r"'banks' must be an integer.*got '2'"):
        space.validate({**good, "banks": "2"})
    with pytest.raises(
        DesignError, match=r"'clock_ghz' must be a number in \[0.2, 2.0\], but got nan"
    ):
        space.validate({**good, "clock_ghz": math.nan})
    with pytest.raises(DesignError, match="missing parameter 'banks'"):
        space.validate({k: v for k, v in good.items() if k != "banks"})
    with pytest.raises(DesignError, match=r"unknown parameter\(s\) \['colz'\]"):
        space.validate({**good, "colz": 3})
    with pytest.raises(DesignError, match="constraint 'rows_per_bank': rows <= 8 \\* banks"):
        space.validate({**good, "rows": 32, "banks": 2})


def test_bool_is_not_an_integer_and_strings_are_not_numbers() -> None:
    s = DesignSpace([Ordinal("n", [0, 1, 2]), Categorical("flag", [True, False])])
    with pytest.raises(DesignError):
        s.validate({"n": True, "flag": True})
    with pytest.raises(DesignError):
        s.validate({"n": 1, "flag": 1})
    assert s.validate({"n": np.int64(2), "flag": np.bool_(False)}) == {"n": 2, "flag": False}


def test_inactive_conditional_parameter_is_pinned(space: DesignSpace) -> None:
    d = space.validate({"rows": 8, "dataflow": "os", "banks": 2, "clock_ghz": 1.0, "rf": 3})
    assert d["rf"] == 0  # rf only matters for ws: pinned to its default
    d = space.validate({"rows": 8, "dataflow": "ws", "banks": 2, "clock_ghz": 1.0, "rf": 3})
    assert d["rf"] == 3
    # an inactive parameter's value is ignored (even out of range), or may be left out
    d = space.validate({"rows": 8, "dataflow": "os", "banks": 2, "clock_ghz": 1.0, "rf": 99})
    assert d["rf"] == 0 and list(d) == list(space.names)
    assert space.validate({"rows": 8, "dataflow": "os", "banks": 2, "clock_ghz": 1.0})["rf"] == 0
    with pytest.raises(DesignError, match=r"'rf' must be an integer in \[0, 3\], but got 99"):
        space.validate({"rows": 8, "dataflow": "ws", "banks": 2, "clock_ghz": 1.0, "rf": 99})


def test_sampling_is_seeded_and_valid(space: DesignSpace) -> None:
    a = space.sample(np.random.default_rng(7), 50)
    b = space.sample(np.random.default_rng(7), 50)
    assert a == b
    assert all(space.is_valid(d) for d in a)
    assert a != space.sample(np.random.default_rng(8), 50)


def test_neighbors_and_mutation(space: DesignSpace) -> None:
    d = {"rows": 8, "dataflow": "os", "banks": 2, "clock_ghz": 1.0, "rf": 0}
    nbrs = space.neighbors(d)
    assert {"rows": 4, "dataflow": "os", "banks": 2, "clock_ghz": 1.0, "rf": 0} in nbrs
    assert {"rows": 16, "dataflow": "os", "banks": 2, "clock_ghz": 1.0, "rf": 0} in nbrs
    assert all(sum(n[k] != d[k] for k in d) == 1 for n in nbrs)
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = space.mutate(d, rng)
        assert space.is_valid(m) and m != d


def test_encode_decode_roundtrip(space: DesignSpace) -> None:
    designs = space.sample(np.random.default_rng(1), 20)
    x = space.encode(designs)
    assert x.shape == (20, 5) and np.all((x >= 0) & (x <= 1))
    for d, row in zip(designs, x, strict=True):
        back = space.validate(space.decode(row))
        assert back["rows"] == d["rows"] and back["dataflow"] == d["dataflow"]
        assert back["clock_ghz"] == pytest.approx(d["clock_ghz"])


def test_size_enumerate_restrict() -> None:
    s = DesignSpace(
        [
            Ordinal("a", [1, 2, 4]),
            Categorical("b", ["x", "y"]),
            Integer("c", 0, 1, active_if={"b": ["y"]}),
        ],
        constraints=[
            Constraint("ab", lambda d: not (d["a"] == 4 and d["b"] == "x"), "a=4 needs b=y")
        ],
    )
    assert s.size() == 12
    designs = list(s.enumerate())
    # b=x: a in {1,2} (c pinned) -> 2; b=y: a in {1,2,4} x c in {0,1} -> 6
    assert len(designs) == 8 == s.count()
    r = s.restrict(a=[1, 2])
    assert r.count() == 6
    with pytest.raises(DesignError, match="has no parameter 'zz'"):
        s.restrict(zz=[1])
    with pytest.raises(DesignError, match="more than limit"):
        list(s.enumerate(limit=5))


def test_gymnasium_and_optuna_conversions(space: DesignSpace) -> None:
    from gymnasium import spaces

    assert isinstance(space.to_gymnasium(), spaces.Box)  # has a Float
    disc = space.restrict(clock_ghz=[1.0])
    md = disc.to_gymnasium()
    assert isinstance(md, spaces.MultiDiscrete) and list(md.nvec) == [4, 3, 8, 1, 4]
    d = disc.decode_indices(md.sample())
    assert set(d) == set(disc.names)
    dists = space.to_optuna()
    assert type(dists["rows"]).__name__ == "IntDistribution" and dists["rows"].high == 3
    assert type(dists["dataflow"]).__name__ == "CategoricalDistribution"
    assert dists["clock_ghz"].log
    assert (
        space.from_optuna({"rows": 2, "dataflow": "ws", "banks": 3, "clock_ghz": 0.5, "rf": 1})[
            "rows"
        ]
        == 16
    )


def test_fingerprint_changes_with_the_space(space: DesignSpace) -> None:
    assert space.fingerprint() == space.fingerprint()
    assert space.fingerprint() != space.restrict(rows=[4, 8]).fingerprint()


def test_bad_space_definitions() -> None:
    with pytest.raises(DesignError, match="low <= high"):
        Integer("x", 3, 1)
    with pytest.raises(DesignError, match="log scale needs low > 0"):
        Float("x", 0.0, 1.0, log=True)
    with pytest.raises(DesignError, match="unique"):
        DesignSpace([Integer("x", 0, 1), Integer("x", 0, 2)])
    with pytest.raises(DesignError, match="unknown parameter 'nope'"):
        DesignSpace([Integer("x", 0, 1, active_if={"nope": [1]})])
    s = DesignSpace([Integer("x", 0, 1)], [Constraint("never", lambda d: False, "impossible")])
    with pytest.raises(DesignError, match="could not sample"):
        s.sample(np.random.default_rng(0), 1, max_tries=5)
