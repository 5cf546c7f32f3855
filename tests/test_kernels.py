"""archgym._kernels: a kernel gives the same floats run as Python or compiled by numba, and a
short run never starts numba."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from archgym._kernels import compiled
from archgym.envs.accelerator import _kernel as accel
from archgym.envs.accelerator import model as accel_model
from archgym.envs.systolic import _kernel as systolic
from archgym.envs.systolic import model as systolic_model
from archgym.workloads import get
from tests.test_accelerator_kernel import _random_designs as accel_designs
from tests.test_systolic_kernel import _random_designs as systolic_designs


def _same(a: tuple, b: tuple) -> None:  # type: ignore[type-arg]
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y


def _outputs(entry: str, n: int, fill: int) -> tuple[np.ndarray, ...]:
    """The arrays a ``totals`` entry point fills, pre-filled with a value that differs by
    ``fill``: an element the kernel leaves unwritten then differs between the two runs."""
    if entry == "per_layer":
        return ()
    return (np.full((systolic.N_TOTALS, n), 7.5 + fill), np.full(n, bool(fill)))


def _run(fn: Any, args: tuple[Any, ...], outputs: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    """What ``fn`` returns, then the outputs it filled."""
    res = fn(*args, *outputs)
    return (*(res if isinstance(res, tuple) else (res,)), *outputs)


@pytest.mark.parametrize("limited", [True, False])
@pytest.mark.parametrize("entry", ["totals", "per_layer"])
def test_systolic_kernel_python_equals_compiled(entry: str, limited: bool) -> None:
    # Catches source that numba and CPython run differently (integer vs float division,
    # max of NaN, a numba-only construct), bit for bit.
    cols = systolic_designs(np.random.default_rng(4), 120)
    vals = systolic_model._design_block(cols)
    table = systolic_model._layer_table(get("mobilenet_v2"))
    args = (vals, table, limited, systolic_model._CONSTANTS)
    with np.errstate(all="ignore"):  # CPython's numpy scalars warn where numba does not
        py = _run(getattr(systolic, entry), args, _outputs(entry, len(cols["rows"]), 0))
    _same(py, _run(compiled(systolic, entry), args, _outputs(entry, len(cols["rows"]), 1)))


@pytest.mark.parametrize(
    ("limited", "overlap", "shared"), [(True, False, False), (False, True, True)]
)
def test_accelerator_kernel_python_equals_compiled(
    limited: bool, overlap: bool, shared: bool
) -> None:
    cols = accel_designs(np.random.default_rng(6), 120)
    v = accel_model._design_block(cols)
    table = accel_model._kernel_table(get("bert_base"))
    e_over = accel.energy_overrides({"rf_w": 0.7, "dram_r": 120.0})
    args = (v, table, limited, overlap, shared, e_over, *accel_model._CONSTANTS)
    n = len(cols["rows"])
    outs = [(np.full((accel.N_TOTALS, n), 7.5 + k), np.full(n, bool(k))) for k in (0, 1)]
    with np.errstate(all="ignore"):
        py = _run(accel.totals, args, outs[0])
    _same(py, _run(compiled(accel, "totals"), args, outs[1]))


def test_a_short_run_does_not_start_numba_and_a_big_batch_does() -> None:
    # numba costs ~0.6 s of CPU per process before its first compiled call; a CLI run of a
    # few hundred evaluations must not pay it, a 1,000-design batch must not go without it.
    code = """
import sys
import numpy as np
import archgym
for env_id in ("archgym/Systolic-v0", "archgym/Accelerator-v2"):
    env = archgym.make(env_id, workload="resnet18")
    env.reset(seed=0)
    for a in range(50):
        env.step(env.action_space.sample())
    env.evaluate(env.space.sample(np.random.default_rng(0), 100))
assert "numba" not in sys.modules, "numba started by a short run"
env.evaluate(env.space.sample(np.random.default_rng(1), 1000))
assert "numba" in sys.modules, "a 1,000-design batch ran as Python"
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_process_that_already_runs_numba_compiles_at_once() -> None:
    # A sweep worker forked after its preload started numba must not run the Python tier.
    code = """
import numba
import numpy as np
import archgym
from archgym import _kernels
env = archgym.make("archgym/Systolic-v0", workload="resnet18")
env.evaluate(env.space.sample(np.random.default_rng(0), 1))
assert _kernels._compiled, "numba was running, yet the kernel ran as Python"
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_exact_records_the_compiled_overload_and_gives_its_results() -> None:
    # Tiered.exact's second compiled call skips numba's type dispatch; catches an entry
    # recorded for another overload (other types) or one whose results differ.
    import archgym._kernels as kernels

    tiered = kernels.Tiered("archgym.envs.systolic._kernel", "totals")
    cols = systolic_designs(np.random.default_rng(5), 40)
    vals = systolic_model._design_block(cols)
    args = (vals, systolic_model._layer_table(get("resnet18")), True, systolic_model._CONSTANTS)
    first = tiered.exact(kernels.COMPILE_AT)  # at least COMPILE_AT: compiled
    assert first == tiered._record
    runs = [_run(first, args, _outputs("totals", 40, 0))]
    entry = tiered.exact(1)
    assert entry is not first and type(entry).__name__ == "builtin_function_or_method"
    runs.append(_run(entry, args, _outputs("totals", 40, 1)))
    _same(runs[0], runs[1])
    with np.errstate(all="ignore"):
        _same(runs[0], _run(systolic.totals, args, _outputs("totals", 40, 2)))


def _tuples_equal(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    """Equal floats, NaN equal to NaN, and both tuples of Python floats."""
    assert type(a) is tuple and type(b) is tuple
    assert all(type(x) is float for x in a) and all(type(x) is float for x in b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("limited", [True, False])
def test_systolic_one_equals_its_column_of_totals_as_python_or_compiled(limited: bool) -> None:
    # The lone-design entry `one` shares the layer loop with `totals` but reads its design
    # from numbers; catches a design value read into the wrong place, numba and CPython
    # computing different floats, or a feasible design that `one` calls infeasible.
    from archgym._kernels import COMPILE_AT, Tiered

    cols = systolic_designs(np.random.default_rng(8), 150)
    n = len(cols["rows"])
    block = systolic_model._design_block(cols)
    table = systolic_model._layer_table(get("mobilenet_v2"))
    out, feasible = np.empty((systolic.N_TOTALS, n)), np.empty(n, bool)
    with np.errstate(all="ignore"):
        systolic.totals(block, table, limited, systolic_model._CONSTANTS, out, feasible)
    assert 0 < feasible.sum() < n
    entry = Tiered("archgym.envs.systolic._kernel", "one", systolic.ONE_SIGNATURE).exact(COMPILE_AT)
    v = block.reshape(systolic.N_DESIGN, n)
    for i in range(n):
        design = tuple(v[:7, i].tolist())
        with np.errstate(all="ignore"):
            py = systolic.one(design, v[7, i], table, limited, systolic_model._CONSTANTS)
        _tuples_equal(py, entry(design, int(v[7, i]), table, limited, systolic_model._CONSTANTS))
        _tuples_equal(py[:-1], tuple(out[:, i].tolist()))
        with np.errstate(all="ignore"):
            assert py[-1] == systolic.check_bits(block, i)  # the status: the check bits


@pytest.mark.parametrize(
    ("limited", "overlap", "shared"), [(True, False, False), (False, True, True)]
)
def test_accelerator_one_equals_its_column_of_totals_as_python_or_compiled(
    limited: bool, overlap: bool, shared: bool
) -> None:
    from archgym._kernels import COMPILE_AT, Tiered

    cols = accel_designs(np.random.default_rng(10), 150)
    n = len(cols["rows"])
    block = accel_model._design_block(cols)
    table = accel_model._kernel_table(get("resnet18"))
    e_over = accel.energy_overrides({"rf_w": 0.7, "dram_r": 120.0})
    rest = (limited, overlap, shared, e_over, *accel_model._CONSTANTS)
    out, feasible = np.empty((accel.N_TOTALS, n)), np.empty(n, bool)
    with np.errstate(all="ignore"):
        accel.totals(block, table, *rest, out, feasible)
    assert 0 < feasible.sum() < n
    entry = Tiered("archgym.envs.accelerator._kernel", "one", accel.ONE_SIGNATURE).exact(COMPILE_AT)
    v = block.reshape(accel.N_DESIGN, n)
    statuses = set()
    for i in range(n):
        design, df, prec = tuple(v[:10, i].tolist()), v[10, i], v[11, i]
        with np.errstate(all="ignore"):
            py = accel.one(design, df, prec, table, *rest)
        _tuples_equal(py, entry(design, int(df), int(prec), table, *rest))
        _tuples_equal(py[:-1], tuple(out[:, i].tolist()))
        with np.errstate(all="ignore"):
            bits, j, _, _ = accel.failure(block, table, accel_model._CONSTANTS[1], i)
        assert py[-1] == (bits if bits else -(j + 1) if j >= 0 else 0.0)  # the status
        assert (py[-1] == 0.0) == feasible[i]
        statuses.add(np.sign(py[-1]))
    assert statuses == {-1.0, 0.0, 1.0}  # failed checks, a register file too small, feasible


def test_a_signature_entry_reads_ints_as_floats_and_refuses_what_is_not_a_number() -> None:
    # Tiered(signature=...) hands out the one overload's entry at once; the models pass it a
    # lone design's Python ints and floats as they come, and fall back to the block path on
    # TypeError/ValueError. Catches an entry that misreads ints or accepts a wrong tuple.
    from archgym._kernels import COMPILE_AT, Tiered

    tiered = Tiered("archgym.envs.systolic._kernel", "one", systolic.ONE_SIGNATURE)
    entry = tiered.exact(COMPILE_AT)
    if not hasattr(tiered._fn, "overloads"):
        pytest.skip("NUMBA_DISABLE_JIT=1: the entry is the Python function")
    assert tiered.entry is entry and tiered.exact(1) is entry
    table = systolic_model._layer_table(get("resnet18"))
    args = (table, True, systolic_model._CONSTANTS)
    as_floats = entry((16.0, 8.0, 64.0, 64.0, 64.0, 10.0, 1000.0), 1.0, *args)
    _tuples_equal(as_floats, entry((16, 8, 64, 64, 64, 10, 1000), 1, *args))
    assert as_floats[0] > 0
    for bad in [(16, 8, 64, 64, 64, 10), (16, 8, 64, 64, 64, 10, None), [16, 8, 64, 64, 64, 10, 1]]:
        with pytest.raises((TypeError, ValueError)):
            entry(bad, 1, *args)


def _whole(v: np.ndarray) -> bool:
    """A float column of whole numbers (that an int column holds as well)."""
    return v.dtype == float and bool(np.isfinite(v).all() and (v == np.floor(v)).all())


class _Fixed:
    """Stands in for a model's ``_ONE`` Tiered: its ``entry`` is the given function."""

    def __init__(self, fn: Any) -> None:
        self.entry = fn


def _lone_tier(tier: str, module: Any, signature: str) -> _Fixed:
    from archgym._kernels import _quiet

    fn = module.one
    if tier == "compiled":
        return _Fixed(compiled(module, "one", signature))
    return _Fixed(lambda *a: _quiet(fn, *a))


@pytest.mark.parametrize("tier", ["python", "compiled"])
@pytest.mark.parametrize("model_name", ["systolic", "accelerator", "accelerator-overlap-energy"])
def test_lone_designs_through_either_tier_equal_their_batch_rows(
    model_name: str, tier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lone design goes through `one` (a tuple of floats) unless it fails a check; catches
    # a lone result that differs from its batch row in either tier, a design given as ints
    # or as objects read differently, and an infeasible lone design that loses its reason.
    from archgym.envs.accelerator.model import AcceleratorCostModel, ArrayWiring
    from archgym.envs.systolic.model import SystolicCostModel

    if model_name == "systolic":
        model: Any = SystolicCostModel()
        cols = systolic_designs(np.random.default_rng(11), 120)
        fixed = _lone_tier(tier, systolic, systolic.ONE_SIGNATURE)
        monkeypatch.setattr(systolic_model, "_ONE", fixed)
    else:
        model = AcceleratorCostModel()
        if model_name != "accelerator":
            model = AcceleratorCostModel(
                array=ArrayWiring(fold_overlap=True, dram_ports="shared"),
                energy_pj={"rf": 0.3, "dram_w": 100.0},
            )
        cols = accel_designs(np.random.default_rng(11), 120)
        fixed = _lone_tier(tier, accel, accel.ONE_SIGNATURE)
        monkeypatch.setattr(accel_model, "_ONE", fixed)
    calls = []
    fn = fixed.entry
    fixed.entry = lambda *a: calls.append(1) or fn(*a)
    batch = model.evaluate(cols, "resnet18")
    assert 0 < batch.feasible.sum() < len(batch)
    if model_name != "systolic":  # both kinds of failure: checks, a register file too small
        assert any(r.startswith("layer ") for r in batch.reasons)
        assert any(" (got " in r for r in batch.reasons)
    for i in range(len(batch)):
        row = {k: v[i : i + 1] for k, v in cols.items()}
        ints = {k: v.astype(int) if _whole(v) else v for k, v in row.items()}
        objects = {k: v.astype(object) for k, v in row.items()}
        for lone in (row, ints, objects):
            ev = model.evaluate(lone, "resnet18")
            assert ev.feasible[0] == batch.feasible[i]
            if lone is row:  # the others quote their values as given (0 rather than 0.0)
                assert ev.reasons == [batch.reasons[i]]
            np.testing.assert_array_equal(
                list(ev.floats(0).values()), list(batch.floats(i).values())
            )
    assert len(calls) == 3 * len(batch)  # every lone design went through `one`
