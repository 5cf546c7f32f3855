"""Which GPU kernels run inside a timed call, and for how long (``torch.profiler``).

:func:`profile_calls` runs ``fn`` several times, each after an L2 flush done by a marker
kernel (an in-place ``bitwise_not`` of a 256 MB buffer, an op no vendor path uses), under
``torch.profiler``. :func:`split_calls` cuts the device timeline at the marker kernels, so each
segment holds exactly the kernels (and memcpys/memsets) one call launched. The kernel time of
a call is the sum of its segment's durations: device work only, without the host-side gaps
(argument checks, Python dispatch, allocator) that an event-timed interval also contains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["MARKER", "split_calls", "profile_calls", "short_name"]

MARKER = "bitwise_not"
"""Substring of the flush kernel's name that separates calls on the timeline."""


def short_name(name: str, width: int = 70) -> str:
    """A kernel name without its template arguments, at most ``width`` characters."""
    head = name.split("<", 1)[0].split("(", 1)[0].strip()
    return (head or name)[:width]


def split_calls(
    events: Sequence[tuple[str, float, float]], marker: str = MARKER
) -> list[list[tuple[str, float]]]:
    """Group device events ``(name, start_us, duration_us)`` into calls.

    Events are sorted by start; each marker event opens a new call and is itself dropped.
    Events before the first marker are dropped (warm-up work).

    Returns:
        One list of ``(name, duration_us)`` per call, in order.
    """
    calls: list[list[tuple[str, float]]] = []
    current: list[tuple[str, float]] | None = None
    for name, _start, dur in sorted(events, key=lambda e: e[1]):
        if marker in name:
            current = []
            calls.append(current)
        elif current is not None:
            current.append((name, float(dur)))
    return calls


def profile_calls(fn: Callable[[], Any], flush: Any, reps: int = 3) -> tuple[float, list[str]]:
    """Median device seconds per call of ``fn`` and the kernel names of one call.

    Args:
        fn: The timed callable (already warmed up).
        flush: A CUDA ``uint8``/int tensor; ``flush.bitwise_not_()`` is the marker.
        reps: Profiled calls.

    Returns:
        ``(kernel_s, names)``: the median over calls of the summed durations of the kernels,
        memcpys and memsets of one call, and the short names of the first call's.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            flush.bitwise_not_()
            fn()
        torch.cuda.synchronize()
    events = []
    for e in prof.events():
        if getattr(e.device_type, "name", str(e.device_type)) != "CUDA":
            continue
        start = float(e.time_range.start)
        events.append((str(e.name), start, float(e.time_range.end) - start))
    calls = split_calls(events)
    if not calls:
        return float("nan"), []
    totals = [sum(d for _, d in c) for c in calls]
    return float(np.median(totals)) * 1e-6, [short_name(n) for n, _ in calls[0]]
