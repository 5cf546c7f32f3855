"""Executors for sweeps: anything behind :class:`concurrent.futures.Executor`.

* ``local`` (default): a :class:`~concurrent.futures.ProcessPoolExecutor`. On Linux its
  workers are forked from the sweep process itself when that is safe (see
  :func:`fork_is_safe`: only the main thread runs and no torch/TensorFlow/JAX is loaded),
  so they start with everything the sweep process has imported, at no cost; otherwise they
  are started by a ``forkserver`` (``spawn`` elsewhere), so a parent that has imported torch
  or holds threads is safe. Either way the process that forks them has first imported
  :mod:`archgym.sweep._preload` (the registry's modules and numba) once for all of them.
  Each worker exits on its own if the sweep process dies (even by ``kill -9``), so no
  orphan keeps writing after a crash.
* ``dask``: ``distributed.Client(address).get_executor()``, the same interface on a Dask
  cluster (or SLURM/PBS through dask-jobqueue). Workers must be able to import archgym and
  must see the sweep directory (a shared filesystem). Start a cluster with::

      dask scheduler                           # prints tcp://HOST:8786
      dask worker tcp://HOST:8786 --nworkers 8 --nthreads 1

  then ``archgym sweep FILE --executor dask --address tcp://HOST:8786 --out DIR``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from archgym.errors import ConfigError

__all__ = ["local_executor", "dask_executor", "open_executor", "LocalPool"]


def _watch_parent(sweep_pid: int) -> None:
    """Exit this worker as soon as the sweep process is gone (its parent, or with
    forkserver the forkserver, is reparented; or the sweep pid no longer exists)."""
    ppid = os.getppid()

    def alive() -> bool:
        if os.getppid() != ppid:
            return False
        try:
            os.kill(sweep_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def loop() -> None:
        while alive():
            time.sleep(0.5)
        os._exit(70)  # the sweep died: stop at once, resume redoes this experiment

    threading.Thread(target=loop, name="archgym-parent-watch", daemon=True).start()


def _init_worker(parent_pid: int) -> None:
    _watch_parent(parent_pid)
    import logging
    import warnings

    logging.getLogger("optuna").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="optuna")
    import archgym.registry as reg

    reg.list_envs()  # import env and agent modules once per worker, not once per task
    reg.list_agents()


#: Modules the forkserver imports once before it forks workers (see
#: :mod:`archgym.sweep._preload`); ``__main__`` is multiprocessing's own default. It applies
#: when the process starts its forkserver, i.e. to its first pool (later pools share it).
FORKSERVER_PRELOAD = ["__main__", "archgym.sweep._preload"]


#: Modules that make a forked child unsafe once loaded in the parent: their thread pools
#: (OpenMP, CUDA contexts) do not survive ``fork``. A sweep process that has imported one
#: starts its workers with the forkserver instead.
FORK_UNSAFE_MODULES = ("torch", "tensorflow", "jax")


def fork_is_safe() -> bool:
    """Whether pool workers may be forked from this process now: on Linux, with only the
    main thread running (a lock another thread holds at the fork stays held forever in the
    child) and none of :data:`FORK_UNSAFE_MODULES` imported."""
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and not any(m in sys.modules for m in FORK_UNSAFE_MODULES)
    )


class LocalPool(Executor):
    """A process pool that can be rebuilt: when a worker dies (``kill -9``, the OOM killer)
    Python's pool breaks and fails every task it holds; :func:`~archgym.sweep.run_sweep`
    then calls :meth:`rebuild` and submits the lost tasks again.

    Where :func:`fork_is_safe`, the workers are forked from this process when the pool is
    made (before the caller starts any thread), after this process has imported
    :mod:`archgym.sweep._preload`; otherwise a forkserver that imported it starts them.

    Attributes:
        workers: Worker processes.
        rebuilds: Times the pool was rebuilt.
        start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"``: how the current pool's
            workers were started.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.rebuilds = 0
        self.start_method = ""
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        if fork_is_safe():
            import archgym.sweep._preload  # noqa: F401 - once here, inherited by every worker

            self.start_method = "fork"
        elif sys.platform.startswith("linux"):
            self.start_method = "forkserver"
        else:
            self.start_method = "spawn"
        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        if self.start_method == "fork":
            # a fork pool forks all its workers at its first submit, before it starts its
            # own manager thread: do it now, while this process still has one thread
            pool.submit(os.getpid).result()
        return pool

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return self._pool.submit(fn, *args, **kwargs)

    def rebuild(self) -> None:
        """Replace the (broken) pool by a fresh one of the same size."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new()
        self.rebuilds += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def local_executor(workers: int) -> LocalPool:
    """A rebuildable process pool of ``workers`` processes (forkserver on Linux, spawn
    elsewhere).

    Raises:
        ConfigError: ``workers`` < 1.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, but got {workers!r}")
    return LocalPool(workers)


#: Settings of the local Dask cluster archgym starts (a cluster given by address keeps its
#: own): the workers' statistical profiler (a stack sample every 10 ms) and the fast
#: monitoring loops (event-loop tick every 20 ms, memory every 100 ms, system every 500 ms)
#: cost about 8 % of a core per worker even when idle, the biggest part of a sweep's
#: overhead on Dask; a sweep's tasks are coarse enough to need none of them. Work stealing
#: (the scheduler's balancing loop, every 100 ms) is off too: a sweep's tasks are alike and
#: queued on the scheduler until a worker is free (Dask's default queuing), so there is
#: nothing to steal; with it and the two monitors below at their former 200 ms / 2 s, a
#: 2-worker cluster idled at 2.1 % of a core against 1.5 % (15 s, 2-core development
#: machine). The memory monitor, which restarts a worker beyond its memory limit, stays at
#: 1 s. On Linux the workers are also started by a forkserver that has imported distributed
#: and archgym once (:func:`_preload_dask_workers`), instead of spawned interpreters that
#: import both each.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "10s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _preload_dask_workers() -> None:
    """Have the forkserver that starts the local cluster's workers import distributed and
    :mod:`archgym.sweep._preload` once, for all of them (each spawned worker spent ~1.5 s of
    CPU importing both). distributed sets its own preload list the first time it makes its
    multiprocessing context (under ``multiprocessing-method = forkserver``); this extends it.
    Like any forkserver preload it applies only if this process has not started its
    forkserver yet (a local pool started earlier in the process shares its own)."""
    from distributed.utils import get_mp_context

    get_mp_context().set_forkserver_preload(["__main__", "distributed", "archgym.sweep._preload"])


def dask_executor(
    address: str | None, workers: int, timeout_s: float = 10.0
) -> tuple[Executor, Any]:
    """A Dask executor and its client (close the client when done).

    Args:
        address: Scheduler address (``tcp://host:8786``); ``None`` starts a local cluster of
            ``workers`` processes on 127.0.0.1.
        workers: Workers of the local cluster (ignored with an address).
        timeout_s: How long to wait for the scheduler to answer.

    Raises:
        MissingDependencyError: ``dask[distributed]`` is not installed (gives the pip command).
        ConfigError: The scheduler does not answer within ``timeout_s``.
    """
    from archgym._imports import optional_import

    distributed = optional_import("distributed", "dask")
    if address is None:
        import dask

        config = dict(LOCAL_CLUSTER_CONFIG)
        if sys.platform.startswith("linux"):
            config["distributed.worker.multiprocessing-method"] = "forkserver"
        with dask.config.set(config):  # read when the cluster is built
            if sys.platform.startswith("linux"):
                _preload_dask_workers()
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        client = distributed.Client(cluster)
        client._archgym_cluster = cluster  # closed with the client
    else:
        try:
            client = distributed.Client(address, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"the Dask scheduler at {address!r} did not answer within {timeout_s:g} s ({exc}); "
                "check the address (tcp://HOST:8786) and that `dask scheduler` is running"
            ) from None
    # pure=False: a task writes shards, so two submissions are never the same result
    # (Dask's default, pure, would give a resubmitted task the key of the first and hand
    # back its future), and its arguments need no hashing (tokenize + walk: ~1.4 ms of the
    # client's CPU per task of 12 experiments)
    return client.get_executor(pure=False), client


@contextlib.contextmanager
def open_executor(
    kind: str = "local", workers: int = 2, address: str | None = None, timeout_s: float = 10.0
) -> Iterator[Executor]:
    """Open the executor named ``kind`` (``local`` or ``dask``) and close it afterwards.

    Raises:
        ConfigError: Unknown kind, or an address given for the local executor.
    """
    if kind == "local":
        if address:
            raise ConfigError(
                "--address is for --executor dask; the local executor takes --workers"
            )
        pool = local_executor(workers)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    elif kind == "dask":
        ex, client = dask_executor(address, workers, timeout_s)
        try:
            yield ex
        finally:
            cluster = getattr(client, "_archgym_cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    else:
        raise ConfigError(f"executor must be 'local' or 'dask', but got {kind!r}")
