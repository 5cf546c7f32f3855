"""Run a sweep: experiments in tasks of a few on a ``concurrent.futures.Executor``, resumable.

A task runs up to ``chunk`` experiments of the same env one after another in one worker,
building the env (and its cost model and workload tables) once: the per-task cost of the
executor (a Dask round trip, a pickled call) and of building envs is shared, which matters
for cheap experiments (100 evaluations of an analytical model take ~0.1 s of CPU).

Layout of a sweep directory::

    runs/lottery/
      sweep.json       the resolved sweep: file text, every experiment with its id (written once)
      results.jsonl    one line per finished task, appended as tasks finish (status, best, error)
      .sweep.lock      flock held by the sweep process: a second sweep on the directory is refused
      shards/          the runs, in one file per worker process (see archgym._shards); a run
                       is addressed as <sweep dir>/<experiment-id>, as archgym show takes it
      <experiment-id>/ a run directory (manifest.json + records.jsonl, see archgym.store), in
                       sweeps written before the shards (still read and resumed)

**A lost worker.** When a worker dies mid-task (``kill -9``, the OOM killer, a lost node),
the local pool (:class:`~archgym.sweep.LocalPool`) is rebuilt and the lost tasks that had
started (a task appends a start line to its shard first) are submitted again, at most
:data:`MAX_LOST_RETRIES` times each, then recorded as failed. A retried task keeps the runs
it had completed and reruns the others. A run is written when its experiment ends, whole,
so a lost worker leaves no partial run; a task Dask retries by itself may write a second
complete run of an experiment, and readers take one (:mod:`archgym._shards`).

**Resume.** An experiment is finished when its manifest says ``complete`` with all of its
budget recorded. ``resume=True`` skips those and runs every other one again from scratch
(deleting its run directory in a sweep written before the shards; a failed run's block stays
in its shard, superseded by the new run), so the sweep ends with exactly one complete record
set per experiment however it was stopped (Ctrl-C, ``kill -9``, a lost node).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archgym.errors import ConfigError, StoreError
from archgym.sweep._eta import EnvWeightedEta
from archgym.sweep._spec import SweepItem, SweepSpec

__all__ = [
    "run_sweep",
    "run_item",
    "run_items",
    "SweepResult",
    "is_complete",
    "SWEEP_FILE",
    "RESULTS_FILE",
]

SWEEP_FILE = "sweep.json"
RESULTS_FILE = "results.jsonl"
LOCK_FILE = ".sweep.lock"


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
        out: The sweep directory.
        n_total: Experiments in the sweep.
        n_skipped: Already complete before this call (resume).
        n_complete: Completed by this call.
        n_failed: Failed in this call (each recorded in ``results.jsonl`` with its error).
        wall_s: Wall time of this call.
        task_s: Sum of the experiments' own wall times (inside the workers).
        failures: ``(id, error)`` of each failure.
    """

    out: Path
    n_total: int
    n_skipped: int = 0
    n_complete: int = 0
    n_failed: int = 0
    wall_s: float = 0.0
    task_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _env_key(experiment: dict[str, Any]) -> str:
    """Experiments with equal keys build equal envs (id, kwargs, objective, constraints)."""
    fields = ("env", "env_kwargs", "objective", "constraints")
    return json.dumps([experiment.get(f) for f in fields], sort_keys=True, default=repr)


#: How a sweep stores its runs: ``"shards"`` (default), one file per worker process holding
#: whole runs (:mod:`archgym._shards`); ``"dirs"``, one run directory per experiment, as
#: ``archgym run --out`` writes (three files created per experiment).
LAYOUTS = ("shards", "dirs")


def run_items(
    items: list[dict[str, Any]], run_dirs: list[str], retry: bool = False, layout: str = "shards"
) -> list[dict[str, Any]]:
    """The task: note its start in the shard of this process (a run directory notes it
    itself), then run several experiments in turn (see :func:`run_item`), building each
    distinct env once; never raises for a failed experiment (one whose start cannot be
    noted is failed).

    Args:
        items: :meth:`SweepItem.to_dict` of each.
        run_dirs: Their run addresses, ``<sweep dir>/<id>``.
        retry: The task is run again (its worker was lost): keep the runs it completed.
        layout: One of :data:`LAYOUTS`.
    """
    from archgym._shards import ShardWriter

    if layout == "shards":
        try:
            for sweep_dir in sorted({str(Path(d).parent) for d in run_dirs}):
                ShardWriter.for_sweep(sweep_dir).write_started([Path(d).name for d in run_dirs])
        except StoreError as exc:
            return [_failed_item(it, exc) for it in items]
    envs: dict[str, Any] = {}
    return [run_item(it, d, envs, retry, layout) for it, d in zip(items, run_dirs, strict=True)]


def _failed_item(item: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    return {
        "id": item["id"],
        "pid": os.getpid(),
        "status": "failed",
        "wall_s": 0.0,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc(limit=20),
    }


def run_item(
    item: dict[str, Any],
    run_dir: str,
    envs: dict[str, Any] | None = None,
    retry: bool = False,
    layout: str = "shards",
) -> dict[str, Any]:
    """Run one experiment into its sweep's shards (or, with ``layout="dirs"``, into the run
    directory ``run_dir``), addressed as ``run_dir``; never raises for a failed experiment.

    Args:
        item: :meth:`SweepItem.to_dict`, with its :func:`_env_key` as ``"env_key"`` where
            the sweep has it (else computed here).
        run_dir: The run's address, ``<sweep dir>/<id>``.
        retry: A retried task: a complete run of this experiment already in the shards (or
            in a run directory) is kept and reported instead of run again.
        layout: One of :data:`LAYOUTS`.
        envs: Envs built by earlier experiments of the same task, with their
            ``describe()``, by :func:`_env_key`; the env (and its description) is reused
            when the key matches (an env keeps no state between experiments: agents that
            drive it reset it with their seed) and added otherwise.

    Returns:
        ``{"id", "status", "wall_s", "n_evaluations", "best_objective"}`` and, on failure,
        ``"error"`` (one line) and ``"traceback"``.
    """
    from archgym.runner import Experiment, run_experiment

    t0 = time.perf_counter()
    out: dict[str, Any] = {"id": item["id"], "pid": os.getpid()}
    try:
        exp = Experiment(**item["experiment"])
        done = _take_over(run_dir, item["experiment"], retry)
        if done is not None:  # a retry of a task that had finished this one
            out.update(done)
            out["wall_s"] = time.perf_counter() - t0
            return out
        env = described = None
        if envs is not None:
            key = item.get("env_key") or _env_key(item["experiment"])
            if key not in envs:
                built = exp.make_env()
                envs[key] = (built, built.describe())
            env, described = envs[key]
        # an experiment that does not complete is rerun whole, so its records need no
        # per-batch durability: written with its manifest as one block of the shard (or in
        # one piece, without fsync, into its run directory)
        res = run_experiment(
            exp,
            out=run_dir,
            env=env,
            store_options=(
                {"shard": True} if layout == "shards" else {"buffered": True, "durable": False}
            ),
            summary="best",  # the task reports the best; show reads the rest from the records
            described=described,  # the env's identity, computed once per task
        )
        out.update(
            status=res.status,
            n_evaluations=res.n_evaluations,
            best_objective=res.best["objective"] if res.best else None,
        )
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        out.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=20),
        )
    out["wall_s"] = time.perf_counter() - t0
    return out


def _take_over(
    run_dir: str | Path, experiment: dict[str, Any], retry: bool
) -> dict[str, Any] | None:
    """Make ``run_dir`` ready for this experiment: a complete run of it is kept and reported
    (``{"status", ...}``) when the task is a retry (checked in the shards) or a run directory
    is there (a sweep written before the shards, or a task an older archgym started); a
    partial run directory is removed once no process holds its lock. Anything else is
    refused.

    Raises:
        StoreError: The directory holds another experiment's run, or files that are not a
            run, or is still being written after the lock wait.
    """
    if not os.path.exists(run_dir):  # a new run's usual case: no pathlib (a few us a run)
        if not retry:
            return None
        run_dir = Path(run_dir)
        try:
            m = _read_manifest(run_dir)
        except StoreError:  # not in the shards (or unreadable): run it
            return None
        return _kept(m) if _says_complete(m, int(experiment["budget"])) else None
    run_dir = Path(run_dir)
    _wait_run_lock(run_dir)
    manifest_path = run_dir / "manifest.json"
    if manifest_path.exists():
        try:
            m = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            m = {}
        recorded = json.dumps(m.get("experiment"), sort_keys=True, default=str)
        if m and recorded != json.dumps(experiment, sort_keys=True, default=str):
            raise StoreError(
                f"{run_dir} holds a run of another experiment; the sweep will not overwrite "
                "it: move it away, then resume the sweep"
            )
        if is_complete(run_dir, int(experiment["budget"])):
            return _kept(m)
    else:
        stray = [p.name for p in run_dir.iterdir() if not _is_run_file(p.name)]
        if stray:
            raise StoreError(
                f"{run_dir} holds {stray[:3]}, not a run of this sweep; move them away, then "
                "resume the sweep"
            )
    shutil.rmtree(run_dir)
    return None


_RUN_FILES = {"records.jsonl", ".lock", "manifest.json"}


def _is_run_file(name: str) -> bool:
    """A file a run store writes (a killed writer may leave its manifest's temporary file)."""
    return name in _RUN_FILES or (name.startswith(".manifest.json.") and name.endswith(".tmp"))


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    from archgym.store import read_manifest

    return read_manifest(run_dir)


def _says_complete(manifest: dict[str, Any], budget: int) -> bool:
    return manifest.get("status") == "complete" and int(manifest.get("n_evaluations", -1)) == budget


def _kept(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a task reports for a complete run it keeps."""
    best = manifest.get("best") or {}
    return {
        "status": "complete",
        "n_evaluations": manifest["n_evaluations"],
        "best_objective": best.get("objective"),
    }


def is_complete(run_dir: Path, budget: int) -> bool:
    """Whether ``run_dir`` is a complete run of ``budget`` evaluations (a run directory, or
    a run of that name in its sweep's shards)."""
    try:
        m = _read_manifest(run_dir)
    except StoreError:
        return False
    return _says_complete(m, budget)


class _SweepLock:
    def __init__(self, out: Path) -> None:
        import fcntl

        self.fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise StoreError(
                f"{out} is being written by another sweep (pid {holder}); two sweeps may not share "
                "a directory: wait for it to finish, or choose another --out"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode())

    def release(self) -> None:
        os.close(self.fd)


def _wait_run_lock(run_dir: Path, timeout_s: float = 30.0) -> None:
    """Wait until no process (an orphan worker of a killed sweep) holds ``run_dir``'s lock
    (the directory's, or an earlier archgym's ``.lock`` file: :func:`archgym.store.is_live`)."""
    from archgym.store import is_live

    deadline = time.monotonic() + timeout_s
    while is_live(run_dir):
        if time.monotonic() > deadline:
            raise StoreError(
                f"{run_dir} is still being written by another process after "
                f"{timeout_s:g} s; stop it, then resume"
            )
        time.sleep(0.1)


def _prepare(spec: SweepSpec, out: Path, resume: bool) -> list[SweepItem]:
    """Write or check ``sweep.json``; return the experiments still to run (partials removed)."""
    sweep_file = out / SWEEP_FILE
    if sweep_file.exists():
        if not resume:
            raise StoreError(
                f"{out} already holds a sweep; pass --resume to continue it, or choose "
                "another --out"
            )
        try:
            old = json.loads(sweep_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise StoreError(f"{sweep_file} is corrupt ({exc}); choose another --out") from None
        if old.get("fingerprint") != spec.fingerprint():
            raise StoreError(
                f"cannot resume {out}: the experiment file now expands to different experiments "
                f"({old.get('n_experiments')} before, {len(spec.items)} now, or changed settings); "
                "resume with the file it was started with, or choose another --out"
            )
    else:
        tmp = out / f".{SWEEP_FILE}.tmp"
        tmp.write_text(json.dumps(spec.to_dict(), indent=1, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, sweep_file)
    from archgym._shards import runs_in

    sharded = runs_in(out)  # a corrupt shard stops the resume here, with its fix
    todo = []
    for it in spec.items:
        run_dir = out / it.id
        if run_dir.exists():
            if is_complete(run_dir, it.experiment.budget):
                continue
            _wait_run_lock(run_dir)
            shutil.rmtree(run_dir)
        elif it.id in sharded and is_complete(run_dir, it.experiment.budget):
            continue
        todo.append(it)
    return todo


def _started(out: Path) -> set[str]:
    """Experiments a task has started: noted in the shards, or with a run directory (an
    older archgym's worker). A shard that cannot be read counts none."""
    from archgym._shards import SHARDS, started_ids

    try:
        ids = started_ids(out)
    except StoreError:
        ids = set()
    with os.scandir(out) as it:
        return ids | {e.name for e in it if e.is_dir() and e.name != SHARDS}


ProgressFn = Callable[[int, int, int], None]  # (done, total, failed)

#: Times a task whose worker was lost (killed, out of memory, a lost node) is run again
#: before its experiments are recorded as failed.
MAX_LOST_RETRIES = 2
_LOST = "the worker running it was lost (killed or crashed)"


def _is_lost_worker(exc: BaseException) -> bool:
    """A failure of the worker, not of the experiment: a broken process pool, or Dask's
    KilledWorker (after its own retries) and a lost connection."""
    return isinstance(exc, BrokenExecutor) or type(exc).__name__ in (
        "KilledWorker",
        "CommClosedError",
    )


def _failed(it: SweepItem, why: str) -> dict[str, Any]:
    return {"id": it.id, "status": "failed", "wall_s": 0.0, "error": why}


def auto_chunk(n_todo: int, workers: int | None = None, dask: bool = False) -> int:
    """Experiments per task when none is given. With the executor's number of ``workers``
    known: at least 8 tasks per worker (so that they stay balanced to the end), and at most
    16 experiments per task; on Dask (``dask=True``) at least 4 tasks per worker and at most
    32 experiments; unknown: at most 8, and at least 32 tasks. A task costs the executor a
    round trip: on the 2-core development machine 0.15 ms of CPU for archgym's local pool
    and 3.6 ms for a Dask cluster (client, scheduler and worker processes together; 200
    no-op tasks with sweep-sized arguments), 2 % of twelve 100-evaluation experiments on
    Accelerator-v2 (about 15 ms each); so fewer, larger tasks cost less where the workers
    stay busy, and Dask's more."""
    if workers is not None and workers >= 1:
        per_worker, most = (4, 32) if dask else (8, 16)
        return max(1, min(most, n_todo // (per_worker * workers)))
    return max(1, min(8, n_todo // 32))


def _is_dask(executor: Executor) -> bool:
    """``executor`` is a Dask client's (``client.get_executor()``)."""
    return getattr(executor, "_client", None) is not None


def _n_workers(executor: Executor) -> int | None:
    """Workers of ``executor``: a :class:`~archgym.sweep.LocalPool`'s, a Dask executor's
    threads over its cluster now, else ``None`` (unknown)."""
    workers = getattr(executor, "workers", None)
    if isinstance(workers, int) and not isinstance(workers, bool):
        return workers
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    try:
        n = sum(client.nthreads().values()) if client is not None else 0
    except Exception:  # noqa: BLE001 - a client that cannot say: unknown
        return None
    return int(n) if n >= 1 else None


def _tasks(
    todo: list[SweepItem],
    chunk: int | None,
    workers: int | None = None,
    keys: dict[str, str] | None = None,
    dask: bool = False,
) -> list[list[SweepItem]]:
    """``todo`` cut into tasks of up to ``chunk`` experiments, each of one env (``keys``:
    each item's :func:`_env_key` by id, if already computed)."""
    if chunk is None:
        chunk = auto_chunk(len(todo), workers, dask)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"chunk must be a positive integer, but got {chunk!r}")
    by_env: dict[str, list[SweepItem]] = {}
    for it in todo:
        key = keys[it.id] if keys is not None else _env_key(it.experiment.to_dict())
        by_env.setdefault(key, []).append(it)
    return [group[i : i + chunk] for group in by_env.values() for i in range(0, len(group), chunk)]


def _default_bar(
    total: int, initial: int, name: str, eta: Callable[[], float | None] | None = None
) -> tuple[ProgressFn, Callable[[], None]]:
    from tqdm import tqdm

    # tqdm's own remaining time assumes every experiment costs the same; the postfix shows
    # the env-weighted estimate (see archgym.sweep._eta) instead
    bar = tqdm(
        total=total,
        initial=initial,
        unit="exp",
        desc=name,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.05,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
    )

    def update(done: int, total_: int, failed: int) -> None:
        bar.n = done
        left = eta() if eta is not None else None
        shown = "?" if left is None else tqdm.format_interval(left)
        bar.set_postfix_str(f"left ~{shown} (by env), failed={failed}", refresh=False)
        bar.refresh()

    return update, bar.close


def run_sweep(
    spec: SweepSpec,
    out: str | os.PathLike[str],
    executor: Executor,
    resume: bool = False,
    progress: ProgressFn | bool | None = True,
    chunk: int | None = None,
    layout: str = "shards",
) -> SweepResult:
    """Run every experiment of ``spec`` not yet complete in ``out`` on ``executor``.

    Args:
        spec: The expanded sweep (:func:`archgym.sweep.load_sweep`).
        out: Sweep directory (created if missing).
        executor: Any ``concurrent.futures.Executor`` whose workers see ``out``.
        resume: Continue the sweep already in ``out`` (see the module docstring).
        progress: ``True`` for a tqdm bar on stderr, a callable ``(done, total, failed)``,
            or ``None``/``False`` for silence.
        chunk: Experiments per task (of one env each, run in turn by one worker); ``None``:
            :func:`auto_chunk` for the executor's workers (a
            :class:`~archgym.sweep.LocalPool`'s, a Dask cluster's threads; unknown for
            another executor). ``1`` gives the best balance for long experiments.
        layout: How the runs are stored (:data:`LAYOUTS`): ``"shards"``, or ``"dirs"`` for
            one run directory per experiment. Either is read, and resumed, as the other.

    Raises:
        StoreError: ``out`` holds another sweep (without ``resume``), a different sweep, or is
            being written by another sweep process right now.
        ConfigError: ``chunk`` is not a positive integer, or ``layout`` is not one of
            :data:`LAYOUTS`.
    """
    t0 = time.perf_counter()
    _tasks([], chunk)  # a bad chunk fails before anything is written
    if layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {LAYOUTS}, but got {layout!r}")
    out_p = Path(out)
    try:
        out_p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the sweep directory {out_p}: {exc.strerror or exc}"
        ) from None
    lock = _SweepLock(out_p)
    try:
        todo = _prepare(spec, out_p, resume)
        result = SweepResult(out_p, len(spec.items), n_skipped=len(spec.items) - len(todo))
        close: Callable[[], None] | None = None
        update: ProgressFn | None = None
        keys = {it.id: _env_key(it.experiment.to_dict()) for it in todo}  # once per item
        eta = EnvWeightedEta(keys.values())
        if progress is True:
            update, close = _default_bar(
                len(spec.items),
                result.n_skipped,
                spec.name,
                lambda: eta.remaining_s(time.perf_counter() - t0),
            )
        elif progress:
            update = progress
        results_fd = os.open(out_p / RESULTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        futures: dict[Future[Any], list[SweepItem]] = {}
        lost: dict[tuple[str, ...], int] = {}  # times each task's worker was lost

        def submit(part: list[SweepItem], retry: bool = False) -> None:
            fut = executor.submit(
                run_items,
                [{**it.to_dict(), "env_key": keys[it.id]} for it in part],
                [str(out_p / it.id) for it in part],
                retry,
                layout,
            )
            futures[fut] = part

        try:
            for part in _tasks(todo, chunk, _n_workers(executor), keys, _is_dask(executor)):
                submit(part)
            done = result.n_skipped
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                ready: list[tuple[list[SweepItem], list[dict[str, Any]]]] = []
                retry: list[list[SweepItem]] = []
                broken = False
                for fut in finished:
                    part = futures.pop(fut)
                    try:
                        ready.append((part, fut.result()))
                    except Exception as exc:  # noqa: BLE001 - a worker died or could not run it
                        if _is_lost_worker(exc):
                            broken |= isinstance(exc, BrokenExecutor)
                            retry.append(part)
                            continue
                        why = f"the worker running it failed: {type(exc).__name__}: {exc}"
                        ready.append((part, [_failed(it, why) for it in part]))
                if broken:  # every other task of the broken pool is lost with it
                    for fut in list(futures):
                        part = futures.pop(fut)
                        if fut.done() and not fut.cancelled() and fut.exception() is None:
                            ready.append((part, fut.result()))
                        else:
                            fut.cancel()
                            retry.append(part)
                    rebuild = getattr(executor, "rebuild", None)
                    if rebuild is None:  # a plain executor cannot be restarted: record them
                        ready.extend((p, [_failed(it, _LOST) for it in p]) for p in retry)
                        retry = []
                    else:
                        rebuild()
                started = _started(out_p) if retry else set()
                for part in retry:
                    key = tuple(it.id for it in part)
                    if any(it.id in started for it in part):  # it had started
                        lost[key] = lost.get(key, 0) + 1
                    if lost.get(key, 0) > MAX_LOST_RETRIES:
                        why = f"{_LOST} ({lost[key]} times; retries exhausted)"
                        ready.append((part, [_failed(it, why) for it in part]))
                    else:
                        submit(part, retry=True)
                recs = [(it, rec) for part, rs in ready for it, rec in zip(part, rs, strict=True)]
                for it, rec in recs:
                    rec["t_s"] = round(time.perf_counter() - t0, 4)
                    os.write(results_fd, (json.dumps(rec, default=str) + "\n").encode())
                    done += 1
                    result.task_s += float(rec.get("wall_s", 0.0))
                    eta.done(keys[it.id], float(rec.get("wall_s", 0.0)))
                    if rec["status"] == "complete":
                        result.n_complete += 1
                    else:
                        result.n_failed += 1
                        result.failures.append((it.id, str(rec.get("error", rec["status"]))))
                if update and recs:
                    update(done, len(spec.items), result.n_failed)
        finally:
            for f in futures:
                f.cancel()
            os.close(results_fd)
            if close:
                close()
    finally:
        lock.release()
    result.wall_s = time.perf_counter() - t0
    return result
