"""The compiled tree walk (``archgym.proxy._walk``): bit-identical to scikit-learn for every
batch size (the 16-design passes and the leftover rows), for deep unbalanced trees, for many
features (the packed node layout), and with missing values; each tree is walked exactly as
deep as its deepest leaf."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

from archgym.errors import ConfigError
from archgym.proxy import _estimators as est


def _exported(model: object, family: str) -> est.Predictor:
    return est.Predictor(json.loads(json.dumps(est.export(family, model))))


@pytest.fixture(scope="module")
def deep_gbm() -> tuple[HistGradientBoostingRegressor, np.ndarray]:
    # 70 features: feature ids need 7 bits of the packed node; 255 leaves and no depth cap
    # give unbalanced trees whose leaves lie from depth 1 to well over 10
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 70))
    y = np.exp(X[:, 0]) * (X[:, 69] > 0.5) + np.sin(3 * X[:, 35]) + 0.1 * X[:, 1:].sum(axis=1)
    m = HistGradientBoostingRegressor(
        max_iter=40, max_leaf_nodes=255, min_samples_leaf=2, random_state=0
    )
    return m.fit(X, y), rng.normal(size=(100, 70))


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 47, 100])
def test_every_batch_size_matches_sklearn_bit_for_bit(
    deep_gbm: tuple[HistGradientBoostingRegressor, np.ndarray], n: int
) -> None:
    # n < 16 takes only the one-design tail, 16 only the 16-design pass, 17 and 47 both
    m, X = deep_gbm
    pred = _exported(m, "hist-gbm").predict(X[:n])
    # scikit-learn refuses an empty batch; ours is an empty prediction
    np.testing.assert_array_equal(pred, m.predict(X[:n]) if n else np.empty(0))


def test_each_tree_is_walked_as_deep_as_its_deepest_leaf(
    deep_gbm: tuple[HistGradientBoostingRegressor, np.ndarray],
) -> None:
    # scikit-learn records every node's depth; a walk one level short would stop at an
    # internal node for designs that reach the deepest leaf
    m, _ = deep_gbm
    pred = _exported(m, "hist-gbm")
    want = [int(p[0].nodes["depth"].max()) for p in m._predictors]
    np.testing.assert_array_equal(pred.tree_depth, want)
    assert max(want) > 10 and min(want) < max(want)  # deep and unbalanced, as intended


def test_missing_values_in_some_rows_follow_each_node() -> None:
    # NaN in a batch switches to the walk that reads each node's missing-value direction;
    # trained with NaN in both directions' favour
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 4))
    X[rng.random(X.shape) < 0.2] = np.nan
    y = np.where(np.isnan(X[:, 0]), 3.0, np.nan_to_num(X[:, 0])) - 2.0 * np.isnan(X[:, 2])
    m = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    pred = _exported(m, "hist-gbm")
    Xt = rng.normal(size=(50, 4))
    Xt[::3, 0] = np.nan
    Xt[1::4, 2] = np.nan
    np.testing.assert_array_equal(pred.predict(Xt), m.predict(Xt))
    np.testing.assert_array_equal(pred.predict(Xt[1:2]), m.predict(Xt[1:2]))  # no NaN row


def test_forest_leaf_values_match_each_sklearn_tree() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 6))
    y = X[:, 0] * X[:, 1] + np.abs(X[:, 5])
    m = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    leaves = _exported(m, "rf").leaf_values(X[:37])
    want = np.array([t.predict(X[:37].astype(np.float32)) for t in m.estimators_])
    np.testing.assert_array_equal(leaves, want)


def test_too_few_features_is_a_config_error(
    deep_gbm: tuple[HistGradientBoostingRegressor, np.ndarray],
) -> None:
    m, X = deep_gbm
    with pytest.raises(ConfigError, match="reads 70 features, the input has shape"):
        _exported(m, "hist-gbm").predict(X[:, :60])


def test_importing_the_proxy_package_does_not_import_numba() -> None:
    # numba costs ~0.4 s to import; only a tree model's first prediction may pay it
    import subprocess
    import sys

    code = (
        "import sys, archgym, archgym.proxy, archgym.cost_models.proxy; "
        "assert 'numba' not in sys.modules, 'numba imported by the proxy package'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
