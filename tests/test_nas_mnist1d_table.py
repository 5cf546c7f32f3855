"""The shipped MNIST-1D table: size, seed-noise metadata, and exact lookups through NAS-v0."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import archgym

DATA = Path(archgym.__file__).parent / "envs" / "nas" / "data"


def test_table_size_and_metadata() -> None:
    df = pd.read_parquet(DATA / "mnist1d.parquet")
    meta = json.loads((DATA / "mnist1d.json").read_text())
    assert len(df) == meta["rows"] >= 2000  # issue 5: at least 2,000 evaluated points
    assert df["key"].nunique() == meta["architectures"]
    ok = df[df["feasible"]]
    assert ok["val_accuracy"].between(0.0, 1.0).all() and len(ok) == meta["feasible_rows"]
    assert 0.0 < meta["noise"]["kendall_tau"] <= 1.0


def test_env_returns_the_tables_own_accuracy() -> None:
    df = pd.read_parquet(DATA / "mnist1d.parquet")
    env = archgym.make("archgym/NAS-v0", workload="mnist1d", objective="accuracy")
    rows = df[df["feasible"]].sample(20, random_state=0)
    designs = [
        {k: (r[k].item() if isinstance(r[k], np.generic) else r[k]) for k in env.space.names}
        for _, r in rows.iterrows()
    ]
    res = env.evaluate(designs)
    assert res.feasible.all()
    np.testing.assert_allclose(
        res.evals.metrics["accuracy"], rows["val_accuracy"].to_numpy(), rtol=1e-6
    )


def test_architecture_outside_the_partial_table_is_infeasible_with_reason() -> None:
    env = archgym.make("archgym/NAS-v0", workload="mnist1d")
    res = env.evaluate(env.space.sample(np.random.default_rng(0), 50))
    missing = [
        r
        for r, f in zip(res.evals.reasons, res.feasible, strict=True)
        if not f and "not in the table" in r
    ]
    assert missing and all("mnist1d" in r for r in missing)
    with pytest.raises(archgym.ConfigError, match="NAS workload must be one of"):
        archgym.make("archgym/NAS-v0", workload="cifar").evaluate(
            env.space.sample(np.random.default_rng(0), 1)
        )
