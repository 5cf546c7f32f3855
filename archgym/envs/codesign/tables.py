"""Constants of the sparsity- and precision-aware hardware model, each with its source.

Reference node 45 nm (Horowitz's ISSCC 2014 tables); memory energies and the SRAM/RF area per
byte are reused from :mod:`archgym.envs.accelerator.tables` so both models price a
byte moved the same way. Numbers marked *assumption* are not from a table: they state a rule
and are the first thing to revisit with better data.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "INT_MULT_PJ_8X8",
    "INT_ADD_PJ_8",
    "INT_MULT_UM2_8X8",
    "INT_ADD_UM2_8",
    "FP32_MAC_PJ",
    "FP32_MAC_UM2",
    "ACC_BITS",
    "NM_MUX_WAYS",
    "MUX2_UM2",
    "DFF_UM2",
    "NOR4_UM2",
    "ICG_UM2",
    "BLOCK_IMBALANCE",
    "CSR_ROWPTR_BITS",
    "mac_pj",
    "mac_um2",
    "nm_support_um2_per_pe",
    "zero_gating_um2_per_pe",
    "block_skip_um2_per_col",
    "nm_meta_bits",
    "block_meta_bits",
    "csr_meta_bits",
]

# -- arithmetic (Horowitz, "Computing's energy problem", ISSCC 2014, fig. 1.1.9, 45 nm) --------
#: 8-bit x 8-bit integer multiply, pJ.
INT_MULT_PJ_8X8 = 0.2
#: 8-bit integer add, pJ (32-bit add is 0.1 pJ: roughly linear in width).
INT_ADD_PJ_8 = 0.03
#: 8-bit multiplier area, um^2.
INT_MULT_UM2_8X8 = 282.0
#: 8-bit adder area, um^2 (32-bit: 137 um^2, roughly linear in width).
INT_ADD_UM2_8 = 36.0
#: fp32 multiply 3.7 pJ + fp32 add 0.9 pJ.
FP32_MAC_PJ = 3.7 + 0.9
#: fp32 multiplier 7700 um^2 + fp32 adder 4184 um^2.
FP32_MAC_UM2 = 7700.0 + 4184.0
#: Accumulator / partial-sum width in bits (int32 accumulation of integer products; fp32).
ACC_BITS = 32

# -- sparsity-support logic: NanGate FreePDK45 Open Cell Library cell areas (X1 drive) -------
#: MUX2_X1, um^2.
MUX2_UM2 = 1.862
#: DFF_X1, um^2.
DFF_UM2 = 4.522
#: NOR4_X1, um^2 (approximate).
NOR4_UM2 = 1.33
#: CLKGATETST_X1 integrated clock gate, um^2 (approximate).
ICG_UM2 = 3.99

#: Group size M the N:M datapath handles: a 4:1 activation multiplexer per PE, as in NVIDIA's
#: A100 sparse tensor core (NVIDIA A100 Tensor Core GPU Architecture whitepaper, 2020: 2:4
#: weights, 2-bit index per kept weight selects one of 4 activations). Like VEGETA (Jeong et
#: al., HPCA 2023) the same 4:1 mux also serves 1:4 at a 4x compute reduction.
NM_MUX_WAYS = 4

#: Cycle overhead of block skipping over the ideal ``density`` fraction: a PE column whose
#: tile keeps more nonzero blocks than the average sets the pace (load imbalance). Sparseloop
#: (Wu et al., MICRO 2022) models skipping with such imbalance; the 10 % is an *assumption*.
BLOCK_IMBALANCE = 1.10

#: Bits of one CSR row pointer (per output channel plus one).
CSR_ROWPTR_BITS = 16


def _bits(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(a, dtype=float) for a in arrays)


def mac_pj(w_bits: np.ndarray, a_bits: np.ndarray) -> np.ndarray:
    """Energy of one MAC, pJ at 45 nm, for weight/activation widths (32 = fp32).

    Integer: multiplier ``0.2 pJ * (w*a)/64`` (an array multiplier has ``w*a`` partial-product
    cells; Horowitz's 8-bit vs 32-bit multiply, 0.2 vs 3.1 pJ, is 15.5x, close to
    ``(32*32)/(8*8) = 16``) plus an adder of ``w + a`` bits at 0.03 pJ per 8 bits. fp32:
    Horowitz's fp32 multiply + add. So int4 x int8 costs ``0.1 + 0.045 = 0.145`` pJ against
    int8 x int8's ``0.2 + 0.06 = 0.26`` pJ.
    """
    w, a = _bits(w_bits, a_bits)
    integer = INT_MULT_PJ_8X8 * (w * a) / 64.0 + INT_ADD_PJ_8 * (w + a) / 8.0
    return np.where((w >= 32) | (a >= 32), FP32_MAC_PJ, integer)


def mac_um2(w_bits: np.ndarray, a_bits: np.ndarray) -> np.ndarray:
    """Area of one MAC unit, um^2 at 45 nm (same scaling rules as :func:`mac_pj`, plus the
    ``ACC_BITS`` accumulator register: ``ACC_BITS`` DFFs)."""
    w, a = _bits(w_bits, a_bits)
    integer = INT_MULT_UM2_8X8 * (w * a) / 64.0 + INT_ADD_UM2_8 * (w + a) / 8.0
    return np.where((w >= 32) | (a >= 32), FP32_MAC_UM2, integer) + ACC_BITS * DFF_UM2


def nm_support_um2_per_pe(a_bits: np.ndarray) -> np.ndarray:
    """N:M support per PE: a ``NM_MUX_WAYS``:1 mux on the activation operand (3 MUX2 per bit)
    and ``NM_MUX_WAYS - 1`` extra activation registers (the A100 datapath reads M activations
    per kept weight group). Derived from the cell areas above; a lower bound (wiring ignored)."""
    (a,) = _bits(a_bits)
    return (NM_MUX_WAYS - 1) * a * MUX2_UM2 + (NM_MUX_WAYS - 1) * a * DFF_UM2


def zero_gating_um2_per_pe(w_bits: np.ndarray) -> np.ndarray:
    """Zero-gating per PE (Eyeriss, Chen et al. JSSC 2017; Eyeriss v2, JETCAS 2019): a
    zero detector on the weight operand (NOR4 tree, ``ceil(w/4) + 1`` cells) and one clock
    gate on the MAC's operand registers."""
    (w,) = _bits(w_bits)
    return (np.ceil(w / 4.0) + 1.0) * NOR4_UM2 + ICG_UM2


def block_skip_um2_per_col(rows: np.ndarray) -> np.ndarray:
    """Block skipping per array column: a 16-bit block-index register and 16-bit address
    adder per column (Horowitz 8-bit adder x2), plus one valid flag per row of the column's
    tile (``rows`` DFFs) so skipped blocks are not issued. Derived; an *assumption* of the
    minimum logic, not a published figure."""
    (r,) = _bits(rows)
    return 16 * DFF_UM2 + 2 * INT_ADD_UM2_8 + r * DFF_UM2


def nm_meta_bits(m: int) -> float:
    """Index bits per kept weight of an N:M format: ``log2(M)`` (2 bits for 2:4, as A100)."""
    return float(math.ceil(math.log2(m)))


def block_meta_bits(k: np.ndarray, b: int) -> np.ndarray:
    """Index bits per kept ``b x b`` block (block-CSR column index): ``ceil(log2(K/b))``,
    at least 1."""
    return np.maximum(np.ceil(np.log2(np.maximum(np.asarray(k, float) / b, 1.0))), 1.0)


def csr_meta_bits(k: np.ndarray) -> np.ndarray:
    """Index bits per nonzero of CSR over a ``(N, K)`` weight matrix: a column index of
    ``ceil(log2 K)`` bits (row pointers are added separately, ``CSR_ROWPTR_BITS`` per row).
    Sparseloop's coordinate-payload (CP/CSR) format."""
    return np.maximum(np.ceil(np.log2(np.maximum(np.asarray(k, float), 2.0))), 1.0)
