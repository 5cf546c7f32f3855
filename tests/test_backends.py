"""SCALE-Sim / ZigZag backends: worker isolation, failures as infeasible, install hints.

The fake jobs below run without the simulators; tests that need the real ones use
``pytest.importorskip`` and are skipped (with the reason) when the extra is missing.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest

from archgym._imports import install_hint
from archgym.cost_models._worker import run_job
from archgym.cost_models.scalesim_backend import ScaleSimCostModel, scalesim_config
from archgym.cost_models.zigzag_backend import ZigZagCostModel, zigzag_inputs
from archgym.errors import MissingDependencyError
from archgym.workloads import Layer

LAYER = Layer("c", "conv", 18, 18, 3, 3, 8, 16, 1)


def job_ok(tmpdir, cfg, rows):
    with open(os.path.join(tmpdir, "marker"), "w") as f:
        f.write(tmpdir)
    return [
        {
            "cycles": 100.0,
            "stall_cycles": 0.0,
            "sram_ifmap_reads": 1.0,
            "sram_filter_reads": 1.0,
            "sram_ofmap_writes": 1.0,
            "dram_ifmap_reads": 1.0,
            "dram_filter_reads": 1.0,
            "dram_ofmap_writes": 1.0,
            "tmpdir": tmpdir,
        }
        for _ in rows
    ]


def job_raise(tmpdir, *args):
    raise RuntimeError("simulated simulator bug")


def job_crash(tmpdir, *args):
    os._exit(3)


def job_hang(tmpdir, *args):
    time.sleep(60)


def test_worker_reports_result_and_removes_tmpdir():
    ok, res = run_job(job_ok, {}, [[1]], timeout_s=60)
    assert ok and res[0]["cycles"] == 100.0
    assert not os.path.exists(res[0]["tmpdir"])


@pytest.mark.parametrize(
    "job, timeout, text",
    [
        (job_raise, 120, "RuntimeError in worker: RuntimeError: simulated simulator bug"),
        (job_crash, 120, "worker crashed (exit code 3)"),
        (job_hang, 3, "timed out after 3 s"),
    ],
)
def test_failures_become_infeasible_and_the_search_goes_on(job, timeout, text):
    m = ScaleSimCostModel(job=job, timeout_s=timeout)
    cols = {
        "rows": np.array([16, 16]),
        "cols": np.array([16, 16]),
        "dataflow": np.array(["ws", "rs"]),
    }
    e = m.evaluate(cols, LAYER)
    assert not e.feasible.any()
    assert text in e.reasons[0]
    assert e.reasons[1] == "SCALE-Sim has no 'rs' dataflow (only os, ws, is)"


def test_fake_scalesim_run_is_feasible():
    e = ScaleSimCostModel(job=job_ok).evaluate(
        {"rows": np.array([8]), "cols": np.array([8]), "dataflow": np.array(["os"])}, LAYER
    )
    assert e.feasible[0] and e.metrics["cycles"][0] == 100.0


def test_config_translation():
    cfg = scalesim_config(
        {"rows": 8, "cols": 4, "dataflow": "is", "gbuf_kb": 700, "dram_bw_bytes": 8}, "limited"
    )
    assert cfg == {
        "rows": 8,
        "cols": 4,
        "dataflow": "is",
        "bw": 8,
        "mode": "USER",
        "ifmap_kb": 300,
        "filter_kb": 300,
        "ofmap_kb": 100,
    }
    with pytest.raises(ValueError, match="precision 'fp16' is not int8"):
        scalesim_config({"rows": 8, "cols": 4, "precision": "fp16"}, "ideal")
    hw, mapping, wl = zigzag_inputs(
        {"rows": 8, "cols": 4, "dataflow": "os"}, [("g", 10, 20, 30, 1)]
    )
    assert "sizes: [8, 4]" in hw and "- OX, 8" in mapping and "- K, 4" in mapping
    assert "loop_sizes: [1, 20, 30, 1, 10, 1, 1]" in wl


def test_missing_simulators_give_the_pip_command():
    for module, cls, extra in (
        ("scalesim", ScaleSimCostModel, "scalesim"),
        ("zigzag", ZigZagCostModel, "zigzag"),
    ):
        try:
            __import__(module)
        except ImportError:
            with pytest.raises(MissingDependencyError, match=re.escape(install_hint(extra))):
                cls()


def test_registered_backends_resolve_by_name():
    import archgym
    from archgym.registry import make_cost_model

    assert {"scalesim", "zigzag"} <= set(archgym.list_cost_models())
    # Keyword arguments reach the registered class (the fake job needs no simulator).
    sim = make_cost_model("scalesim", job=job_ok, bandwidth_mode="limited")
    assert type(sim) is ScaleSimCostModel and sim.bandwidth_mode == "limited"
    zz = make_cost_model("zigzag", job=job_ok, timeout_s=5.0)
    assert type(zz) is ZigZagCostModel and zz.timeout_s == 5.0
    # A name given to make() is resolved through the registry, not passed to the env factory:
    # the env gets the backend, or (simulator not installed) the backend's pip hint.
    for name, cls in (("scalesim", ScaleSimCostModel), ("zigzag", ZigZagCostModel)):
        try:
            __import__(name)
        except ImportError:
            with pytest.raises(MissingDependencyError, match=re.escape(install_hint(name))):
                archgym.make("archgym/Systolic-v0", cost_model=name, workload=LAYER)
        else:
            env = archgym.make("archgym/Systolic-v0", cost_model=name, workload=LAYER)
            assert type(env.cost_model) is cls


@pytest.mark.scalesim
def test_live_scalesim_matches_the_model():
    pytest.importorskip(
        "scalesim", reason="SCALE-Sim not installed (pip install archgym[scalesim])"
    )
    from archgym.envs.accelerator.model import AcceleratorCostModel

    cols = {"rows": np.array([16]), "cols": np.array([16]), "dataflow": np.array(["ws"])}
    e = ScaleSimCostModel("ideal").evaluate(cols, LAYER)
    mine = AcceleratorCostModel("ideal").evaluate(cols, LAYER)
    assert e.metrics["cycles"][0] == mine.metrics["compute_cycles"][0] == 1509


@pytest.mark.zigzag
def test_live_zigzag_runs():
    pytest.importorskip("zigzag", reason="ZigZag not installed (pip install archgym[zigzag])")
    cols = {"rows": np.array([16]), "cols": np.array([16]), "dataflow": np.array(["ws"])}
    e = ZigZagCostModel().evaluate(cols, Layer.gemm("g", 128, 64, 96))
    assert e.feasible[0] and e.metrics["energy_j"][0] > 0
