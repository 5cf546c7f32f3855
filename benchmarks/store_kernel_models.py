"""Fit the learned kernel model of each shipped GPU and store it as arrays (CPU only).

    python benchmarks/store_kernel_models.py                 # both shipped GPUs
    python benchmarks/store_kernel_models.py --gpu H200-SXM

Run after a change of a shipped dataset, the calibration, the reduction constants, a shipped
GPU's spec, or the learned or analytical model (their versions): ``tests/test_kernel_stored.py``
fails while the stored key is stale. For each GPU: fits the model as ``KernelLearnedCostModel``
does at first use (default seed, objective and pick), writes
``archgym/envs/kernel/data/learned_<gpu>.npz`` (:mod:`archgym.envs.kernel.stored`), then checks
that the stored model predicts every trusted row of the dataset exactly as the fitted one did
(latency and ranking key), and prints the fit's CPU and wall time and the file size.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _timing import shipped_gpu_option

from archgym.envs.kernel.calibrate import ROW_COLUMNS
from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.learned import (
    MAX_ITER,
    _Fitted,
    fit_kernel_model,
    predict_latency,
    predict_pick,
    stored_key,
)
from archgym.envs.kernel.stored import load_fitted, save_fitted, stored_path


def store(gpu: str, seed: int = 0, objective: str = "residual", pick: str = "ranked") -> int:
    """Fit, store and verify the model of ``gpu``; returns the number of rows that differ."""
    path = DATASETS[gpu]
    frame = load_dataset(path, gpu)
    c0, w0 = time.process_time(), time.perf_counter()
    fitted = fit_kernel_model(frame, gpu, objective, seed, MAX_ITER, pick=pick)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    key = stored_key(path, gpu, seed, objective, pick)
    out = stored_path(gpu)
    save_fitted(out, fitted, key)
    loaded = load_fitted(out, key)
    assert loaded is not None
    stored = _Fitted(loaded[0], objective, fitted.calib, loaded[1], loaded[2])
    rows = trusted_rows(frame)
    cols = {c: rows[c].to_numpy() for c in ROW_COLUMNS}
    spec = get_gpu(gpu)
    a, b = predict_latency(fitted, cols, spec), predict_latency(stored, cols, spec)
    pa, pb = predict_pick(fitted, cols, spec), predict_pick(stored, cols, spec)
    differ = int((a != b).sum() + (pa != pb).sum())
    print(
        f"{gpu}: fit {cpu:.1f} s CPU, {wall:.1f} s wall; wrote {out.name} "
        f"({out.stat().st_size / 1024:.0f} KiB, key {key[:12]}); stored vs fitted on "
        f"{len(rows)} trusted rows: {differ} latencies or ranking keys differ, max |rel diff| "
        f"{float(max(np.max(np.abs(b / a - 1)), np.max(np.abs(pb / pa - 1)))):.1e}"
    )
    return differ


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped_gpu_option(ap)
    args = ap.parse_args(argv)
    bad = sum(store(g) for g in args.gpu or sorted(DATASETS))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
