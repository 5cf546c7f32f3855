"""Timing helpers shared by the benchmarks: CPU time next to wall time, repeats, min/median.

On a shared machine the wall clock measures the load as much as the code (it read 5-24x the
CPU time on the 2-core development box), so every benchmark reports the CPU time of the
process (``time.process_time``) or of the whole process tree (:func:`tree_cpu_s`, for pools
and clusters), repeats each measurement and prints the minimum and the median. Ratios are
taken between figures measured in the same run, by the same helper.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Timing",
    "time_call",
    "time_pair",
    "ratios",
    "tree_cpu_s",
    "load_line",
    "fail",
    "positive_int",
    "check_interpreter",
]


@dataclass(frozen=True)
class Timing:
    """Seconds per call of each repeat, CPU and wall."""

    cpu: list[float]
    wall: list[float]

    @property
    def cpu_min(self) -> float:
        return min(self.cpu)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def show(self, scale: float = 1e6, unit: str = "us") -> str:
        """``cpu min/median, wall min/median`` in ``unit`` per call."""
        return (
            f"CPU {self.cpu_min * scale:,.2f}/{self.cpu_median * scale:,.2f} {unit}, "
            f"wall {min(self.wall) * scale:,.2f}/{statistics.median(self.wall) * scale:,.2f} "
            f"{unit} (min/median of {len(self.cpu)})"
        )


def time_call(fn: Callable[[], object], number: int, repeat: int) -> Timing:
    """Call ``fn`` ``number`` times per repeat, ``repeat`` times; seconds per call."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(number):
            fn()
        cpu.append((time.process_time() - c0) / number)
        wall.append((time.perf_counter() - w0) / number)
    return Timing(cpu, wall)


def time_pair(
    a: Callable[[], object], number_a: int, b: Callable[[], object], number_b: int, repeat: int
) -> tuple[Timing, Timing]:
    """:func:`time_call` of ``a`` and ``b`` in alternation (a, b, a, b...), so that a load
    that changes during the run weighs on both alike; compare them repeat by repeat."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(time_call(a, number_a, 1))
        tb.append(time_call(b, number_b, 1))
    join = lambda ts: Timing([t.cpu[0] for t in ts], [t.wall[0] for t in ts])  # noqa: E731
    return join(ta), join(tb)


def ratios(num: Timing, den: Timing, scale_den: float = 1.0) -> list[float]:
    """CPU ratio ``num / (den / scale_den)`` of each repeat, sorted (paired repeats)."""
    return sorted(n / (d / scale_den) for n, d in zip(num.cpu, den.cpu, strict=True))


def tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process plus every child process it (or they)
    waited for: the CPU of a process pool or a local Dask cluster, once it is shut down."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def load_line() -> str:
    """The machine's load, to print next to the figures."""
    la = os.getloadavg()
    return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} CPUs"


def fail(message: str) -> None:
    """Exit with a one-line error (status 2), no traceback."""
    print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a clear error otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def shipped_gpu_option(ap: argparse.ArgumentParser) -> None:
    """Add the kernel benchmarks' ``--gpu NAME``: a GPU with a shipped dataset, repeatable;
    the caller takes every shipped GPU when none is given."""
    from archgym.envs.kernel.dataset import DATASETS

    ap.add_argument(
        "--gpu",
        action="append",
        default=[],
        choices=sorted(DATASETS),
        help="shipped GPU (repeatable)",
    )


def check_interpreter(path: str, option: str = "--sim-python") -> None:
    """Exit with a clear error unless ``path`` runs as a Python interpreter."""
    try:
        proc = subprocess.run(
            [path, "-c", "import sys; print(sys.version_info[0])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"{option} {path!r} is not a Python interpreter ({type(exc).__name__}: {exc})")
    if proc.returncode != 0 or proc.stdout.strip() != "3":
        fail(
            f"{option} {path!r} is not a Python 3 interpreter (exit {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()[-200:]!r})"
        )
