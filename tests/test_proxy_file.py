"""Proxy file validation (issue 15, failure 2): a crafted, re-hashed proxy file never hangs the
loader, never raises a raw exception and never predicts NaN marked feasible; it is refused
with a StoreError (exit 3) naming the rule. Includes a hypothesis fuzz over crafted files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archgym
from archgym.cli import main
from archgym.errors import ArchGymError, StoreError
from archgym.proxy import Proxy, train_proxy
from archgym.proxy import _estimators as est
from archgym.proxy._file import validate_payload, write_payload
from archgym.runner import Experiment, run_experiment

FAMILY_HP = {
    "hist-gbm": {"max_iter": 5, "max_leaf_nodes": 7},
    "rf": {"n_estimators": 3},
    "mlp": {"hidden_layer_sizes": [8], "max_iter": 20, "batch_size": 32},
}


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    base = tmp_path_factory.mktemp("proxy_file")
    run_experiment(
        Experiment(env="archgym/Systolic-v0", agent="random", budget=120, seed=1, batch_size=120),
        out=base / "train",
    )
    out = {}
    for family, hp in FAMILY_HP.items():
        proxy = train_proxy(base / "train", targets=["latency_s"], model=family, hparams=hp, cv=0)
        out[family] = json.loads(json.dumps(proxy.payload))
    return out


def _write(tmp_path: Path, payload: dict[str, Any], name: str = "crafted.json") -> Path:
    path = tmp_path / name
    write_payload(path, payload)  # re-hashed: the integrity check passes
    return path


def _tree(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["models"]["latency_s"]["estimator"]


def _set(d: dict[str, Any], name: str, index: int, value: float) -> None:
    arr = est.unpack(d[name]).astype(np.float64 if isinstance(value, float) else np.int64)
    arr[index % arr.size] = value
    d[name] = est.pack(arr)


def _first_inner(d: dict[str, Any], family: str) -> int:
    leaf = (
        est.unpack(d["is_leaf"]).astype(bool) if family == "hist-gbm" else est.unpack(d["left"]) < 0
    )
    return int(np.flatnonzero(~leaf)[1])  # an internal node below the root


@pytest.mark.timeout(60)  # a loop that walked the cycle would hang here
@pytest.mark.parametrize("family", ["hist-gbm", "rf"])
def test_a_cycle_is_refused_at_once(payloads, tmp_path, family) -> None:
    p = json.loads(json.dumps(payloads[family]))
    node = _first_inner(_tree(p), family)
    _set(_tree(p), "left", node, 0)  # back to the root: a loop
    with pytest.raises(StoreError, match="child must come after its parent"):
        Proxy.load(_write(tmp_path, p))
    # ... and from the CLI: exit 3, one line
    assert main(["proxy", "eval", str(tmp_path / "crafted.json"), "--speed-n", "0"]) == 3


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda p: _set(_tree(p), "right", _first_inner(_tree(p), "hist-gbm"), 10**6),
            "inside its tree",
        ),
        (
            lambda p: _set(_tree(p), "feature", _first_inner(_tree(p), "hist-gbm"), 999),
            "must index the proxy",
        ),
        (lambda p: _set(_tree(p), "value", 3, math.nan), "NaN or infinite"),
        (
            lambda p: p["models"]["latency_s"].update(y_scale=math.inf),
            "y_scale must be a finite number",
        ),
        (
            lambda p: p["models"]["latency_s"].update(y_shift=math.nan),
            "y_shift must be a finite number",
        ),
        (lambda p: _tree(p).update(baseline=math.inf), "baseline must be a finite number"),
        (lambda p: p["models"]["latency_s"].pop("estimator"), "estimator must be an object"),
        (lambda p: p.pop("space"), "space must be"),
        (
            lambda p: _tree(p).update(tree_sizes=est.pack(np.array([1, 2], np.int32))),
            "tree_sizes sum",
        ),
        (lambda p: p["models"]["latency_s"].update(transform="exec"), "transform must be one of"),
    ],
)
def test_broken_structures_are_refused_with_the_rule(payloads, tmp_path, change, match) -> None:
    p = json.loads(json.dumps(payloads["hist-gbm"]))
    change(p)
    with pytest.raises(StoreError, match=match):
        Proxy.load(_write(tmp_path, p))


def test_mlp_shapes_and_values_are_checked(payloads, tmp_path) -> None:
    p = json.loads(json.dumps(payloads["mlp"]))
    _tree(p)["coefs"][0] = est.pack(np.ones((3, 8)))
    with pytest.raises(StoreError, match="layer 0 has weights"):
        Proxy.load(_write(tmp_path, p))
    p = json.loads(json.dumps(payloads["mlp"]))
    _set(_tree(p), "scale", 0, math.inf)
    with pytest.raises(StoreError, match="scale holds NaN or infinite"):
        Proxy.load(_write(tmp_path, p))


def test_deep_nesting_and_oversized_files(tmp_path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(StoreError, match="nests its JSON too deeply|not an archgym proxy"):
        Proxy.load(deep)


def test_a_crafted_proxy_is_exit_3_for_run(payloads, tmp_path) -> None:
    p = json.loads(json.dumps(payloads["rf"]))
    _set(_tree(p), "right", _first_inner(_tree(p), "rf"), _first_inner(_tree(p), "rf"))  # self-loop
    path = _write(tmp_path, p)
    code = main(
        [
            "run",
            "--env",
            "archgym/Systolic-v0",
            "--cost-model",
            f"proxy:{path}",
            "--budget",
            "2",
            "--quiet",
        ]
    )
    assert code == 3


# -- fuzz: any single crafted change loads cleanly or is a StoreError, quickly -------------
_ARRAYS = {
    "hist-gbm": (
        "tree_sizes",
        "value",
        "feature",
        "threshold",
        "left",
        "right",
        "is_leaf",
        "missing_left",
    ),
    "rf": ("tree_sizes", "value", "feature", "threshold", "left", "right"),
    "mlp": ("mean", "scale"),
}
_VALUES = st.one_of(
    st.integers(-(2**40), 2**40),
    st.sampled_from([0, 1, -1, 2, 7, 2**31 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _check_loads_or_refuses(path: Path) -> None:
    """Loading ends (pytest's --timeout turns a hang into a failure) in a working cost model
    or an archgym error; a working one never marks a NaN or infinite prediction feasible."""
    try:
        env = archgym.make("archgym/Systolic-v0", cost_model=f"proxy:{path}")
    except ArchGymError:
        pass
    else:
        res = env.evaluate(env.space.sample(np.random.default_rng(0), 16))
        for values in res.evals.metrics.values():
            assert np.isfinite(values[res.feasible]).all()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    family=st.sampled_from(sorted(_ARRAYS)),
    which=st.integers(0, 7),
    index=st.integers(0, 10**6),
    value=_VALUES,
)
def test_fuzz_array_entries(payloads, tmp_path, family, which, index, value) -> None:
    p = json.loads(json.dumps(payloads[family]))
    names = _ARRAYS[family]
    name = names[which % len(names)]
    d = _tree(p)
    if isinstance(value, float) and name in (
        "tree_sizes",
        "feature",
        "left",
        "right",
        "is_leaf",
        "missing_left",
    ):
        value = int(value) if math.isfinite(value) else -1
    try:
        _set(d, name, index, value)
    except OverflowError:
        return
    _check_loads_or_refuses(_write(tmp_path, p, "fuzz.json"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    family=st.sampled_from(sorted(_ARRAYS)),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    junk=_JUNK,
)
def test_fuzz_payload_fields(payloads, tmp_path, family, path, junk) -> None:
    """Replace a field anywhere in the payload (chosen by a path of indices) with junk."""
    p = json.loads(json.dumps(payloads[family]))
    node: Any = p
    for i in path:
        keys = (
            list(node)
            if isinstance(node, dict)
            else list(range(len(node)))
            if isinstance(node, list)
            else []
        )
        if not keys:
            break
        key = keys[i % len(keys)]
        child = node[key]
        if i == path[-1] or not isinstance(child, (dict, list)):
            node[key] = junk
            break
        node = child
    _check_loads_or_refuses(_write(tmp_path, p, "fuzz.json"))


def test_validate_payload_accepts_every_trained_family(payloads) -> None:
    for payload in payloads.values():
        validate_payload(payload)
