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

__all__ = [
    "compile_key",
    "compile_all",
    "merge_records",
    "point_key",
    "run_collection",
    "run_pipelined",
    "sanity_flags",
    "summarize_plan",
]


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


def point_key(p: Mapping[str, Any]) -> tuple[str, ...]:
    """Workload and design of a point or record, as text (matches across CSV round trips)."""
    out = []
    for c in WORKLOAD_COLUMNS + DESIGN_COLUMNS:
        v = p[c]
        out.append(f"{float(v):g}" if c == "density" else str(int(v)) if c not in _TEXT else str(v))
    return tuple(out)


_TEXT = {"op", "shape", "backend", "precision", "sparsity"}


def sanity_flags(frame: Any) -> Any:
    """Why each vendor row is more than 3x slower than dense fp16 at equal FLOP, else "".

    Compares useful TFLOP/s with the vendor dense fp16 row of the same ``(m, n, k, groups)``;
    returns a string Series aligned with ``frame``.
    """
    import pandas as pd

    flags = pd.Series("", index=frame.index, dtype=object)
    ok = frame["feasible"].astype(bool)
    ref = frame[
        ok
        & (frame["backend"] == "torch")
        & (frame["sparsity"] == "dense")
        & (frame["precision"] == "fp16")
    ]
    best = ref.groupby(["m", "n", "k", "groups"])["tflops"].max()
    vend = frame[ok & (frame["backend"] == "torch")]
    for i, row in vend.iterrows():
        f0 = best.get((row["m"], row["n"], row["k"], row["groups"]))
        if f0 is not None and row["tflops"] > 0 and f0 / row["tflops"] > 3.0:
            flags[i] = f"{f0 / row['tflops']:.1f}x dense fp16 time at equal FLOP"
    return flags


def run_pipelined(
    points: Sequence[Mapping[str, Any]],
    out: str | Path,
    *,
    gpu: str,
    reps: int = 10,
    seed: int = 0,
    workers: int = 14,
    deadline_s: float | None = None,
    resume: Any = None,
    batch: int = 400,
    checkpoint_every: int = 2000,
    log: Callable[[str], None] = print,
    meta_extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Compile and time ``points`` (in priority order) at once; write ``out`` as it goes.

    A process pool compiles the distinct Triton kernels in the order the points need them
    while the main process times the points whose kernels are ready, ``batch`` at a time.
    Records of ``resume`` (a DataFrame of an earlier, cut-short run) are kept and their
    points skipped. ``deadline_s`` covers compiling and timing; the file is rewritten every
    ``checkpoint_every`` records and at the end, with a ``sanity`` flag on slow vendor paths.

    Raises:
        BackendError: No CUDA GPU.
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    import pandas as pd

    from archgym.envs.kernel.measure.runners import warmup_compile

    require_cuda()
    t0 = time.monotonic()
    out = Path(out)
    records: list[dict[str, Any]] = []
    if resume is not None and len(resume):
        records = resume.to_dict("records")
    done = {point_key(r) for r in records}
    todo = [p for p in points if point_key(p) not in done]
    log(f"{len(records)} records resumed, {len(todo)} points to measure")
    reps_by_key: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for p in todo:
        key = compile_key(p)
        if key is not None and key not in reps_by_key:
            reps_by_key[key] = p
    keys = list(reps_by_key)
    pool = cf.ProcessPoolExecutor(max_workers=max(workers, 1), mp_context=mp.get_context("spawn"))
    futs: dict[tuple[Any, ...], Any] = {}
    for i in range(0, len(keys), 4):
        chunk = keys[i : i + 4]
        fut = pool.submit(warmup_compile, [dict(reps_by_key[k]) for k in chunk])
        for j, k in enumerate(chunk):
            futs[k] = (fut, j)
    meta = collection_metadata(reps, 1, seed, planned_points=len(points), **(meta_extra or {}))
    meta["gpu_key"] = gpu
    since = [0]

    def save(final: bool = False) -> tuple[Path, Path]:
        frame = pd.DataFrame(records, columns=list(RECORD_COLUMNS))
        frame["sanity"] = sanity_flags(frame)
        meta["elapsed_s"] = round(time.monotonic() - t0, 1)
        meta["partial"] = not final or len(frame) < len(points)
        return write_dataset(frame.to_dict("records"), out, meta)

    def on_record(rec: dict[str, Any]) -> None:
        records.append(rec)
        since[0] += 1
        if since[0] >= checkpoint_every:
            since[0] = 0
            save()
            log(f"{len(records)}/{len(points)} records, {time.monotonic() - t0:.0f} s")

    failed = 0
    try:
        for start in range(0, len(todo), batch):
            left = None if deadline_s is None else deadline_s - (time.monotonic() - t0)
            if left is not None and left <= 0:
                log("deadline reached")
                break
            ready = []
            for p in todo[start : start + batch]:
                key = compile_key(p)
                if key is None:
                    ready.append(p)
                    continue
                fut, j = futs[key]
                try:
                    wait = (
                        None
                        if deadline_s is None
                        else max(deadline_s - (time.monotonic() - t0), 1.0)
                    )
                    err = fut.result(timeout=wait)[j]
                except cf.TimeoutError:
                    err = ""  # compile on first launch
                except Exception as exc:  # noqa: BLE001 - a crashed worker: compile on launch
                    err = ""
                    log(f"compile worker failed: {exc}")
                if err:
                    failed += 1
                    on_record(make_record(p, None, reason=f"compile: {err}", gpu=gpu))
                else:
                    ready.append(p)
            left = None if deadline_s is None else deadline_s - (time.monotonic() - t0)
            measure_points(
                ready, reps=reps, seed=seed, deadline_s=left, on_record=on_record, gpu=gpu, log=log
            )
            log(
                f"batch {start // batch}: {len(records)} records ({failed} compile failures), "
                f"{time.monotonic() - t0:.0f} s"
            )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return save(final=True)
