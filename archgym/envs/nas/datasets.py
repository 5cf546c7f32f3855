"""The two offline classification tasks and their fixed train/validation/test splits.

* ``digits``: scikit-learn's ``load_digits`` (1,797 grey 8x8 images, 10 classes; the data ships
  inside the scikit-learn wheel, nothing is downloaded). Pixels are scaled to ``[0, 1]``.
* ``mnist1d``: the MNIST-1D task (Greydanus, 2020; 5,000 length-40 signals, 10 classes),
  generated locally with ``mnist1d.data.make_dataset`` and its default arguments. Its
  ``get_dataset`` (which downloads) is never called. Needs ``pip install mnist1d``.

Splits are stratified 60/20/20 by a fixed ``split_seed``; the test split is never used for
selection (agents see validation accuracy). Arrays are float32 of shape
``(n, channels, *spatial)`` so one builder serves both tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from archgym._imports import optional_import
from archgym.errors import ConfigError

__all__ = ["TASKS", "TASK_SHAPES", "TaskData", "load_task", "save_mnist1d_cache"]

TASKS = ("digits", "mnist1d")
DEFAULT_SPLIT_SEED = 0
#: ``(in_channels, in_size, ndim, n_classes)`` of each task, known without loading it.
TASK_SHAPES = {"digits": (1, 8, 2, 10), "mnist1d": (1, 40, 1, 10)}


@dataclass(frozen=True)
class TaskData:
    """A classification task, split once.

    Attributes:
        name: Task name.
        x_train, y_train, x_val, y_val, x_test, y_test: float32 inputs ``(n, C, *spatial)``
            and int64 labels.
        n_classes: Number of classes.
        in_channels: ``C``.
        in_size: Spatial extent along each dimension.
        ndim: Number of spatial dimensions (2 for digits, 1 for mnist1d).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    in_channels: int
    in_size: int
    ndim: int


def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return x, d.target.astype(np.int64)


def _raw_mnist1d(cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            return z["x"].astype(np.float32), z["y"].astype(np.int64)
    data_mod = optional_import("mnist1d.data", "nas")
    # make_dataset seeds numpy's *global* generator (seed 42 by default); restore it after.
    state = np.random.get_state()  # noqa: NPY002  (mnist1d seeds the global RNG; restore it)
    try:
        ds = data_mod.make_dataset(data_mod.get_dataset_args())
    finally:
        np.random.set_state(state)  # noqa: NPY002
    x = np.concatenate([ds["x"], ds["x_test"]]).astype(np.float32)[:, None, :]
    y = np.concatenate([ds["y"], ds["y_test"]]).astype(np.int64)
    return x, y


def _split(
    y: np.ndarray, seed: int, fractions: tuple[float, float] = (0.6, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified index split: per class, shuffle with ``seed`` and cut 60/20/20."""
    rng = np.random.default_rng(seed)
    tr, va, te = [], [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        a = int(round(fractions[0] * len(idx)))
        b = a + int(round(fractions[1] * len(idx)))
        tr.append(idx[:a])
        va.append(idx[a:b])
        te.append(idx[b:])
    return tuple(np.sort(np.concatenate(p)) for p in (tr, va, te))  # type: ignore[return-value]


@lru_cache(maxsize=4)
def load_task(
    name: str, split_seed: int = DEFAULT_SPLIT_SEED, cache: str | None = None
) -> TaskData:
    """Load a task with its fixed splits (cached per process).

    Args:
        name: ``"digits"`` or ``"mnist1d"``.
        split_seed: Seed of the stratified split; the shipped tables use 0.
        cache: For ``mnist1d`` only, an ``.npz`` file with arrays ``x`` ``(n, 1, 40)`` and ``y``
            to read instead of generating (see :func:`save_mnist1d_cache`).

    Raises:
        ConfigError: Unknown task name.
        MissingDependencyError: ``mnist1d`` is requested without the package or a cache.
    """
    if name == "digits":
        x, y = _raw_digits()
    elif name == "mnist1d":
        x, y = _raw_mnist1d(Path(cache) if cache else None)
    else:
        raise ConfigError(f"task must be one of {TASKS}, but got {name!r}.")
    tr, va, te = _split(y, split_seed)
    return TaskData(
        name=name,
        x_train=x[tr],
        y_train=y[tr],
        x_val=x[va],
        y_val=y[va],
        x_test=x[te],
        y_test=y[te],
        n_classes=int(y.max()) + 1,
        in_channels=int(x.shape[1]),
        in_size=int(x.shape[2]),
        ndim=x.ndim - 2,
    )


def save_mnist1d_cache(path: str | Path) -> Path:
    """Generate MNIST-1D once and store it as ``.npz`` (for machines without the package)."""
    x, y = _raw_mnist1d(None)
    path = Path(path)
    np.savez_compressed(path, x=x, y=y)
    return path
