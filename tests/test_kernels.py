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
