"""Sweep workers start from a forkserver that has imported what they need once."""

import sys

import pytest

from archgym.sweep import open_executor


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
