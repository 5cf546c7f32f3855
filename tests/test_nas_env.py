"""Tests of NAS-v0, the shipped table, the table reader and the build command's record file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archgym.envs.nas import NASCostModel, make_nas_env, nas_space
from archgym.envs.nas.table import default_table_path, load_table
from archgym.errors import BackendError, StoreError

# A row of the shipped digits table, read once from archgym/envs/nas/data/digits.parquet
# (built on the device machine; see archgym/envs/nas/data/README.md).
KNOWN = {
    "num_blocks": 1,
    "activation": "gelu",
    "b1_width": 32,
    "b1_kernel": 3,
    "b1_down": "maxpool",
    "b1_expand": 1,
    "b1_skip": False,
    "sparsity": "2:4",
    "weight_bits": 4,
    "scope": "inner",
}


def _full(design: dict) -> dict:
    return nas_space().validate(design)


def test_shipped_table_covers_the_default_space() -> None:
    t = load_table(default_table_path("digits"))
    space = nas_space()
    assert len(t) == 1168 * 48 and len(t.keys) == 1168
    assert t.meta["task"] == "digits" and t.meta["noise"]["n"] > 100
    rng = np.random.default_rng(0)
    evals = NASCostModel().evaluate(space.sample(rng, 64), "digits")
    # every sampled design is either measured or infeasible for a stated compression reason
    for ok, why in zip(evals.feasible, evals.reasons, strict=True):
        assert ok or "sparsity needs" in why
    acc = evals.metrics["accuracy"][evals.feasible]
    assert np.all((acc >= 0) & (acc <= 1))


def test_table_lookup_returns_the_measured_row() -> None:
    ev = NASCostModel().evaluate([_full(KNOWN)], "digits")
    row = ev.row(0)
    # pinned from the table row (val 0.89415044, test 0.90555555, 1,770 params, 84,288 MACs)
    assert row["feasible"] and row["accuracy"] == pytest.approx(0.89415044, abs=1e-6)
    assert row["test_accuracy"] == pytest.approx(0.90555555, abs=1e-6)
    assert row["params"] == 1770 and row["macs"] == 84288
    assert row["effective_macs"] == pytest.approx(51520.0)


def test_out_of_table_and_unbuildable_designs_are_infeasible_with_reasons() -> None:
    full = nas_space(full=True)
    d = full.validate({**KNOWN, "b1_width": 64})
    ev = NASCostModel().evaluate([d], "digits")
    assert not ev.feasible[0] and "not in the table" in ev.reasons[0]
    deep = {
        "num_blocks": 4,
        "activation": "relu",
        "sparsity": "dense",
        "weight_bits": 32,
        "scope": "inner",
    }
    for i in range(1, 5):
        deep.update(
            {
                f"b{i}_width": 8,
                f"b{i}_kernel": 3,
                f"b{i}_down": "maxpool",
                f"b{i}_expand": 1,
                f"b{i}_skip": False,
            }
        )
    ev = NASCostModel().evaluate([full.validate(deep)], "digits")
    assert not ev.feasible[0] and "below 1" in ev.reasons[0]
    assert np.isnan(ev.metrics["accuracy"][0])


def test_missing_and_corrupt_tables_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    with pytest.raises(BackendError, match="nope.parquet"):
        load_table(missing)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(BackendError, match=r"bad\.parquet.*corrupt"):
        NASCostModel(table=bad).evaluate([_full(KNOWN)], "digits")


def test_env_conformance() -> None:
    from gymnasium.utils.env_checker import check_env

    env = make_nas_env()
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.space.size() > 1e5  # table space: 147,456 raw combinations, 1,168 networks x 48


def test_record_file_resume_repairs_a_torn_line(tmp_path: Path) -> None:
    from archgym.envs.nas.build import read_records

    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"key": "a"}) + "\n" + '{"key": "b", "po')
    with pytest.raises(StoreError, match="incomplete"):
        read_records(p)
    assert [r["key"] for r in read_records(p, repair=True)] == ["a"]
    assert p.read_text().endswith("}\n")
    p.write_text('{"key": "a"}\nnot json\n')
    with pytest.raises(StoreError, match="line 2"):
        read_records(p)


def test_table_architectures_enumeration() -> None:
    from archgym.envs.nas.build import table_architectures

    archs = table_architectures()
    # 2 activations x (8 + 8^2 + 8^3) blocks of {8,32} width x {3,5} kernel x {none,maxpool}
    assert len(archs) == 2 * (8 + 64 + 512)
    assert len({a["b1_width"] for a in archs}) == 2


def test_archgym_conformance_suite() -> None:
    from archgym.testing import check_env

    check_env("archgym/NAS-v0")
