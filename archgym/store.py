"""The run store: one directory per run, a manifest and append-only evaluation records.

Layout of a run directory::

    runs/demo/
      manifest.json     env id and version, cost model and version, agent and hyperparameters,
                        seed, budget, package versions, status, counts (rewritten atomically)
      records.jsonl     one JSON object per evaluation, appended batch by batch
      .lock             held (flock) by the process writing the run

Crash safety: each batch of records is written with a single ``os.write`` on an ``O_APPEND``
descriptor, so a killed process (even ``kill -9``) leaves whole batches plus at most one torn
last line; readers drop a torn last line, and :meth:`RunStore.open` truncates an incomplete
last batch before a resume so nothing is duplicated. The manifest is replaced with
``os.replace``. ``fsync`` happens when a run ends (records, then the final manifest); set
``fsync_every_batch`` to pay for power-loss safety on every batch. A sweep task, which is rerun
whole if it does not complete, may use ``buffered=True, durable=False``: records are written
in one piece before each status change, and nothing is fsynced.

Records are plain JSON (never pickle); :func:`load_runs` turns one or many runs into a
pandas DataFrame with one row per evaluation.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import os
import platform
import warnings
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import StoreError
from archgym.results import Results

__all__ = ["RunStore", "load_runs", "make_records", "read_manifest", "read_records", "package_versions"]

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
LOCK = ".lock"
SCHEMA = 1
#: Fields every evaluation record has (others may be added).
REQUIRED_FIELDS = ("eval_id", "batch", "design", "metrics", "feasible")


def package_versions() -> dict[str, str]:
    """Versions of archgym and the packages that can change results."""
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    # importlib.metadata scans sys.path on every call (~5-50 ms); a sweep creates thousands
    # of runs in one process, and installed versions do not change during a process.
    out = {"python": platform.python_version()}
    for name in ("archgym", "numpy", "gymnasium", "optuna", "scikit-learn", "torch", "pandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _json_float(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) else (x if math.isfinite(x) else ("inf" if x > 0 else "-inf"))
    if isinstance(x, np.generic):
        return x.item()
    return x


def _plain(xs: list[Any]) -> list[Any]:
    """JSON-safe copy of a list of Python floats (see :func:`_json_float`)."""
    return [x if x == x and x not in (math.inf, -math.inf) else _json_float(x) for x in xs]


def make_records(
    results: Results, start: int, batch: int, elapsed_s: float = 0.0
) -> list[dict[str, Any]]:
    """The JSON-ready evaluation records of one batch (the record-file format), numbered
    from ``start``; used by :meth:`RunStore.append` and by in-memory runs alike."""
    n = len(results)
    per = results.eval_time_s / max(n, 1)
    # numpy -> Python once per batch (tolist); NaN -> null, +-inf -> "inf"/"-inf" strings
    metrics = {k: _plain(v.tolist()) for k, v in results.evals.metrics.items()}
    values = [_plain(row) for row in results.values.tolist()]
    violations = [_plain(row) for row in results.violations.tolist()]
    rewards = _plain(results.reward.tolist())
    feasible = results.feasible.tolist()
    admissible = results.admissible.tolist()
    t_s = round(float(elapsed_s), 6)
    new = []
    for i in range(n):
        design = results.designs[i]
        rec = {
            "eval_id": start + i,
            "batch": batch,
            "batch_size": n,
            "design": {k: _json_float(v) for k, v in design.items()},
            "metrics": {k: col[i] for k, col in metrics.items()},
            "feasible": feasible[i],
            "reason": results.evals.reasons[i],
            "objective": values[i],
            "violation": violations[i],
            "admissible": admissible[i],
            "reward": rewards[i],
            "eval_s": per,
            "t_s": t_s,
        }
        new.append(rec)
    return new


def _atomic_write_json(path: Path, data: dict[str, Any], sync: bool = False) -> None:
    """Replace ``path`` atomically (a reader sees the old or the new file, never half of
    one, also after kill -9); ``sync`` also survives power loss, at the price of an fsync."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=_json_float)
        fh.write("\n")
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run's manifest.

    Raises:
        StoreError: The directory holds no manifest, or it is not valid JSON.
    """
    path = Path(run_dir) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StoreError(
            f"{run_dir} is not an archgym run directory: {MANIFEST} not found"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is corrupt (not valid JSON: {exc}); restore it or rerun") from None
    if not isinstance(data, dict) or "env_id" not in data:
        raise StoreError(f"{path} is not an archgym manifest (no 'env_id' field)")
    return data


def read_records(run_dir: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int]:
    """Read a run's records, tolerating a torn last line.

    Returns:
        ``(records, good_bytes)``: the records of every complete line, and the byte length
        of the file up to the end of the last complete line.

    Raises:
        StoreError: A line other than the last is not valid JSON (real corruption); the
            message names the file and the line.
    """
    path = Path(run_dir) / RECORDS
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    good = 0
    pos = 0
    lineno = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        lineno += 1
        if end < 0:  # torn last line: no newline yet
            break
        line = data[pos:end]
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not an object")
            missing = [k for k in REQUIRED_FIELDS if k not in rec]
            if missing:
                raise ValueError(f"missing field(s) {missing}")
        except ValueError as exc:
            rest = data[end + 1 :].strip()
            if rest:
                raise StoreError(
                    f"{path} line {lineno} is corrupt ({exc}); records before it are intact. "
                    "Remove or repair that line to load the run."
                ) from None
            break  # a corrupt final line counts as torn
        records.append(rec)
        pos = end + 1
        good = pos
    return records, good


class RunStore:
    """Writer of one run directory. Use :meth:`create` or :meth:`open`, then :meth:`append`,
    :meth:`set_status` and :meth:`close` (or a ``with`` block).

    Attributes:
        path: The run directory.
        manifest: The manifest as last written.
        records: Records written so far (including those found on resume).
    """

    def __init__(self, path: Path, manifest: dict[str, Any], records: list[dict[str, Any]],
                 fsync_every_batch: bool = False, buffered: bool = False,
                 durable: bool = True) -> None:
        self.path = path
        self.manifest = manifest
        self.records = records
        self.fsync_every_batch = fsync_every_batch
        self.buffered = buffered
        self.durable = durable
        self._pending: list[bytes] = []
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._acquire_lock()
        self._fd = os.open(self.path / RECORDS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], manifest: dict[str, Any], **kw: Any) -> RunStore:
        """Start a new run in ``path`` (created if missing).

        Raises:
            StoreError: ``path`` already holds a run (use ``--resume`` or another ``--out``),
                or it cannot be created or written.
        """
        p = Path(path)
        if (p / MANIFEST).exists():
            raise StoreError(
                f"{p} already holds a run; pass --resume to continue it, or choose another --out"
            )
        try:
            p.mkdir(parents=True, exist_ok=True)
            probe = p / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"cannot write the run directory {p}: {exc.strerror or exc}") from None
        full = {
            "schema": SCHEMA,
            "status": "running",
            "created": _now(),
            "updated": _now(),
            "n_evaluations": 0,
            "packages": package_versions(),
            **manifest,
        }
        store = cls(p, full, [], **kw)
        _atomic_write_json(p / MANIFEST, full)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str], **kw: Any) -> RunStore:
        """Reopen an existing run to resume it; drops a torn line and an incomplete last batch
        from the record file so the resumed run redoes exactly that batch."""
        p = Path(path)
        manifest = read_manifest(p)
        records, good = read_records(p)
        # drop an incomplete last batch (crash between its lines)
        if records:
            last = records[-1]["batch"]
            tail = [r for r in records if r["batch"] == last]
            if len(tail) < int(tail[0].get("batch_size", len(tail))):
                records = [r for r in records if r["batch"] != last]
                good = _byte_offset_of_batch(p / RECORDS, last)
        size = (p / RECORDS).stat().st_size if (p / RECORDS).exists() else 0
        store = cls(p, manifest, records, **kw)
        if good < size:
            os.truncate(p / RECORDS, good)
        store.manifest["n_evaluations"] = len(records)
        store.manifest["status"] = "running"
        store.manifest["resumed"] = int(store.manifest.get("resumed", 0)) + 1
        store._write_manifest()
        return store

    def _acquire_lock(self) -> None:
        import fcntl

        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"{self.path} is being written by another archgym process; wait for it or "
                "choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    # -- writing ---------------------------------------------------------------------
    def append(self, results: Results, elapsed_s: float = 0.0) -> list[dict[str, Any]]:
        """Append one batch of evaluations as records; returns them."""
        if self._fd is None:
            raise StoreError(f"run store {self.path} is closed")
        batch = (self.records[-1]["batch"] + 1) if self.records else 0
        start = len(self.records)
        new = make_records(results, start, batch, elapsed_s)
        blob = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in new).encode()
        self.records.extend(new)
        if self.buffered:
            self._pending.append(blob)
            if sum(map(len, self._pending)) > 1 << 20:
                self._flush()
            return new
        self._write(blob)
        return new

    def _write(self, blob: bytes) -> None:
        assert self._fd is not None
        written = os.write(self._fd, blob)
        if written != len(blob):  # pragma: no cover - a full disk
            raise StoreError(f"short write to {self.path / RECORDS} (disk full?)")
        if self.fsync_every_batch:
            os.fsync(self._fd)

    def _flush(self) -> None:
        if self._pending and self._fd is not None:
            blob, self._pending = b"".join(self._pending), []
            self._write(blob)

    def _write_manifest(self, sync: bool = False) -> None:
        self.manifest["updated"] = _now()
        self.manifest["n_evaluations"] = len(self.records)
        _atomic_write_json(self.path / MANIFEST, self.manifest, sync=sync)

    def set_status(self, status: str, sync: bool = False, **extra: Any) -> None:
        """Record the run's status (``running``, ``complete``, ``failed``, ``interrupted``)
        and any summary fields; ``sync=True`` fsyncs the manifest (done for the final one)."""
        self.manifest["status"] = status
        self.manifest.update(extra)
        self._flush()  # records are written before a manifest that counts them
        sync = sync and self.durable
        if sync and self._fd is not None:
            os.fsync(self._fd)
        self._write_manifest(sync=sync)

    def close(self) -> None:
        """fsync the records and release the lock."""
        if self._fd is not None:
            self._flush()
            if self.durable:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _byte_offset_of_batch(path: Path, batch: int) -> int:
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            return pos
        try:
            if json.loads(data[pos:end]).get("batch") == batch:
                return pos
        except ValueError:
            return pos
        pos = end + 1
    return pos


def _find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise StoreError(f"no such run directory: {p}")
        if (p / MANIFEST).exists():
            found.append(p)
            continue
        subs = sorted(m.parent for m in p.rglob(MANIFEST))
        if not subs:
            raise StoreError(f"{p} contains no archgym runs ({MANIFEST} not found below it)")
        found.extend(subs)
    return found


def load_runs(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Any:
    """Load evaluation records of one or many runs into a pandas DataFrame.

    Args:
        paths: A run directory, a directory containing runs (searched recursively), or a
            list of those.

    Returns:
        One row per evaluation with columns ``run``, ``env_id``, ``agent``, ``seed``,
        ``eval_id``, ``batch``, the design parameters (by name), the metrics (by name),
        ``feasible``, ``reason``, ``admissible``, ``reward``, ``obj_0..``, ``eval_s``, ``t_s``.
        A parameter that shares a name with a metric is prefixed ``param.``.

    Raises:
        StoreError: A path is missing or holds no runs, or a record file is corrupt.
    """
    import pandas as pd

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for run in _find_runs(paths):
        manifest = read_manifest(run)
        records, _ = read_records(run)
        base = {
            "run": str(run),
            "env_id": manifest.get("env_id"),
            "agent": manifest.get("agent"),
            "seed": manifest.get("seed"),
        }
        for r in records:
            metrics = r.get("metrics", {})
            row = dict(base)
            row["eval_id"] = r.get("eval_id")
            row["batch"] = r.get("batch")
            for k, v in r.get("design", {}).items():
                row[f"param.{k}" if k in metrics else k] = v
            for k, v in metrics.items():
                row[k] = np.nan if v is None else v
            for k in ("feasible", "reason", "admissible"):
                row[k] = r.get(k)
            reward = r.get("reward")
            row["reward"] = np.nan if reward is None else float(reward)
            for j, v in enumerate(r.get("objective", [])):
                row[f"obj_{j}"] = np.nan if v is None else float(v)
            row["eval_s"] = r.get("eval_s")
            row["t_s"] = r.get("t_s")
            rows.append(row)
    if not rows:
        warnings.warn("the runs hold no evaluation records", stacklevel=2)
    return pd.DataFrame(rows)
