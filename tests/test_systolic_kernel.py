"""The Systolic model's compiled kernel: one implementation for a lone design and a batch.

The model's numbers themselves are pinned elsewhere: against SCALE-Sim 3.0.0 in
``tests/test_systolic_model.py`` and by the fingerprints of ``tests/test_versions.py``
(which were taken with the numpy implementation the kernel replaced, and still match).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from archgym.envs.systolic import timing
from archgym.envs.systolic.model import SystolicCostModel
from archgym.errors import ConfigError

WORKLOADS = ("resnet18", "mobilenet_v2", "llama7b_decode")


def _random_designs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Designs over the whole range the model accepts, about a third of them unbuildable
    (zero, negative, fractional, NaN or infinite sizes, unknown dataflows)."""
    return {
        "rows": rng.choice([1, 3, 8, 16, 32, 128, 0, -2, 2.5, np.nan, np.inf], n).astype(float),
        "cols": rng.choice([1, 4, 20, 32, 256, 0, 1.5], n).astype(float),
        "dataflow": rng.choice(["os", "ws", "is", "rs"], n, p=[0.3, 0.3, 0.3, 0.1]),
        "ifmap_sram_kb": rng.choice([1, 8, 64, 1024, 0, -1], n, p=[0.2] * 4 + [0.1] * 2),
        "filter_sram_kb": rng.choice([1, 8, 64, 1024, 0.5], n).astype(float),
        "ofmap_sram_kb": rng.choice([1, 64, 256, np.nan], n, p=[0.32, 0.32, 0.32, 0.04]),
        "dram_bw_words": rng.choice([0.5, 1, 10, 64, 0], n, p=[0.24] * 4 + [0.04]),
        "clock_mhz": rng.choice([100, 1000, 2000.5], n).astype(float),
    }


@pytest.mark.parametrize("mode", ["limited", "ideal"])
@pytest.mark.parametrize("workload", WORKLOADS)
def test_lone_designs_equal_their_rows_of_a_batch(mode: str, workload: str) -> None:
    # Catches a lone-design path that drifts from the batched one (a second implementation,
    # or a kernel that reads another design's values), bit for bit, reasons included.
    model = SystolicCostModel(mode)
    cols = _random_designs(np.random.default_rng(7), 300)
    batch = model.evaluate(cols, workload)
    assert 0 < batch.feasible.sum() < len(batch)  # both kinds are exercised
    for i in range(len(batch)):
        one = model.evaluate({k: v[i : i + 1] for k, v in cols.items()}, workload)
        assert one.reasons == [batch.reasons[i]]
        assert one.feasible[0] == batch.feasible[i]
        for k, v in one.metrics.items():
            np.testing.assert_array_equal(v, batch.metrics[k][i : i + 1], err_msg=k)


def test_layers_sum_to_the_totals() -> None:
    # The per-layer and the whole-workload kernels share the layer arithmetic; a change to
    # one of them alone shows up here.
    model = SystolicCostModel()
    cols = _random_designs(np.random.default_rng(3), 200)
    tot = model.evaluate_columns(cols, "resnet18")
    per = model.evaluate_layers(cols, "resnet18")
    ok = tot.feasible
    assert np.isnan(per["cycles"][~ok]).all() and not np.isnan(per["cycles"][ok]).any()
    for layer_key, total_key in [
        ("cycles", "cycles"),
        ("stall_cycles", "stall_cycles"),
        ("sram_ofmap_writes", "sram_write_words"),
        ("sram_ifmap_reads", "sram_ifmap_read_words"),
        ("dram_ofmap_writes", "dram_write_words"),
    ]:
        np.testing.assert_array_equal(per[layer_key][ok].sum(axis=1), tot.metrics[total_key][ok])
    np.testing.assert_allclose(
        per["energy_j"][ok].sum(axis=1), tot.metrics["energy_j"][ok], rtol=1e-12
    )


def test_scalar_fold_cycles_equals_the_shared_formula() -> None:
    # The kernel's scalar copy of timing.fold_cycles (the formula the accelerator and
    # co-design models use) must give the same floats.
    from archgym.envs.systolic import _kernel

    rng = np.random.default_rng(0)
    for _ in range(500):
        sr, sc, t = (float(x) for x in rng.integers(1, 5000, 3))
        rows, cols = (float(x) for x in rng.integers(1, 300, 2))
        short = bool(rng.integers(2))
        want = timing.fold_cycles(sr, sc, t, rows, cols, short_fill=short)
        assert _kernel.fold_cycles(sr, sc, t, rows, cols, short) == tuple(float(x) for x in want), (
            sr,
            sc,
            t,
            rows,
            cols,
            short,
        )


def test_importing_archgym_does_not_import_numba() -> None:
    # numba costs about 0.2 s of CPU to import; only the first evaluation may pay it.
    code = (
        "import sys, archgym, archgym.envs.systolic.model; "
        "archgym.make('archgym/Systolic-v0'); "
        "assert 'numba' not in sys.modules, 'numba imported before any evaluation'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_from_block_refuses_what_the_per_metric_checks_would() -> None:
    # Evaluations.from_block skips the per-metric checks of Evaluations(...) after one check
    # of the whole block; a block of the wrong shape or dtype must still be refused.
    from archgym.cost_model import Evaluations

    ok = Evaluations.from_block(("a", "b"), np.zeros((2, 3)), np.ones(3, bool), [""] * 3)
    assert list(ok.metrics) == ["a", "b"] and ok.metrics["b"].shape == (3,) and len(ok) == 3
    bad = [
        (np.zeros((2, 2)), np.ones(3, bool)),  # designs differ
        (np.zeros((3, 3)), np.ones(3, bool)),  # metrics differ
        (np.zeros((2, 3), dtype=np.float32), np.ones(3, bool)),
        (np.zeros((2, 3)), np.ones(3)),  # feasible not bool
    ]
    for block, feasible in bad:
        with pytest.raises(ValueError, match="from_block needs a float64 block"):
            Evaluations.from_block(("a", "b"), block, feasible, [""] * 3)


def test_from_block_metrics_and_floats_read_the_block() -> None:
    # Catches a lazily built `metrics` that differs from the block (wrong rows, copies that
    # miss a later write) and a `floats` that reads a stale block once `metrics` was edited.
    from archgym.cost_model import Evaluations

    block = np.arange(6.0).reshape(2, 3)
    block[1, 2] = np.nan
    ev = Evaluations.from_block(("a", "b"), block, np.ones(3, bool), [""] * 3)
    assert ev.floats(1) == {"a": 1.0, "b": 4.0} and np.isnan(ev.floats(2)["b"])
    assert ev.row(2)["b"] is None and ev.row(0) == {
        "a": 0.0,
        "b": 3.0,
        "feasible": True,
        "reason": "",
    }
    assert np.shares_memory(ev.metrics["b"], block) and list(ev.metrics) == ["a", "b"]
    np.testing.assert_array_equal(ev.metrics["a"], [0.0, 1.0, 2.0])
    ev.metrics["a"] = np.array([7.0, 8.0, 9.0])
    assert ev.floats(0)["a"] == 7.0
    with pytest.raises(AttributeError, match="no attribute 'metricz'"):
        ev.metricz  # noqa: B018


def test_from_floats_reads_the_floats_and_builds_unshared_metrics() -> None:
    # The lone-design result of a tuple of floats: catches a `metrics` that aliases another
    # result's (results must stay valid after the next call), a shared `feasible` that a
    # caller can flip for every later result, and tuples that are not floats let through.
    from archgym.cost_model import Evaluations, Metric, reject_unphysical

    a = Evaluations.from_floats(("x", "y"), (1.5, 2.0, -1.0))  # beyond the names: ignored
    b = Evaluations.from_floats(("x", "y"), (3.0, np.nan))
    assert len(a) == 1 and a.floats(0) == a.floats(-1) == {"x": 1.5, "y": 2.0}
    assert a.row(0) == {"x": 1.5, "y": 2.0, "feasible": True, "reason": ""}
    assert b.row(0)["y"] is None and a.reasons == [""] and a.extras is None
    with pytest.raises(IndexError, match="out of range for 1 design"):
        a.floats(1)
    assert list(a.metrics) == ["x", "y"] and a.metrics["x"].shape == (1,)
    assert a.metrics["x"].dtype == np.float64 and np.isnan(b.metrics["y"][0])
    assert not np.shares_memory(a.metrics["x"], b.metrics["x"])
    a.metrics["x"][0] = 9.0
    assert a.floats(0)["x"] == 9.0 and b.floats(0)["x"] == 3.0
    with pytest.raises(ValueError, match="read-only"):
        a.feasible[0] = False
    # a result marked infeasible afterwards gets its own feasible array
    bad = reject_unphysical(
        Evaluations.from_floats(("x",), (-1.0,)), (Metric("x", "s"),), "test-model"
    )
    assert not bad.feasible[0] and "x=-1.0" in bad.reasons[0]
    assert Evaluations.from_floats(("x",), (1.0,)).feasible[0]
    for values in [(1, 2.0), [1.0, 2.0], (1.0,), (1.0, np.float64(2.0))]:
        with pytest.raises(ValueError, match="from_floats needs a tuple of 2 floats"):
            Evaluations.from_floats(("x", "y"), values)  # type: ignore[arg-type]


@pytest.mark.parametrize("model_name", ["systolic", "accelerator"])
def test_a_call_without_a_workload_is_refused_before_and_after_others(model_name: str) -> None:
    # The models keep their last workload's table; catches None taken for "the last one"
    # (the first call's placeholder) instead of being refused.
    from archgym.envs.accelerator.model import AcceleratorCostModel
    from archgym.workloads import get

    model: Any = SystolicCostModel() if model_name == "systolic" else AcceleratorCostModel()
    lone = {"rows": np.array([8]), "cols": np.array([8]), "dataflow": np.array(["os"])}
    for workload in (None, get("resnet18"), get("resnet18"), None):
        if workload is None:
            with pytest.raises(ConfigError, match="workload must be a Workload"):
                model.evaluate(lone, workload)
        else:
            assert model.evaluate(lone, workload).feasible[0]


def test_a_lone_design_with_knobs_left_out_or_list_columns_equals_the_batch() -> None:
    # The lone-design fast path reads 1-element arrays; knobs left out (defaults) and plain
    # list columns take the general path and must give the same floats and reasons.
    model = SystolicCostModel()
    cols = {"rows": np.array([16, 0]), "cols": np.array([8, 8]), "dataflow": np.array(["ws", "os"])}
    batch = model.evaluate_columns(cols, "resnet18")
    for i in range(2):
        for one in (
            {k: v[i : i + 1] for k, v in cols.items()},
            {k: [v[i].item()] for k, v in cols.items()},
        ):
            ev = model.evaluate_columns(one, "resnet18")  # type: ignore[arg-type]
            assert ev.reasons == [batch.reasons[i]]
            assert ev.floats(0).keys() == batch.floats(i).keys()
            np.testing.assert_array_equal(
                list(ev.floats(0).values()), list(batch.floats(i).values())
            )
    assert len(model.evaluate_columns({}, "resnet18")) == 0  # no columns: no designs
    with pytest.raises(ConfigError, match="'dataflow' is required"):
        model.evaluate_columns({"rows": np.array([16]), "cols": np.array([8])}, "resnet18")


def _fresh_numba(code: str, tmp_path: Any, **env: str) -> None:
    """Run ``code`` in a new interpreter whose numba cache is ``tmp_path`` (empty): numba's
    cache is keyed to the source file, not to the compile options, so an old cache entry
    would hide a change of options."""
    import os

    full = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), **env}
    subprocess.run([sys.executable, "-c", code], check=True, env=full)


def test_a_zero_cycle_layer_gives_the_same_inf_run_as_python_or_compiled(tmp_path: Any) -> None:
    # A 1x1x1 GEMM on a 1x1 output-stationary array takes 0 cycles (fold_cycles: 1 * (1 + 0)
    # - 1), so utilization is 1 / 0. Run as Python (numpy scalars) that is inf; numba's
    # default error model raised ZeroDivisionError instead, so the same design failed only
    # once the process had compiled the kernel.
    code = """
import numpy as np
from archgym._kernels import compiled
from archgym.envs.systolic import _kernel as k, model as m
one = np.array([1])
lay = k.layer_table(one, one, one, instances=one, filter_words=one, ofmap_words=one,
                    ifmap_words=one)
v = m._design_block({"rows": np.array([1.0]), "cols": np.array([1.0]),
                     "dataflow": np.array(["os"])})
outs = [(np.empty((k.N_TOTALS, 1)), np.empty(1, np.bool_)) for _ in range(2)]
with np.errstate(all="ignore"):
    k.totals(v, lay, True, m._CONSTANTS, *outs[0])
    py_layers = k.per_layer(v, lay, True, m._CONSTANTS)
compiled(k, "totals")(v, lay, True, m._CONSTANTS, *outs[1])
nb_layers = compiled(k, "per_layer")(v, lay, True, m._CONSTANTS)
assert outs[0][0][3, 0] == np.inf, outs[0][0][:, 0]
np.testing.assert_array_equal(outs[0][0], outs[1][0])
np.testing.assert_array_equal(py_layers[0], nb_layers[0])
"""
    _fresh_numba(code, tmp_path)


def test_kernels_compile_where_numba_cannot_write_a_cache(tmp_path: Any) -> None:
    # A read-only install whose user has no writable home: numba finds no place for its
    # disk cache and `njit(cache=True)` raised RuntimeError ("no locator available"), so a
    # big batch and every tree proxy failed. No locator is simulated by emptying numba's
    # list of them.
    code = """
import numpy as np
from numba.core import caching
caching.CacheImpl._locator_classes = []
from archgym.envs.systolic.model import SystolicCostModel
n = 6000  # past COMPILE_AT: compiled
cols = {"rows": np.full(n, 8.0), "cols": np.full(n, 8.0), "dataflow": np.array(["os"] * n)}
ev = SystolicCostModel().evaluate(cols, "resnet18")
assert ev.feasible.all()
import archgym.proxy._walk  # compiles its tree walks with the same helper
"""
    _fresh_numba(code, tmp_path)


def test_a_lone_design_with_a_bytes_dataflow_equals_the_batch() -> None:
    # A numpy bytes column (dtype "S", as read back from some array files) is text to the
    # batch path (astype(str)); the lone-design fast path read b"os" as "b'os'" and called
    # the design infeasible ("dataflow must be one of ...").
    model = SystolicCostModel()
    cols = {
        "rows": np.array([8, 16]),
        "cols": np.array([8, 4]),
        "dataflow": np.array([b"os", b"ws"]),
    }
    batch = model.evaluate_columns(cols, "resnet18")
    assert batch.reasons == ["", ""]
    for i in range(2):
        one = model.evaluate_columns({k: v[i : i + 1] for k, v in cols.items()}, "resnet18")
        assert one.reasons == [""]
        assert one.floats(0) == batch.floats(i)


def test_a_bandwidth_mode_changed_after_construction_is_used() -> None:
    # bandwidth_mode is a public attribute that describe() reports; the kernel path read a
    # copy taken at construction, so the manifest said "ideal" while stalls were counted.
    cols = {
        "rows": np.array([32, 8]),
        "cols": np.array([32, 8]),
        "dataflow": np.array(["os", "ws"]),
    }
    model = SystolicCostModel("limited")
    assert model.evaluate_columns(cols, "llama7b_decode").metrics["stall_cycles"].any()
    model.bandwidth_mode = "ideal"
    fresh = SystolicCostModel("ideal")
    got, want = (m.evaluate_columns(cols, "llama7b_decode") for m in (model, fresh))
    for k in want.metrics:
        np.testing.assert_array_equal(got.metrics[k], want.metrics[k], err_msg=k)
    for k, v in fresh.evaluate_layers(cols, "llama7b_decode").items():
        np.testing.assert_array_equal(model.evaluate_layers(cols, "llama7b_decode")[k], v)


def test_numba_disable_jit_runs_the_kernels_as_python(tmp_path: Any) -> None:
    # NUMBA_DISABLE_JIT=1 (numba's debugging switch) makes njit hand back the Python
    # function; Tiered.exact then looked up `overloads` on it and every batch past
    # COMPILE_AT failed with AttributeError.
    code = """
import numpy as np
from archgym.envs.systolic.model import SystolicCostModel
n = 400  # x 21 layers: past COMPILE_AT
cols = {"rows": np.full(n, 8.0), "cols": np.arange(1.0, n + 1), "dataflow": np.array(["ws"] * n)}
ev = SystolicCostModel().evaluate_columns(cols, "resnet18")
again = SystolicCostModel().evaluate_columns(cols, "resnet18")  # through the recorded entry
lone = SystolicCostModel().evaluate_columns({k: v[5:6] for k, v in cols.items()}, "resnet18")
assert ev.feasible.all() and lone.floats(0) == ev.floats(5) == again.floats(5)
"""
    _fresh_numba(code, tmp_path, NUMBA_DISABLE_JIT="1")
