"""Sweep workers start from a process (the sweep process itself, or a forkserver) that has
imported what they need once."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from archgym.sweep._executors import fork_is_safe

REPO = Path(__file__).resolve().parents[1]


def _worker_state() -> tuple[bool, bool, bool]:
    # read before the worker imports anything itself: a forked worker inherits the
    # forkserver's modules, a spawned one starts bare
    return (
        "archgym.sweep._preload" in sys.modules,
        "numba" in sys.modules,
        "archgym.envs.accelerator.model" in sys.modules,
    )


def _pool_in_fresh_interpreter(with_thread: bool) -> list[str]:
    """``[start_method, worker state]`` of a one-worker local pool opened in a fresh
    interpreter, as `archgym sweep` opens it (this one may hold other tests' threads, torch,
    or a forkserver started earlier with another preload, which a later pool shares)."""
    code = (
        "import threading\n"
        "from archgym.sweep import open_executor\n"
        "import tests.test_sweep_preload as t\n"
        f"if {with_thread}:\n"
        "    stop = threading.Event()\n"
        "    threading.Thread(target=stop.wait, daemon=True).start()\n"
        "with open_executor('local', workers=1) as ex:\n"
        "    print(ex.start_method, ex.submit(t._worker_state).result(timeout=120))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=REPO
    )
    assert out.returncode == 0, out.stderr[-800:]
    return out.stdout.split(maxsplit=1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver is Linux-only here")
def test_local_pool_workers_start_with_archgym_and_numba_loaded() -> None:
    # catches a pool whose workers each import the registry's modules and numba again
    # (about 1 s of CPU per worker on the 2-core machine): the preload not set, or set
    # after the forkserver started; with a second thread running the pool cannot fork
    assert _pool_in_fresh_interpreter(with_thread=True) == ["forkserver", "(True, True, True)\n"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_workers_are_forked_only_while_the_sweep_process_runs_one_thread() -> None:
    # catches a pool that forks while another thread runs (a lock that thread holds is held
    # forever in the child; the forkserver case is the test above) or that gives up the fork
    # (and its free start-up) when it is safe
    assert _pool_in_fresh_interpreter(with_thread=False) == ["fork", "(True, True, True)\n"]


def test_a_loaded_fork_unsafe_library_means_no_fork(monkeypatch) -> None:
    # torch's OpenMP and CUDA state does not survive a fork: its presence must rule it out
    # (that a fresh single-threaded process does fork is checked above, in a subprocess:
    # this one may hold other tests' threads)
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    assert not fork_is_safe()
