"""A target that the records show to be another target times a power of a design parameter is
predicted from that target's prediction (``archgym.proxy._ratio``): found exactly or not at
all, predicted consistently, saved and reloaded exactly, refused when a file is malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archgym
from archgym.errors import StoreError
from archgym.proxy import FeatureEncoder, Proxy, train_proxy
from archgym.proxy._data import load_training_data
from archgym.proxy._file import write_payload
from archgym.proxy._ratio import find_ratio
from archgym.runner import Experiment, run_experiment

SMALL = {"max_iter": 15, "max_leaf_nodes": 15}
ENV = "archgym/Accelerator-v2"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ratio") / "train"
    run_experiment(Experiment(env=ENV, agent="random", budget=150, seed=1, batch_size=150), out=out)
    return out


@pytest.fixture(scope="module")
def proxy(runs: Path) -> Proxy:
    return train_proxy(runs, targets=["latency_s", "cycles"], hparams=SMALL, cv=2)


def test_latency_is_derived_from_cycles_and_the_clock(proxy: Proxy, tmp_path: Path) -> None:
    # the accelerator model reports latency_s = cycles / (clock_mhz * 1e6) (model.py's
    # metric assembly); cycles is the sum of two parts, so it is the fitted one
    spec = proxy.payload["models"]["latency_s"]["ratio"]
    assert {k: spec[k] for k in ("of", "param", "decode", "power")} == {
        "of": "cycles",
        "param": "clock_mhz",
        "decode": "exp2",  # clock_mhz spans >= 8x, so its feature is log2(clock_mhz)
        "power": -1,
    }
    assert spec["scale"] == pytest.approx(1e-6, rel=1e-12)
    assert "components" in proxy.payload["models"]["cycles"]
    env = archgym.make(ENV)
    cols = env.space.to_columns(env.space.sample(np.random.default_rng(3), 37))
    pred = proxy.predict(cols, env.workload)
    assert list(pred) == ["latency_s", "cycles"]  # the file's target order
    np.testing.assert_allclose(
        pred["latency_s"], pred["cycles"] / (cols["clock_mhz"] * 1e6), rtol=1e-13
    )
    proxy.save(tmp_path / "p.json")
    again = Proxy.load(tmp_path / "p.json").predict(cols, env.workload)
    for t in pred:
        np.testing.assert_array_equal(again[t], pred[t])
    # cross-validation scored the derived target too
    assert proxy.payload["cv"]["targets"]["latency_s"]["n"] > 0


def test_derivation_can_be_switched_off(runs: Path) -> None:
    plain = train_proxy(
        runs, targets=["latency_s", "cycles"], hparams=SMALL, cv=0, derive_ratios=False
    )
    assert "estimator" in plain.payload["models"]["latency_s"]


def test_a_ratio_is_found_only_where_it_is_exact(runs: Path) -> None:
    data = load_training_data(runs, ENV, ["latency_s", "cycles"], 10)
    frame = data.frame
    ok = frame["feasible"].astype(bool).to_numpy()
    numeric = FeatureEncoder(data.space_spec).numeric_features()
    up = find_ratio(frame, "cycles", ["latency_s"], numeric, ok)
    assert up is not None and up["power"] == 1 and up["scale"] == pytest.approx(1e6)
    off = frame.copy()
    row = int(np.flatnonzero(ok)[5])
    off.loc[off.index[row], "latency_s"] *= 1 + 1e-6  # one row off by a millionth
    assert find_ratio(off, "latency_s", ["cycles"], numeric, ok) is None
    # energy is no parameter power times cycles
    assert find_ratio(frame, "energy_j", ["cycles"], numeric, ok) is None


def _write(tmp_path: Path, payload: dict[str, Any]) -> Path:
    path = tmp_path / "crafted.json"
    write_payload(path, payload)  # re-hashed: only the structure check can refuse it
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r: r.update(of="area_mm2"), "of must name a fitted target"),
        (lambda r: r.update(of="latency_s"), "of must name a fitted target"),
        (lambda r: r.update(feature_index=10_000), "feature_index must be a feature column"),
        (lambda r: r.update(feature_index=True), "feature_index must be a feature column"),
        (lambda r: r.update(power=2), "power must be -1 or 1"),
        (lambda r: r.update(decode="eval"), "decode must be"),
        (lambda r: r.update(scale=float("inf")), "scale must be a finite number"),
        (lambda r: r.update(scale=0.0), "scale must be non-zero"),
    ],
)
def test_a_malformed_ratio_is_refused_with_the_rule(
    proxy: Proxy, tmp_path: Path, change: Any, match: str
) -> None:
    p = json.loads(json.dumps(proxy.payload))
    change(p["models"]["latency_s"]["ratio"])
    with pytest.raises(StoreError, match=match):
        Proxy.load(_write(tmp_path, p))


def test_a_parameter_constant_on_the_rows_is_no_ratio() -> None:
    # energy = 3 * cycles here, whatever the clock; with the clock at 500 MHz on every
    # training row, "energy = cycles / clock * 1500" held on them too, and the proxy then
    # scaled energy by 500 / clock for designs at another clock.
    import pandas as pd

    cycles = np.array([10.0, 20.0, 40.0, 80.0])
    frame = pd.DataFrame({"cycles": cycles, "energy": 3 * cycles, "clock_mhz": 500.0})
    rows = np.ones(4, bool)
    assert find_ratio(frame, "energy", ["cycles"], {"clock_mhz": (0, "value")}, rows) is None
    frame["clock_mhz"] = [500.0, 250.0, 1000.0, 500.0]  # it varies: a real ratio is found
    frame["energy"] = 3 * cycles / frame["clock_mhz"]
    spec = find_ratio(frame, "energy", ["cycles"], {"clock_mhz": (0, "value")}, rows)
    assert spec is not None and spec["power"] == -1 and spec["scale"] == pytest.approx(3.0)
