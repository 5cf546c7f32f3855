"""The run store: one directory per run, a manifest and append-only evaluation records.

Layout of a run directory::

    runs/demo/
      manifest.json     env id and version, cost model and version, agent and hyperparameters,
                        seed, budget, package versions, status, counts (rewritten atomically)
      records.jsonl     one JSON object per evaluation, appended batch by batch

The process writing a run holds an exclusive ``flock`` on the run directory itself (no lock
file to create); on a file system without ``flock`` on directories, and in runs written by an
earlier archgym, the lock is the file ``.lock`` in it (see :func:`is_live`).

Crash safety: each batch of records is written with a single ``os.write`` on an ``O_APPEND``
descriptor, so a killed process (even ``kill -9``) leaves whole batches plus at most one torn
last line; readers drop a torn last line, and :meth:`RunStore.open` truncates an incomplete
last batch before a resume so nothing is duplicated. The manifest is replaced with
``os.replace``. ``fsync`` happens when a run ends (records, then the final manifest); set
``fsync_every_batch`` to pay for power-loss safety on every batch. A sweep task, which is rerun
whole if it does not complete, may use ``buffered=True, durable=False``: records are built
(column by column, see :mod:`archgym._records`) and written in one piece before each status
change, nothing is fsynced, and the manifest is first written with the records (until then
the directory holds only an empty record file, which a resumed sweep removes).

Runs are never mixed: a directory holding records but no manifest is refused by
:meth:`RunStore.create` and :meth:`RunStore.open` (their records belong to no known
experiment), and a resume is checked (by the caller's ``accept``) before anything on disk
changes. Every reader (:func:`read_records`, hence :func:`load_runs`, ``archgym show`` and
``--resume``) validates each record: field types, ``eval_id`` counting 0, 1, 2... without
gaps or duplicates, batches counting up by one, and, against the manifest, the number of
objective values and of evaluations; a record that breaks a rule is refused with its line,
never passed on. A write that fails (a full disk, a read-only directory) is a
:class:`~archgym.errors.StoreError` (exit 3) that leaves no temporary file and no torn batch;
the manifest says ``failed`` if it can still be written, else stays as last written
(``running``, which ``archgym show`` reports as stopped once no process holds the lock, see
:func:`is_live`), and ``--resume`` continues from the whole batches on disk.

A sweep stores its runs in shards instead (:mod:`archgym._shards`, written by
:class:`ShardRunStore`): a run is addressed by the path its directory would have, and every
reader here finds it there when no such directory exists.

Records are plain JSON (never pickle); :func:`load_runs` turns one or many runs into a
pandas DataFrame with one row per evaluation.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import functools
import json
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from archgym import _columns, _shards
from archgym._records import (
    Part,
    build_records,
    encode_records,
    json_float,
    loads,
    loads_lines,
    make_records,
    record_of_one,
)
from archgym.errors import StoreError
from archgym.results import Results

__all__ = [
    "RunStore",
    "ShardRunStore",
    "is_run",
    "load_runs",
    "make_records",
    "read_manifest",
    "read_records",
    "package_versions",
    "is_live",
]

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
LOCK = ".lock"
SCHEMA = 1
#: Fields every evaluation record has (others may be added).
REQUIRED_FIELDS = ("eval_id", "batch", "design", "metrics", "feasible")
#: A buffered store writes once this many records are waiting (about 1 kB each).
FLUSH_RECORDS = 2048


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


_now_cached: tuple[int, str] = (-1, "")


def _now() -> str:
    """The time now (UTC, ISO 8601, to the second); formatted once per second (a sweep
    stamps two per experiment)."""
    global _now_cached
    t = int(time.time())
    if _now_cached[0] != t:
        stamp = _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="seconds")
        _now_cached = (t, stamp)
    return _now_cached[1]


_encode_value = json.JSONEncoder(sort_keys=True, separators=(", ", ": "), default=json_float).encode


def _manifest_text(data: Mapping[str, Any]) -> str:
    """``data`` as JSON, one top-level key per line (sorted), each value on its line: as
    easy to read and diff as ``indent=2`` for a manifest, and written by the C encoder
    (``indent`` makes :mod:`json` fall back to its pure-Python encoder, ~5x slower)."""
    if not data:
        return "{}\n"
    lines = (f"  {_encode_value(str(k))}: {_encode_value(v)}" for k, v in sorted(data.items()))
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _atomic_write_json(path: Path, data: dict[str, Any], sync: bool = False) -> None:
    """Replace ``path`` atomically (a reader sees the old or the new file, never half of
    one, also after kill -9); ``sync`` also survives power loss, at the price of an fsync.

    Raises:
        StoreError: It cannot be written (a full disk, a read-only directory); the old file
            stays and no temporary file is left.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = _manifest_text(data)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()  # no stray temporary file; the old manifest stays as it was
        raise StoreError(
            f"cannot write {path}: {exc.strerror or exc}; free space (or make the directory "
            "writable), then --resume"
        ) from None


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run's manifest (of a run directory, or of a run in its sweep's shards).

    Raises:
        StoreError: There is no such run, or its manifest is not valid JSON.
    """
    path = Path(run_dir) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _sharded_manifest(Path(run_dir))
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"{path} is corrupt (not valid JSON: {exc}); restore it or rerun"
        ) from None
    if not isinstance(data, dict) or "env_id" not in data:
        raise StoreError(f"{path} is not an archgym manifest (no 'env_id' field)")
    return data


def _sharded_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of the run addressed as ``run_dir`` in its sweep's shards."""
    block = None if (run_dir / RECORDS).exists() else _shards.find(run_dir)
    if block is None:
        raise StoreError(
            f"{run_dir} is not an archgym run directory: {MANIFEST} not found (nor a run of "
            f"that name in {run_dir.parent / _shards.SHARDS})"
        )
    if "env_id" not in block.manifest:
        raise StoreError(
            f"the run {run_dir.name} in {block.file} has no archgym manifest (no 'env_id' field)"
        )
    return json.loads(json.dumps(block.manifest))  # the caller's own copy


def is_run(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a run: a run directory (with its manifest), or a run of that name
    in its sweep's shards."""
    p = Path(path)
    return (p / MANIFEST).exists() or (not p.exists() and _shards.find(p) is not None)


_NUMBER_STRINGS = ("inf", "-inf")


def _is_number(v: Any) -> bool:
    """A stored float: a JSON number, ``null`` (NaN) or ``"inf"``/``"-inf"``."""
    return (
        v is None
        or v in _NUMBER_STRINGS
        or (isinstance(v, (int, float)) and not isinstance(v, bool))
    )


def _record_problem(rec: Any, index: int, prev_batch: int, n_objectives: int | None) -> str | None:
    """Why ``rec`` cannot be record number ``index`` (0-based) of a run, or ``None``."""
    if not isinstance(rec, dict):
        return f"not a JSON object but {type(rec).__name__}"
    missing = [k for k in REQUIRED_FIELDS if k not in rec]
    if missing:
        return f"missing field(s) {missing}"
    eid, batch = rec["eval_id"], rec["batch"]
    if isinstance(eid, bool) or not isinstance(eid, int):
        return f"eval_id must be an integer, but got {eid!r}"
    if eid != index:
        what = (
            "a duplicate of an earlier one"
            if eid < index
            else f"{eid - index} evaluation(s) missing before it"
        )
        return f"eval_id {eid} breaks the sequence 0, 1, 2, ... (expected {index}: {what})"
    if (
        isinstance(batch, bool)
        or not isinstance(batch, int)
        or batch not in (prev_batch, prev_batch + 1)
    ):
        return f"batch must be {max(prev_batch, 0)} or {prev_batch + 1} here (batches count up by one), but got {batch!r}"
    if not isinstance(rec["design"], dict):
        return f"design must be an object, but got {rec['design']!r}"
    metrics = rec["metrics"]
    if not isinstance(metrics, dict) or not all(_is_number(v) for v in metrics.values()):
        return f"metrics must map names to numbers (or null), but got {metrics!r}"
    for key in ("feasible", "admissible"):
        if key in rec and not isinstance(rec[key], bool):
            return f"{key} must be true or false, but got {rec[key]!r}"
    for key in ("objective", "violation"):
        v = rec.get(key, [])
        if not isinstance(v, list) or not all(_is_number(x) for x in v):
            return f"{key} must be a list of numbers (or null), but got {v!r}"
    if n_objectives is not None and "objective" in rec and len(rec["objective"]) != n_objectives:
        return f"objective has {len(rec['objective'])} values, but the manifest's objective has {n_objectives}"
    for key in ("reward", "eval_s", "t_s"):
        if key in rec and not _is_number(rec[key]):
            return f"{key} must be a number, but got {rec[key]!r}"
    if "reason" in rec and not isinstance(rec["reason"], str):
        return f"reason must be a string, but got {rec['reason']!r}"
    return None


class _RecordChecker:
    """:func:`_record_problem` at the speed of a set lookup for the common case: records
    whose field types (the *signature*) match one already checked in full pass on the
    sequence checks alone (a 100,000-record run is validated in about a second)."""

    def __init__(self, n_objectives: int | None) -> None:
        self.n_objectives = n_objectives
        self.good: set[tuple[Any, ...]] = set()

    def problem(self, rec: Any, index: int, prev_batch: int) -> str | None:
        if type(rec) is dict:
            eid, batch = rec.get("eval_id"), rec.get("batch")
            metrics = rec.get("metrics")
            obj, vio = rec.get("objective", ()), rec.get("violation", ())
            if (
                type(eid) is int
                and eid == index
                and type(batch) is int
                and (batch == prev_batch or batch == prev_batch + 1)
                and type(metrics) is dict
                and type(obj) is list
                and type(vio) is list
                and type(rec.get("design")) is dict
            ):
                sig = (
                    tuple(map(type, metrics.values())),
                    tuple(map(type, obj)),
                    tuple(map(type, vio)),
                    type(rec.get("feasible", 0)),
                    type(rec.get("admissible", False)),
                    type(rec.get("reward")),
                    type(rec.get("eval_s")),
                    type(rec.get("t_s")),
                    type(rec.get("reason", "")),
                    len(rec),
                )
                if sig in self.good:
                    return None
                found = _record_problem(rec, index, prev_batch, self.n_objectives)
                # numbers stored as strings ("inf") are checked by value every time
                if found is None and str not in sig[0] and str not in sig[1] and str not in sig[2]:
                    if str not in sig[5:8]:
                        self.good.add(sig)
                return found
        return _record_problem(rec, index, prev_batch, self.n_objectives)


def _parse_lines(data: bytes) -> tuple[list[Any] | None, int]:
    """Parse every complete line at once (one parse of a JSON array, several times faster
    than one call per line, by orjson where it reads what ``json.loads`` reads, see
    :func:`archgym._records.loads`); ``(None, n)`` if some line is not valid JSON."""
    body = data[: data.rfind(b"\n") + 1]
    return loads_lines(body), body.count(b"\n")


def _n_objectives(manifest: Mapping[str, Any] | None) -> int | None:
    try:
        objectives = manifest["env"]["objective"]["objectives"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return len(objectives) if isinstance(objectives, list) else None


def read_records(
    run_dir: str | os.PathLike[str], manifest: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Read and validate a run's records, tolerating a torn last line.

    Every record is checked: the required fields and their types (``feasible`` must be a
    JSON boolean, metrics numbers or null...), ``eval_id`` counting 0, 1, 2... without gaps
    or duplicates, and batches counting up by one. With ``manifest`` the number of objective
    values must match the manifest's objective, and a complete run must hold exactly the
    evaluations its manifest counts.

    Returns:
        ``(records, good_bytes)``: the records of every complete line, and the byte length
        of the file up to the end of the last complete line.

    Raises:
        StoreError: A line other than the last is not valid JSON or breaks a rule (real
            corruption, or records of two runs mixed); the message names the file, the line
            and the rule, and says how to recover.
    """
    path = Path(run_dir) / RECORDS
    where, fix = (
        str(path),
        (
            "Keep only those (head -n {n} records.jsonl > fixed && mv fixed records.jsonl) and "
            "--resume, or rerun into a new --out"
        ),
    )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        block = None if (Path(run_dir) / MANIFEST).exists() else _shards.find(run_dir)
        data = b"" if block is None else _shards.read_block(block)
        if block is not None:
            where = f"{block.file} (run {Path(run_dir).name}, from byte {block.offset})"
            fix = "Move the shard file away and resume the sweep, which runs them again"
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _parse_records(data, where, fix, manifest)


def _parse_records(
    data: bytes, where: str, fix: str, manifest: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], int]:
    """:func:`read_records` of the bytes ``data``, read from ``where`` (named in errors with
    ``fix``, whose ``{n}`` is the number of intact lines)."""
    checker = _RecordChecker(_n_objectives(manifest))
    fast, _ = _parse_lines(data)
    records: list[dict[str, Any]] = []
    good = 0
    pos = 0
    lineno = 0
    prev_batch = -1
    while pos < len(data):
        end = data.find(b"\n", pos)
        lineno += 1
        if end < 0:  # torn last line: no newline yet
            break
        problem: str | None = None
        if fast is not None:
            rec = fast[lineno - 1]
        else:
            try:
                rec = loads(data[pos:end])
            except (ValueError, RecursionError) as exc:
                problem = f"not valid JSON: {exc}"
        if problem is None:
            problem = checker.problem(rec, len(records), prev_batch)
        if problem is not None:
            if not data[end + 1 :].strip() and problem.startswith("not valid JSON"):
                break  # a corrupt final line counts as torn
            raise StoreError(
                f"{where} line {lineno} is corrupt ({problem}); the {len(records)} records "
                f"before it are intact. {fix.format(n=lineno - 1)}"
            )
        records.append(rec)
        prev_batch = rec["batch"]
        pos = end + 1
        good = pos
    if manifest is not None and manifest.get("status") == "complete":
        counted = manifest.get("n_evaluations")
        if isinstance(counted, int) and counted != len(records):
            raise StoreError(
                f"{where} holds {len(records)} records, but the manifest of this complete run "
                f"counts {counted}: records were lost or another run's records were added; "
                "restore the run from a copy or rerun it into a new --out"
            )
    return records, good


def _acquire_lock(path: Path) -> int:
    """Lock the run directory ``path`` for writing: an exclusive ``flock`` on the directory
    itself, so that a run needs no lock file (creating a file is the dearest part of a short
    run's store on some file systems: 0.1-0.8 ms of CPU each on the development VM). Where
    the file system refuses ``flock`` on a directory, the lock is the file :data:`LOCK`, as
    it was for every run before (issue 16). A :data:`LOCK` file held by such a writer (or
    an archgym from before the change) counts as held too.

    Returns:
        The descriptor holding the lock (closing it releases the lock).

    Raises:
        StoreError: Another process holds the lock, or the directory cannot be opened.
    """
    try:
        fd = _open_locked(path, path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # no flock on directories here (NFS emulates it with fcntl locks)
        return _acquire_lock_file(path)
    if _lock_file_held(path):  # a writer of an earlier archgym, which locks the file
        os.close(fd)
        raise StoreError(_BUSY.format(path=path))
    return fd


_BUSY = "{path} is being written by another archgym process; wait for it or choose another --out"


def _acquire_lock_file(path: Path) -> int:
    """The lock as the file :data:`LOCK` (see :func:`_acquire_lock`)."""
    fd = _open_locked(path, path / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    except OSError:  # a full disk: the lock is held all the same
        pass
    return fd


def _open_locked(path: Path, target: Path, flags: int) -> int:
    """Open ``target`` (the run directory ``path`` or its :data:`LOCK` file) with ``flags``
    and take its exclusive ``flock`` without waiting.

    Returns:
        The descriptor holding the lock.

    Raises:
        StoreError: ``target`` cannot be opened, or another process holds its lock.
        OSError: The file system has no ``flock`` for ``target`` (the descriptor is closed).
    """
    import fcntl

    try:
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot write the run directory {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(_BUSY.format(path=path)) from None
    except OSError:
        os.close(fd)
        raise
    return fd


def _probe_lock(path: Path, flags: int) -> bool | None:
    """Whether another process holds the ``flock`` of ``path`` (opened with ``flags``):
    ``True`` or ``False``; ``None`` when it cannot tell (``path`` cannot be opened, or the
    file system refuses ``flock`` on it)."""
    import fcntl

    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False


def _lock_file_held(run_dir: Path) -> bool:
    """Whether a process holds the file :data:`LOCK` of ``run_dir`` (there is none unless
    an earlier archgym, or a file system without directory locks, wrote the run)."""
    return _probe_lock(run_dir / LOCK, os.O_RDONLY) is True


def is_live(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a process holds the run's lock now (a ``running`` manifest without one is a
    run that was stopped: ``--resume`` continues it). The lock is the directory's (or the
    file :data:`LOCK`'s, see :func:`_acquire_lock`)."""
    p = Path(run_dir)
    # a free directory (or one without directory locks) may still be held by its LOCK file
    return _probe_lock(p, os.O_RDONLY | os.O_DIRECTORY) is True or _lock_file_held(p)


def _describe_contents(path: Path) -> str:
    if (path / RECORDS).is_dir():
        return f"a directory named {RECORDS}"
    return f"{_count_lines(path / RECORDS)} evaluation record(s) in {RECORDS}"


class RunStore:
    """Writer of one run directory. Use :meth:`create` or :meth:`open`, then :meth:`append`,
    :meth:`set_status` and :meth:`close` (or a ``with`` block).

    A write that fails (a full disk, a directory turned read-only) raises
    :class:`~archgym.errors.StoreError` and leaves no half of anything behind: the record
    file is cut back to its last whole batch and temporary files are removed, so
    ``--resume`` continues the run.

    Attributes:
        path: The run directory.
        manifest: The manifest as last written.
        records: Records so far (those found on resume, written, and buffered).
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        records: list[dict[str, Any]],
        fsync_every_batch: bool = False,
        buffered: bool = False,
        durable: bool = True,
        _lock_fd: int | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self._records = records
        self.fsync_every_batch = fsync_every_batch
        self.buffered = buffered
        self.durable = durable
        self._parts: list[Part] = []  # buffered batches whose records are not built yet
        self._n_parts = 0  # records in them
        self._fresh: list[dict[str, Any]] = []  # buffered records built, not yet encoded
        self._pending: list[bytes] = []  # encoded records not yet written
        self._n_pending = 0  # records not yet on disk (in _parts, _fresh or _pending)
        self._next_batch = (records[-1]["batch"] + 1) if records else 0
        self._manifest_on_disk = True
        self._fd: int | None = None
        self._lock_fd: int | None = _lock_fd if _lock_fd is not None else _acquire_lock(path)
        try:
            self._fd = os.open(self.path / RECORDS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            if _lock_fd is None:  # ours to release; a caller's lock is the caller's
                self.close()
            raise StoreError(f"cannot write {self.path / RECORDS}: {exc.strerror or exc}") from None

    # -- construction ----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], manifest: dict[str, Any], **kw: Any) -> RunStore:
        """Start a new run in ``path`` (created if missing).

        Raises:
            StoreError: ``path`` already holds a run (use ``--resume`` or another ``--out``),
                holds evaluation records without a manifest (never mixed into a new run), or
                cannot be created or written. A failed create leaves nothing behind.
        """
        p = Path(path)
        if os.path.exists(os.path.join(path, MANIFEST)):
            raise StoreError(
                f"{p} already holds a run; pass --resume to continue it, or choose another --out"
            )
        made = not p.exists()
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot write the run directory {p}: {exc.strerror or exc}") from None
        lock_fd = _acquire_lock(p)
        store: RunStore | None = None
        try:
            if (p / MANIFEST).exists():  # created meanwhile by another process
                raise StoreError(
                    f"{p} already holds a run; pass --resume to continue it, or choose another --out"
                )
            rec = p / RECORDS
            if rec.is_dir() or (rec.exists() and rec.stat().st_size > 0):
                raise StoreError(
                    f"{p} holds {_describe_contents(p)} but no {MANIFEST}, so they belong to no "
                    "known run and a new run would be mixed into them; move them away, or choose "
                    "another --out"
                )
            full = _new_manifest(manifest)
            store = cls(p, full, [], _lock_fd=lock_fd, **kw)
            if store.durable or not store.buffered:
                _atomic_write_json(p / MANIFEST, full)
            else:  # written with the records (a task rerun whole on resume needs no earlier)
                store._manifest_on_disk = False
        except BaseException:
            if store is not None:
                store.close()
            else:
                os.close(lock_fd)
            _remove_new_run(p, made)
            raise
        return store

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        accept: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
        **kw: Any,
    ) -> RunStore:
        """Reopen an existing run to resume it.

        Under the run's lock, reads and validates the manifest and records, drops a torn line
        and an incomplete last batch (so the resumed run redoes exactly that batch), and
        calls ``accept(manifest, records)``, which may refuse the resume by raising (any
        :class:`~archgym.errors.ArchGymError`) or update the manifest dict. Only once it is
        accepted is anything on disk changed: the record file cut back, the manifest marked
        ``running``.

        Raises:
            StoreError: No run in ``path``, corrupt records, another writer, or the disk
                cannot be written.
        """
        p = Path(path)
        if not (p / MANIFEST).exists() and (p / RECORDS).exists():
            raise StoreError(
                f"{p} holds {_describe_contents(p)} but no {MANIFEST}; there is no run to resume "
                "(the records belong to no known experiment): move them away, or choose another --out"
            )
        lock_fd = _acquire_lock(p)
        try:
            manifest = read_manifest(p)
            records, good = read_records(p, manifest)
            # drop an incomplete last batch (crash between its lines)
            if records:
                last = records[-1]["batch"]
                tail = [r for r in records if r["batch"] == last]
                if len(tail) < int(tail[0].get("batch_size", len(tail))):
                    records = records[: len(records) - len(tail)]
                    good = _byte_offset_of_batch(p / RECORDS, last)
            if accept is not None:
                accept(manifest, records)
            size = (p / RECORDS).stat().st_size if (p / RECORDS).exists() else 0
            if good < size:
                try:
                    os.truncate(p / RECORDS, good)
                except OSError as exc:
                    raise StoreError(f"cannot write {p / RECORDS}: {exc.strerror or exc}") from None
            store = cls(p, manifest, records, _lock_fd=lock_fd, **kw)
        except BaseException:
            os.close(lock_fd)
            raise
        store.manifest["status"] = "running"
        store.manifest["resumed"] = int(store.manifest.get("resumed", 0)) + 1
        try:
            store._write_manifest()
        except StoreError:
            store.close()
            raise
        return store

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record of the run so far (found on resume, written, and buffered), in order;
        the same list object throughout the store's life."""
        if self._parts:
            self._build()
        return self._records

    # -- writing ---------------------------------------------------------------------
    def append(self, results: Results, elapsed_s: float = 0.0) -> None:
        """Append one batch of evaluations as records (read them from :attr:`records`).

        Unbuffered, the batch is written at once, in one ``os.write``. Buffered, its records
        are written with the others of the store's next write (a status change,
        :meth:`close`, or every :data:`FLUSH_RECORDS` records); a crash before then loses
        them (a sweep task reruns its experiment whole). The record of a batch of one
        design is built at once; larger batches are built when written, so their
        ``results`` must not be modified afterwards (designs are copied; the arrays are
        kept as they are, and :class:`~archgym.env.DSEEnv` makes new ones for every batch).

        Raises:
            StoreError: The store is closed, or the records cannot be written (the file is
                then cut back to its last whole batch).
        """
        if self._fd is None:
            raise StoreError(f"run store {self.path} is closed")
        n = len(results)
        if not n:  # an empty batch has no records, and takes no batch number
            return
        start = len(self._records) + self._n_parts
        if self.buffered:
            if n == 1:  # one design: its record now, from its own values (see record_of_one)
                if self._parts:
                    self._build()  # the batches before it first
                rec = record_of_one(results, start, self._next_batch, elapsed_s)
                self._records.append(rec)
                self._fresh.append(rec)
            else:
                kept = Results(
                    [dict(d) for d in results.designs],
                    results.evals,
                    results.values,
                    results.violations,
                    results.reward,
                    results.eval_time_s,
                )
                self._parts.append((kept, start, self._next_batch, elapsed_s))
                self._n_parts += n
            self._next_batch += 1
            self._n_pending += n
            if self._n_pending >= FLUSH_RECORDS:
                self._flush()
            return
        new = make_records(results, start, self._next_batch, elapsed_s)
        self._write(encode_records(new))
        self._records.extend(new)
        self._next_batch += 1

    def _build(self) -> None:
        """Encode the buffered records already built (batches of one), then build and encode
        the other buffered batches' records (column by column, all at once)."""
        if self._fresh:
            self._pending.append(encode_records(self._fresh))
            self._fresh = []
        if not self._parts:
            return
        parts, self._parts, self._n_parts = self._parts, [], 0
        new = build_records(parts)
        self._pending.append(encode_records(new))
        self._records.extend(new)

    def _write(self, blob: bytes) -> None:
        assert self._fd is not None
        before = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, blob)
            if written != len(blob):
                raise OSError(errno.ENOSPC, "short write (disk full?)")
            if self.fsync_every_batch:
                os.fsync(self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)  # no torn batch left behind
            raise StoreError(
                f"cannot write {self.path / RECORDS}: {exc.strerror or exc}; the "
                f"{_count_lines(self.path / RECORDS)} records before this batch are kept: free "
                "space (or make the directory writable) and --resume"
            ) from None

    def _flush(self) -> None:
        if self._parts or self._fresh:
            self._build()
        if self._pending and self._fd is not None:
            blob, self._pending = b"".join(self._pending), []
            n, self._n_pending = self._n_pending, 0
            try:
                self._write(blob)
            except StoreError:
                del self._records[len(self._records) - n :]  # what is on disk, nothing more
                self._next_batch = (self._records[-1]["batch"] + 1) if self._records else 0
                raise

    def _write_manifest(self, sync: bool = False) -> None:
        self.manifest["updated"] = _now()
        self.manifest["n_evaluations"] = len(self._records) + self._n_parts - self._n_pending
        _atomic_write_json(self.path / MANIFEST, self.manifest, sync=sync)
        self._manifest_on_disk = True

    def set_status(self, status: str, sync: bool = False, **extra: Any) -> None:
        """Record the run's status (``running``, ``complete``, ``failed``, ``interrupted``)
        and any summary fields; ``sync=True`` fsyncs the manifest (done for the final one).

        Raises:
            StoreError: The records or the manifest cannot be written (the previous manifest
                then stays as it was).
        """
        self.manifest["status"] = status
        self.manifest.update(extra)
        self._flush()  # records are written before a manifest that counts them
        sync = sync and self.durable
        if sync and self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise StoreError(
                    f"cannot write {self.path / RECORDS}: {exc.strerror or exc}"
                ) from None
        self._write_manifest(sync=sync)

    def close(self) -> None:
        """Write what is buffered, fsync the records and release the lock (the lock is
        released also when that last write fails)."""
        try:
            if self._fd is not None:
                self._flush()
                if self.durable:
                    with contextlib.suppress(OSError):
                        os.fsync(self._fd)
                if not self._manifest_on_disk:  # closed without a status change
                    self._write_manifest()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _new_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A new run's manifest: the store's fields, then the caller's."""
    now = _now()
    return {
        "schema": SCHEMA,
        "status": "running",
        "created": now,
        "updated": now,
        "n_evaluations": 0,
        "packages": package_versions(),
        **manifest,
    }


#: A shard store's columns start with room for the run's budget up to this many evaluations
#: (then double as needed).
_BUFFER_START = 1 << 16


class ShardRunStore:
    """Writer of one run of a sweep into the sweep's shards (see :mod:`archgym._shards`).

    The run is addressed as ``path`` (``<sweep dir>/<experiment id>``), as a run directory
    would be, but nothing is created there: the batches are kept in memory and written, with
    the manifest, as one block of this process's shard file when the store closes, as a
    columns document (:mod:`archgym._columns`: no record dict is built per evaluation) or,
    for batches that cannot be written so exactly, as records. A run that does not close (a
    killed worker) leaves nothing, or a torn block that readers skip; a sweep reruns it
    whole. Same interface as :class:`RunStore` for :func:`~archgym.runner.run_experiment`,
    plus :meth:`best_record`; there is no resume (a sweep reruns what did not complete).

    Attributes:
        path: The run's address.
        manifest: The manifest.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        budget = manifest.get("budget")
        # the batches, copied into columns while they are plain (see _columns.ColumnBuffer),
        # else kept as they came (_parts)
        self._buffer: _columns.ColumnBuffer | None = _columns.ColumnBuffer(
            budget if isinstance(budget, int) and 0 < budget <= _BUFFER_START else 64
        )
        self._parts: list[Part] = []
        self._designs: list[dict[str, Any]] = []  # copies, taken at append
        self._n = 0
        self._records: list[dict[str, Any]] = []
        self._built = 0  # parts built into _records
        self._stack: tuple[int, _columns.Stacked] | None = None  # for that many parts
        self._writer: _shards.ShardWriter | None = _shards.ShardWriter.for_sweep(path.parent)

    @classmethod
    def create(cls, path: str | os.PathLike[str], manifest: dict[str, Any]) -> ShardRunStore:
        """Start a new run addressed as ``path``.

        Raises:
            StoreError: ``path`` is a run directory already (shards never shadow one).
        """
        p = Path(path)
        if os.path.exists(os.path.join(path, MANIFEST)):
            raise StoreError(
                f"{p} already holds a run directory; a sweep will not shadow it with a run in "
                f"{p.parent / _shards.SHARDS}: move it away, then resume the sweep"
            )
        return cls(p, _new_manifest(manifest))

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record so far, in order, built at this call from the batches not built yet;
        the same list object throughout."""
        if self._buffer is not None and self._buffer.n:
            self._keep_parts()
        if self._built < len(self._parts):
            self._records.extend(
                build_records([self._as_recorded(p) for p in self._parts[self._built :]])
            )
            self._built = len(self._parts)
        return self._records

    def append(self, results: Results, elapsed_s: float = 0.0) -> None:
        """Add one batch of evaluations (kept until :meth:`close`; its designs are copied).

        Raises:
            StoreError: The store is closed.
        """
        if self._writer is None:
            raise StoreError(f"run store {self.path} is closed")
        designs = results.designs
        n = len(designs)
        if n == 1:
            self._designs.append(dict(designs[0]))
        elif n:
            self._designs.extend(dict(d) for d in designs)
        else:
            return
        buffer = self._buffer
        if buffer is None or not buffer.add(results, elapsed_s):
            self._keep_parts()
            self._parts.append((results, self._n, len(self._parts), elapsed_s))
        self._n += n

    def _keep_parts(self) -> None:
        """From now on keep the batches as they come: the ones in the columns, rebuilt."""
        if self._buffer is not None:
            self._parts = self._buffer.parts(self._designs)
            self._buffer = None

    def best_record(self) -> dict[str, Any] | None:
        """The record of the admissible evaluation with the lowest objective (one objective)
        or the highest reward (several), the first on ties, as
        :func:`archgym.runner.summarize_records` picks it; ``None`` if none is admissible.
        Builds that record only."""
        if not self._n:
            return None
        buffer = self._buffer
        if buffer is not None:
            i = _columns.best_index(buffer.stacked())
            if i is None:
                return None
            part = buffer.part(buffer.batch_of(i), self._designs)
            return make_records(*part)[i - part[1]]
        i = _columns.best_index(self._stacked())
        if i is None:
            return None
        for part in self._parts:
            start = part[1]
            if start <= i < start + len(part[0]):
                return make_records(*self._as_recorded(part))[i - start]
        return None  # pragma: no cover - i is within the parts

    def _as_recorded(self, part: Part) -> Part:
        """``part`` with the copies of its designs taken at :meth:`append`."""
        res, start, batch, elapsed = part
        designs = self._designs[start : start + len(res)]
        copy = Results(designs, res.evals, res.values, res.violations, res.reward, res.eval_time_s)
        return copy, start, batch, elapsed

    def _stacked(self) -> _columns.Stacked:
        """The batches' arrays, concatenated once per number of batches."""
        if self._stack is None or self._stack[0] != len(self._parts):
            self._stack = (len(self._parts), _columns.stack([p[0] for p in self._parts]))
        return self._stack[1]

    def set_status(self, status: str, sync: bool = False, **extra: Any) -> None:
        """Set the run's status and summary fields, written at :meth:`close` (``sync`` is
        accepted for :class:`RunStore`'s interface; a shard is never fsynced)."""
        self.manifest["status"] = status
        self.manifest.update(extra)

    def close(self) -> None:
        """Write the run (manifest and records) as one block; once only.

        Raises:
            StoreError: It cannot be written (nothing of it is left in the shard).
        """
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self.manifest["updated"] = _now()
        self.manifest["n_evaluations"] = self._n
        if self._buffer is not None:
            doc = self._buffer.encode(self._designs)
        else:
            doc = (
                _columns.encode_columns(self._parts, self._designs, self._stacked())
                if self._parts
                else None
            )
        if doc is None:
            writer.write_run(self.path.name, self.manifest, encode_records(self.records))
        else:
            writer.write_run(self.path.name, self.manifest, doc, columns=self._n)

    def __enter__(self) -> ShardRunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove_new_run(p: Path, made: bool) -> None:
    """Undo a failed :meth:`RunStore.create`: the empty record file, the lock, and the
    directory if the create made it."""
    if not (p / MANIFEST).exists():
        with contextlib.suppress(OSError):
            if (p / RECORDS).is_file() and (p / RECORDS).stat().st_size == 0:
                (p / RECORDS).unlink()
        with contextlib.suppress(OSError):
            (p / LOCK).unlink()
    if made:
        with contextlib.suppress(OSError):
            p.rmdir()


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return 0


def _byte_offset_of_batch(path: Path, batch: int) -> int:
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            return pos
        try:
            if loads(data[pos:end]).get("batch") == batch:
                return pos
        except ValueError:
            return pos
        pos = end + 1
    return pos


def _runs_below(root: Path) -> list[Path]:
    """The runs below the directory ``root``, by path: run directories, and the runs in
    sweeps' shards (addressed as ``<sweep dir>/<experiment id>``); ``[]`` if none.

    Raises:
        StoreError: A shard cannot be read or is damaged before its end.
    """
    subs = {m.parent for m in root.rglob(MANIFEST)}
    for shard_dir in [root / _shards.SHARDS, *root.rglob(f"*/{_shards.SHARDS}")]:
        if shard_dir.is_dir():
            subs.update(shard_dir.parent / run for run in _shards.runs_in(shard_dir.parent))
    return sorted(subs)


def _find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Each path that is a run (:func:`is_run`), else the runs below it (:func:`_runs_below`).

    Raises:
        StoreError: A path is missing or holds no runs, or a shard is damaged.
    """
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if is_run(p):
            found.append(p)
            continue
        if not p.exists():
            raise StoreError(f"no such run directory: {p}")
        subs = _runs_below(p)
        if not subs:
            raise StoreError(
                f"{p} contains no archgym runs ({MANIFEST} not found below it, nor "
                f"{_shards.SHARDS}/ of a sweep)"
            )
        found.extend(subs)
    return found


def objective_columns(manifest: dict[str, Any]) -> list[str]:
    """``load_runs`` column names of a run's objective values: ``obj:`` + the objective's
    label (``obj:edp``, ``obj:min:latency_s``), in minimisation form like the records."""
    spec = (manifest.get("env", {}).get("objective", {}) or {}).get("objectives", [])
    labels = [str(x) for x in spec] if isinstance(spec, list) else [str(spec)]
    return [f"obj:{label}" for label in labels]


def load_runs(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Any:
    """Load evaluation records of one or many runs into a pandas DataFrame.

    Args:
        paths: A run directory, a directory containing runs (searched recursively), or a
            list of those.

    Returns:
        One row per evaluation with columns ``run``, ``env_id``, ``agent``, ``seed``,
        ``eval_id``, ``batch``, the design parameters (by name), the metrics (by name),
        ``feasible``, ``reason``, ``admissible``, ``reward``, one column per objective named
        after it (``obj:edp``, ``obj:min:latency_s``; minimisation form, NaN where
        infeasible), ``eval_s``, ``t_s``. A parameter that shares a name with a metric is
        prefixed ``param.``.

    Raises:
        StoreError: A path is missing or holds no runs, or a record breaks a rule of
            :func:`read_records` (the message names the file and the line).
    """
    import pandas as pd

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for run in _find_runs(paths):
        manifest = read_manifest(run)
        records, _ = read_records(run, manifest)
        base = {
            "run": str(run),
            "env_id": manifest.get("env_id"),
            "agent": manifest.get("agent"),
            "seed": manifest.get("seed"),
        }
        obj_cols = objective_columns(manifest)
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
                name = obj_cols[j] if j < len(obj_cols) else f"obj_{j}"
                row[name] = np.nan if v is None else float(v)
            row["eval_s"] = r.get("eval_s")
            row["t_s"] = r.get("t_s")
            rows.append(row)
    if not rows:
        warnings.warn("the runs hold no evaluation records", stacklevel=2)
    return pd.DataFrame(rows)
