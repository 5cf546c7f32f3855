"""MappingCostModel and archgym/Mapping-v2."""

from __future__ import annotations

import numpy as np
import pytest

import archgym
from archgym.envs.accelerator.mapping_model import MappingCostModel
from archgym.errors import ConfigError
from archgym.workloads import Layer

G = Layer.gemm("g", 64, 64, 64)


def _ev(model, **kw):
    n = max(len(np.atleast_1d(v)) for v in kw.values())
    return model.evaluate({k: np.resize(np.atleast_1d(v), n) for k, v in kw.items()})


def test_dram_traffic_follows_the_loop_nest():
    # Hand calculation, M=N=K=64, tiles 32 (2 trips each), int8 (1 byte/word):
    # "mnk": ifmap 8 fetches x 1024, weights 8 x 1024, outputs written 4 x 1024 -> 20480 B;
    # "kmn": ifmap 4 x 1024, weights 8 x 1024, outputs (2*8 - 4) x 1024 -> 24576 B.
    m = MappingCostModel(G, {"gbuf_kb": 64})
    e = _ev(m, dataflow="ws", loop_order=["mnk", "kmn"], tile_m=32, tile_n=32, tile_k=32)
    assert e.feasible.all()
    assert e.metrics["dram_bytes"].tolist() == [20480, 24576]


def test_tiles_that_do_not_divide_or_fit_are_infeasible():
    m = MappingCostModel(Layer.gemm("g", 48, 64, 64), {"gbuf_kb": 8})
    e = _ev(
        m,
        dataflow="os",
        loop_order="mnk",
        tile_m=[32, 16, 48],
        tile_n=[8, 8, 64],
        tile_k=[8, 8, 64],
    )
    assert e.feasible.tolist() == [False, True, False]
    assert e.reasons[0] == "tile_m=32 must divide M=48 of layer 'g'"
    assert "double-buffered but gbuf_kb=8" in e.reasons[2]


def test_env_and_layer_resolution():
    from gymnasium.utils.env_checker import check_env

    env = archgym.make(
        "archgym/Mapping-v2",
        layer="resnet18:layer2.0.conv1",
        accelerator={"rows": 32, "cols": 32, "gbuf_kb": 128},
    )
    check_env(env, skip_render_check=True)
    res = env.evaluate(env.space.sample(np.random.default_rng(0), 200))
    assert 0 < res.evals.feasible.sum() < 200
    with pytest.raises(ConfigError, match="has no layer 'nope'"):
        archgym.make("archgym/Mapping-v2", layer="resnet18:nope")
    with pytest.raises(ConfigError, match="unknown accelerator parameters"):
        MappingCostModel(G, {"rowz": 3})


def test_register_file_tiling_cuts_folds_and_needs_rf_space():
    # Hand calculation, ws on 16x16, one 64x64x64 tile: Sr=K=64, Sc=N=64, T=M=64.
    # rf_tile=1: 4*4 folds x (64 + 2*16 + 16 - 2) lines - 1 = 1759 cycles;
    # rf_tile=4: 4*1 folds x (4*64 + 46) - 1 = 1207 cycles.
    m = MappingCostModel(
        G, {"rows": 16, "cols": 16, "gbuf_kb": 256, "rf_bytes": 16}, bandwidth_mode="ideal"
    )
    e = _ev(m, dataflow="ws", loop_order="mnk", tile_m=64, tile_n=64, tile_k=64, rf_tile=[1, 4, 16])
    assert e.metrics["cycles"][:2].tolist() == [1759, 1207]
    assert e.metrics["energy_noc_j"][1] < e.metrics["energy_noc_j"][0]
    # rf_tile=16 is capped at ceil(64/16)=4 column folds' worth: needs 6 words, fits 16 B.
    assert e.feasible.all()
    small = MappingCostModel(G, {"rf_bytes": 4}, bandwidth_mode="ideal")
    e2 = _ev(small, dataflow="ws", loop_order="mnk", tile_m=64, tile_n=64, tile_k=64, rf_tile=4)
    assert not e2.feasible[0] and "rf_tile=4" in e2.reasons[0] and "raise rf_bytes" in e2.reasons[0]
