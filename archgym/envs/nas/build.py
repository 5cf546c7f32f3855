"""Build a tabular NAS benchmark: resumable, parallel, one JSON line per architecture.

``build_records`` trains every architecture of the table space (in a seeded, shuffled order so
a partial build is a uniform sample) on a process pool and appends one record per architecture
to a JSON-lines file, flushed after each line. Re-running skips keys already in the file, and a
torn last line (a killed run) is cut off first. ``pack_table`` turns the records into the
shipped Parquet table (one row per architecture x compression setting) plus a JSON sidecar of
metadata. Both are what ``archgym nas build-table`` runs.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from archgym.envs.nas.arch import BLOCK_FIELDS, MAX_BLOCKS, TABLE_VALUES, arch_key, canonical
from archgym.envs.nas.oracle import OracleConfig
from archgym.errors import StoreError

__all__ = ["table_architectures", "read_records", "build_records", "pack_table"]

_STATE: dict[str, Any] = {}


def table_architectures(
    values: Mapping[str, tuple[Any, ...]] = TABLE_VALUES,
) -> list[dict[str, Any]]:
    """Every distinct (canonical) architecture of a value grid, in a fixed order."""
    out: dict[str, dict[str, Any]] = {}
    for n in values["num_blocks"]:
        per_block = [
            list(itertools.product(*(values[f"b{i}_{f}"] for f in BLOCK_FIELDS)))
            for i in range(1, n + 1)
        ]
        for act in values["activation"]:
            for blocks in itertools.product(*per_block):
                arch: dict[str, Any] = {"num_blocks": n, "activation": act}
                for i in range(1, MAX_BLOCKS + 1):
                    for j, f in enumerate(BLOCK_FIELDS):
                        arch[f"b{i}_{f}"] = blocks[i - 1][j] if i <= n else values[f"b{i}_{f}"][0]
                arch = canonical(arch)
                out.setdefault(arch_key(arch), arch)
    return list(out.values())


def read_records(path: str | Path, repair: bool = False) -> list[dict[str, Any]]:
    """Read a JSON-lines record file.

    Args:
        repair: Cut a torn last line (no newline or not JSON) off the file instead of failing.

    Raises:
        StoreError: A line other than a torn last one is not valid JSON.
    """
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    cut = raw.rfind(b"\n") + 1  # bytes after the last newline are a torn line
    if cut < len(raw):
        if not repair:
            raise StoreError(
                f"{path}: the last line is incomplete (a build was interrupted); rerun the "
                "build to resume (it repairs the file) or delete that line."
            )
        with path.open("r+b") as fh:
            fh.truncate(cut)
        raw = raw[:cut]
    records = []
    for i, line in enumerate(raw.split(b"\n")):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{path}: line {i + 1} is not valid JSON ({exc}); the record file is corrupt. "
                "Delete the line or the file and rebuild."
            ) from exc
    return records


def _init_worker(task: str, split_seed: int, mnist1d_cache: str | None) -> None:
    import torch

    torch.set_num_threads(1)
    from archgym.envs.nas.datasets import load_task

    _STATE["data"] = load_task(task, split_seed, mnist1d_cache)


def _work(arch: dict[str, Any], cfg_json: str) -> dict[str, Any]:
    from archgym.envs.nas.oracle import measure_architecture
    from archgym.envs.nas.train import TrainConfig

    d = json.loads(cfg_json)
    d["train"] = TrainConfig(**d["train"])
    return measure_architecture(arch, _STATE["data"], OracleConfig(**d))


def build_records(
    out: str | Path,
    task: str = "digits",
    workers: int = 1,
    cfg: OracleConfig | None = None,
    split_seed: int = 0,
    limit: int | None = None,
    time_limit_s: float | None = None,
    order_seed: int = 0,
    mnist1d_cache: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Measure the table's architectures not yet in ``out`` and append their records.

    Args:
        out: JSON-lines file (created if missing; resumed if present).
        workers: Worker processes (each uses one torch thread).
        limit: Stop after this many architectures in total (for tests and trial runs).
        time_limit_s: Stop submitting new architectures after this many seconds; running
            ones finish and are written.
        order_seed: Seed of the shuffled build order.
        progress: Called as ``progress(done, total)`` after each record.

    Returns:
        The number of records written by this call.
    """
    cfg = cfg or OracleConfig()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {r["key"] for r in read_records(out, repair=True)}
    archs = table_architectures()
    order = np.random.default_rng(order_seed).permutation(len(archs))
    archs = [archs[i] for i in order]
    if limit is not None:
        archs = archs[:limit]
    todo = [a for a in archs if arch_key(a) not in done]
    total = len(archs)
    n_done = total - len(todo)
    cfg_json = json.dumps(cfg.to_dict())
    t0 = time.monotonic()
    written = 0
    it: Iterator[dict[str, Any]] = iter(todo)
    with (
        out.open("a", encoding="utf-8") as fh,
        ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(task, split_seed, mnist1d_cache),
        ) as pool,
    ):
        running: set[Future[dict[str, Any]]] = set()

        def refill() -> None:
            while len(running) < 2 * workers:
                if time_limit_s is not None and time.monotonic() - t0 > time_limit_s:
                    return
                a = next(it, None)
                if a is None:
                    return
                running.add(pool.submit(_work, a, cfg_json))

        refill()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                running.discard(f)
                fh.write(json.dumps(f.result()) + "\n")
                fh.flush()
                written += 1
                n_done += 1
                if progress is not None:
                    progress(n_done, total)
            refill()
    return written


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "numpy", "scikit-learn", "mnist1d", "archgym"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def pack_table(
    records_path: str | Path,
    out: str | Path,
    task: str,
    cfg: OracleConfig | None = None,
    command: str = "",
    extra_meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the Parquet table (one row per architecture x compression) and its JSON sidecar.

    The sidecar ``<out without .parquet>.json`` holds the metadata (task, oracle config,
    seeds, package versions, build command, date, counts, seed-noise summary); the same JSON
    is stored in the Parquet schema metadata under ``b"archgym"``.

    Returns:
        The metadata dict.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    cfg = cfg or OracleConfig()
    recs = read_records(records_path)
    rows = []
    for r in recs:
        if not r.get("feasible"):
            continue
        base = {"key": r["key"], **r["arch"]}
        for k in ("params", "macs", "train_time_s", "val_accuracy_seed2", "test_accuracy_seed2"):
            base[k] = r.get(k)
        base["dense_val_accuracy"] = r["val_accuracy"]
        base["dense_test_accuracy"] = r["test_accuracy"]
        for p in r["points"]:
            rows.append({**base, **p})
    df = pd.DataFrame(rows)
    for c in df.columns:
        if df[c].dtype == np.float64:
            df[c] = df[c].astype(np.float32)
    noise = noise_summary(df)
    meta = {
        "format": "archgym-nas-table/1",
        "task": task,
        "architectures": int(df["key"].nunique()) if len(df) else 0,
        "rows": len(df),
        "feasible_rows": int(df["feasible"].sum()) if len(df) else 0,
        "oracle": cfg.to_dict(),
        "split": {"seed": 0, "fractions": [0.6, 0.2, 0.2]},
        "noise": noise,
        "versions": _versions(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "command": command,
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **dict(extra_meta or {}),
    }
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"archgym": json.dumps(meta).encode()}
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def noise_summary(df: Any) -> dict[str, Any]:
    """Seed-to-seed noise of dense validation accuracy over the architectures trained twice:
    mean |difference|, std of the difference, and Kendall tau / Spearman between the seeds."""
    from scipy.stats import kendalltau, spearmanr

    if not len(df) or "val_accuracy_seed2" not in df:
        return {}
    a = df.drop_duplicates("key").dropna(subset=["val_accuracy_seed2"])
    if len(a) < 3:
        return {"n": len(a)}
    x = a["dense_val_accuracy"].to_numpy(float)
    y = a["val_accuracy_seed2"].to_numpy(float)
    return {
        "n": len(a),
        "mean_abs_diff": float(np.mean(np.abs(x - y))),
        "std_diff": float(np.std(x - y)),
        "kendall_tau": float(kendalltau(x, y).statistic),
        "spearman": float(spearmanr(x, y).statistic),
    }


def asdict_cfg(cfg: OracleConfig) -> dict[str, Any]:
    """JSON form of an oracle config (alias of ``cfg.to_dict()``)."""
    return asdict(cfg)
