"""The kernel of :class:`~archgym.envs.accelerator.model.AcceleratorCostModel`'s whole-workload
metrics: plain Python that numba compiles (:func:`archgym._kernels.compiled`), for a lone
design and a batch alike.

It is the arithmetic of :func:`archgym.envs.accelerator.model.layer_costs` (and of the design
checks, the energy table and the area of ``AcceleratorCostModel``) on scalars, in the same
order of operations, looping over designs x layers over a per-workload table built once
(:func:`layer_table`); sums over layers follow numpy's pairwise order, so the results are the
numpy model's floats. The numpy ``layer_costs`` stays the reference, and serves what the
kernel does not: per-layer figures, the ``"scalesim"`` bandwidth mode, arrays wired to given
loops (``ArrayWiring.spatial_unroll``) and the Mapping env. ``tests/test_accelerator_kernel.py``
checks the two agree bit for bit on random designs: **a physics change to ``layer_costs`` must
be made here too**, or that test fails.

The module does not import numba: a short run executes it as Python and never pays numba's
start-up (see :mod:`archgym._kernels`).
"""

from __future__ import annotations

import math

import numpy as np

from archgym.envs.accelerator import tables as tb
from archgym.envs.systolic import _kernel as _systolic
from archgym.envs.systolic._kernel import fold_cycles, pairwise_sum

__all__ = [
    "layer_table",
    "constants",
    "energy_overrides",
    "totals",
    "one",
    "ONE_SIGNATURE",
    "failure",
    "N_TOTALS",
    "N_DESIGN",
    "N_CHECKS",
    "HELPERS",
]

#: Rows of :func:`totals`'s output, in the model's metric order.
N_TOTALS = 16
#: Rows of the design block ``v``: the model's ``NUMERIC_PARAMS`` (10), then the dataflow
#: and the precision indices (-1: unknown) as floats.
N_DESIGN = 12
DF_ROW, PREC_ROW = 10, 11
#: Design checks, in the order of the model's reasons (bits of ``bad``).
N_CHECKS = 13
# Columns of the per-layer table.
_M, _N, _K, _INST, _IFW, _FH, _FW, _OH, _CG, _GEMM = range(10)
# Energy-table keys (values at 45 nm; NaN in energy_overrides: the default).
_E_KEYS = (
    "mac",
    "noc",
    "rf_i",
    "rf_w",
    "rf_o",
    "buffer_i_r",
    "buffer_i_w",
    "buffer_w_r",
    "buffer_w_w",
    "buffer_o_r",
    "buffer_o_w",
    "stage_i",
    "stage_w",
    "stage_o",
    "dram_r",
    "dram_w",
)
(
    _E_MAC,
    _E_NOC,
    _E_RF_I,
    _E_RF_W,
    _E_RF_O,
    _E_B_I_R,
    _E_B_I_W,
    _E_B_W_R,
    _E_B_W_W,
    _E_B_O_R,
    _E_B_O_W,
    _E_ST_I,
    _E_ST_W,
    _E_ST_O,
    _E_DRAM_R,
    _E_DRAM_W,
) = range(len(_E_KEYS))
# Scalars of the constants vector.
(
    _C_RF_PJ,
    _C_SRAM_PJ,
    _C_NOC_PJ,
    _C_DRAM_PJ,
    _C_RF_UM2,
    _C_SRAM_UM2,
    _C_BANK_OVH,
    _C_BANK_W,
    _C_VDD45,
) = range(9)


def layer_table(a: dict[str, np.ndarray]) -> np.ndarray:
    """``(L, 10)`` float table of the model's layer arrays (``model.layer_arrays``): M, N, K,
    instances, ifmap words, filter height and width, ofmap height, channels per group, and
    1.0 for a GEMM layer."""
    keys = ("m", "n", "k", "instances", "ifmap_words", "fh", "fw", "oh", "cg", "is_gemm")
    return np.ascontiguousarray(np.stack([a[k][0].astype(float) for k in keys], axis=1))


def constants() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(scalars, per-precision (4, 3), tech nodes, their Vdd)`` from
    :mod:`archgym.envs.accelerator.tables`: per precision the word bytes, default partial-sum
    bits, MAC energy (pJ) and MAC area (um^2)."""
    scalars = np.array(
        [
            tb.RF_PJ_PER_BYTE_512B,
            tb.SRAM_PJ_PER_BYTE_8KB,
            tb.NOC_PJ_PER_BYTE,
            tb.DRAM_PJ_PER_BYTE,
            tb.RF_UM2_PER_BYTE,
            tb.SRAM_UM2_PER_BYTE,
            tb.BANK_AREA_OVERHEAD,
            tb.GBUF_BANK_WIDTH_BYTES,
            tb.VDD[45],
        ]
    )
    prec = np.array(
        [
            [tb.WORD_BYTES[p] for p in tb.PRECISIONS],
            [float(tb.PSUM_BITS[p]) for p in tb.PRECISIONS],
            [tb.MAC_PJ[p] for p in tb.PRECISIONS],
            [tb.MAC_AREA_UM2[p] for p in tb.PRECISIONS],
        ]
    )
    nodes = np.array(sorted(tb.VDD), dtype=float)
    vdd = np.array([tb.VDD[int(x)] for x in nodes], dtype=float)
    return scalars, prec, nodes, vdd


def energy_overrides(table: dict[str, float]) -> np.ndarray:
    """An expanded ``energy_pj`` table (``tables.expand_energy_keys``) as a vector over the
    kernel's energy keys, NaN where the default applies."""
    return np.array([table.get(k, math.nan) for k in _E_KEYS], dtype=float)


def _max(a: float, b: float) -> float:
    """``np.maximum`` on scalars (NaN propagates)."""
    if a != a or b != b:
        return a + b
    return a if a >= b else b


def _min(a: float, b: float) -> float:
    """``np.minimum`` on scalars (NaN propagates)."""
    if a != a or b != b:
        return a + b
    return a if a <= b else b


def _check_values(
    R: float,
    C: float,
    rf_bytes: float,
    gbuf_kb: float,
    banks: float,
    noc_bw_bytes: float,
    bw: float,
    tech: float,
    clock: float,
    psum_bits: float,
    df: int,
    prec: int,
    word_bytes: np.ndarray,
) -> int:
    """Bit mask of the design checks a design fails, in the model's order, from its
    values (those of the model's ``NUMERIC_PARAMS``, then the dataflow and precision
    indices)."""
    bits = 0
    if not (R >= 1 and R == np.floor(R)):  # rows, cols, gbuf_banks: positive integers
        bits |= 1
    if not (C >= 1 and C == np.floor(C)):
        bits |= 1 << 1
    if not (banks >= 1 and banks == np.floor(banks)):
        bits |= 1 << 2
    if not (rf_bytes > 0):  # rf, gbuf, noc, dram, tech, clock: > 0
        bits |= 1 << 3
    if not (gbuf_kb > 0):
        bits |= 1 << 4
    if not (noc_bw_bytes > 0):
        bits |= 1 << 5
    if not (bw > 0):
        bits |= 1 << 6
    if not (tech > 0):
        bits |= 1 << 7
    if not (clock > 0):
        bits |= 1 << 8
    if not (psum_bits >= 0):
        bits |= 1 << 9
    if df < 0:
        bits |= 1 << 10
    if prec < 0:
        bits |= 1 << 11
    tile_kb = 2 * (R * C + R + C) * word_bytes[max(prec, 0)] / 1024
    if gbuf_kb < tile_kb:
        bits |= 1 << 12
    return bits


def _checks(v: np.ndarray, df: int, prec: int, word_bytes: np.ndarray, i: int) -> int:
    """Bit mask of the design checks design ``i`` of the block ``v`` fails."""
    return _check_values(
        v[0, i],
        v[1, i],
        v[2, i],
        v[3, i],
        v[4, i],
        v[5, i],
        v[6, i],
        v[7, i],
        v[8, i],
        v[9, i],
        df,
        prec,
        word_bytes,
    )


def _rf_need(fw: float, rs_conv: bool) -> float:
    """Register-file words a PE needs for a layer: a 1-D convolution row (``rs``) needs
    ``2*fw + 1``, every other dataflow 3 (one stationary value, one streamed, the partial
    sum)."""
    return 2 * fw + 1 if rs_conv else 3.0  # layer_costs' max(rt + 2, 3): rt is 1 unwired


def failure(
    block: np.ndarray, lay: np.ndarray, ptab: np.ndarray, i: int
) -> tuple[int, int, float, float]:
    """Why design ``i`` of a design block (as :func:`totals` takes it) is infeasible:
    ``(bits, j, rf_words, need)``, its check bits, else the first layer ``j`` whose register
    file is too small (-1: none) with the words the register file holds and the words that
    layer needs. Run as Python for the few infeasible designs, with the kernel's own checks."""
    v = block.reshape((N_DESIGN, block.shape[0] // N_DESIGN))
    df, prec = int(v[DF_ROW, i]), int(v[PREC_ROW, i])
    bits = _checks(v, df, prec, ptab[0], i)
    if bits:
        return bits, -1, 0.0, 0.0
    rf_words = v[2, i] / ptab[0, prec]
    for j in range(lay.shape[0]):
        need = _rf_need(lay[j, _FW], df == 3 and lay[j, _GEMM] == 0.0)
        if rf_words < need:
            return 0, j, rf_words, need
    return 0, -1, rf_words, 0.0


def _design(
    R: float,
    C: float,
    rf_bytes: float,
    gbuf_kb: float,
    banks: float,
    noc_bw_bytes: float,
    bw: float,
    tech: float,
    clock: float,
    psum_bits: float,
    df: int,
    prec: int,
    lay: np.ndarray,
    limited: bool,
    fold_overlap: bool,
    shared_port: bool,
    e_over: np.ndarray,
    scalars: np.ndarray,
    ptab: np.ndarray,
    nodes: np.ndarray,
    vdds: np.ndarray,
    per: np.ndarray,
    e: np.ndarray,
) -> tuple[int, tuple[float, ...]]:
    """Whole-workload metrics of one design that passes the checks, in the model's metric
    order, with ``-1``; or the first layer whose register file is too small, with NaN
    metrics. ``per`` ``(12, L)`` and ``e`` (one per energy key) are scratch space."""
    L = lay.shape[0]
    pj = 1e-12
    x = np.nan
    nan16 = (x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x)
    is_os, is_ws, is_is = df == 0, df == 1, df == 2
    w = ptab[0, prec]
    pb = (psum_bits if psum_bits > 0 else ptab[1, prec]) / 8.0
    # energy table (tables.tech_scale, rf_pj_per_byte, sram_pj_per_byte; model._energy_table)
    vdd = np.interp(tech, nodes, vdds)
    es = (tech / 45.0) * (vdd / scalars[_C_VDD45]) ** 2
    ar = (tech / 45.0) ** 2
    rf_e = scalars[_C_RF_PJ] * np.sqrt(rf_bytes / 512.0)
    buf_e = scalars[_C_SRAM_PJ] * np.sqrt(gbuf_kb * 1024.0 / banks / 8192.0)
    e[_E_MAC] = ptab[2, prec]
    e[_E_NOC] = scalars[_C_NOC_PJ]
    for q in range(_E_RF_I, _E_RF_O + 1):
        e[q] = rf_e
    for q in range(_E_B_I_R, _E_B_O_W + 1):
        e[q] = buf_e
    for q in range(_E_ST_I, _E_ST_O + 1):
        e[q] = 0.0
    for q in range(_E_DRAM_R):
        if not np.isnan(e_over[q]):
            e[q] = e_over[q]
        e[q] = e[q] * es
    # DRAM is off-chip: not scaled with the node
    e_dram_r = scalars[_C_DRAM_PJ] if np.isnan(e_over[_E_DRAM_R]) else e_over[_E_DRAM_R]
    e_dram_w = scalars[_C_DRAM_PJ] if np.isnan(e_over[_E_DRAM_W]) else e_over[_E_DRAM_W]
    rf_words = rf_bytes / w
    cap = gbuf_kb * 1024.0
    half = cap / 2 / w
    noc_bw = _min(noc_bw_bytes, banks * scalars[_C_BANK_W])
    short = -1  # the first layer whose register file is too small
    for j in range(L):
        M, N, K, inst, ifw = lay[j, _M], lay[j, _N], lay[j, _K], lay[j, _INST], lay[j, _IFW]
        fw = lay[j, _FW]
        gemm = lay[j, _GEMM] != 0.0
        rs_conv = df == 3 and not gemm
        mnk = M * N * K
        if is_os:
            Sr, Sc = M, N
        elif is_ws:
            Sr, Sc = K, N
        elif is_is:
            Sr, Sc = K, M
        else:
            Sr = K if gemm else lay[j, _FH] * lay[j, _CG]
            Sc = M if gemm else lay[j, _OH]
        T = mnk / (Sr * Sc)
        # rt = 1 (one stationary value per PE): Sc / rt and T * rt are Sc and T
        rfold, cfold, compute = fold_cycles(Sr, Sc, T, R, C, is_os or rs_conv)
        folds = rfold * cfold
        if fold_overlap:
            fill = R + C - 2 if (is_os or rs_conv) else 2 * R + C - 2
            compute = folds * T * 1.0 + fill - 1
        p = _max(np.floor((rf_words - fw) / (fw + 1)), 1.0)
        if is_os or is_ws:
            ifm = M * K * cfold
        elif rs_conv:
            ifm = ifw * np.ceil(N / p)
        else:
            ifm = K * M
        if is_os:
            flt = K * N * rfold
            ofm_real = M * N
            ofm_ss = M * N + folds * (R + C)
        else:
            flt = K * N if is_ws else K * N * cfold
            ofm_real = M * N * rfold
            ofm_ss = ofm_real
        if rf_words < _rf_need(fw, rs_conv):
            short = j
            break
        if is_ws or (is_is and not rs_conv):
            hold = _max(np.floor(rf_words - 2), 1.0)
        else:
            hold = 1.0
        hold = _min(hold, rfold)
        spill = 0.0 if is_os else M * N * (np.ceil(rfold / hold) - 1)
        noc_i, noc_w = ifm * w, flt * w
        noc_o = M * N * w + 2 * spill * pb
        noc_bytes = noc_i + noc_w + noc_o
        # model._dram_per_operand
        kn, mn = K * N, M * N
        fits = (ifw + kn + mn) <= 2 * half
        t_w = np.floor(half / K)
        tw = _max(t_w, 1.0)
        t_o = _max(np.floor(np.sqrt(half / 2)), 1.0)
        i_a = ifw * np.ceil(N / tw)
        w_b = kn * np.ceil(M / tw)
        i_c, w_c = ifw * np.ceil(N / t_o), kn * np.ceil(M / t_o)
        tot_a = i_a + kn if t_w >= 1 else np.inf
        tot_b = ifw + w_b if t_w >= 1 else np.inf
        tot_c = i_c + w_c
        pick_a = tot_a <= tot_b and tot_a <= tot_c
        pick_b = not pick_a and tot_b <= tot_c
        if fits:
            d_i, d_w = ifw, kn
        elif pick_a:
            d_i, d_w = i_a, kn
        elif pick_b:
            d_i, d_w = ifw, w_b
        else:
            d_i, d_w = i_c, w_c
        d_o = mn + 0 * d_i
        dram_i, dram_w, dram_o = d_i * w, d_w * w, d_o * w
        dram = dram_i + dram_w + dram_o
        edge_cycles = 0.0
        if limited:
            if shared_port:
                port = dram_i + dram_w + dram_o
            else:
                port = _max(_max(dram_i, dram_w), dram_o)
            # model.edge_words
            tile = _min(Sr, R) * _min(Sc, C)
            if is_os:
                first_i, first_w = _min(M, R), _min(N, C)
                last_o = _min(M, R) * _min(N, C)
            elif is_ws:
                first_i, first_w = 0.0, tile
                last_o = M * _min(N, C)
            else:
                first_i, first_w = tile, 0.0
                last_o = _min(M, C) * N
            edge = _min((first_i + first_w) * w, dram_i + dram_w) + _min(last_o * w, dram_o)
            edge_cycles = edge / bw
            cycles = _max(_max(compute, port / bw), noc_bytes / noc_bw)
        else:
            cycles = compute
        multi = hold > 1
        if is_is:
            rf_i = (mnk + ifm if multi else 2 * ifm) * w
        else:
            rf_i = mnk * w
        if is_ws:
            rf_w = (mnk + flt if multi else 2 * flt) * w
        else:
            rf_w = mnk * w
        rf_o = 2 * mnk * pb
        macs_l = mnk * inst
        cyc_i = _max(cycles * inst, compute * inst + edge_cycles)
        comp_i = compute * inst
        e_rf = rf_i * e[_E_RF_I] + rf_w * e[_E_RF_W] + rf_o * e[_E_RF_O]
        e_buf = (
            noc_i * e[_E_B_I_R]
            + noc_w * e[_E_B_W_R]
            + (M * N * w + spill * pb) * e[_E_B_O_W]
            + spill * pb * e[_E_B_O_R]
            + dram_i * (e[_E_B_I_W] + e[_E_ST_I])
            + dram_w * (e[_E_B_W_W] + e[_E_ST_W])
            + dram_o * (e[_E_B_O_R] + e[_E_ST_O])
        )
        per[0, j] = cyc_i
        per[1, j] = comp_i
        per[2, j] = cyc_i - comp_i
        per[3, j] = (e[_E_MAC] * pj) * macs_l
        per[4, j] = e_rf * inst * pj
        per[5, j] = noc_bytes * inst * (e[_E_NOC] * pj)
        per[6, j] = e_buf * inst * pj
        per[7, j] = ((dram_i + dram_w) * e_dram_r + dram_o * e_dram_w) * inst * pj
        per[8, j] = macs_l
        per[9, j] = dram * inst
        per[10, j] = (ifm + flt) * inst
        per[11, j] = ofm_ss * inst
    if short >= 0:
        return short, nan16
    # sums over layers in numpy's order (the numpy path's `per[k].sum(axis=1)`)
    s_cyc, s_comp, s_stall = (
        pairwise_sum(per[0], 0, L),
        pairwise_sum(per[1], 0, L),
        pairwise_sum(per[2], 0, L),
    )
    s_mac, s_rf, s_noc = (
        pairwise_sum(per[3], 0, L),
        pairwise_sum(per[4], 0, L),
        pairwise_sum(per[5], 0, L),
    )
    s_buf, s_dram = pairwise_sum(per[6], 0, L), pairwise_sum(per[7], 0, L)
    s_macs, s_dram_b = pairwise_sum(per[8], 0, L), pairwise_sum(per[9], 0, L)
    s_srd, s_swr = pairwise_sum(per[10], 0, L), pairwise_sum(per[11], 0, L)
    latency = s_cyc / (clock * 1e6)
    e_total = s_mac + s_rf + s_noc + s_buf + s_dram
    mac_area = ptab[3, prec]
    area_um2 = R * C * (mac_area + rf_bytes * scalars[_C_RF_UM2]) + cap * scalars[_C_SRAM_UM2] * (
        1 + scalars[_C_BANK_OVH] * (banks - 1)
    )
    return -1, (
        latency,
        s_cyc,
        s_comp,
        s_stall,
        e_total,
        s_mac,
        s_rf,
        s_noc,
        s_buf,
        s_dram,
        area_um2 * ar * 1e-6,
        e_total / latency,
        s_macs / (s_cyc * R * C),
        s_dram_b,
        s_srd,
        s_swr,
    )


def totals(
    block: np.ndarray,
    lay: np.ndarray,
    limited: bool,
    fold_overlap: bool,
    shared_port: bool,
    e_over: np.ndarray,
    scalars: np.ndarray,
    ptab: np.ndarray,
    nodes: np.ndarray,
    vdds: np.ndarray,
    out: np.ndarray,
    feasible: np.ndarray,
) -> int:
    """Whole-workload metrics of ``n`` designs into ``out`` ``(N_TOTALS, n)``, in the model's
    metric order (NaN for an infeasible design), and their feasibility into ``feasible``
    ``(n,)``; returns the number of infeasible designs (the caller words their reasons from
    :func:`failure`). The caller allocates the outputs (returning arrays from compiled code
    costs a lone design more than its arithmetic).

    ``block`` is the design block ``(N_DESIGN, n)`` flattened (one numpy call less for a
    lone design): the model's ``NUMERIC_PARAMS``, then the dataflow and the precision
    indices (-1: unknown) as floats; ``e_over`` from :func:`energy_overrides`;
    ``scalars``, ``ptab``, ``nodes``, ``vdds`` from :func:`constants`. ``limited``: DRAM/NoC
    stalls (else the ideal mode); ``fold_overlap``, ``shared_port``: the model's
    ``ArrayWiring``."""
    n, L = block.shape[0] // N_DESIGN, lay.shape[0]
    v = block.reshape((N_DESIGN, n))
    n_bad = 0
    per = np.empty((12, L))  # per-layer figures of the current design
    e = np.empty(len(_E_KEYS))  # its energy table (pJ per byte; per MAC for mac)
    for i in range(n):
        df, prec = int(v[DF_ROW, i]), int(v[PREC_ROW, i])
        bits = _checks(v, df, prec, ptab[0], i)
        feasible[i] = bits == 0
        if bits:
            n_bad += 1
            out[:, i] = np.nan
            continue
        short, m = _design(
            v[0, i],
            v[1, i],
            v[2, i],
            v[3, i],
            v[4, i],
            v[5, i],
            v[6, i],
            v[7, i],
            v[8, i],
            v[9, i],
            df,
            prec,
            lay,
            limited,
            fold_overlap,
            shared_port,
            e_over,
            scalars,
            ptab,
            nodes,
            vdds,
            per,
            e,
        )
        if short >= 0:
            feasible[i] = False
            n_bad += 1
            out[:, i] = np.nan
            continue
        out[0, i], out[1, i], out[2, i], out[3, i] = m[0], m[1], m[2], m[3]
        out[4, i], out[5, i], out[6, i], out[7, i] = m[4], m[5], m[6], m[7]
        out[8, i], out[9, i], out[10, i], out[11, i] = m[8], m[9], m[10], m[11]
        out[12, i], out[13, i], out[14, i], out[15, i] = m[12], m[13], m[14], m[15]
    return n_bad


#: numba signature of :func:`one`, compiled for exactly these types: the design's numbers
#: arrive as a tuple of Python ints or floats, which the compiled entry reads as float64.
ONE_SIGNATURE = (
    "UniTuple(float64, 17)(UniTuple(float64, 10), float64, float64, float64[:, ::1], boolean, "
    "boolean, boolean, float64[::1], float64[::1], float64[:, ::1], float64[::1], float64[::1])"
)


def one(
    design: tuple[float, ...],
    df_code: float,
    prec_code: float,
    lay: np.ndarray,
    limited: bool,
    fold_overlap: bool,
    shared_port: bool,
    e_over: np.ndarray,
    scalars: np.ndarray,
    ptab: np.ndarray,
    nodes: np.ndarray,
    vdds: np.ndarray,
) -> tuple[float, ...]:
    """:func:`totals` of one design given as numbers (a lone design skips building a design
    block and output arrays): its 16 metrics in the model's metric order, then a status,
    Python floats run as Python. The status is 0.0 for a feasible design; for an infeasible
    one (NaN metrics) its check bits, or ``-(j + 1)`` for the first layer ``j`` its register
    file cannot hold (the caller words the reason; :func:`failure` gives the figures).

    ``design`` holds the values of the model's ``NUMERIC_PARAMS`` (a column of the design
    block), ``df_code`` and ``prec_code`` the dataflow and precision indices (-1: unknown);
    they are taken as float64 (``np.float64`` run as Python, the type of the design block's
    values), so both tiers and :func:`totals` compute the same floats. The other arguments
    are :func:`totals`'s."""
    R, C, rf_bytes = np.float64(design[0]), np.float64(design[1]), np.float64(design[2])
    gbuf_kb, banks, noc_bw_bytes = (
        np.float64(design[3]),
        np.float64(design[4]),
        np.float64(design[5]),
    )
    bw, tech, clock = np.float64(design[6]), np.float64(design[7]), np.float64(design[8])
    psum_bits = np.float64(design[9])
    df, prec = int(np.float64(df_code)), int(np.float64(prec_code))
    x = np.nan
    bits = _check_values(
        R, C, rf_bytes, gbuf_kb, banks, noc_bw_bytes, bw, tech, clock, psum_bits, df, prec, ptab[0]
    )
    if bits:
        return (x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, float(bits))
    short, m = _design(
        R,
        C,
        rf_bytes,
        gbuf_kb,
        banks,
        noc_bw_bytes,
        bw,
        tech,
        clock,
        psum_bits,
        df,
        prec,
        lay,
        limited,
        fold_overlap,
        shared_port,
        e_over,
        scalars,
        ptab,
        nodes,
        vdds,
        np.empty((12, lay.shape[0])),
        np.empty(len(_E_KEYS)),
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
        float(m[12]),
        float(m[13]),
        float(m[14]),
        float(m[15]),
        -(short + 1.0) if short >= 0 else 0.0,
    )


#: The functions :func:`totals` and :func:`one` call, compiled inline (the systolic kernel's
#: fold and sums).
HELPERS = (*_systolic.HELPERS, _max, _min, _check_values, _checks, _rf_need, _design)
