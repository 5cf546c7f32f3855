"""The learned kernel model of each shipped GPU, fitted once and shipped as plain arrays.

Fitting the boosters of :mod:`archgym.envs.kernel.learned` on a shipped dataset costs tens of
seconds of CPU (H200: ~40 s); the result depends only on what :func:`model_key` hashes. So the
fitted boosters of the shipped GPUs are stored in ``data/learned_<gpu>.npz``: every tree's node
arrays as exported by :func:`archgym.proxy._estimators.export` (no pickle; read with
``allow_pickle=False``) and predicted by the proxy's tree walk
(:class:`archgym.proxy._estimators.Predictor`, bit-identical to scikit-learn's ``predict``);
the LightGBM ranker of ``pick="ranked"`` as LightGBM's own text model (its bytes as a
``uint8`` array, read back with ``lightgbm.Booster(model_str=...)``: text, not pickle).

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

__all__ = ["STORE_FORMAT", "stored_path", "model_key", "save_fitted", "load_fitted"]

#: Layout version of the ``.npz`` files (part of the key).
STORE_FORMAT = 2
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
        text = fitted.ranker.model_to_string(num_iteration=-1)
        arrays["ranker.model"] = np.frombuffer(text.encode(), dtype=np.uint8)
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
            text = z["ranker.model"].tobytes().decode() if "ranker.model" in z.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        # numpy takes any file that is not a zip for a pickle and suggests loading it so
        why = "not a zip of arrays" if "pickle" in str(exc) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(
            f"stored kernel model {p} is not a readable .npz of tree arrays "
            f"({why}); reinstall archgym, or in a checkout rewrite it with "
            "`python benchmarks/store_kernel_models.py` (deleting it makes the model fit at "
            "first use)"
        ) from None
    ranker = lightgbm().Booster(model_str=text) if text is not None else None
    return mean, median, ranker


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
