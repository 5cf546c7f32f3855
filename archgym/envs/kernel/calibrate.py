"""Fit every non-datasheet constant of the analytical kernel model on measured records.

:func:`fit_calibration` fits the global constants (:data:`~archgym.envs.kernel.analytical.
GLOBAL_PARAMS`) and one efficiency per path (``backend/family/precision``) by robust least
squares (``scipy.optimize.least_squares``, soft-L1 loss) on ``log(predicted / measured)``
latency. Each (shape, path) group weighs the same, whatever its row count, and at most
``per_group`` rows of a group enter the fit (a seeded sample) so a fit takes seconds.
:func:`heldout_errors` runs grouped K-fold by shape: fit on the training shapes, predict the
held-out ones. ``archgym measure calibrate DATA --gpu NAME`` and
``benchmarks/calibrate_kernels.py`` call both and write ``data/calibration.json``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archgym.envs.kernel.analytical import (
    CALIBRATION_FILE,
    GLOBAL_PARAMS,
    LEGACY_REG_OVERHEAD,
    path_keys,
    row_terms,
)
from archgym.envs.kernel.gpus import GPUSpec, get_gpu
from archgym.envs.kernel.space import DESIGN_COLUMNS, WORKLOAD_COLUMNS

__all__ = [
    "calibrate",
    "REGISTER_PARAMS",
    "SHIPPED_REGISTERS",
    "INT4_RATE",
    "SHIPPED_INT4_RATE",
    "shipped_params",
    "ROW_COLUMNS",
    "fit_calibration",
    "predict_rows",
    "heldout_errors",
    "write_calibration",
    "OVERHEADS_FILE",
    "fit_reduction",
    "reduction_constants",
]

REGISTER_PARAMS: dict[str, dict[str, tuple[float, float, float]]] = {
    "physical": dict(GLOBAL_PARAMS),
    "measured": {**GLOBAL_PARAMS, "reg_table": (1.0, 1.0, 1.0)},
    "fitted": {},
}
"""The global constants a calibration fits, by register term: ``"physical"`` (analytical v7,
:func:`~archgym.envs.kernel.analytical.thread_registers`), ``"measured"`` (the same, but on
sm_90 the registers, spills and shared memory ptxas gave each Triton config in
:data:`~archgym.envs.kernel.analytical.COMPILED_RESOURCES_FILE`, held by the constant
``reg_table = 1``, not fitted) or ``"fitted"`` (v6's constant ``reg_overhead``, fitted in v6's
parameter order, on which the least-squares result depends)."""
for _name, _bounds in GLOBAL_PARAMS.items():
    REGISTER_PARAMS["fitted"][_name] = _bounds
    if _name == "spill":
        REGISTER_PARAMS["fitted"]["reg_overhead"] = LEGACY_REG_OVERHEAD
SHIPPED_REGISTERS = {"H100-SXM": "fitted", "H200-SXM": "physical"}
"""The register term of each shipped GPU's calibration (``data/calibration.json``): the H200's
the compiler-fitted one of analytical v7; the H100's v6's fitted constant overhead, which scored
better there by ``benchmarks/kernel_rank_cv.py`` (the learned model's pick, inner CV: p90 regret
10.53 % against 16.17 %, worst 84.5 against 90.1 %). Other GPUs: ``"physical"``."""

INT4_RATE: dict[str, tuple[float, float, float]] = {"int4_rate": (1.0, 1.0, 1.0)}
"""The constant that runs the analytical model's vendor int4 path (torch's int4 weight-only
path, tinygemm) at a constant rate, ``flop / (fp16 peak * efficiency)``, without the vendor
tiles' quantisation; held at 1, not fitted (the path's efficiency is)."""
SHIPPED_INT4_RATE = frozenset({"H200-SXM"})
"""The GPUs whose shipped calibration holds :data:`INT4_RATE` (analytical v8): the H200, where
tinygemm ran at 24-29 TFLOP/s on 43 of its 57 shapes from 16 to 16,384 tokens
(``data/README.md``) and the rate took the learned model's held-out int4 vendor |error| from
15.4 to 6.6 % (outer folds of ``benchmarks/bench_kernel_fidelity.py``). Not the H100, which has
no trusted vendor int4 rows; a new GPU's fit holds it only if asked (``int4_rate``)."""


def shipped_params(
    gpu: str, registers: str | None = None, int4_rate: bool | None = None
) -> dict[str, tuple[float, float, float]]:
    """The global constants ``gpu``'s calibration fits, ``name -> (start, lower, upper)``.

    Args:
        gpu: GPU key.
        registers: The register term (:data:`REGISTER_PARAMS`; default ``gpu``'s shipped one,
            :data:`SHIPPED_REGISTERS`, else ``"physical"``).
        int4_rate: Hold :data:`INT4_RATE` (default: whether ``gpu`` is in
            :data:`SHIPPED_INT4_RATE`).
    """
    params = dict(REGISTER_PARAMS[registers or SHIPPED_REGISTERS.get(gpu, "physical")])
    if int4_rate is None:
        int4_rate = gpu in SHIPPED_INT4_RATE
    if int4_rate:
        params.update(INT4_RATE)
    return params


ROW_COLUMNS = tuple(c for c in WORKLOAD_COLUMNS if c != "shape") + DESIGN_COLUMNS
_PATH_BOUNDS = (0.01, 20.0)
OVERHEADS_FILE = CALIBRATION_FILE.parent / "kernels_h200_overheads.csv"
"""Launch and split-K reduction times measured on the H200 as their own metric
(``benchmarks/measure_kernel_overheads.py``; ``data/README.md``)."""
_OVERHEADS_HBM_TBPS = 4.8  # the H200 that measured OVERHEADS_FILE (datasheet)


def fit_reduction(frame: Any) -> dict[str, tuple[float, float]]:
    """``seconds = fixed + bytes / bandwidth`` fitted per output type to measured reductions.

    Args:
        frame: Rows of ``benchmarks/measure_kernel_overheads.py`` (``kind``, ``out_dtype``,
            ``bytes``, ``seconds``); only ``kind == "splitk_reduce"`` rows are used.

    Returns:
        ``out_dtype -> (fixed seconds, bytes per second)``, by least squares on the relative
        error (every timing weighs the same, whatever its size).
    """
    red = np.asarray(frame["kind"]) == "splitk_reduce"
    dtypes = np.asarray(frame["out_dtype"])[red].astype(str)
    seconds = np.asarray(frame["seconds"], dtype=float)[red]
    nbytes = np.asarray(frame["bytes"], dtype=float)[red]
    out = {}
    for out_dtype in sorted(set(dtypes.tolist())):
        rows = dtypes == out_dtype
        t = seconds[rows]
        a = np.column_stack([np.ones(len(t)), nbytes[rows]]) / t[:, None]
        (fixed, per_byte), *_ = np.linalg.lstsq(a, np.ones(len(t)), rcond=None)
        out[out_dtype] = (float(fixed), float(1.0 / per_byte))
    return out


def reduction_constants() -> dict[str, tuple[float, float]]:
    """:func:`fit_reduction` of the shipped measurement, the bandwidth as a fraction of the
    measuring GPU's datasheet HBM bandwidth: ``out_dtype -> (fixed seconds, fraction)``.
    Fitted once per process; each call returns its own dict."""
    return dict(_reduction_constants())


@functools.lru_cache(maxsize=1)
def _reduction_constants() -> dict[str, tuple[float, float]]:
    import csv

    # the standard library's reader: pandas is not needed at a stored model's first use
    with OVERHEADS_FILE.open(newline="") as f:
        rows = list(csv.DictReader(f))
    fitted = fit_reduction(
        {k: [r[k] for r in rows] for k in ("kind", "out_dtype", "bytes", "seconds")}
    )
    return {k: (f, bw / (_OVERHEADS_HBM_TBPS * 1e12)) for k, (f, bw) in fitted.items()}


def _columns(frame: Any) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy() for c in ROW_COLUMNS}


def predict_rows(frame: Any, gpu: GPUSpec, calib: Mapping[str, float]) -> np.ndarray:
    """Analytical latency of every row of ``frame`` (rows carry their own workloads)."""
    with np.errstate(all="ignore"):
        return row_terms(_columns(frame), gpu, calib)["latency_s"]


def _sample(frame: Any, per_group: int, seed: int) -> Any:
    keys = path_keys(frame["backend"], frame["sparsity"], frame["precision"], frame["op"])
    frame = frame.assign(_path=keys)
    rng = np.random.default_rng(seed)
    parts = []
    for _, grp in frame.groupby(["shape", "_path"], sort=True):
        if len(grp) > per_group:
            grp = grp.iloc[np.sort(rng.choice(len(grp), per_group, replace=False))]
        parts.append(grp.assign(_w=1.0 / np.sqrt(len(grp))))
    import pandas as pd

    return pd.concat(parts)


def fit_calibration(
    frame: Any,
    gpu: str | GPUSpec,
    seed: int = 0,
    per_group: int = 24,
    max_nfev: int = 30,
    params: Mapping[str, tuple[float, float, float]] = GLOBAL_PARAMS,
) -> dict[str, float]:
    """Fitted constants for ``gpu`` from the feasible rows of ``frame``; deterministic.

    ``params``: the global constants to fit, ``name -> (start, lower, upper)`` (default
    :data:`GLOBAL_PARAMS`; adding ``reg_overhead`` fits analytical v6's register overhead); a
    constant whose bounds are equal is held at that value, not fitted (``reg_table``).

    Returns:
        name -> value: the ``params`` and ``"path:<key>"`` for every path in ``frame``.
    """
    from scipy.optimize import least_squares

    spec = get_gpu(gpu)
    frame = frame[frame["feasible"].astype(bool) & (frame["latency_s"] > 0)]
    data = _sample(frame, per_group, seed)
    paths = sorted(set(data["_path"]))
    fixed = {n: float(b[0]) for n, b in params.items() if b[1] == b[2]}
    params = {n: b for n, b in params.items() if n not in fixed}
    names = list(params) + [f"path:{p}" for p in paths]
    x0 = np.log([params[n][0] for n in params] + [1.0] * len(paths))
    lo = np.log([max(params[n][1], 1e-9) for n in params] + [_PATH_BOUNDS[0]] * len(paths))
    hi = np.log([params[n][2] for n in params] + [_PATH_BOUNDS[1]] * len(paths))
    cols = _columns(data)
    y = np.log(data["latency_s"].to_numpy(float))
    w = data["_w"].to_numpy(float)
    # start each path's efficiency where its median log error is zero (compute-bound rows
    # scale with 1/efficiency), with the globals at their starting points
    start = {**fixed, **dict(zip(names, np.exp(x0), strict=True))}
    with np.errstate(all="ignore"):
        pred0 = row_terms(cols, spec, start)["latency_s"]
    path_col = data["_path"].to_numpy()
    for j, p in enumerate(paths):
        sel = path_col == p
        x0[len(params) + j] = float(np.nanmedian(np.log(pred0[sel]) - y[sel]))
    x0 = np.clip(x0, lo + 1e-6, hi - 1e-6)

    def resid(x: np.ndarray) -> np.ndarray:
        calib = {**fixed, **dict(zip(names, np.exp(x), strict=True))}
        with np.errstate(all="ignore"):
            pred = row_terms(cols, spec, calib)["latency_s"]
        r = w * (np.log(pred) - y)
        return np.nan_to_num(r, nan=10.0, posinf=10.0, neginf=-10.0)

    sol = least_squares(
        resid, x0, bounds=(lo, hi), loss="soft_l1", f_scale=0.2, max_nfev=max_nfev, x_scale=1.0
    )
    return {**fixed, **{n: float(v) for n, v in zip(names, np.exp(sol.x), strict=True)}}


def heldout_errors(
    frame: Any, gpu: str | GPUSpec, folds: int = 5, seed: int = 0, **fit_kw: Any
) -> Any:
    """Grouped K-fold by shape: each shape's rows predicted by a calibration fitted without it.

    Returns:
        The feasible rows of ``frame`` with ``pred_s`` (held-out prediction) and ``fold``.
    """
    from sklearn.model_selection import GroupKFold

    spec = get_gpu(gpu)
    frame = frame[frame["feasible"].astype(bool) & (frame["latency_s"] > 0)].copy()
    frame["pred_s"] = np.nan
    frame["fold"] = -1
    for i, (tr, te) in enumerate(GroupKFold(n_splits=folds).split(frame, groups=frame["shape"])):
        calib = fit_calibration(frame.iloc[tr], spec, seed=seed, **fit_kw)
        idx = frame.index[te]
        frame.loc[idx, "pred_s"] = predict_rows(frame.loc[idx], spec, calib)
        frame.loc[idx, "fold"] = i
    return frame


def write_calibration(
    gpu: str,
    params: Mapping[str, float],
    info: Mapping[str, Any],
    path: str | Path = CALIBRATION_FILE,
) -> Path:
    """Add or replace ``gpu``'s entry of the calibration JSON (other GPUs are kept)."""
    path = Path(path)
    table = json.loads(path.read_text()) if path.exists() else {}
    table[gpu] = {"params": {k: float(f"{v:.6g}") for k, v in params.items()}, **info}
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return path


def summarize(frame: Any, by: Sequence[str] = ("backend", "sparsity", "precision")) -> Any:
    """Median and p90 of ``|pred_s / latency_s - 1|`` per group, in percent."""
    err = (frame["pred_s"] / frame["latency_s"] - 1).abs() * 100
    g = err.groupby([frame[c] for c in by])
    return g.agg(median="median", p90=lambda s: s.quantile(0.9), rows="size").round(1)


def calibrate(
    gpu: str,
    dataset: str,
    folds: int = 5,
    write: bool = True,
    out: str | None = None,
    registers: str | None = None,
    int4_rate: bool | None = None,
) -> int:
    """Print held-out-shape errors (grouped K-fold), fit on all shapes, write; returns 0.

    The report of ``archgym measure calibrate`` (``out``: its ``--out``, by default
    ``calibration.json`` in the current directory) and ``benchmarks/calibrate_kernels.py``
    (``out=None``: the package's shipped calibration, which that script maintains).
    ``registers``: the register term fitted (:data:`REGISTER_PARAMS`; default the GPU's
    shipped one, :data:`SHIPPED_REGISTERS`, else ``"physical"``); ``int4_rate``: hold
    :data:`INT4_RATE` (default: the GPU's shipped choice, :data:`SHIPPED_INT4_RATE`).
    """
    import time

    from archgym.envs.kernel.dataset import load_dataset, trusted_rows

    frame = trusted_rows(load_dataset(dataset, gpu))
    print(
        f"== {gpu}: {len(frame)} trusted timed rows, {frame['shape'].nunique()} shapes ({dataset})"
    )
    t0 = time.process_time(), time.perf_counter()
    params_fit = shipped_params(gpu, registers, int4_rate)
    held = heldout_errors(frame, gpu, folds=folds, params=params_fit)
    print(f"held-out-shape errors ({folds}-fold by shape), percent:")
    print(summarize(held).to_string())
    err = (held["pred_s"] / held["latency_s"] - 1).abs()
    print(f"all paths: median {100 * err.median():.1f} %, p90 {100 * err.quantile(0.9):.1f} %")
    params = fit_calibration(frame, gpu, params=params_fit)
    cpu, wall = time.process_time() - t0[0], time.perf_counter() - t0[1]
    print(f"fitted {len(params)} constants ({cpu:.1f} s CPU, {wall:.1f} s wall for all fits)")
    for k, v in params.items():
        print(f"  {k:28s} {v:.4g}")
    if write:
        info = {
            "dataset": str(dataset).split("/")[-1],
            "rows": int(len(frame)),
            "shapes": int(frame["shape"].nunique()),
            "heldout_median_abs_err": round(float(err.median()), 4),
            "fitted_with": (
                f"python benchmarks/calibrate_kernels.py --gpu {gpu}"
                + ("" if registers is None else f" --registers {registers}")
                + ("" if int4_rate is None else f" --{'' if int4_rate else 'no-'}int4-rate")
                if out is None
                else f"archgym measure calibrate {dataset} --gpu {gpu} --out {out}"
            ),
        }
        kw = {} if out is None else {"path": out}
        path = write_calibration(gpu, params, info, **kw)
        print(f"wrote {gpu}'s constants to {path}")
        if out is not None:
            print(
                f"use them with --env-opt calibration={out} (archgym run) or "
                f"calibration={str(out)!r} (archgym.make, the kernel cost models)"
            )
    return 0
