"""Run a simulator job in a worker process with a timeout and a temporary directory.

Simulator backends (SCALE-Sim, ZigZag) call :func:`run_job` once per design. The job function
runs in a fresh process (``spawn``: nothing of the parent's state is shared), in the current
interpreter, with a temporary directory that the *parent* removes afterwards, whether the job
returned, raised, crashed or was killed. A failure is returned as a reason string, never
raised: the backend turns it into an infeasible evaluation and the search goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["JobResult", "run_job"]

JobResult = tuple[bool, Any]


def _child(conn: Any, fn: Callable[..., Any], tmpdir: str, args: tuple[Any, ...]) -> None:
    try:
        result = fn(tmpdir, *args)
        conn.send((True, result))
    except BaseException as exc:  # report every failure of the job to the parent
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        conn.send((False, f"{type(exc).__name__} in worker: {tb}"))
    finally:
        conn.close()


def run_job(
    fn: Callable[..., Any], *args: Any, timeout_s: float = 600.0, label: str = "simulator"
) -> JobResult:
    """Run ``fn(tmpdir, *args)`` in a worker process.

    Args:
        fn: A module-level (picklable) function; its return value must be picklable.
        *args: Its arguments after the temporary directory.
        timeout_s: Wall-clock limit; the worker is killed when it is exceeded.
        label: Name used in failure reasons (``"SCALE-Sim"``...).

    Returns:
        ``(True, result)``, or ``(False, reason)`` if the job raised, crashed or timed out.
    """
    ctx = mp.get_context("spawn")
    tmpdir = tempfile.mkdtemp(prefix="archgym-sim-")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, tmpdir, args), daemon=True)
    try:
        proc.start()
        child.close()
        deadline = time.monotonic() + timeout_s
        while not parent.poll(0.05):
            if not proc.is_alive() and not parent.poll(0.05):
                proc.join(1)
                return False, f"{label} worker crashed (exit code {proc.exitcode})"
            if time.monotonic() > deadline:
                return False, f"{label} timed out after {timeout_s:g} s"
        try:
            ok, payload = parent.recv()
        except EOFError:
            proc.join(5)
            return False, f"{label} worker crashed (exit code {proc.exitcode})"
        proc.join(5)
        return bool(ok), payload
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        parent.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
