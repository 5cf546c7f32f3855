"""What every sweep worker needs, loaded once by the process that forks the workers.

The local pool (:class:`~archgym.sweep.LocalPool`) forks its workers from the sweep process,
which imports this module first, when that is safe; otherwise it, like archgym's local Dask
cluster, starts them with ``forkserver``: a clean process that imports this module once (a
*forkserver preload*), then forks one worker per request. Either way a worker starts with
it all in memory instead of importing it again. Without it each worker spent about 1 s of CPU before
its first experiment (measured on the 2-core development machine): the registry's env and
agent modules (~0.45 s), ``import numba`` (~0.3 s) and numba's first compiled call, which
loads its target registries, scipy.linalg included (~0.45 s), the same for every worker.

Importing this module has effects (it imports every registered env and agent module and
compiles one trivial numba function); only a process that forks sweep workers imports it. Nothing here may
raise: a preload that raises stops the forkserver, and with it every worker.
"""

from __future__ import annotations

import contextlib
import time

#: CPU seconds this process spent here importing numba and making its first compiled call
#: (``None`` if that failed): the start-up the cost models' first compiled call would
#: otherwise pay in every worker (benchmarks/sweep.py reports it).
NUMBA_STARTUP_CPU_S: float | None = None

with contextlib.suppress(Exception):
    import archgym.registry as _registry

    _registry.list_envs()  # imports every built-in env and agent module, as a worker would
    _registry.list_agents()
    import archgym.runner  # noqa: F401
    import archgym.store
    import archgym.sweep._driver  # noqa: F401

    archgym.store.package_versions()  # importlib.metadata scans (~10-50 ms), cached

with contextlib.suppress(Exception):
    _t0 = time.process_time()
    import numba

    # numba loads its typing and lowering registries (numpy, scipy.linalg...) at the first
    # compiled call of a process, cached code included; do it here, once for all workers
    numba.njit(lambda x: x + 1)(1)
    NUMBA_STARTUP_CPU_S = time.process_time() - _t0
