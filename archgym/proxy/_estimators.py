"""Fit scikit-learn regressors and export them to plain arrays that archgym predicts with.

A proxy file never holds pickle: after fitting, each estimator is exported to arrays (tree
nodes, MLP weights) that :func:`predict` evaluates (numpy for the MLP, a compiled tree walk
for tree ensembles, :mod:`archgym.proxy._walk`), reproducing scikit-learn's own arithmetic
(same comparisons, same summation order), so the exported model predicts what the fitted one
did (tested to the last bit against ``Pipeline.predict``). Arrays are stored as
base64 of little-endian bytes (:func:`pack` / :func:`unpack`), which is exact and compact.

Families (``FAMILIES``):

* ``hist-gbm``: :class:`~sklearn.ensemble.HistGradientBoostingRegressor`.
* ``rf``: :class:`~sklearn.ensemble.RandomForestRegressor` (per-tree spread gives an
  uncertainty, used by active learning).
* ``mlp``: ``Pipeline(StandardScaler, MLPRegressor)`` with ReLU.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from archgym.errors import ConfigError

__all__ = ["FAMILIES", "DEFAULT_HPARAMS", "fit", "export", "predict", "pack", "unpack"]

FAMILIES: tuple[str, ...] = ("hist-gbm", "rf", "mlp")

#: Default hyperparameters per family (override with ``hparams``).
DEFAULT_HPARAMS: dict[str, dict[str, Any]] = {
    "hist-gbm": {
        "max_iter": 1000,
        "learning_rate": 0.2,
        "max_leaf_nodes": 31,
        "max_depth": None,
        "min_samples_leaf": 5,
        "l2_regularization": 0.0,
        # the budget is sized to the data: boosting stops once the loss on a held-out
        # tenth of the rows has not improved for n_iter_no_change rounds (off below 100 rows,
        # where a tenth is too few to judge by)
        "early_stopping": True,
        # and leaves per tree are capped at rows / rows_per_leaf (at least 8): small data
        # gets small trees (400 rows: 10 leaves), 1,240 rows and more the full max_leaf_nodes
        "rows_per_leaf": 40,
        # cheaper settings predict faster but worse (Accelerator-v2, 10,000 records, before
        # the latency ratio: node steps per design and held-out nRMSE of energy / latency /
        # area against 12,220 and 0.657 / 0.799 / 0.758 % here): n_iter_no_change=5 7,252 and
        # 0.703 / 0.876 / 0.771 %; max_leaf_nodes=63 with max_depth=8 7,523 and 0.678 / 0.951
        # / 1.296 %; learning_rate=0.3 9,635 and 0.885 / 0.828 / 0.818 %
        "n_iter_no_change": 10,
        # sklearn's default: an improvement of the held-out loss below 1e-7 does not count
        # (0 lets near-perfect log-scale components grow 8x more trees for a 0.01-point gain
        # in energy nRMSE on Accelerator-v2, and small data train 25 % longer)
        "tol": 1e-7,
        "validation_fraction": 0.1,
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


#: Largest decompressed array accepted from a file (guards against a zlib bomb).
MAX_ARRAY_BYTES = 1 << 30


def pack(a: np.ndarray) -> dict[str, Any]:
    """An array as ``{"dtype", "shape", "zb64"}``: little-endian bytes, zlib-compressed,
    base64 (exact; tree arrays compress to about a third)."""
    arr = np.ascontiguousarray(a)
    dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    arr = arr.astype(dt, copy=False)
    return {
        "dtype": dt.str,
        "shape": list(arr.shape),
        "zb64": base64.b64encode(zlib.compress(arr.tobytes(), 6)).decode(),
    }


def unpack(d: Mapping[str, Any] | np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack` (also reads uncompressed ``"b64"``, and takes an array as it
    is, such as one read from an ``.npz``); only plain numeric dtypes are accepted, and the
    bytes must fill the shape exactly."""
    if isinstance(d, np.ndarray):
        if d.dtype.kind not in "biuf":
            raise ValueError(f"array dtype must be numeric, got {d.dtype}")
        return d
    dtype = np.dtype(str(d["dtype"]))
    if dtype.kind not in "biuf":
        raise ValueError(f"array dtype must be numeric, got {dtype}")
    shape = [int(s) for s in d["shape"]]
    if any(s < 0 for s in shape):
        raise ValueError(f"negative array shape {shape}")
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if want > MAX_ARRAY_BYTES:
        raise ValueError(f"array of {want} bytes exceeds the {MAX_ARRAY_BYTES}-byte limit")
    if "zb64" in d:
        z = zlib.decompressobj()
        raw = z.decompress(base64.b64decode(d["zb64"], validate=True), want + 1)
    else:
        raw = base64.b64decode(d["b64"], validate=True)
    if len(raw) != want:
        raise ValueError(f"array data holds {len(raw)} bytes, shape {shape} needs {want}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


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

        if len(y) < 100:
            hp["early_stopping"] = False
        per_leaf = hp.pop("rows_per_leaf", None)
        if per_leaf:
            hp["max_leaf_nodes"] = min(int(hp["max_leaf_nodes"]), max(8, len(y) // int(per_leaf)))
        est: Any = HistGradientBoostingRegressor(random_state=seed, **hp)
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
        leaf = cat["is_leaf"].astype(bool)
        # fields a node kind never reads are zeroed (they compress to nothing)
        return {
            "family": family,
            "baseline": float(np.asarray(est._baseline_prediction).reshape(-1)[0]),
            "tree_sizes": pack(sizes.astype(np.int32)),
            "value": pack(np.where(leaf, cat["value"], 0.0).astype(np.float64)),
            "feature": pack(
                np.where(leaf, 0, cat["feature_idx"]).astype(_index_dtype(cat["feature_idx"]))
            ),
            "threshold": pack(np.where(leaf, 0.0, cat["num_threshold"]).astype(np.float64)),
            "missing_left": pack((cat["missing_go_to_left"] & ~leaf).astype(np.uint8)),
            "left": pack(np.where(leaf, 0, cat["left"]).astype(_index_dtype(sizes))),
            "right": pack(np.where(leaf, 0, cat["right"]).astype(_index_dtype(sizes))),
            "is_leaf": pack(leaf.astype(np.uint8)),
        }
    if family == "rf":
        trees = [e.tree_ for e in est.estimators_]
        sizes = np.array([t.node_count for t in trees], dtype=np.int64)
        left = np.concatenate([t.children_left for t in trees])
        leaf = left < 0
        feature = np.concatenate([t.feature for t in trees])
        return {
            "family": family,
            "tree_sizes": pack(sizes.astype(np.int32)),
            "value": pack(np.concatenate([t.value[:, 0, 0] for t in trees]).astype(np.float64)),
            "feature": pack(np.where(leaf, 0, feature).astype(_index_dtype(feature))),
            "threshold": pack(
                np.where(leaf, 0.0, np.concatenate([t.threshold for t in trees])).astype(np.float64)
            ),
            "left": pack(np.where(leaf, -1, left).astype(_index_dtype(sizes, signed=True))),
            "right": pack(
                np.where(leaf, -1, np.concatenate([t.children_right for t in trees])).astype(
                    _index_dtype(sizes, signed=True)
                )
            ),
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


def _index_dtype(values: np.ndarray, signed: bool = False) -> type:
    """The smallest integer dtype holding every value of ``values`` (and -1 if ``signed``)."""
    top = int(np.max(values)) if np.size(values) else 0
    for dt in (np.int8, np.int16, np.int32) if signed else (np.uint8, np.uint16, np.int32):
        if top <= np.iinfo(dt).max:
            return dt
    return np.int64


class Predictor:
    """Evaluation of an exported model (see :func:`export`): numpy for the MLP, compiled tree
    walks (:mod:`archgym.proxy._walk`, numba) for tree ensembles.

    Tree ensembles are re-laid out at load into one set of flat arrays for all trees (tree
    ``t``'s root is node ``t``; every internal node's right child follows its left child; a
    leaf points at itself with an infinite threshold) and each node's child, feature, leaf
    flag and missing-value direction are packed into one integer (layout in
    :mod:`archgym.proxy._walk`). Gradient boosting on inputs without NaN walks each tree a
    fixed number of levels (its depth) for 16 designs at once; prediction costs about
    (sum of tree depths) node steps per design.
    """

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
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        offsets = np.repeat(roots, sizes)
        value = unpack(d["value"]).astype(np.float64)
        feature = np.maximum(unpack(d["feature"]).astype(np.int64), 0)
        threshold = unpack(d["threshold"]).astype(np.float64)
        left, right = unpack(d["left"]).astype(np.int64), unpack(d["right"]).astype(np.int64)
        if self.family == "hist-gbm":
            self.baseline = float(d["baseline"])
            is_leaf = unpack(d["is_leaf"]).astype(bool)
            missing_left = unpack(d["missing_left"]).astype(bool)
        else:
            is_leaf = left < 0
            missing_left = np.zeros(len(left), dtype=bool)
        n_nodes = len(value)
        if not (len(feature) == len(threshold) == len(left) == len(right) == n_nodes):
            raise ValueError("tree arrays of different lengths")
        if int(sizes.sum()) != n_nodes or (sizes < 1).any():
            raise ValueError("tree_sizes do not match the node arrays")
        left_g = np.where(is_leaf, -1, left + offsets)
        right_g = np.where(is_leaf, -1, right + offsets)
        inner = ~is_leaf
        if inner.any() and (
            left_g[inner].min() < 0
            or right_g[inner].max() >= n_nodes
            or (left_g[inner] >= offsets[inner] + sizes.repeat(sizes)[inner]).any()
        ):
            raise ValueError("a child index points outside its tree")
        # breadth-first renumbering: children of each internal node get consecutive ids
        new_id = np.full(n_nodes, -1, dtype=np.int64)
        new_id[roots] = np.arange(self.n_trees)
        first_child = np.zeros(n_nodes, dtype=np.int64)  # by old id
        tree_depth = np.zeros(self.n_trees, dtype=np.int64)
        frontier, tree_of = roots, np.arange(self.n_trees)
        free, depth = self.n_trees, 0
        while frontier.size:
            split = inner[frontier]
            parents, tree_of = frontier[split], tree_of[split]
            if not parents.size:
                break
            depth += 1
            if depth > 10_000:
                raise ValueError("tree arrays contain a cycle")
            tree_depth[tree_of] = depth
            kids = np.empty(2 * parents.size, dtype=np.int64)
            kids[0::2], kids[1::2] = left_g[parents], right_g[parents]
            if (new_id[kids] >= 0).any():
                raise ValueError("tree arrays contain a cycle or a shared node")
            new_id[kids] = free + np.arange(kids.size)
            first_child[parents] = free + 2 * np.arange(parents.size)
            free += kids.size
            frontier, tree_of = kids, np.repeat(tree_of, 2)
        reached = new_id >= 0
        self.tree_depth = tree_depth
        n_new = int(free)
        old = np.flatnonzero(reached)
        nid = new_id[old]
        split = inner[old]
        child = np.arange(n_new, dtype=np.int64)  # leaves point at themselves
        child[nid[split]] = first_child[old[split]]
        self.threshold = np.full(n_new, np.inf)
        self.threshold[nid] = np.where(split, threshold[old], np.inf)
        feat = np.zeros(n_new, dtype=np.int64)
        feat[nid] = np.where(split, feature[old], 0)
        self.value = np.zeros(n_new)
        self.value[nid] = value[old]
        nan_right = np.zeros(n_new, dtype=np.int64)
        nan_right[nid] = split & ~missing_left[old]
        leaf = np.ones(n_new, dtype=np.int64)
        leaf[nid] = ~split
        self.n_features_used = int(feat.max()) + 1 if n_new else 0
        self.shift = max(1, (self.n_features_used - 1).bit_length()) + 2
        packed = (child << self.shift) | (leaf << (self.shift - 1))
        self.packed = (packed | (nan_right << (self.shift - 2)) | feat).astype(np.uint64)

    def leaf_values(self, X: np.ndarray) -> np.ndarray:
        """Per-tree leaf values, shape ``(n_trees, n)`` (tree families)."""
        from archgym.proxy import _walk

        X = self._checked(X)
        out = np.empty((self.n_trees, X.shape[0]))
        _walk.leaf_matrix(X, self.packed, self.threshold, self.value, self.shift, out)
        return out

    def _checked(self, X: np.ndarray) -> np.ndarray:
        """``X`` as the walk reads it: C-contiguous float64 (float32-rounded for a random
        forest, whose scikit-learn trees compare float32), with enough features."""
        if self.family == "rf":
            X = X.astype(np.float32).astype(np.float64)
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] < self.n_features_used:
            raise ConfigError(
                f"the model reads {self.n_features_used} features, the input has shape "
                f"{X.shape}; pass one row of features per design"
            )
        return X

    def _boosted_sum(self, X: np.ndarray) -> np.ndarray:
        """Baseline plus every tree's leaf value, added in scikit-learn's order."""
        from archgym.proxy import _walk

        X = self._checked(X)
        out = np.empty(X.shape[0])
        if np.isnan(X).any():
            _walk.sum_trees_nan(
                X,
                self.packed,
                self.threshold,
                self.value,
                self.n_trees,
                self.baseline,
                self.shift,
                out,
            )
        else:
            _walk.sum_trees(
                X,
                self.packed,
                self.threshold,
                self.value,
                self.tree_depth,
                self.baseline,
                self.shift,
                out,
            )
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
        if self.family == "hist-gbm":
            pred = self._boosted_sum(X)
            return (pred, np.zeros_like(pred)) if spread else pred
        leaves = self.leaf_values(X)
        pred = np.add.reduce(leaves, axis=0) if self.n_trees else np.zeros(X.shape[0])
        pred /= self.n_trees
        return (pred, leaves.std(axis=0)) if spread else pred


def predict(model: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    """Predict with an exported model dict (builds a :class:`Predictor` each call)."""
    return Predictor(model).predict(X)
