"""Fit scikit-learn regressors and export them to plain arrays that numpy predicts with.

A proxy file never holds pickle: after fitting, each estimator is exported to arrays (tree
nodes, MLP weights) that :func:`predict` evaluates with numpy, reproducing scikit-learn's own
arithmetic (same comparisons, same summation order), so the exported model predicts what the
fitted one did (tested to the last bit against ``Pipeline.predict``). Arrays are stored as
base64 of little-endian bytes (:func:`pack` / :func:`unpack`), which is exact and compact.

Families (``FAMILIES``):

* ``hist-gbm``: :class:`~sklearn.ensemble.HistGradientBoostingRegressor`.
* ``rf``: :class:`~sklearn.ensemble.RandomForestRegressor` (per-tree spread gives an
  uncertainty, used by active learning).
* ``mlp``: ``Pipeline(StandardScaler, MLPRegressor)`` with ReLU.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym.errors import ConfigError

__all__ = ["FAMILIES", "DEFAULT_HPARAMS", "fit", "export", "predict", "pack", "unpack"]

FAMILIES: tuple[str, ...] = ("hist-gbm", "rf", "mlp")

#: Default hyperparameters per family (override with ``hparams``).
DEFAULT_HPARAMS: dict[str, dict[str, Any]] = {
    "hist-gbm": {
        "max_iter": 600,
        "learning_rate": 0.1,
        "max_leaf_nodes": 63,
        "min_samples_leaf": 5,
        "l2_regularization": 0.0,
    },
    "rf": {"n_estimators": 60, "min_samples_leaf": 2, "max_features": 1.0},
    "mlp": {
        "hidden_layer_sizes": [128, 128],
        "alpha": 1e-5,
        "learning_rate_init": 1e-3,
        "max_iter": 400,
        "batch_size": 128,
    },
}


def pack(a: np.ndarray) -> dict[str, Any]:
    """An array as ``{"dtype", "shape", "b64"}`` (little-endian bytes, exact)."""
    arr = np.ascontiguousarray(a)
    dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    arr = arr.astype(dt, copy=False)
    return {
        "dtype": dt.str,
        "shape": list(arr.shape),
        "b64": base64.b64encode(arr.tobytes()).decode(),
    }


def unpack(d: Mapping[str, Any]) -> np.ndarray:
    """Inverse of :func:`pack`; only plain numeric dtypes are accepted."""
    dtype = np.dtype(str(d["dtype"]))
    if dtype.kind not in "biuf":
        raise ValueError(f"array dtype must be numeric, got {dtype}")
    raw = base64.b64decode(d["b64"], validate=True)
    return np.frombuffer(raw, dtype=dtype).reshape([int(s) for s in d["shape"]]).copy()


def hparams_for(family: str, hparams: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of ``family`` updated with ``hparams``.

    Raises:
        ConfigError: Unknown family or hyperparameter name.
    """
    if family not in FAMILIES:
        raise ConfigError(f"model must be one of {list(FAMILIES)}, but got {family!r}")
    out = dict(DEFAULT_HPARAMS[family])
    for k, v in (hparams or {}).items():
        if k not in out:
            raise ConfigError(
                f"{family}: unknown hyperparameter {k!r}; known: {sorted(DEFAULT_HPARAMS[family])}"
            )
        out[k] = v
    return out


def fit(family: str, X: np.ndarray, y: np.ndarray, hparams: Mapping[str, Any], seed: int) -> Any:
    """Fit one regressor of ``family`` (single output) with a fixed seed; returns the
    scikit-learn estimator (a Pipeline for ``mlp``)."""
    hp = dict(hparams)
    if family == "hist-gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        est: Any = HistGradientBoostingRegressor(early_stopping=False, random_state=seed, **hp)
    elif family == "rf":
        from sklearn.ensemble import RandomForestRegressor

        est = RandomForestRegressor(random_state=seed, n_jobs=1, **hp)
    elif family == "mlp":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        hp["hidden_layer_sizes"] = tuple(hp["hidden_layer_sizes"])
        est = Pipeline(
            [
                ("scale", StandardScaler()),
                ("mlp", MLPRegressor(activation="relu", random_state=seed, **hp)),
            ]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        return est
    else:  # pragma: no cover - hparams_for rejects it first
        raise ConfigError(f"model must be one of {list(FAMILIES)}, but got {family!r}")
    est.fit(X, y)
    return est


def export(family: str, est: Any) -> dict[str, Any]:
    """The fitted estimator as JSON-ready arrays (see :func:`predict`)."""
    if family == "hist-gbm":
        if est.n_trees_per_iteration_ != 1:
            raise ConfigError("only single-output gradient boosting can be exported")
        fields = (
            "value",
            "feature_idx",
            "num_threshold",
            "missing_go_to_left",
            "left",
            "right",
            "is_leaf",
        )
        nodes = [pred[0].nodes for pred in est._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise ConfigError("native categorical splits are not exported; one-hot encode instead")
        sizes = np.array([len(n) for n in nodes], dtype=np.int64)
        cat = {f: np.concatenate([n[f] for n in nodes]) for f in fields}
        return {
            "family": family,
            "baseline": float(np.asarray(est._baseline_prediction).reshape(-1)[0]),
            "tree_sizes": pack(sizes),
            "value": pack(cat["value"].astype(np.float64)),
            "feature": pack(cat["feature_idx"].astype(np.int64)),
            "threshold": pack(cat["num_threshold"].astype(np.float64)),
            "missing_left": pack(cat["missing_go_to_left"].astype(np.uint8)),
            "left": pack(cat["left"].astype(np.int64)),
            "right": pack(cat["right"].astype(np.int64)),
            "is_leaf": pack(cat["is_leaf"].astype(np.uint8)),
        }
    if family == "rf":
        trees = [e.tree_ for e in est.estimators_]
        sizes = np.array([t.node_count for t in trees], dtype=np.int64)
        return {
            "family": family,
            "tree_sizes": pack(sizes),
            "value": pack(np.concatenate([t.value[:, 0, 0] for t in trees]).astype(np.float64)),
            "feature": pack(np.concatenate([t.feature for t in trees]).astype(np.int64)),
            "threshold": pack(np.concatenate([t.threshold for t in trees]).astype(np.float64)),
            "left": pack(np.concatenate([t.children_left for t in trees]).astype(np.int64)),
            "right": pack(np.concatenate([t.children_right for t in trees]).astype(np.int64)),
        }
    if family == "mlp":
        scaler, mlp = est.named_steps["scale"], est.named_steps["mlp"]
        return {
            "family": family,
            "mean": pack(np.asarray(scaler.mean_, dtype=np.float64)),
            "scale": pack(np.asarray(scaler.scale_, dtype=np.float64)),
            "coefs": [pack(np.asarray(w, dtype=np.float64)) for w in mlp.coefs_],
            "intercepts": [pack(np.asarray(b, dtype=np.float64)) for b in mlp.intercepts_],
        }
    raise ConfigError(f"model must be one of {list(FAMILIES)}, but got {family!r}")


class Predictor:
    """Numpy evaluation of an exported model (see :func:`export`)."""

    def __init__(self, d: Mapping[str, Any]) -> None:
        self.family = str(d["family"])
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}")
        if self.family == "mlp":
            self.mean = unpack(d["mean"])
            self.scale = unpack(d["scale"])
            self.coefs = [unpack(w) for w in d["coefs"]]
            self.intercepts = [unpack(b) for b in d["intercepts"]]
            return
        sizes = unpack(d["tree_sizes"]).astype(np.int64)
        self.n_trees = len(sizes)
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        offsets = np.repeat(self.roots, sizes)
        self.value = unpack(d["value"])
        self.feature = np.maximum(unpack(d["feature"]), 0)
        self.threshold = unpack(d["threshold"])
        left, right = unpack(d["left"]), unpack(d["right"])
        if self.family == "hist-gbm":
            self.baseline = float(d["baseline"])
            self.is_leaf = unpack(d["is_leaf"]).astype(bool)
            self.missing_left = unpack(d["missing_left"]).astype(bool)
        else:
            self.is_leaf = left < 0
            self.missing_left = np.zeros(len(left), dtype=bool)
        # children as global node indices (leaves point at themselves)
        self.left = np.where(self.is_leaf, np.arange(len(left)), left + offsets)
        self.right = np.where(self.is_leaf, np.arange(len(right)), right + offsets)
        self.depth = _max_depth(self.left, self.right, self.is_leaf, self.roots)

    def leaf_values(self, X: np.ndarray) -> np.ndarray:
        """Per-tree leaf values, shape ``(n, n_trees)`` (tree families)."""
        if self.family == "rf":
            X = X.astype(np.float32).astype(np.float64)  # scikit-learn trees compare float32
        n, n_feat = X.shape
        has_nan = bool(np.isnan(X).any())
        out = np.empty((n, self.n_trees))
        chunk = max(1, 200_000 // max(self.n_trees, 1))
        for start in range(0, n, chunk):
            xs = np.ascontiguousarray(X[start : start + chunk])
            flat = xs.reshape(-1)
            base = (np.arange(xs.shape[0], dtype=np.int64) * n_feat)[:, None]
            node = np.broadcast_to(self.roots, (xs.shape[0], self.n_trees)).copy()
            for _ in range(self.depth):
                x = flat[base + self.feature[node]]
                go_left = x <= self.threshold[node]
                if has_nan:
                    nan = np.isnan(x)
                    go_left[nan] = self.missing_left[node][nan]
                node = np.where(go_left, self.left[node], self.right[node])
            out[start : start + chunk] = self.value[node]
        return out

    def predict(self, X: np.ndarray, spread: bool = False) -> Any:
        """Predictions for the rows of ``X`` (float64, ``(n, n_features)``).

        With ``spread=True`` returns ``(prediction, std)`` where ``std`` is the spread of the
        random forest's trees (zeros for other families).
        """
        X = np.asarray(X, dtype=np.float64)
        if self.family == "mlp":
            a = X - self.mean
            a /= self.scale
            last = len(self.coefs) - 1
            for i, (w, b) in enumerate(zip(self.coefs, self.intercepts, strict=True)):
                a = a @ w
                a += b
                if i != last:
                    np.maximum(a, 0, out=a)
            pred = a[:, 0]
            return (pred, np.zeros_like(pred)) if spread else pred
        leaves = self.leaf_values(X)
        if self.family == "hist-gbm":
            pred = np.zeros(X.shape[0]) + self.baseline
            for t in range(self.n_trees):  # scikit-learn's order: baseline, then tree by tree
                pred += leaves[:, t]
            return (pred, np.zeros_like(pred)) if spread else pred
        pred = np.zeros(X.shape[0])
        for t in range(self.n_trees):
            pred += leaves[:, t]
        pred /= self.n_trees
        return (pred, leaves.std(axis=1)) if spread else pred


def _max_depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray, roots: np.ndarray) -> int:
    """Steps from the roots until every path reaches a leaf (leaves loop on themselves)."""
    depth = 0
    frontier = roots[~leaf[roots]]
    while frontier.size:
        depth += 1
        nxt = np.concatenate([left[frontier], right[frontier]])
        frontier = np.unique(nxt[~leaf[nxt]])
    return depth


def predict(model: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    """Predict with an exported model dict (builds a :class:`Predictor` each call)."""
    return Predictor(model).predict(X)
