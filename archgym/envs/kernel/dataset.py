"""The measured kernel datasets: where they are, how to load one, which rows to trust.

Shipped in ``data/``: ``kernels_h100.parquet`` (H100 SXM, 24 shapes, 20 tile configs per
case) and ``kernels_h200.parquet`` (H200 SXM, 83 shapes -- ``GRID_SHAPES``, the 16-32-token
``DECODE_SHAPES`` and 15 skinny 48-128-token shapes timed in int4/int8/fp8 only -- a fixed sample
of 200 tile configs per precision on every shape plus, per shape and precision, ~100 configs one
grid step from the fastest ones, :func:`~archgym.envs.kernel.measure.grid.plan_near`). Their ``.meta.json``
files say how each was collected. A user's own collection
(``archgym measure kernels --gpu --out mygpu.csv.gz``) loads the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from archgym.envs.kernel.gpus import gpu_from_device_name
from archgym.envs.kernel.space import DESIGN_COLUMNS, WORKLOAD_COLUMNS
from archgym.errors import ConfigError

__all__ = [
    "DATA_DIR",
    "DATASETS",
    "REQUIRED_COLUMNS",
    "load_dataset",
    "dataset_for",
    "trusted_rows",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DATASETS: dict[str, Path] = {
    "H100-SXM": DATA_DIR / "kernels_h100.parquet",
    "H200-SXM": DATA_DIR / "kernels_h200.parquet",
}
"""Shipped dataset of each GPU."""

REQUIRED_COLUMNS = WORKLOAD_COLUMNS + DESIGN_COLUMNS + ("latency_s", "feasible")

# The H100 collection timed these vendor paths the way users do not call them (int8 with a
# row-major second operand, 2:4/BSR with per-call conversions inside the timed region, int4
# of the same era): their times measure the harness, not the GPU (issue 11). Not trusted.
_H100_MISMEASURED = (("torch", "2:4"), ("torch", "block"), ("torch", "int8"), ("torch", "int4"))


def dataset_for(gpu: str) -> Path:
    """The shipped dataset of ``gpu``.

    Raises:
        ConfigError: No shipped dataset for that GPU (names the ones there are and the fix).
    """
    if gpu in DATASETS:
        return DATASETS[gpu]
    raise ConfigError(
        f"no shipped kernel dataset for GPU {gpu!r} (shipped: {', '.join(sorted(DATASETS))}); "
        "measure yours with `archgym measure kernels --gpu --out mygpu.csv.gz` and pass "
        "dataset='mygpu.csv.gz'"
    )


def _gpu_of(path: Path, frame: Any) -> str:
    if "gpu" in frame.columns:
        vals = [v for v in frame["gpu"].astype(str).unique() if v and v != "nan"]
        if len(vals) == 1:
            return vals[0]
    meta = path.with_name(path.name.split(".")[0] + ".meta.json")
    if meta.exists():
        info = json.loads(meta.read_text())
        return str(info.get("gpu_key") or gpu_from_device_name(str(info.get("gpu", ""))))
    return ""


def load_dataset(path: str | Path, gpu: str | None = None) -> Any:
    """Records of a kernel dataset (Parquet or CSV, gzip or not) as a pandas DataFrame.

    Adds a ``gpu`` column (from the records or the ``.meta.json`` beside the file) where it
    is missing.

    Raises:
        ConfigError: Missing or unreadable (e.g. truncated) file, missing columns, or records
            of another GPU of the spec table than ``gpu``; the message names the file and the
            fix.
    """
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure: missing, truncated, not a table
        raise ConfigError(
            f"cannot read kernel dataset {path}: {type(exc).__name__}: {exc}; give a file "
            "written by `archgym measure kernels --gpu --out FILE.csv.gz` (re-run it if the "
            "file was cut short)"
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"kernel dataset {path} lacks columns {missing}; expected the columns of "
            "archgym.envs.kernel.measure.plan.RECORD_COLUMNS (re-collect it with "
            "`archgym measure kernels --gpu`)"
        )
    found = _gpu_of(path, frame)
    if "gpu" not in frame.columns or frame["gpu"].astype(str).isin(["", "nan"]).any():
        frame = frame.assign(gpu=found)
    from archgym.envs.kernel.gpus import GPUS

    # a device name missing from the spec table (a user's own GPU) is not a conflict: the
    # user names that GPU's spec with `gpu` (register_gpu / gpu_spec=)
    if gpu is not None and found and found != gpu and found in GPUS:
        raise ConfigError(
            f"kernel dataset {path} was measured on {found}, not {gpu}; pass gpu={found!r} or "
            "a dataset of that GPU"
        )
    frame["feasible"] = frame["feasible"].astype(str).str.lower().isin(["true", "1"])
    return frame


def trusted_rows(frame: Any) -> Any:
    """Feasible, timed rows whose measurement can be trusted (drops the H100 vendor paths
    that were timed with per-call conversions or the wrong operand layout)."""
    ok = frame["feasible"].astype(bool) & (frame["latency_s"] > 0)
    gpu = frame["gpu"] if "gpu" in frame.columns else np.full(len(frame), "")
    h100 = np.asarray(gpu).astype(str) == "H100-SXM"
    bad = np.zeros(len(frame), dtype=bool)
    for backend, what in _H100_MISMEASURED:
        bad |= (frame["backend"] == backend).to_numpy() & (
            (frame["sparsity"] == what) | (frame["precision"] == what)
        ).to_numpy()
    return frame[ok.to_numpy() & ~(h100 & bad)]
