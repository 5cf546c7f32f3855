"""Run shards: a sweep's runs in a few append-only files, one per worker process, instead
of a directory and two files per run.

Layout, inside a sweep directory::

    runs/lottery/
      shards/
        <host>-<pid>-<token>.jsonl   the runs one worker process ran, appended as they end

Why: creating a file or a directory costs 15 us to 1 ms of CPU on an ext4 volume of a
virtual machine (measured on the project's 2-core machine, varying minute to minute), and a
run directory takes three (the directory, its records, its manifest). For the 100-evaluation
experiments of a lottery sweep that was 10-20 % of the cost model's and agent's own CPU.
A shard costs one file per worker process, and each run one ``os.write``.

A run in a shard is one *block*: a header line, then the run's records, either as one
*columns document* (:mod:`archgym._columns`: one line, each field a list over the records;
what a sweep task writes, ``"format": "columns"`` in the header) or as a run directory's
``records.jsonl`` holds them (:mod:`archgym.store`; blocks without a ``format``)::

    {"run": "<experiment id>", "size": 21406, "n_records": 100, "format": "columns", "manifest": {...}}
    <size bytes: one line, {"design": [...], "eval_id": [...], ...}>

Readers turn a columns document back into its records (:func:`read_block`), so a run reads
the same whichever way it was written.

A task also appends a *start line*, ``{"started": ["<id>", ...], "size": 0}``, before it runs
its experiments, so the sweep can tell a lost task that had started from one that never
ran (:func:`started_ids`).

Each block is written with one ``os.write`` on an ``O_APPEND`` descriptor, without
``fsync`` (a sweep reruns every experiment that did not complete), and a write that fails is
cut back, so a file holds whole blocks and at most one torn block at its end, left by a
killed process, which readers skip. One process writes each file, so blocks of two writers
never interleave, also on file systems without atomic appends.

A run is addressed as ``<sweep dir>/<experiment id>``, the path its run directory would
have: :func:`archgym.store.read_manifest`, :func:`~archgym.store.read_records` and
:func:`~archgym.store.load_runs` find it in the shards when no such directory exists. An
experiment may have several blocks (a failed attempt, then a resumed one; a task that a lost
worker had completed and its retry): the run is the block that says ``complete``, else the
last one written (by its manifest's ``updated`` time, then by position).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from archgym._columns import records_of_columns
from archgym._records import encode_records, json_float, loads
from archgym.errors import StoreError

__all__ = ["SHARDS", "Block", "ShardWriter", "find", "runs_in", "started_ids", "read_block"]

#: The directory of a sweep that holds its shards.
SHARDS = "shards"
_SUFFIX = ".jsonl"
#: The header's ``format`` of a block whose records are one columns document.
COLUMNS = "columns"
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=json_float).encode


def _encode_head(head: dict[str, Any]) -> bytes:
    """A block's header line (or a start line), by orjson (about 10x the standard library's encoder on a
    manifest), or by the standard library for what orjson refuses (a big int...)."""
    try:
        return orjson.dumps(head, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return _encode(head).encode()


@dataclass(frozen=True)
class Block:
    """Where a run is stored in a shard.

    Attributes:
        file: The shard file.
        offset: Byte offset of the run's records (just after its header line).
        size: Byte length of the records.
        n_records: Records in it.
        manifest: The run's manifest.
        columns: The records are one columns document (:mod:`archgym._columns`), not
            one line each.
    """

    file: Path
    offset: int
    size: int
    n_records: int
    manifest: dict[str, Any]
    columns: bool = False


# -- writing -----------------------------------------------------------------------------


class ShardWriter:
    """The shard file of this process in one sweep directory, created at its first write.

    Use :meth:`for_sweep`, which keeps one writer per sweep directory and process (a forked
    worker makes its own). Safe to share between threads.
    """

    #: Writers kept open per process; the least recently used is closed beyond this.
    MAX_OPEN = 8
    _open: dict[tuple[int, str], ShardWriter] = {}
    _open_lock = threading.Lock()

    def __init__(self, shard_dir: Path) -> None:
        self.shard_dir = shard_dir
        self.path: Path | None = None
        self._fd: int | None = None
        self._size = 0
        self._lock = threading.Lock()

    @classmethod
    def for_sweep(cls, sweep_dir: str | os.PathLike[str]) -> ShardWriter:
        """This process's writer of ``sweep_dir``'s shards."""
        key = (os.getpid(), os.path.join(os.fspath(sweep_dir), SHARDS))
        with cls._open_lock:
            w = cls._open.pop(key, None) or cls(Path(key[1]))
            cls._open[key] = w  # most recently used last
            mine = [k for k in cls._open if k[0] == key[0]]
            for old in mine[: max(0, len(mine) - cls.MAX_OPEN)]:
                cls._open.pop(old).close()
            for other in [k for k in cls._open if k[0] != key[0]]:
                inherited = cls._open.pop(other)._fd  # a forked parent's writer: the
                if inherited is not None:  # parent goes on with its file, this copy is closed
                    with contextlib.suppress(OSError):
                        os.close(inherited)
            return w

    def _fd_for_write(self) -> int:
        if self._fd is None:
            try:
                self.shard_dir.mkdir(parents=True, exist_ok=True)
                name = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}{_SUFFIX}"
                self.path = self.shard_dir / name
                self._fd = os.open(
                    self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644
                )
                self._size = 0  # a new file, written by this writer only
            except OSError as exc:
                raise StoreError(
                    f"cannot write the shards in {self.shard_dir}: {exc.strerror or exc}; free "
                    "space (or make the directory writable), then resume the sweep"
                ) from None
        return self._fd

    def _append(self, blob: bytes) -> None:
        with self._lock:
            fd = self._fd_for_write()
            before = self._size  # the file's size: this writer made it and alone writes it
            try:
                if os.write(fd, blob) != len(blob):
                    raise OSError(errno.ENOSPC, "short write (disk full?)")
                self._size = before + len(blob)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, before)  # no torn block before the next one
                raise StoreError(
                    f"cannot write {self.path}: {exc.strerror or exc}; the runs before this one "
                    "are kept: free space (or make the directory writable), then resume the sweep"
                ) from None

    def write_run(
        self,
        run_id: str,
        manifest: Mapping[str, Any],
        records: bytes,
        columns: int | None = None,
    ) -> None:
        """Append one run: its manifest and its encoded records: complete JSON lines, or
        with ``columns`` (their number) one columns document (:mod:`archgym._columns`).

        Raises:
            StoreError: It cannot be written (the file is cut back to its blocks before).
        """
        head: dict[str, Any] = {"run": run_id, "size": len(records)}
        if columns is None:
            head["n_records"] = records.count(b"\n")
        else:
            head["n_records"], head["format"] = columns, COLUMNS
        head["manifest"] = manifest
        self._append(_encode_head(head) + b"\n" + records)

    def write_started(self, run_ids: list[str]) -> None:
        """Append a start line: a task is about to run these experiments."""
        self._append(_encode_head({"started": run_ids, "size": 0}) + b"\n")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


# -- reading -----------------------------------------------------------------------------


@dataclass
class _FileScan:
    """What was read of one shard file so far (files only grow, by whole blocks)."""

    end: int = 0  # bytes scanned: whole blocks and start lines
    blocks: list[tuple[str, Block]] = field(default_factory=list)
    started: set[str] = field(default_factory=set)


_SCANS: dict[Path, _FileScan] = {}
_SCANS_LOCK = threading.Lock()


def _corrupt(path: Path, offset: int, why: str) -> StoreError:
    return StoreError(
        f"{path} is corrupt at byte {offset} ({why}); the runs before it are intact. Move the "
        "file away and resume the sweep: the runs it held are run again"
    )


def _scan(path: Path, size: int) -> _FileScan:
    """Headers of ``path``'s blocks, read from where the last scan stopped (a file only grows;
    ``size`` is its size as listed, and nothing is read when the scan already reached it).
    A torn block at the end (a killed writer) is skipped; damage before it raises."""
    with _SCANS_LOCK:
        scan = _SCANS.setdefault(path, _FileScan())
        if scan.end == size:
            return scan
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            _SCANS.pop(path, None)
            return _FileScan()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        with fh:
            total = os.fstat(fh.fileno()).st_size
            if total < scan.end:  # cut back or replaced: read it again
                scan.end, scan.blocks, scan.started = 0, [], set()
            fh.seek(scan.end)
            while scan.end < total:
                line = fh.readline()
                if not line.endswith(b"\n"):
                    break  # a torn header at the end
                try:
                    head = json.loads(line)
                    size = int(head["size"])
                    if size < 0:
                        raise ValueError("negative size")
                except (ValueError, KeyError, TypeError) as exc:
                    if fh.tell() >= total:
                        break  # the torn end of a killed writer's last block
                    raise _corrupt(path, scan.end, f"not a block header: {exc}") from None
                offset = scan.end + len(line)
                if offset + size > total:
                    break  # the records of the last block were cut short
                if "started" in head:
                    scan.started.update(str(x) for x in head["started"])
                else:
                    try:
                        block = Block(
                            path,
                            offset,
                            size,
                            int(head["n_records"]),
                            head["manifest"],
                            head.get("format") == COLUMNS,
                        )
                        run_id = str(head["run"])
                    except (KeyError, TypeError, ValueError) as exc:
                        raise _corrupt(path, scan.end, f"header lacks {exc}") from None
                    if not isinstance(block.manifest, dict):
                        raise _corrupt(path, scan.end, "its manifest is not an object")
                    scan.blocks.append((run_id, block))
                fh.seek(offset + size)
                scan.end = offset + size
        return scan


def _files(sweep_dir: Path) -> list[tuple[Path, int]]:
    """The shard files of ``sweep_dir`` with their sizes, by name."""
    try:
        with os.scandir(sweep_dir / SHARDS) as it:
            entries = [e for e in it if e.name.endswith(_SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StoreError(f"cannot read {sweep_dir / SHARDS}: {exc.strerror or exc}") from None
    found = []
    for e in entries:
        with contextlib.suppress(FileNotFoundError):  # moved away meanwhile
            found.append((Path(e.path), e.stat().st_size))
    return sorted(found)


def _rank(block: Block, position: int) -> tuple[bool, str, int]:
    """Order of the blocks of one run: complete ones first, then the latest written."""
    m = block.manifest
    return (m.get("status") == "complete", str(m.get("updated", "")), position)


_RUNS: dict[Path, tuple[list[tuple[Path, int]], dict[str, Block]]] = {}


def runs_in(sweep_dir: str | os.PathLike[str]) -> dict[str, Block]:
    """Every run in ``sweep_dir``'s shards, by experiment id (see the module docstring for
    which block is the run when an experiment has several); ``{}`` without shards. The
    result is shared between calls while the shards do not change: do not modify it.

    Raises:
        StoreError: A shard file cannot be read or is corrupt before its end.
    """
    root = Path(sweep_dir)
    files = _files(root)
    cached = _RUNS.get(root)
    if cached is not None and cached[0] == files:
        return cached[1]
    best: dict[str, tuple[tuple[bool, str, int], Block]] = {}
    position = 0
    for path, size in files:
        for run_id, block in _scan(path, size).blocks:
            position += 1
            rank = _rank(block, position)
            if run_id not in best or rank > best[run_id][0]:
                best[run_id] = (rank, block)
    runs = {k: v[1] for k, v in best.items()}
    if files:
        _RUNS[root] = (files, runs)
    return runs


def find(run_dir: str | os.PathLike[str]) -> Block | None:
    """The run addressed as ``run_dir`` (``<sweep dir>/<experiment id>``) in its sweep's
    shards, or ``None``."""
    p = Path(run_dir)
    if p.name in ("", ".", ".."):
        return None
    return runs_in(p.parent).get(p.name)


def started_ids(sweep_dir: str | os.PathLike[str]) -> set[str]:
    """Experiments that a task started (start lines) or ended (blocks) in the shards."""
    out: set[str] = set()
    for path, size in _files(Path(sweep_dir)):
        scan = _scan(path, size)
        out |= scan.started
        out.update(run_id for run_id, _ in scan.blocks)
    return out


def read_block(block: Block) -> bytes:
    """The records of ``block`` as complete JSON lines (a columns document is turned into
    the records it holds).

    Raises:
        StoreError: The shard cannot be read, or no longer holds the block.
    """
    try:
        with open(block.file, "rb") as fh:
            fh.seek(block.offset)
            data = fh.read(block.size)
    except OSError as exc:
        raise StoreError(f"cannot read {block.file}: {exc.strerror or exc}") from None
    if len(data) != block.size or (data and not data.endswith(b"\n")):
        raise _corrupt(block.file, block.offset, "the run's records were cut short")
    if not block.columns:
        return data
    try:
        records = records_of_columns(loads(data), block.n_records)
    except (ValueError, RecursionError) as exc:
        raise _corrupt(block.file, block.offset, f"its records: {exc}") from None
    return encode_records(records)
