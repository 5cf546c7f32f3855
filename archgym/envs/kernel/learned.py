"""Learned kernel cost model: gradient boosting on analytic + config features.

The model predicts ``log(measured latency / analytical latency)`` with scikit-learn's
``HistGradientBoostingRegressor`` and multiplies the analytical latency by its exponent.

Storage choice (no pickle): nothing trained is shipped. At first use the model is fitted
deterministically (fixed ``random_state``, no early stopping) on the measured dataset shipped
in ``archgym/envs/kernel/data/`` (an open Parquet file) and cached in memory for the process;
fitting ~3,000 rows takes about a second. The same data and seed give the same model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archgym.cost_model import CostModel, Evaluations
from archgym.envs.kernel.analytical import KERNEL_METRICS, analytic_terms, energy_j
from archgym.envs.kernel.constraints import check_designs
from archgym.envs.kernel.gpus import GPUSpec, get_gpu
from archgym.envs.kernel.space import (
    OPS,
    PRECISIONS,
    SPARSITIES,
    KernelWorkload,
    as_kernel_workload,
)
from archgym.errors import BackendError, ConfigError
from archgym.registry import register_cost_model

__all__ = [
    "DATASET",
    "load_dataset",
    "features",
    "fit_kernel_model",
    "predict_log_ratio",
    "KernelLearnedCostModel",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DATASET = DATA_DIR / "kernels_h100.parquet"
"""Measured records (H100 SXM, see ``kernels_h100.meta.json`` for the collection details)."""

_DESIGN = (
    "backend",
    "precision",
    "sparsity",
    "density",
    "sparse_block",
    "block_m",
    "block_n",
    "block_k",
    "group_m",
    "num_warps",
    "num_stages",
    "split_k",
)


def load_dataset(path: str | Path = DATASET) -> Any:
    """The measured records as a pandas DataFrame (all rows, feasible or not).

    Raises:
        BackendError: The file is missing or unreadable.
    """
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise BackendError(
            f"cannot read the kernel dataset {path} ({exc}); reinstall archgym or pass the "
            "path of a dataset written by `archgym measure kernels --gpu`"
        ) from exc


def _by_workload(frame: Any) -> list[tuple[KernelWorkload, Any]]:
    out = []
    for (op, m, n, k, g), grp in frame.groupby(["op", "m", "n", "k", "groups"], sort=False):
        out.append((KernelWorkload(str(op), int(m), int(n), int(k), int(g)), grp))
    return out


def features(
    columns: Mapping[str, np.ndarray], wl: KernelWorkload, gpu: GPUSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix of a batch and the analytical latency it refines.

    Features: log analytical latency, compute and memory times, traffic, tiles, waves,
    occupancy, tile density, imbalance; op/precision/sparsity/backend codes; density, block,
    log2 tile sizes, GROUP_M, warps, stages, split-K; log M, N, K and G.
    """
    with np.errstate(all="ignore"):
        t = analytic_terms(columns, wl, gpu)
    n = len(t["latency_s"])

    def code(values: Sequence[str], col: str) -> np.ndarray:
        arr = np.asarray(columns[col]).astype(str)
        return np.array([values.index(v) for v in arr], dtype=float)

    tri = (np.asarray(columns["backend"]).astype(str) == "triton").astype(float)
    log = np.log

    def tile(name: str) -> np.ndarray:
        return np.where(tri > 0, np.log2(np.maximum(np.asarray(columns[name], float), 1)), 0.0)

    cols = [
        log(t["latency_s"]),
        log(t["compute_s"]),
        log(t["memory_s"]),
        log(t["traffic_bytes"]),
        log(np.maximum(t["tiles"], 1)),
        t["waves"],
        t["occupancy"],
        t["tile_density"],
        t["imbalance"],
        np.full(n, OPS.index(wl.op), float),
        code(PRECISIONS, "precision"),
        code(SPARSITIES, "sparsity"),
        tri,
        np.asarray(columns["density"], float),
        np.asarray(columns["sparse_block"], float),
        tile("block_m"),
        tile("block_n"),
        tile("block_k"),
        tri * np.asarray(columns["group_m"], float),
        tri * np.asarray(columns["num_warps"], float),
        tri * np.asarray(columns["num_stages"], float),
        np.asarray(columns["split_k"], float),
        np.full(n, log(wl.m)),
        np.full(n, log(wl.n)),
        np.full(n, log(wl.k)),
        np.full(n, log(wl.groups)),
    ]
    return np.column_stack(cols), t["latency_s"]


def _frame_xy(frame: Any, gpu: GPUSpec) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for wl, grp in _by_workload(frame):
        cols = {c: grp[c].to_numpy() for c in _DESIGN}
        x, lat_a = features(cols, wl, gpu)
        xs.append(x)
        ys.append(np.log(grp["latency_s"].to_numpy(float)) - np.log(lat_a))
    return np.vstack(xs), np.concatenate(ys)


def fit_kernel_model(
    frame: Any, gpu: str | GPUSpec = "H100-SXM", seed: int = 0, max_iter: int = 300
) -> Any:
    """Fit the residual booster on the feasible rows of ``frame``; deterministic under ``seed``.

    Runs single-threaded (OpenMP threads oversubscribe busy machines badly: 20x slower).
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    spec = get_gpu(gpu)
    frame = frame[frame["feasible"].astype(bool) & (frame["latency_s"] > 0)]
    if len(frame) < 20:
        raise BackendError(f"the kernel dataset has only {len(frame)} feasible rows; need >= 20")
    x, y = _frame_xy(frame, spec)
    model = HistGradientBoostingRegressor(
        max_iter=max_iter,
        learning_rate=0.08,
        max_leaf_nodes=31,
        min_samples_leaf=8,
        l2_regularization=1e-3,
        early_stopping=False,
        random_state=seed,
    )
    with threadpool_limits(1):
        return model.fit(x, y)


def predict_log_ratio(model: Any, x: np.ndarray) -> np.ndarray:
    """``log(measured / analytical)`` predicted by a fitted booster (single-threaded)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return np.asarray(model.predict(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)))


@functools.lru_cache(maxsize=4)
def _shipped_model(path: str, mtime: float, gpu: str, seed: int) -> Any:
    return fit_kernel_model(load_dataset(path), gpu, seed)


class KernelLearnedCostModel(CostModel):
    """Analytical latency refined by gradient boosting trained on measured H100 kernels.

    Args:
        gpu: Must be the dataset's GPU (``"H100-SXM"`` for the shipped data).
        dataset: Records to train on (default: the shipped dataset).
        seed: Booster seed.

    Raises:
        ConfigError: A GPU other than the dataset's.
    """

    name = "kernel-learned"
    version = "1"
    metrics = KERNEL_METRICS
    description = "gradient-boosted correction of the kernel roofline, trained on H100 data"

    def __init__(
        self, gpu: str | GPUSpec = "H100-SXM", dataset: str | Path = DATASET, seed: int = 0
    ) -> None:
        self.gpu = get_gpu(gpu)
        if self.gpu.name != "H100-SXM" and Path(dataset) == DATASET:
            raise ConfigError(
                f"the shipped learned kernel model was measured on H100-SXM, not {self.gpu.name}; "
                "use cost_model='analytical', or collect your GPU's data with "
                "`archgym measure kernels --gpu` and pass dataset=<that file>"
            )
        self.dataset = Path(dataset)
        self.seed = seed

    @property
    def model(self) -> Any:
        """The fitted booster (fitted at first use, cached per process)."""
        try:
            mtime = self.dataset.stat().st_mtime
        except OSError as exc:
            raise BackendError(f"kernel dataset {self.dataset} is missing ({exc})") from exc
        return _shipped_model(str(self.dataset), mtime, self.gpu.name, self.seed)

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        wl = as_kernel_workload(workload, "kernel-learned")
        feasible, reasons = check_designs(columns, wl, self.gpu)
        x, lat_a = features(columns, wl, self.gpu)
        with np.errstate(all="ignore"):
            lat = lat_a * np.exp(predict_log_ratio(self.model, x))
            t = analytic_terms(columns, wl, self.gpu)
            tflops = t["flop"] / lat / 1e12
            en = energy_j(lat, t["flop"], t["traffic_bytes"], t["peak_tflops"], self.gpu)
        nan = np.nan
        return Evaluations(
            metrics={
                "latency_s": np.where(feasible, lat, nan),
                "tflops": np.where(feasible, tflops, nan),
                "energy_j": np.where(feasible, en, nan),
            },
            feasible=feasible,
            reasons=reasons,
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "gpu": self.gpu.name,
            "dataset": self.dataset.name,
            "seed": self.seed,
        }


register_cost_model(
    "kernel-learned", KernelLearnedCostModel, "GPU kernel model learned from H100 measurements"
)
