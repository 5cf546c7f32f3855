"""Sweeps: many experiments from one TOML file, on a local process pool or a Dask cluster.

::

    from archgym.sweep import load_sweep, open_executor, run_sweep

    spec = load_sweep("experiments/quickstart.toml")      # validated and expanded
    with open_executor("local", workers=2) as ex:        # or open_executor("dask", address=...)
        result = run_sweep(spec, "runs/quickstart", ex)  # resume=True continues a stopped one

The command line is ``archgym sweep FILE --workers 2 --out DIR [--resume]``; ``archgym report
DIR`` turns the results into tables and plots (:mod:`archgym.report`).
"""

from archgym.sweep._driver import (
    RESULTS_FILE,
    SWEEP_FILE,
    SweepResult,
    is_complete,
    run_item,
    run_sweep,
)
from archgym.sweep._executors import LocalPool, dask_executor, local_executor, open_executor
from archgym.sweep._spec import SweepItem, SweepSpec, load_sweep
from archgym.sweep._toml import SweepFileError

__all__ = [
    "load_sweep",
    "SweepSpec",
    "SweepItem",
    "SweepFileError",
    "run_sweep",
    "run_item",
    "SweepResult",
    "is_complete",
    "open_executor",
    "local_executor",
    "LocalPool",
    "dask_executor",
    "SWEEP_FILE",
    "RESULTS_FILE",
]
