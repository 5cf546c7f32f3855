"""Live measurement of matrix kernels on a CUDA GPU: planning, timing and the record format.

Planning (:func:`plan_collection`) and the record format (:data:`RECORD_COLUMNS`,
:func:`write_dataset`) are pure numpy/pandas and run on CPU; :func:`measure_points` needs
torch with CUDA (and Triton for ``backend='triton'``) and raises
:class:`~archgym.errors.BackendError` without them.

Timing protocol (:func:`time_cuda`): compile first (excluded), ``warmup`` calls, then for each
of ``reps`` repetitions write a 256 MB buffer (flushes the 50 MB L2), record a CUDA event,
run the kernel, record a second event; the result is the median of the ``reps`` event
intervals. A design that fails to compile or launch (out of shared memory or registers, an
unsupported dtype) becomes an infeasible record whose reason is the exception text
(:func:`error_text`: complete, or its head and its tail when long).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archgym.envs.kernel.constraints import check_designs
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.measure.errors import error_text
from archgym.envs.kernel.measure.grid import TILE_NAMES, tile_grid
from archgym.envs.kernel.space import (
    DESIGN_COLUMNS,
    WORKLOAD_COLUMNS,
    KernelWorkload,
    named_workload,
)
from archgym.errors import BackendError

__all__ = [
    "DESIGN_COLUMNS",
    "WORKLOAD_COLUMNS",
    "RECORD_COLUMNS",
    "EXTRA_COLUMNS",
    "COLLECTION_SHAPES",
    "tile_pool",
    "plan_collection",
    "point_workload",
    "useful_flop",
    "make_record",
    "write_dataset",
    "error_text",
    "require_cuda",
    "time_cuda",
    "measure_points",
]

EXTRA_COLUMNS = ("gpu", "reps", "call_s", "setup_s", "rel_err", "kernels", "sanity")
"""Added by the second collection (H200): ``gpu`` (a key of
:data:`~archgym.envs.kernel.gpus.GPUS`), ``reps`` (timed repetitions), ``call_s`` (event-timed
seconds of one call, host gaps included; vendor paths only -- their ``latency_s`` is the
device time of the kernels the profiler saw inside the call), ``setup_s`` (one-time
conversion/packing seconds of a vendor path), ``rel_err`` (relative error against a float32
reference), ``kernels`` (the kernels one vendor call ran, ``;``-separated) and ``sanity``
(why a path is more than 3x slower than dense fp16 at equal FLOP, else empty). Older data
has them empty."""
RECORD_COLUMNS = (
    WORKLOAD_COLUMNS
    + DESIGN_COLUMNS
    + (
        "latency_s",
        "tflops",
        "tile_density",
        "feasible",
        "reason",
    )
    + EXTRA_COLUMNS
)
"""Columns of a measured record, in order. ``tile_density`` is the fraction of tiles the
Triton kernel computed (block-sparse), NaN otherwise; the last ones are
:data:`EXTRA_COLUMNS`."""

# (layer, tokens) pairs measured by the default collection; `op` follows the layer.
COLLECTION_SHAPES: tuple[tuple[str, int], ...] = (
    ("bert-base.qkv", 4096),
    ("bert-base.attn_out", 4096),
    ("bert-base.ffn_up", 512),
    ("bert-base.ffn_down", 4096),
    ("gpt2.qkv", 1024),
    ("gpt2.ffn_up", 4096),
    ("gpt2.lm_head", 256),
    ("llama-7b.qkv", 128),
    ("llama-7b.attn_out", 2048),
    ("llama-7b.ffn_up", 512),
    ("llama-7b.ffn_down", 2048),
    ("llama-7b.ffn_up", 16),
    ("llama-70b.qkv", 512),
    ("llama-70b.attn_out", 64),
    ("llama-70b.ffn_up", 256),
    ("llama-70b.ffn_down", 1024),
    ("mixtral.expert_up", 256),
    ("mixtral.expert_down", 512),
    ("bert-base.ffn_up", 16384),
    ("llama-7b.attn_out", 8192),
)


def tile_pool(
    precision: str, size: int, rng: np.random.Generator, gpu: str = "H100-SXM"
) -> list[dict[str, int]]:
    """``size`` distinct Triton tile configs that pass the constraint rules for ``precision``.

    Drawn uniformly (with ``rng``) from the feasible grid of BLOCK_M/N/K, GROUP_M,
    num_warps, num_stages and split_k; a fixed pool bounds how many kernels must compile.
    """
    cols = tile_grid(precision)
    big = KernelWorkload("gemm", m=8192, n=8192, k=8192)
    ok, _ = check_designs(cols, big, get_gpu(gpu))
    # small tiles waste time on big shapes; keep BM*BN >= 32*32 and prefer split_k 1
    ok &= cols["block_m"] * cols["block_n"] >= 1024
    idx = np.flatnonzero(ok)
    split1 = idx[cols["split_k"][idx] == 1]
    rest = idx[cols["split_k"][idx] > 1]
    n1 = min(len(split1), int(round(size * 0.75)))
    pick = np.concatenate(
        [
            rng.choice(split1, n1, replace=False),
            rng.choice(rest, min(len(rest), size - n1), replace=False),
        ]
    )
    return [{k: int(cols[k][i]) for k in TILE_NAMES} for i in np.sort(pick)]


_VENDOR_TILE = {
    "block_m": 0,
    "block_n": 0,
    "block_k": 0,
    "group_m": 0,
    "num_warps": 0,
    "num_stages": 0,
    "split_k": 1,
}


def plan_collection(
    seed: int = 0,
    configs_per_case: int = 20,
    pool_size: int = 36,
    shapes: Sequence[tuple[str, int]] = COLLECTION_SHAPES,
    gpu: str = "H100-SXM",
) -> list[dict[str, Any]]:
    """The measurement plan of the shipped dataset: one dict per point (workload + design).

    Per shape: Triton dense at every precision, Triton block-sparse SpMM (fp16, bf16, fp8 at
    densities 0.25/0.5 with block 32/64/128), Triton block SDDMM (fp16), each over
    ``configs_per_case`` tile configs from a per-precision pool of ``pool_size``; and the
    vendor library (torch) for dense at each precision, 2:4, block, N:M, unstructured SpMM
    and unstructured SDDMM. Points the constraint rules reject are dropped. Deterministic
    under ``seed``.
    """
    rng = np.random.default_rng(seed)
    pools = {p: tile_pool(p, pool_size, rng, gpu) for p in ("fp16", "bf16", "fp8", "int8", "int4")}
    spec = get_gpu(gpu)
    points: list[dict[str, Any]] = []

    def add(wl: KernelWorkload, design: dict[str, Any]) -> None:
        points.append(
            {
                "op": wl.op,
                "shape": wl.name,
                "m": wl.m,
                "n": wl.n,
                "k": wl.k,
                "groups": wl.groups,
                **design,
            }
        )

    def triton_cases(wl: KernelWorkload, prec: str, sp: str, dens: float, blk: int) -> None:
        pool = pools[prec]
        for j in rng.choice(len(pool), min(configs_per_case, len(pool)), replace=False):
            add(
                wl,
                {
                    "backend": "triton",
                    "precision": prec,
                    "sparsity": sp,
                    "density": dens,
                    "sparse_block": blk,
                    **pool[int(j)],
                },
            )

    for layer, tokens in shapes:
        wl = named_workload(layer, tokens)
        for prec in ("fp16", "bf16", "fp8", "int8", "int4"):
            triton_cases(wl, prec, "dense", 1.0, 0)
            add(
                wl,
                {
                    "backend": "torch",
                    "precision": prec,
                    "sparsity": "dense",
                    "density": 1.0,
                    "sparse_block": 0,
                    **_VENDOR_TILE,
                },
            )
        if wl.op == "grouped_gemm":
            continue
        sp_wl = KernelWorkload("spmm", wl.m, wl.n, wl.k, name=wl.name)
        for prec in ("fp16", "bf16", "fp8"):
            dens, blk = float(rng.choice([0.25, 0.5])), int(rng.choice([32, 64, 128]))
            triton_cases(sp_wl, prec, "block", dens, blk)
        for prec in ("fp16", "bf16", "int8", "fp8"):
            add(
                sp_wl,
                {
                    "backend": "torch",
                    "precision": prec,
                    "sparsity": "2:4",
                    "density": 0.5,
                    "sparse_block": 0,
                    **_VENDOR_TILE,
                },
            )
        for dens in (0.1, 0.5):
            add(
                sp_wl,
                {
                    "backend": "torch",
                    "precision": "fp16",
                    "sparsity": "block",
                    "density": dens,
                    "sparse_block": 64,
                    **_VENDOR_TILE,
                },
            )
            add(
                sp_wl,
                {
                    "backend": "torch",
                    "precision": "fp16",
                    "sparsity": "unstructured",
                    "density": dens,
                    "sparse_block": 0,
                    **_VENDOR_TILE,
                },
            )
        add(
            sp_wl,
            {
                "backend": "torch",
                "precision": "fp16",
                "sparsity": "nm",
                "density": 0.25,
                "sparse_block": 0,
                **_VENDOR_TILE,
            },
        )
        sd_wl = KernelWorkload("sddmm", wl.m, wl.n, wl.k, name=wl.name)
        triton_cases(
            sd_wl, "fp16", "block", float(rng.choice([0.1, 0.25, 0.5])), int(rng.choice([64, 128]))
        )
        add(
            sd_wl,
            {
                "backend": "torch",
                "precision": "fp16",
                "sparsity": "unstructured",
                "density": 0.05,
                "sparse_block": 0,
                **_VENDOR_TILE,
            },
        )
    # drop points the rules reject (they would be infeasible records, not measurements)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault((p["op"], p["m"], p["n"], p["k"], p["groups"]), []).append(i)
    ok = np.zeros(len(points), dtype=bool)
    for idx in groups.values():
        cols = {k: np.asarray([points[i][k] for i in idx]) for k in points[idx[0]]}
        ok[idx] = check_designs(cols, point_workload(points[idx[0]]), spec)[0]
    return [p for p, good in zip(points, ok, strict=True) if good]


def point_workload(point: Mapping[str, Any]) -> KernelWorkload:
    """The :class:`KernelWorkload` of a plan point or record."""
    return KernelWorkload(
        str(point["op"]),
        int(point["m"]),
        int(point["n"]),
        int(point["k"]),
        int(point["groups"]),
        name=str(point.get("shape", "")),
    )


def useful_flop(point: Mapping[str, Any]) -> float:
    """FLOP of the non-zero work: ``2 * G * M * N * K * density``."""
    wl = point_workload(point)
    return wl.dense_flop * float(point["density"])


_EXTRA_DEFAULTS: dict[str, Any] = {
    "gpu": "",
    "reps": 0,
    "call_s": float("nan"),
    "setup_s": float("nan"),
    "rel_err": float("nan"),
    "kernels": "",
    "sanity": "",
}


def make_record(
    point: Mapping[str, Any],
    latency_s: float | None,
    reason: str = "",
    tile_density: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One record in :data:`RECORD_COLUMNS` order; ``latency_s=None`` means infeasible.

    ``extra`` sets :data:`EXTRA_COLUMNS` (unknown names raise ``KeyError``).
    """
    bad = set(extra) - set(EXTRA_COLUMNS)
    if bad:
        raise KeyError(f"unknown record fields {sorted(bad)}; expected some of {EXTRA_COLUMNS}")
    rec = {k: point[k] for k in WORKLOAD_COLUMNS + DESIGN_COLUMNS}
    lat = float("nan") if latency_s is None else float(latency_s)
    ok = bool(np.isfinite(lat) and lat > 0)
    rec["latency_s"] = lat if ok else float("nan")
    rec["tflops"] = useful_flop(point) / lat / 1e12 if ok else float("nan")
    rec["tile_density"] = float("nan") if tile_density is None else float(tile_density)
    rec["feasible"] = bool(ok)
    rec["reason"] = "" if ok else (reason or "measurement failed")
    rec.update({**_EXTRA_DEFAULTS, **extra})
    return rec


def write_dataset(
    records: Sequence[Mapping[str, Any]], path: str | Path, metadata: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write records as gzip CSV at ``path`` and ``metadata`` as JSON beside it.

    Returns:
        ``(csv_path, metadata_path)``; the metadata file is ``<path stem>.meta.json``.
    """
    import pandas as pd

    path = Path(path)
    frame = pd.DataFrame(list(records), columns=list(RECORD_COLUMNS))
    frame.to_csv(path, index=False, compression="gzip", float_format="%.6g")
    meta_path = path.with_name(path.name.split(".")[0] + ".meta.json")
    meta = dict(metadata)
    meta["n_records"] = len(frame)
    meta["n_feasible"] = int(frame["feasible"].sum()) if len(frame) else 0
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path, meta_path


def require_cuda() -> Any:
    """Import torch and check for a CUDA device; returns the torch module.

    Raises:
        BackendError: torch is missing or sees no CUDA GPU.
    """
    try:
        import torch
    except ImportError as exc:
        raise BackendError(
            "live kernel measurement needs PyTorch with CUDA; install it from "
            "https://pytorch.org (pip install torch) on a machine with an NVIDIA GPU"
        ) from exc
    if not torch.cuda.is_available():
        raise BackendError(
            "live kernel measurement (--gpu / cost_model='measure') needs a CUDA GPU, but "
            f"torch {torch.__version__} sees none; run it on a GPU machine or use "
            "cost_model='analytical' or 'learned'"
        )
    return torch


def time_cuda(
    fn: Callable[[], Any],
    reps: int = 20,
    warmup: int = 3,
    flush_bytes: int = 256 * 1024 * 1024,
    flush: Any = None,
) -> float:
    """Median seconds of ``fn`` over ``reps`` CUDA-event-timed runs, L2 flushed before each."""
    torch = require_cuda()
    if flush is None:
        flush = torch.empty(flush_bytes // 4, dtype=torch.int32, device="cuda")
    for _ in range(warmup):
        fn()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    for i in range(reps):
        flush.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return float(np.median([s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)])) / 1e3


def collection_metadata(reps: int, warmup: int, seed: int, **extra: Any) -> dict[str, Any]:
    """GPU, driver, CUDA, torch and triton versions, date and timing protocol."""
    import subprocess

    torch = require_cuda()
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    try:
        driver = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = "unknown"
    props = torch.cuda.get_device_properties(0)
    return {
        "gpu": torch.cuda.get_device_name(0),
        "sms": props.multi_processor_count,
        "driver": driver or "unknown",
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "triton": triton_version,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "reps": reps,
        "warmup": warmup,
        "flush_bytes": 256 * 1024 * 1024,
        "timing": "CUDA events, L2 flushed by a 256 MB write before each rep, median of reps, "
        "compile excluded",
        "seed": seed,
        **extra,
    }


def time_adaptive(
    fn: Callable[[], Any],
    flush: Any,
    max_reps: int = 10,
    budget_s: float = 0.02,
    single_above_s: float = 0.05,
) -> tuple[float, int]:
    """Median event-timed seconds of ``fn`` with the L2 flushed before each run, and the reps.

    One timed run estimates the time; then ``clip(budget_s / estimate, 3, max_reps)`` more
    runs are timed and their median returned. A kernel slower than ``single_above_s`` keeps
    its single timing (a bad tile config on a large shape: its rank is clear and more runs
    would only spend GPU time).
    """
    torch = require_cuda()

    def once(n: int) -> list[float]:
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        for i in range(n):
            flush.bitwise_not_()
            starts[i].record()
            fn()
            ends[i].record()
        torch.cuda.synchronize()
        return [s_.elapsed_time(e_) / 1e3 for s_, e_ in zip(starts, ends, strict=True)]

    first = once(1)[0]
    if first > single_above_s:
        return first, 1
    reps = int(np.clip(budget_s / max(first, 1e-6), 3, max(max_reps, 3)))
    return float(np.median(once(reps))), reps


def measure_points(
    points: Sequence[Mapping[str, Any]],
    reps: int = 10,
    warmup: int = 1,
    seed: int = 0,
    deadline_s: float | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    gpu: str = "",
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run, check and time every point on the current CUDA GPU; returns records in order.

    Points are grouped by workload and precision so operands are built once. Each point is
    built and run once (warm-up, outside timing), timed by :func:`time_adaptive` (``call_s``)
    and checked against a float32 reference (``rel_err``). Vendor points are also profiled
    (:func:`~archgym.envs.kernel.measure.profile.profile_calls`): their ``latency_s`` is the
    device time of the kernels inside one call and ``kernels`` names them; ``log`` receives
    one line per vendor point. Failures of one point become infeasible records. Stops early
    (remaining points are skipped, not recorded) once ``deadline_s`` seconds have passed.

    Raises:
        BackendError: No CUDA GPU.
    """
    from archgym.envs.kernel.measure.profile import profile_calls
    from archgym.envs.kernel.measure.runners import OperandCache, build_point

    torch = require_cuda()
    flush = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device="cuda")
    cache = OperandCache(seed)
    t0 = time.monotonic()
    records: list[dict[str, Any]] = []
    order = sorted(
        range(len(points)),
        key=lambda i: (points[i]["shape"], points[i]["op"], points[i]["precision"]),
    )
    last_key = None
    check_failed = False
    for i in order:
        p = points[i]
        if deadline_s is not None and time.monotonic() - t0 > deadline_s:
            break
        key = (p["shape"], p["op"], p["precision"])
        if key != last_key:
            cache.clear()
            last_key = key
        try:
            run = build_point(p, cache)
            for _ in range(max(warmup - 1, 0)):
                run.fn()
            call_s, n_reps = time_adaptive(run.fn, flush, max_reps=reps)
            extra: dict[str, Any] = {"gpu": gpu, "reps": n_reps}
            lat = call_s
            if run.vendor:
                kernel_s, names = profile_calls(run.fn, flush)
                if np.isfinite(kernel_s) and kernel_s > 0:
                    lat = kernel_s
                extra.update(
                    call_s=call_s, setup_s=run.setup_s, kernels=";".join(dict.fromkeys(names))
                )
            try:
                extra["rel_err"] = run.check()
            except Exception as exc:  # noqa: BLE001 - a broken check must not lose the timing
                extra["rel_err"] = float("nan")
                if log is not None and not check_failed:
                    log(f"[check] {p['shape']} {p['backend']} {p['precision']}: {error_text(exc)}")
                check_failed = True
            rec = make_record(p, lat, tile_density=run.tile_density, **extra)
            if run.vendor and log is not None:
                log(
                    f"[vendor] {p['shape']} {p['op']} {p['precision']} {p['sparsity']} "
                    f"d={p['density']} b={p['sparse_block']}: kernels {lat * 1e6:.1f} us, "
                    f"call {call_s * 1e6:.1f} us, setup {run.setup_s * 1e3:.1f} ms, "
                    f"rel_err {extra['rel_err']:.2e}, ran [{extra['kernels']}]"
                )
        except Exception as exc:  # noqa: BLE001 - any kernel failure is an infeasible design
            msg = error_text(exc)
            rec = make_record(p, None, reason=msg, gpu=gpu)
            if "out of memory" in msg.lower():
                torch.cuda.empty_cache()
            if p["backend"] != "triton" and log is not None:
                log(f"[vendor] {p['shape']} {p['precision']} {p['sparsity']}: failed: {msg[:300]}")
        records.append(rec)
        if on_record is not None:
            on_record(rec)
    cache.clear()
    return records
