"""Stall-free timing of a systolic array: the one fold/fill formula every model shares.

A GEMM ``(M x K) @ (K x N)`` is mapped onto an ``R x C`` array by its dataflow: the dimension
held stationary along the rows (``Sr``) and the columns (``Sc``) of the array, and the one
streamed through it in time (``T``)::

    dataflow            Sr  Sc  T
    output stationary   M   N   K
    weight stationary   K   N   M
    input stationary    K   M   N

The work is cut into ``ceil(Sr / R) * ceil(Sc / C)`` folds; each streams ``T`` values plus
the pipeline fill and drain, ``R + C - 2`` cycles when outputs stay in place (output
stationary) and ``2R + C - 2`` when they must also drain through the array. The whole layer
takes ``folds * (T + fill) - 1`` cycles. This equals SCALE-Sim 3.0.0's compute cycles to the
cycle (Samajdar et al., "A Systematic Methodology for Characterizing Scalability of DNN
Accelerators using SCALE-Sim", ISPASS 2020; pinned in ``tests/test_systolic_model.py``).

Used by :mod:`archgym.envs.accelerator.model` and :mod:`archgym.envs.codesign.hw`. Works
elementwise on broadcastable numpy arrays (integer or float). The cost-model kernels
(:mod:`archgym.envs.systolic._kernel`, used by the systolic and accelerator models) run the
same formula on scalars, ``_kernel.fold_cycles``; ``tests/test_systolic_kernel.py`` checks the
two give the same floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mapped_dims", "fold_cycles"]


def mapped_dims(m: Any, n: Any, k: Any, is_os: Any, is_ws: Any) -> tuple[Any, Any, Any]:
    """``(Sr, Sc, T)`` of the table above; rows that are neither os nor ws are input stationary."""
    sr = np.where(is_os, m, k)
    sc = np.where(is_os | is_ws, n, m)
    t = np.where(is_os, k, np.where(is_ws, m, n))
    return sr, sc, t


def fold_cycles(
    sr: Any, sc: Any, t: Any, rows: Any, cols: Any, short_fill: Any
) -> tuple[Any, Any, Any]:
    """``(row_folds, col_folds, cycles)`` of a mapped GEMM on a ``rows x cols`` array.

    Args:
        sr, sc, t: The mapped dimensions (:func:`mapped_dims`).
        rows, cols: Array size.
        short_fill: True where outputs stay in the PEs (fill ``R + C - 2``), else the
            drain-through fill ``2R + C - 2``.
    """
    row_folds = -(-sr // rows)
    col_folds = -(-sc // cols)
    fill = np.where(short_fill, rows + cols - 2, 2 * rows + cols - 2)
    return row_folds, col_folds, row_folds * col_folds * (t + fill) - 1
