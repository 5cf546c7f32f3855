"""The learned kernel model of each shipped GPU, fitted once and shipped as plain arrays.

Fitting the boosters of :mod:`archgym.envs.kernel.learned` on a shipped dataset costs tens of
seconds of CPU (H200: ~40 s); the result depends only on what :func:`model_key` hashes. So the
fitted boosters of the shipped GPUs are stored in ``data/learned_<gpu>.npz``: every tree's node
arrays as exported by :func:`archgym.proxy._estimators.export` (no pickle; read with
``allow_pickle=False``) and predicted by the proxy's tree walk
(:class:`archgym.proxy._estimators.Predictor`, bit-identical to scikit-learn's ``predict``);
the LightGBM ranker of ``pick="ranked"`` the same way, its trees converted from LightGBM's own
text model (:func:`lightgbm_export`; the walk adds the leaves in LightGBM's order and goes
left on ``x <= threshold`` as LightGBM does, so it predicts bit-identically too, and loading
the model needs no LightGBM, whose import costs over a second).

The key hashes the model version, the dataset file's bytes, the GPU's name and spec, seed,
objective, pick, ``max_iter``, the booster and ranker settings, the GPU's calibration, the split-K
reduction constants and the analytical model's version (the spec, calibration, constants and
analytical latencies are all features). A model asked for with any other key (a user's
dataset, another seed or objective, a GPU spec replaced with ``register_gpu(...,
overwrite=True)``, arrays left stale by a data or calibration change) is fitted at first use,
as before. ``python benchmarks/store_kernel_models.py`` rewrites the arrays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archgym.envs.kernel.dataset import DATA_DIR
from archgym.errors import ConfigError

__all__ = [
    "STORE_FORMAT",
    "stored_path",
    "model_key",
    "save_fitted",
    "load_fitted",
    "lightgbm_export",
]

#: Layout version of the ``.npz`` files (part of the key).
STORE_FORMAT = 3
_TREE_FIELDS = (
    "tree_sizes",
    "value",
    "feature",
    "threshold",
    "missing_left",
    "left",
    "right",
    "is_leaf",
)


def stored_path(gpu: str) -> Path:
    """Where the stored model of ``gpu`` lives (``data/learned_h200-sxm.npz``)."""
    return DATA_DIR / f"learned_{gpu.lower()}.npz"


def model_key(
    version: str,
    dataset: str | Path,
    gpu: str,
    seed: int,
    objective: str,
    pick: str,
    max_iter: int,
    booster_params: Mapping[str, Any],
    calib: Mapping[str, float],
) -> str:
    """SHA-256 (hex) of everything a fitted model depends on; reads ``dataset``'s bytes and
    looks ``gpu``'s spec up (:func:`archgym.envs.kernel.gpus.get_gpu`)."""
    from archgym.envs.kernel.analytical import KernelAnalyticalCostModel
    from archgym.envs.kernel.calibrate import reduction_constants
    from archgym.envs.kernel.gpus import get_gpu

    data = hashlib.sha256(Path(dataset).read_bytes()).hexdigest()
    spec = {
        "format": STORE_FORMAT,
        "version": str(version),
        "analytical_version": str(KernelAnalyticalCostModel.version),
        "data_sha256": data,
        "gpu": gpu,
        "gpu_spec": dataclasses.asdict(get_gpu(gpu)),
        "seed": int(seed),
        "objective": objective,
        "pick": pick,
        "max_iter": int(max_iter),
        "booster": {k: booster_params[k] for k in sorted(booster_params)},
        "calibration": {k: float(calib[k]) for k in sorted(calib)},
        "reduction": {k: [float(x) for x in v] for k, v in sorted(reduction_constants().items())},
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def save_fitted(path: str | Path, fitted: Any, key: str) -> None:
    """Write the boosters of ``fitted`` (a ``learned._Fitted``) and ``key`` to ``path``."""
    from archgym.proxy._estimators import export, unpack

    arrays: dict[str, np.ndarray] = {
        "key": np.array(key),
        "objective": np.array(fitted.objective),
    }
    for name, est in (("mean", fitted.booster), ("median", fitted.median)):
        if est is None:
            continue
        d = export("hist-gbm", est)
        arrays[f"{name}.baseline"] = np.array(float(d["baseline"]))
        for f in _TREE_FIELDS:
            arrays[f"{name}.{f}"] = unpack(d[f])
    if getattr(fitted, "ranker", None) is not None:
        d = lightgbm_export(fitted.ranker.model_to_string(num_iteration=-1))
        arrays["ranker.baseline"] = np.array(float(d["baseline"]))
        for f in _TREE_FIELDS:
            arrays[f"ranker.{f}"] = np.asarray(d[f])
    # every array is numeric or fixed-width text: nothing is pickled (load refuses pickle);
    # numpy's stubs read the first keyword as ``allow_pickle``, a keyword older numpy lacks
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def _as_export(z: Any, name: str) -> dict[str, Any]:
    """The exported-model dict of booster ``name``, its tree arrays as read (``unpack`` takes
    arrays as they are)."""
    d: dict[str, Any] = {"family": "hist-gbm", "baseline": float(z[f"{name}.baseline"])}
    for f in _TREE_FIELDS:
        d[f] = z[f"{name}.{f}"]
    return d


def load_fitted(path: str | Path, key: str) -> tuple[Any, Any, Any] | None:
    """``(mean, median, ranker)`` predictors stored at ``path`` under ``key`` (``median`` is
    None for ``pick="mean"``, ``ranker`` unless ``pick="ranked"``), or None when the file is
    missing or holds another key.

    Raises:
        ConfigError: The file is not a readable store (truncated, a Git LFS pointer, arrays
            missing): numpy's own message would suggest loading it with pickle.
    """
    from archgym.proxy._estimators import Predictor

    p = Path(path)
    if not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            mean = Predictor(_as_export(z, "mean"))
            median = Predictor(_as_export(z, "median")) if "median.baseline" in z.files else None
            ranker = Predictor(_as_export(z, "ranker")) if "ranker.baseline" in z.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        # numpy takes any file that is not a zip for a pickle and suggests loading it so
        why = "not a zip of arrays" if "pickle" in str(exc) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(
            f"stored kernel model {p} is not a readable .npz of tree arrays "
            f"({why}); reinstall archgym, or in a checkout rewrite it with "
            "`python benchmarks/store_kernel_models.py` (deleting it makes the model fit at "
            "first use)"
        ) from None
    return mean, median, ranker


def lightgbm_export(text: str) -> dict[str, Any]:
    """A LightGBM text model (``Booster.model_to_string()``) as the tree arrays of
    :func:`archgym.proxy._estimators.export` (``family="hist-gbm"``, baseline 0): per tree
    its internal nodes, then its leaves; LightGBM's child ``~j`` is leaf ``j``.

    LightGBM predicts ``sum of the trees' leaf values`` (from 0, in tree order) and goes
    left on ``x <= threshold`` for a numerical split whose missing type is ``None`` -- the
    walk's rule; thresholds and leaf values are written with 17 significant digits, so the
    arrays predict exactly what LightGBM does on inputs without NaN.

    Raises:
        ConfigError: A model this conversion does not cover (several outputs, categorical
            or linear trees, a missing-value rule other than ``None``).
    """

    def fail(why: str) -> ConfigError:
        return ConfigError(f"the LightGBM model cannot be stored as tree arrays: {why}")

    head, _, body = text.partition("\nTree=")
    if "num_tree_per_iteration=1\n" not in head + "\n":
        raise fail("more than one tree per iteration")
    sizes, value, feature, threshold, left, right, is_leaf = [], [], [], [], [], [], []
    for block in ("Tree=" + body).split("\nend of trees")[0].split("\n\n"):
        if not block.strip().startswith("Tree="):
            continue
        kv = dict(line.split("=", 1) for line in block.strip().splitlines() if "=" in line)
        n = int(kv["num_leaves"])
        if int(kv.get("num_cat", "0")) or int(kv.get("is_linear", "0")):
            raise fail("categorical or linear trees")
        leaves = np.array(kv["leaf_value"].split(), dtype=np.float64)
        sizes.append(2 * n - 1)
        if n == 1:
            value.append(leaves)
            feature.append(np.zeros(1, np.int64))
            threshold.append(np.zeros(1))
            left.append(np.zeros(1, np.int64))
            right.append(np.zeros(1, np.int64))
            is_leaf.append(np.ones(1, np.uint8))
            continue
        dt = np.array(kv["decision_type"].split(), dtype=np.int64)
        if ((dt & 1) != 0).any() or ((dt >> 2) & 3 != 0).any():
            raise fail("a categorical split or a missing-value rule other than None")
        lc = np.array(kv["left_child"].split(), dtype=np.int64)
        rc = np.array(kv["right_child"].split(), dtype=np.int64)
        lc, rc = np.where(lc >= 0, lc, n - 1 + ~lc), np.where(rc >= 0, rc, n - 1 + ~rc)
        value.append(np.r_[np.zeros(n - 1), leaves])
        feature.append(
            np.r_[np.array(kv["split_feature"].split(), np.int64), np.zeros(n, np.int64)]
        )
        threshold.append(np.r_[np.array(kv["threshold"].split(), np.float64), np.zeros(n)])
        left.append(np.r_[lc, np.zeros(n, np.int64)])
        right.append(np.r_[rc, np.zeros(n, np.int64)])
        is_leaf.append(np.r_[np.zeros(n - 1, np.uint8), np.ones(n, np.uint8)])
    if not sizes:
        raise fail("no trees")
    return {
        "family": "hist-gbm",
        "baseline": 0.0,
        "tree_sizes": np.array(sizes, dtype=np.int32),
        "value": np.concatenate(value),
        "feature": np.concatenate(feature).astype(np.int32),
        "threshold": np.concatenate(threshold),
        "missing_left": np.zeros(int(sum(sizes)), dtype=np.uint8),
        "left": np.concatenate(left).astype(np.int32),
        "right": np.concatenate(right).astype(np.int32),
        "is_leaf": np.concatenate(is_leaf),
    }


def lightgbm() -> Any:
    """The ``lightgbm`` module, which ``pick="ranked"`` needs.

    Raises:
        ConfigError: LightGBM is not installed (names both fixes).
    """
    try:
        import lightgbm as lgb
    except ImportError:
        raise ConfigError(
            "the learned kernel model's default pick='ranked' needs LightGBM: "
            "`pip install lightgbm`, or use pick='max-median' (kernel-learned@6's pick)"
        ) from None
    return lgb
