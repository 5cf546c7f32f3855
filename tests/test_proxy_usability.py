"""Proxy training a user will run: default targets, progress bars, compact files, early
stopping, ``archgym proxy verify``, and the exit code of a missing proxy file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import archgym
from archgym.proxy import _estimators as est
from archgym.proxy import train_proxy
from archgym.runner import Experiment, run_experiment

SMALL = {"max_iter": 30, "max_leaf_nodes": 15}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archgym.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("usable") / "train"
    run_experiment(
        Experiment(env="archgym/Systolic-v0", agent="random", budget=150, seed=3, batch_size=150),
        out=out,
    )
    return out


def test_default_targets_are_the_env_report_metrics(logged: Path) -> None:
    proxy = train_proxy(logged, cv=0, hparams=SMALL)
    assert proxy.targets == ("latency_s", "energy_j", "area_mm2")
    every = train_proxy(logged, targets=["all"], cv=0, hparams={"max_iter": 3})
    env = archgym.make("archgym/Systolic-v0")
    assert set(every.targets) == set(env.cost_model.metric_names)


def test_progress_bar_counts_every_fit_of_every_fold(
    logged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train_proxy(logged, targets=["latency_s"], cv=2, hparams=SMALL, progress=True)
    err = capsys.readouterr().err
    assert "fold 2/2: latency_s" in err and "3/3" in err  # final model + 2 folds
    train_proxy(logged, targets=["latency_s"], cv=2, hparams=SMALL, progress=False)
    assert capsys.readouterr().err == ""


def test_early_stopping_sizes_the_budget_to_the_data() -> None:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 8, size=(2000, 4)).astype(float)
    y = X[:, 0] * 2 + X[:, 1]  # learnt in a few rounds, then the held-out loss stalls
    hp = est.hparams_for("hist-gbm", None)
    fitted = est.fit("hist-gbm", X, y, hp, seed=0)
    assert fitted.n_iter_ < hp["max_iter"] // 2
    small = est.fit("hist-gbm", X[:50], y[:50], dict(hp, max_iter=40), seed=0)
    assert small.n_iter_ == 40  # too few rows to hold some out: no early stopping


def test_arrays_are_compressed_exact_and_size_checked() -> None:
    a = np.repeat(np.arange(10.0), 1000)
    packed = est.pack(a)
    assert "zb64" in packed and len(packed["zb64"]) < a.nbytes / 20
    np.testing.assert_array_equal(est.unpack(json.loads(json.dumps(packed))), a)
    with pytest.raises(ValueError, match="needs"):
        est.unpack({**packed, "shape": [10_001]})
    legacy = {"dtype": "<f8", "shape": [2], "b64": "AAAAAAAA8D8AAAAAAAAAQA=="}
    np.testing.assert_array_equal(est.unpack(legacy), [1.0, 2.0])
    # an array (a stored kernel model's, read from its .npz) is taken as it is, if numeric;
    # catches a text array reaching the tree walk
    assert est.unpack(a) is a
    with pytest.raises(ValueError, match="numeric"):
        est.unpack(np.array(["1.0"]))


def test_tree_walk_matches_sklearn_with_missing_values() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) + np.isnan(X[:, 1])
    m = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    pred = est.Predictor(json.loads(json.dumps(est.export("hist-gbm", m)))).predict(X)
    np.testing.assert_array_equal(pred, m.predict(X))


def test_missing_proxy_file_exits_2() -> None:
    out = cli(
        "run",
        "--budget",
        "2",
        "--quiet",
        "--cost-model",
        "proxy:no/such/proxy.json",
    )
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_verify_rescores_best_and_front_on_the_true_model(logged: Path, tmp_path: Path) -> None:
    proxy = train_proxy(logged, cv=0, hparams=SMALL)
    pfile = tmp_path / "p.json"
    proxy.save(pfile)
    run = tmp_path / "on_proxy"
    out = cli(
        "run", "--cost-model", f"proxy:{pfile}", "--agent", "random", "--budget", "30",
        "--out", str(run), "--quiet",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    res = cli("proxy", "verify", str(run), "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["designs"][0]["role"] == "best"
    assert rep["true_cost_model"].startswith("systolic-analytical")
    # the true metrics are those of the analytical model, and the error is relative to them
    env = archgym.make("archgym/Systolic-v0")
    recs = {
        json.loads(x)["eval_id"]: json.loads(x)
        for x in (run / "records.jsonl").read_text().splitlines()
    }
    for d in rep["designs"]:
        true = env.evaluate([recs[d["eval_id"]]["design"]]).evals.metrics["energy_j"][0]
        assert d["true_metrics"]["energy_j"] == pytest.approx(true, rel=1e-12)
        proxy_e = recs[d["eval_id"]]["metrics"]["energy_j"]
        assert d["relative_error"]["energy_j"] == pytest.approx((proxy_e - true) / true)
    text = cli("proxy", "verify", str(run))
    assert "best design's edp: proxy" in text.stdout and "proxy error" in text.stdout


def test_show_explains_a_run_whose_env_cannot_be_rebuilt(logged: Path, tmp_path: Path) -> None:
    proxy = train_proxy(logged, cv=0, hparams=SMALL)
    pfile = tmp_path / "gone.json"
    proxy.save(pfile)
    run = tmp_path / "r"
    out = cli(
        "run", "--cost-model", f"proxy:{pfile}", "--agent", "random", "--budget", "8",
        "--out", str(run), "--quiet",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    pfile.unlink()  # the proxy moved: the env cannot be rebuilt, the records still explain
    shown = cli("show", str(run), "--json")
    assert shown.returncode == 0 and "cannot rebuild the env" in shown.stderr
    d = json.loads(shown.stdout)
    assert d["outcomes"]["n"] == 8 and d["cost_model"].startswith("proxy ")
    assert d["objective"]["objectives"] == ["edp"]
