"""Cost-model kernels that run as Python until compiling them with numba pays off.

A kernel module (``archgym/envs/*/_kernel.py``) is plain Python written in the subset numba
compiles: loops over designs x layers on float arrays. :func:`compiled` compiles one of its
entry points with ``numba.njit(cache=True)`` (machine code cached on disk like a ``.pyc``),
the helpers it calls inline (``numba.extending.register_jitable``).

Compiled code is 100-1000x faster, but numba costs about 0.2 s of CPU to import and about
0.3-0.5 s more at the first compiled call of a process, even from its on-disk cache (it
loads its implementation registries, which import ``scipy.linalg``), and about 3-8 s the
first time ever (an empty cache; ``benchmarks/bench_compile.py``). So :class:`Tiered` runs
an entry point as Python while the work is small (a CLI run of a few hundred evaluations
pays nothing for numba) and compiles it once the work done in the process, or asked in one
call, would outweigh that start-up, or at once where numba is already imported (a sweep
worker's preload, the proxy's tree walk). Python and compiled code run the same source with
IEEE float arithmetic, so they give the same floats; ``tests/test_kernels.py`` checks it on
every kernel.

The work counter is per process (module state): it only decides when to compile, never what
is computed.

numba's disk cache is keyed to the file of the entry point: an entry point that calls helpers
of another kernel module (the accelerator's calls the systolic fold and sums) is not
recompiled when only that other file changes. ``tests/test_kernels.py`` then fails (Python
and compiled results differ); delete the stale ``__pycache__/*.nbi`` / ``*.nbc`` files.
"""

from __future__ import annotations

import functools
import importlib
import operator
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["Tiered", "compiled", "njit_cached", "lone_reader", "PYTHON_BUDGET", "COMPILE_AT"]

#: Work units (design x layer evaluations) a process runs as Python, in all, before compiling.
PYTHON_BUDGET = 25_000
#: A call asking for at least this much work compiles at once.
COMPILE_AT = 5_000

_compiled: dict[tuple[str, str, str | None], Callable[..., Any]] = {}
_registered: set[int] = set()
_python_work = 0


def compiled(module: ModuleType, name: str, signature: str | None = None) -> Callable[..., Any]:
    """The numba-compiled entry point ``module.name`` (compiled, or loaded from numba's disk
    cache, on the first call for it in this process); ``module.HELPERS`` are the functions it
    calls, compiled inline. With a ``signature`` (numba's notation), compiled for exactly
    those types: arguments of other types are converted to them (a Python int to float64)
    or refused with ``TypeError``."""
    key = (module.__name__, name, signature)
    fn = _compiled.get(key)
    if fn is None:
        from numba.extending import register_jitable

        for helper in module.HELPERS:
            if id(helper) not in _registered:
                register_jitable(error_model="numpy")(helper)
                _registered.add(id(helper))
        fn = njit_cached(getattr(module, name), signature)
        if not hasattr(fn, "overloads"):  # NUMBA_DISABLE_JIT=1: numba hands back the function
            fn = functools.partial(_quiet, fn)
        _compiled[key] = fn
    return fn


def njit_cached(fn: Callable[..., Any], signature: str | None = None, **options: Any) -> Any:
    """``numba.njit([signature,] cache=True, error_model="numpy", **options)(fn)``; without the disk
    cache where numba finds no writable place for it (a read-only install whose user has no
    writable home: numba raises ``RuntimeError`` rather than compile uncached).

    ``error_model="numpy"``: a float division by zero gives IEEE inf/NaN as the kernel run
    as Python (on numpy scalars) does, not numba's default ``ZeroDivisionError``."""
    from numba import njit

    try:  # a signature: compiled at once for it; None (numba's default): at each new type
        return njit(signature, cache=True, error_model="numpy", **options)(fn)
    except RuntimeError as err:
        if "no locator available" not in str(err):
            raise
        return njit(signature, error_model="numpy", **options)(fn)


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with numpy's floating-point warnings off: run as Python, the kernel's
    scalar arithmetic would warn (overflow, 0/0) where its compiled twin, and the IEEE result
    both return, are silent; the model reports such designs through its own checks."""
    with np.errstate(all="ignore"):
        return fn(*args)


class Tiered:
    """An entry point of a kernel module, run as Python or compiled (module docstring).

    Args:
        module: Dotted name of the kernel module (imported at the first call).
        name: The entry point's name in it.
        signature: Compile for exactly these types (numba's notation, see :func:`compiled`):
            for an entry point taking numbers whose Python types vary (int or float). Then
            :meth:`exact` hands out the entry of that one overload from the first compiled
            call on.
    """

    def __init__(self, module: str, name: str, signature: str | None = None) -> None:
        self.module_name, self.name, self.signature = module, name, signature
        self._fn: Callable[..., Any] | None = None
        #: What :meth:`exact` hands out from now on, once it is known (else ``None``): a
        #: caller reads it first, as ``t.entry or t.exact(work)``, to skip a method call.
        self.entry: Callable[..., Any] | None = None

    def pick(self, work: int) -> Callable[..., Any]:
        """The function to run for a call doing ``work`` units (design x layer evaluations):
        Python while this process's Python work stays small, else (from then on) compiled."""
        global _python_work
        if self._fn is not None:
            return self._fn
        module = importlib.import_module(self.module_name)
        # numba already in the process (another kernel, the proxy's tree walk, a sweep
        # worker's preload): its start-up is paid, so compile at once
        started = bool(_compiled) or "numba" in sys.modules
        if not started and work < COMPILE_AT and _python_work + work <= PYTHON_BUDGET:
            _python_work += work
            return functools.partial(_quiet, getattr(module, self.name))
        self._fn = compiled(module, self.name, self.signature)
        return self._fn

    def exact(self, work: int) -> Callable[..., Any]:
        """:meth:`pick`, for a caller whose every call passes arguments of the same types
        (arrays it builds itself with one dtype, ndim and layout; Python bools): once
        compiled, the compiled overload's machine-code entry, called without numba's
        per-argument type dispatch (about 0.03 us an argument, 0.2-0.4 us of a lone
        design's call). The first compiled call goes through numba and records the overload
        for its argument types.

        The entry does not check types: an argument of another type than the first call's
        is read as that type. Only a caller that builds all the arguments itself may use it.

        With a ``signature``: the entry of its one overload at once. That entry converts a
        number to the signature's type as numba's dispatch would (a Python int to float64),
        or raises ``TypeError`` (``None``, a list); arrays it reads as the signature's,
        unchecked, as above.
        """
        entry = self.entry
        if entry is not None:
            return entry
        fn = self.pick(work)
        if self._fn is None:
            return fn
        if self.signature is None:
            return self._record
        # NUMBA_DISABLE_JIT=1: the partial of the Python function, as it is
        disp: Any = fn
        self.entry = (
            disp.overloads[disp.signatures[0]].entry_point if hasattr(fn, "overloads") else fn
        )
        return self.entry

    def _record(self, *args: Any) -> Any:
        """Call the compiled dispatcher and keep the entry of the overload it ran."""
        fn: Any = self._fn
        out = fn(*args)
        if not hasattr(fn, "overloads"):  # not compiled (NUMBA_DISABLE_JIT=1)
            self.entry = fn
            return out
        self.entry = fn.overloads[tuple(fn.typeof_pyval(a) for a in args)].entry_point
        return out


_item: Callable[[Any], Any] = np.ndarray.item


def lone_reader(
    keys: Sequence[str], defaults: Sequence[Any], n_columns: int
) -> Callable[[dict[str, Any]], tuple[Any, ...] | None]:
    """The reader of a lone design for a kernel's scalar entry point: it gives the values of
    ``keys`` of a design whose columns are 1-element arrays (the env's columns,
    ``designs_to_columns``') as Python numbers, ``defaults[i]`` (a 1-element array) for a key
    left out, in ``keys``' order; ``None`` for anything else: no columns, a batch (columns the
    model does not read count too), list columns, a key left out whose default is ``None``.

    Args:
        keys: The numeric design columns, in the entry point's order.
        defaults: One per key (items beyond are ignored).
        n_columns: How many columns a design that gives every design column has: then one
            C call reads them.
    """
    all_keys = operator.itemgetter(*keys)

    def numbers(columns: dict[str, Any]) -> tuple[Any, ...] | None:
        try:
            if len(columns) >= n_columns:
                try:
                    return tuple(map(_item, all_keys(columns)))
                except KeyError:
                    pass
            elif not columns:
                return None
            _item(next(iter(columns.values())))  # a batch of columns the model does not read
            return tuple(map(_item, map(columns.get, keys, defaults)))
        except (TypeError, ValueError):  # not arrays, not of one element, no default
            return None

    return numbers
