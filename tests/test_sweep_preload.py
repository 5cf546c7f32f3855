"""Sweep workers start from a process (the sweep process itself, or a forkserver) that has
imported what they need once."""

import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from archgym.sweep import open_executor
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver is Linux-only here")
def test_local_pool_workers_start_with_archgym_and_numba_loaded() -> None:
    # catches a pool whose workers each import the registry's modules and numba again
    # (about 1 s of CPU per worker on the 2-core machine): the preload not set, or set
    # after the forkserver started
    with open_executor("local", workers=1) as ex:
        assert ex.submit(_worker_state).result(timeout=120) == (True, True, True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_workers_are_forked_only_while_the_sweep_process_runs_one_thread() -> None:
    # catches a pool that forks while another thread runs (a lock that thread holds is held
    # forever in the child) or that gives up the fork (and its free start-up) when it is safe;
    # in a fresh interpreter, as `archgym sweep` is (this one may hold threads or torch)
    code = (
        "from archgym.sweep import open_executor\n"
        "import tests.test_sweep_preload as t\n"
        "with open_executor('local', workers=1) as ex:\n"
        "    print(ex.start_method, ex.submit(t._worker_state).result(timeout=120))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=REPO
    )
    assert out.stdout.split(maxsplit=1) == ["fork", "(True, True, True)\n"], out.stderr[-800:]
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with open_executor("local", workers=1) as ex:
            assert ex.start_method == "forkserver"
            assert ex.submit(_worker_state).result(timeout=120) == (True, True, True)
    finally:
        stop.set()
        other.join()


def test_a_loaded_fork_unsafe_library_means_no_fork(monkeypatch) -> None:
    # torch's OpenMP and CUDA state does not survive a fork: its presence must rule it out
    # (that a fresh single-threaded process does fork is checked above, in a subprocess:
    # this one may hold other tests' threads)
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    assert not fork_is_safe()
