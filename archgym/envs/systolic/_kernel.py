"""The kernels of :class:`~archgym.envs.systolic.model.SystolicCostModel`: plain Python that
numba compiles (:func:`archgym._kernels.compiled`).

One implementation of the model's physics, used for one design and for a batch alike: a loop
over designs x layers over a per-workload table built once (:func:`layer_table`). The
formulas and their derivation are in :mod:`archgym.envs.systolic.model` and
:mod:`archgym.envs.systolic.timing` (``fold_cycles``: this is the same arithmetic on scalars,
in the same order, so the results are the same floats).

Every count is an integer held in a float64; sums over layers are exact below 2**53, so the
order of summation does not change them (the stall sum follows numpy's order anyway). The
module does not import numba: a short run executes it as Python and never pays numba's
start-up (see :mod:`archgym._kernels`).
"""

from __future__ import annotations

import numpy as np

from archgym.envs.systolic.timing import mapped_dims

__all__ = [
    "layer_table",
    "fold_cycles",
    "pairwise_sum",
    "totals",
    "one",
    "ONE_SIGNATURE",
    "per_layer",
    "N_TOTALS",
    "N_LAYER",
    "N_DESIGN",
    "CHECKS",
    "check_bits",
]

#: Columns of the per-layer table (one row per layer).
_INST, _MK, _KN, _MN, _IFW, _MNK, _MAPPED = 0, 1, 2, 3, 4, 5, 6  # then (Sr, Sc, T) per dataflow
#: Rows of :func:`totals`'s output, in the model's metric order.
N_TOTALS = 12
#: Rows of :func:`per_layer`'s output (whole layers: all instances).
N_LAYER = 12
#: Rows of the design block ``v``: the seven numbers of ``model._NUMERIC``, then the
#: dataflow index (-1: unknown) as a float.
N_DESIGN = 8
_CODE = 7
#: Bits of the ``bad`` code, in the order the reasons are listed: rows, cols, dataflow, then
#: the five knobs (see ``model._NUMERIC``).
CHECKS = 8

# Constants of archgym.envs.systolic.model (passed in by value so there is one source).
_E_MAC = 0
_E_SRAM = 1
_E_DRAM = 2
_A_PE = 3
_A_SRAM = 4


def layer_table(m: np.ndarray, n: np.ndarray, k: np.ndarray, **cols: np.ndarray) -> np.ndarray:
    """``(L, 15)`` float table: instances, ``M*K``, ``K*N``, ``M*N``, ifmap words,
    ``M*N*K``, then ``(Sr, Sc, T)`` of the os, ws and is mappings."""
    m, n, k = m.astype(float), n.astype(float), k.astype(float)
    parts = [
        cols["instances"].astype(float),
        m * k,
        cols["filter_words"].astype(float),
        cols["ofmap_words"].astype(float),
        cols["ifmap_words"].astype(float),
        m * n * k,
    ]
    for df in range(3):
        parts.extend(mapped_dims(m, n, k, df == 0, df == 1))
    return np.ascontiguousarray(np.stack(parts, axis=1))


def _checks(
    R: float,
    C: float,
    code: float,
    ifm_kb: float,
    flt_kb: float,
    ofm_kb: float,
    bw: float,
    clock: float,
) -> int:
    """Bit mask of the design checks a design fails (0: buildable), from its values."""
    bits = 0
    if not (R > 0) or R != np.floor(R) or np.isinf(R):  # a positive integer (NaN fails)
        bits |= 1
    if not (C > 0) or C != np.floor(C) or np.isinf(C):
        bits |= 1 << 1
    if code < 0:
        bits |= 1 << 2
    if not (ifm_kb > 0):  # the knobs: > 0
        bits |= 1 << 3
    if not (flt_kb > 0):
        bits |= 1 << 4
    if not (ofm_kb > 0):
        bits |= 1 << 5
    if not (bw > 0):
        bits |= 1 << 6
    if not (clock > 0):
        bits |= 1 << 7
    return bits


def _bad(v: np.ndarray, i: int) -> int:
    """Bit mask of the design checks design ``i`` of the block ``v`` fails (0: buildable)."""
    return _checks(v[0, i], v[1, i], v[_CODE, i], v[2, i], v[3, i], v[4, i], v[5, i], v[6, i])


def check_bits(block: np.ndarray, i: int) -> int:
    """The check bits of design ``i`` of a design block as :func:`totals` takes it (run as
    Python, for the few designs that fail a check: the same function the kernels run)."""
    n = block.shape[0] // N_DESIGN
    return _bad(block.reshape((N_DESIGN, n)), i)


def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise sum of ``a[lo:lo + n]`` for ``n <= 128`` (one block)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """``a[lo:lo + n].sum()`` exactly as numpy sums a contiguous float64 row (its pairwise
    summation, ``numpy/_core/src/umath/loops_utils.h.src``: eight accumulators up to 128
    values, halves beyond), so a kernel's sums over layers are the numpy model's floats.
    The halving runs on an explicit stack (numba cannot cache a recursive function)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    depth = 64  # halving 2**63 values takes fewer levels
    s_lo = np.empty(depth, dtype=np.int64)
    s_n = np.empty(depth, dtype=np.int64)
    s_stage = np.zeros(depth, dtype=np.int64)
    s_left = np.empty(depth)
    s_lo[0], s_n[0] = lo, n
    top, ret = 0, 0.0
    while top >= 0:
        m = s_n[top]
        if m <= 128:
            ret = _block_sum(a, s_lo[top], m)
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if s_stage[top] == 0:  # sum the first half
            s_stage[top] = 1
            top += 1
            s_lo[top], s_n[top], s_stage[top] = s_lo[top - 1], half, 0
        elif s_stage[top] == 1:  # then the second
            s_left[top] = ret
            s_stage[top] = 2
            top += 1
            s_lo[top], s_n[top], s_stage[top] = s_lo[top - 1] + half, m - half, 0
        else:
            ret = s_left[top] + ret
            top -= 1
    return ret


def fold_cycles(
    sr: float, sc: float, t: float, rows: float, cols: float, short_fill: bool
) -> tuple[float, float, float]:
    """:func:`archgym.envs.systolic.timing.fold_cycles` on scalars, in the same order of
    operations (``tests/test_systolic_kernel.py`` checks the two agree)."""
    row_folds = -(-sr // rows)
    col_folds = -(-sc // cols)
    fill = rows + cols - 2 if short_fill else 2 * rows + cols - 2
    return row_folds, col_folds, row_folds * col_folds * (t + fill) - 1


def _layer(
    df: int,
    R: float,
    C: float,
    ifm_kb: float,
    flt_kb: float,
    bw: float,
    lay: np.ndarray,
    j: int,
    limited: bool,
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    """Counts of one instance of layer ``j``: cycles, SRAM ifmap reads, SRAM filter reads,
    SRAM ofmap writes (SCALE-Sim's count, ``rows + cols`` more per os fold), DRAM ifmap
    reads, DRAM filter reads, DRAM ofmap writes, MACs; then the whole layer's stall cycles
    and the number of folds."""
    base = _MAPPED + 3 * df
    rf, cf, cycles1 = fold_cycles(lay[j, base], lay[j, base + 1], lay[j, base + 2], R, C, df == 0)
    MK, KN, MN = lay[j, _MK], lay[j, _KN], lay[j, _MN]
    if df == 0:
        ifm_rd, flt_rd, ofm_real = MK * cf, KN * rf, MN
        ofm_wr = MN + rf * cf * (R + C)
    else:
        ifm_rd = MK * cf if df == 1 else MK
        flt_rd = KN if df == 1 else KN * cf
        ofm_wr = MN * rf
        ofm_real = ofm_wr
    ifw = lay[j, _IFW]
    ifm_dram = ifw if ifw <= ifm_kb * 1024.0 else ifm_rd
    flt_dram = KN if KN <= flt_kb * 1024.0 else flt_rd
    inst = lay[j, _INST]
    stall = 0.0
    if limited:
        mem_cycles = np.ceil((ifm_dram + flt_dram + ofm_real) * inst / bw)
        stall = max(mem_cycles - cycles1 * inst, 0.0)
    return (
        cycles1,
        ifm_rd,
        flt_rd,
        ofm_wr,
        ifm_dram,
        flt_dram,
        ofm_real,
        lay[j, _MNK],
        stall,
        rf * cf,
    )


def _energy_j(
    mac: float,
    ifm: float,
    flt: float,
    ofm: float,
    dram: float,
    e: np.ndarray,
    e_i: float,
    e_f: float,
    e_o: float,
) -> float:
    """MAC + SRAM + DRAM energy in J of the given counts, with the SRAM energies per word of
    the design's ifmap, filter and ofmap SRAMs (``e_i``, ``e_f``, ``e_o``, pJ)."""
    return (e[_E_MAC] * mac + e_i * ifm + e_f * flt + e_o * ofm + e[_E_DRAM] * dram) * 1e-12


def _design(
    R: float,
    C: float,
    ifm_kb: float,
    flt_kb: float,
    ofm_kb: float,
    bw: float,
    clock: float,
    df: int,
    lay: np.ndarray,
    limited: bool,
    e: np.ndarray,
    stalls: np.ndarray,
) -> tuple[float, float, float, float, float, float, float, float, float, float, float, float]:
    """Whole-workload metrics of one buildable design, in the model's metric order;
    ``stalls`` is scratch space of one float per layer."""
    cyc = ird = frd = owr = idr = fdr = odr = macs = 0.0
    for j in range(lay.shape[0]):
        c = _layer(df, R, C, ifm_kb, flt_kb, bw, lay, j, limited)
        inst = lay[j, _INST]
        cyc += c[0] * inst
        ird += c[1] * inst
        frd += c[2] * inst
        owr += c[3] * inst
        idr += c[4] * inst
        fdr += c[5] * inst
        odr += c[6] * inst
        macs += c[7] * inst
        stalls[j] = c[8]
    stall = pairwise_sum(stalls, 0, lay.shape[0])  # numpy's order: the same floats past 2**53
    e_i = e[_E_SRAM] * np.sqrt(ifm_kb / 8.0)
    e_f = e[_E_SRAM] * np.sqrt(flt_kb / 8.0)
    e_o = e[_E_SRAM] * np.sqrt(ofm_kb / 8.0)
    return (
        (cyc + stall) / (clock * 1e6),  # latency_s
        cyc,
        stall,
        macs / (cyc * (R * C)),  # utilization
        ird + frd,
        owr,
        ird,
        frd,
        idr + fdr,
        odr,
        _energy_j(macs, ird, frd, owr, idr + fdr + odr, e, e_i, e_f, e_o),
        (R * C * e[_A_PE] + (ifm_kb + flt_kb + ofm_kb) * e[_A_SRAM]) * 1e-6,
    )


def totals(
    block: np.ndarray,
    lay: np.ndarray,
    limited: bool,
    e: np.ndarray,
    out: np.ndarray,
    feasible: np.ndarray,
) -> int:
    """Whole-workload metrics of ``n`` designs into ``out`` ``(N_TOTALS, n)``, in the
    model's metric order (NaN for designs that fail a check), and their feasibility into
    ``feasible`` ``(n,)``; returns the number of designs that fail a check (the caller words
    their reasons from :func:`check_bits`). The caller allocates the outputs (returning
    arrays from compiled code costs a lone design more than its arithmetic).

    ``block`` is the design block ``(N_DESIGN, n)`` flattened (one numpy call less for a
    lone design): rows, cols, ifmap/filter/ofmap SRAM KiB, DRAM words/cycle, clock MHz, then
    the dataflow index (-1: unknown); ``e`` the energy and area constants."""
    n = block.shape[0] // N_DESIGN
    v = block.reshape((N_DESIGN, n))
    stalls = np.empty(lay.shape[0])
    n_bad = 0
    for i in range(n):
        bits = _bad(v, i)
        feasible[i] = bits == 0
        if bits:
            n_bad += 1
            out[:, i] = np.nan
            continue
        m = _design(
            v[0, i],
            v[1, i],
            v[2, i],
            v[3, i],
            v[4, i],
            v[5, i],
            v[6, i],
            int(v[_CODE, i]),
            lay,
            limited,
            e,
            stalls,
        )
        out[0, i], out[1, i], out[2, i], out[3, i] = m[0], m[1], m[2], m[3]
        out[4, i], out[5, i], out[6, i], out[7, i] = m[4], m[5], m[6], m[7]
        out[8, i], out[9, i], out[10, i], out[11, i] = m[8], m[9], m[10], m[11]
    return n_bad


#: numba signature of :func:`one`, compiled for exactly these types: the design's numbers
#: arrive as a tuple of Python ints or floats, which the compiled entry reads as float64.
ONE_SIGNATURE = (
    "UniTuple(float64, 13)(UniTuple(float64, 7), float64, float64[:, ::1], boolean, float64[::1])"
)


def one(
    design: tuple[float, float, float, float, float, float, float],
    code: float,
    lay: np.ndarray,
    limited: bool,
    e: np.ndarray,
) -> tuple[float, ...]:
    """:func:`totals` of one design given as numbers (a lone design skips building a design
    block and output arrays): its 12 metrics in the model's metric order, then its check
    bits (0.0: buildable), Python floats run as Python. A design that fails a check has NaN
    metrics (the caller words the reasons from the bits).

    ``design`` holds rows, cols, ifmap/filter/ofmap SRAM KiB, DRAM words/cycle and clock MHz
    (as a column of the design block), ``code`` the dataflow index (-1: unknown). They are
    taken as float64 (``np.float64`` run as Python, the type of the design block's values),
    so both tiers and :func:`totals` compute the same floats."""
    R, C = np.float64(design[0]), np.float64(design[1])
    ifm_kb, flt_kb, ofm_kb = np.float64(design[2]), np.float64(design[3]), np.float64(design[4])
    bw, clock, df = np.float64(design[5]), np.float64(design[6]), np.float64(code)
    bits = _checks(R, C, df, ifm_kb, flt_kb, ofm_kb, bw, clock)
    if bits:
        x = np.nan
        return (x, x, x, x, x, x, x, x, x, x, x, x, float(bits))
    m = _design(
        R, C, ifm_kb, flt_kb, ofm_kb, bw, clock, int(df), lay, limited, e, np.empty(lay.shape[0])
    )
    # float(): Python floats run as Python too (a no-op compiled)
    return (
        float(m[0]),
        float(m[1]),
        float(m[2]),
        float(m[3]),
        float(m[4]),
        float(m[5]),
        float(m[6]),
        float(m[7]),
        float(m[8]),
        float(m[9]),
        float(m[10]),
        float(m[11]),
        0.0,
    )


def per_layer(
    block: np.ndarray, lay: np.ndarray, limited: bool, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer figures ``(N_LAYER, n, L)`` (NaN for designs that fail a check): cycles,
    stall cycles, compute and overall utilisation, SRAM ifmap/filter reads, SRAM ofmap
    writes, DRAM ifmap/filter reads, DRAM ofmap writes, MACs, energy (J); counts of whole
    layers. Returns it with the check bits per design. ``block`` as in :func:`totals`."""
    n, L = block.shape[0] // N_DESIGN, lay.shape[0]
    v = block.reshape((N_DESIGN, n))
    out = np.empty((N_LAYER, n, L))
    bad = np.zeros(n, dtype=np.int64)
    for i in range(n):
        bits = _bad(v, i)
        bad[i] = bits
        if bits:
            out[:, i, :] = np.nan
            continue
        R, C = v[0, i], v[1, i]
        df = int(v[_CODE, i])
        e_i = e[_E_SRAM] * np.sqrt(v[2, i] / 8.0)
        e_f = e[_E_SRAM] * np.sqrt(v[3, i] / 8.0)
        e_o = e[_E_SRAM] * np.sqrt(v[4, i] / 8.0)
        for j in range(L):
            c = _layer(df, R, C, v[2, i], v[3, i], v[5, i], lay, j, limited)
            inst = lay[j, _INST]
            T = lay[j, _MAPPED + 3 * df + 2]
            fill = T + R + C - 2 if df == 0 else T + 2 * R + 2 * C - 3
            mnk = lay[j, _MNK]
            out[0, i, j] = c[0] * inst
            out[1, i, j] = c[8]
            out[2, i, j] = mnk / (R * C * c[9] * fill)
            out[3, i, j] = mnk / (c[0] * R * C)
            for q in range(1, 8):
                out[3 + q, i, j] = c[q] * inst
            out[11, i, j] = _energy_j(
                out[10, i, j],
                out[4, i, j],
                out[5, i, j],
                out[6, i, j],
                out[7, i, j] + out[8, i, j] + out[9, i, j],
                e,
                e_i,
                e_f,
                e_o,
            )
    return out, bad


#: The functions the entry points (:func:`totals`, :func:`one`, :func:`per_layer`) call, compiled inline.
HELPERS = (_block_sum, pairwise_sum, fold_cycles, _checks, _bad, _layer, _energy_j, _design)
