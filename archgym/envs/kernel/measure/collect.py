"""Collect a kernel dataset on the local GPU: plan, compile in parallel, time, write.

Used by ``archgym measure kernels --gpu`` and ``benchmarks/collect_kernels.py``. Triton
compiles take seconds each, so every distinct kernel is first compiled into Triton's on-disk
cache by a process pool (:func:`compile_all`); the timing loop then only loads binaries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from archgym.envs.kernel.measure.plan import (
    DESIGN_COLUMNS,
    RECORD_COLUMNS,
    WORKLOAD_COLUMNS,
    collection_metadata,
    make_record,
    measure_points,
    require_cuda,
    write_dataset,
)

__all__ = ["compile_key", "compile_all", "merge_records", "run_collection", "summarize_plan"]


def compile_key(p: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What makes Triton compile a distinct binary for point ``p`` (None for torch points).

    Constexprs (tile, mode, precision, warps, stages, split) and the divisibility-by-16 /
    equal-to-1 specialisation Triton applies to integer arguments.
    """
    if p["backend"] != "triton":
        return None
    mode = {"spmm": 1, "sddmm": 2}.get(str(p["op"]), 0) if p["sparsity"] == "block" else 0
    m, n, k, g = (int(p[x]) for x in ("m", "n", "k", "groups"))
    ints = (m, n, k, k // 2, m * k, k * n, m * n, g * m * n)
    spec = tuple((v % 16 == 0, v == 1) for v in ints)
    return (
        str(p["precision"]),
        mode,
        int(p["block_m"]),
        int(p["block_n"]),
        int(p["block_k"]),
        int(p["group_m"]),
        int(p["num_warps"]),
        int(p["num_stages"]),
        int(p["split_k"]),
        spec,
    )


def summarize_plan(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of a plan by backend, op, sparsity and precision, and distinct compiles."""
    from collections import Counter

    keys = {compile_key(p) for p in points} - {None}
    return {
        "points": len(points),
        "distinct_triton_compiles": len(keys),
        "shapes": len({p["shape"] for p in points}),
        "by_backend": dict(Counter(p["backend"] for p in points)),
        "by_op": dict(Counter(p["op"] for p in points)),
        "by_sparsity": dict(Counter(p["sparsity"] for p in points)),
        "by_precision": dict(Counter(p["precision"] for p in points)),
    }


def compile_all(
    points: Sequence[Mapping[str, Any]],
    workers: int,
    timeout_s: float,
    log: Callable[[str], None] = print,
) -> dict[tuple[Any, ...], str]:
    """Compile one representative point per :func:`compile_key` in a process pool.

    Returns:
        compile key -> error text, for the keys that failed to compile (out of resources,
        unsupported dtype...). Keys still compiling at ``timeout_s`` are left to compile on
        first launch.
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    from archgym.envs.kernel.measure.runners import warmup_compile

    reps: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for p in points:
        key = compile_key(p)
        if key is not None and key not in reps:
            reps[key] = p
    keys = list(reps)
    chunks = [keys[i :: workers * 4] for i in range(workers * 4)]
    chunks = [c for c in chunks if c]
    errors: dict[tuple[Any, ...], str] = {}
    t0 = time.monotonic()
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    futs = {pool.submit(warmup_compile, [dict(reps[k]) for k in c]): c for c in chunks}
    done_n = 0
    try:
        for fut in cf.as_completed(futs, timeout=timeout_s):
            c = futs[fut]
            try:
                errs = fut.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker: compile on launch
                log(f"compile worker failed: {exc}")
                continue
            for k, e in zip(c, errs, strict=True):
                if e:
                    errors[k] = e
            done_n += len(c)
    except cf.TimeoutError:
        log(f"compile phase hit its {timeout_s:.0f} s limit; the rest compile on first launch")
    pool.shutdown(wait=False, cancel_futures=True)
    log(
        f"compiled {done_n}/{len(keys)} kernels in {time.monotonic() - t0:.1f} s "
        f"({len(errors)} failed)"
    )
    return errors


def run_collection(
    points: Sequence[Mapping[str, Any]],
    out: str | Path,
    *,
    reps: int = 20,
    warmup: int = 3,
    seed: int = 0,
    workers: int = 8,
    compile_timeout_s: float = 200.0,
    deadline_s: float | None = None,
    checkpoint_every: int = 250,
    log: Callable[[str], None] = print,
) -> tuple[Path, Path]:
    """Measure ``points`` on the local GPU and write the dataset to ``out`` (.csv.gz).

    Writes a checkpoint every ``checkpoint_every`` records so a run cut short keeps its data.
    ``deadline_s`` counts from the call and covers compiling and timing.

    Raises:
        BackendError: No CUDA GPU.
    """
    require_cuda()
    t0 = time.monotonic()
    out = Path(out)
    errors = compile_all(points, workers, compile_timeout_s, log) if workers > 0 else {}
    records: list[dict[str, Any]] = []
    todo = []
    for p in points:
        key = compile_key(p)
        if key is not None and key in errors:
            records.append(make_record(p, None, reason=f"compile: {errors[key]}"))
        else:
            todo.append(p)
    meta = collection_metadata(reps, warmup, seed, planned_points=len(points))

    def on_record(rec: dict[str, Any]) -> None:
        records.append(rec)
        if len(records) % checkpoint_every == 0:
            write_dataset(records, out, {**meta, "partial": True})
            log(f"{len(records)}/{len(points)} records, {time.monotonic() - t0:.0f} s")

    left = None if deadline_s is None else max(deadline_s - (time.monotonic() - t0), 0.0)
    measure_points(todo, reps=reps, warmup=warmup, seed=seed, deadline_s=left, on_record=on_record)
    meta["elapsed_s"] = round(time.monotonic() - t0, 1)
    meta["partial"] = len(records) < len(points)
    return write_dataset(records, out, meta)


def merge_records(base: Any, new: Any) -> Any:
    """Records of ``base`` with those of ``new`` laid over them (pandas DataFrames).

    Rows are matched on workload and design columns: a row of ``new`` replaces the ``base``
    row with the same key (a re-measurement, e.g. of a design that failed before) and is
    appended otherwise. Column order is :data:`RECORD_COLUMNS`; the unreplaced ``base`` rows
    keep their order and come first, then the rows of ``new``.
    """
    import pandas as pd

    key = list(WORKLOAD_COLUMNS + DESIGN_COLUMNS)
    new = new.drop_duplicates(key, keep="last")
    cols = list(RECORD_COLUMNS)
    merged = pd.concat([base[cols], new[cols]], ignore_index=True)
    return merged.drop_duplicates(key, keep="last").reset_index(drop=True)
