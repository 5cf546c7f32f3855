"""Energy and area constants of the accelerator model, each with its source.

Every number here is either taken from a cited table or derived from one by a stated rule.
The reference node is 45 nm (the node of Horowitz's ISSCC 2014 tables); other nodes are
reached with :func:`tech_scale`.

Per-access energies are in pJ **per byte** moved, so that one table serves every precision
(an fp16 operand costs two bytes of every memory access, an int4 operand half a byte).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "PRECISIONS",
    "WORD_BYTES",
    "MAC_PJ",
    "MAC_AREA_UM2",
    "TECH_NODES",
    "VDD",
    "DRAM_PJ_PER_BYTE",
    "SRAM_PJ_PER_BYTE_8KB",
    "RF_PJ_PER_BYTE_512B",
    "NOC_PJ_PER_BYTE",
    "SRAM_UM2_PER_BYTE",
    "RF_UM2_PER_BYTE",
    "BANK_AREA_OVERHEAD",
    "GBUF_BANK_WIDTH_BYTES",
    "tech_scale",
    "sram_pj_per_byte",
    "rf_pj_per_byte",
    "PSUM_BITS",
    "ENERGY_KEYS",
    "expand_energy_keys",
]

#: Precisions of the MAC units and the bytes one operand word occupies.
PRECISIONS: tuple[str, ...] = ("int8", "int4", "fp16")
WORD_BYTES: dict[str, float] = {"int8": 1.0, "int4": 0.5, "fp16": 2.0}

#: Default partial-sum width (bits) per precision: twice the operand width for integers (an
#: 8x8-bit product is 16 bits; the int8 layers of ZigZag's shipped ONNX workloads and the
#: 16-bit ``rf_2B`` output registers of its tpu_like/edge_tpu_like/meta_prototype hardware),
#: fp32 accumulation for fp16 (NVIDIA tensor cores, Eyeriss v2's fp16 mode likewise).
PSUM_BITS: dict[str, int] = {"int8": 16, "int4": 8, "fp16": 32}

#: Keys of a per-access energy table (pJ per byte moved; ``mac`` per MAC), as accepted by
#: ``AcceleratorCostModel(energy_pj=...)``: register file per operand (``i`` ifmap, ``w``
#: weights, ``o`` outputs/partial sums), the NoC, the global buffer per operand and direction
#: (``r`` read by the array or drained to DRAM, ``w`` written), ``stage_*`` (an intermediate
#: on-chip level every DRAM word passes through once, write + read), DRAM read/write. The
#: shorthands ``rf``, ``buffer``, ``dram`` set every key of their level.
ENERGY_KEYS: tuple[str, ...] = (
    "mac",
    "noc",
    *(f"rf_{op}" for op in "iwo"),
    *(f"buffer_{op}_{rw}" for op in "iwo" for rw in "rw"),
    *(f"stage_{op}" for op in "iwo"),
    "dram_r",
    "dram_w",
)
_SHORTHANDS = {
    "rf": tuple(f"rf_{op}" for op in "iwo"),
    "buffer": tuple(f"buffer_{op}_{rw}" for op in "iwo" for rw in "rw"),
    "dram": ("dram_r", "dram_w"),
}


def expand_energy_keys(energy_pj: Mapping[str, float]) -> dict[str, float]:
    """Expand shorthands (``rf``, ``buffer``, ``dram``) of an energy table; specific keys win.

    Raises:
        ConfigError: A key is neither in :data:`ENERGY_KEYS` nor a shorthand, or a value is
            not a finite number >= 0.
    """
    from archgym.errors import ConfigError

    table: dict[str, Any] = dict(energy_pj)
    unknown = sorted(set(table) - set(ENERGY_KEYS) - set(_SHORTHANDS))
    if unknown:
        raise ConfigError(
            f"energy_pj keys must be among {list(ENERGY_KEYS)} or {list(_SHORTHANDS)}, "
            f"got {unknown}"
        )
    out: dict[str, float] = {}
    for short, keys in _SHORTHANDS.items():
        if short in table:
            out.update(dict.fromkeys(keys, table[short]))
    out.update({k: v for k, v in table.items() if k not in _SHORTHANDS})
    for k, v in out.items():
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
            raise ConfigError(f"energy_pj[{k!r}] must be a finite number >= 0 pJ, got {v!r}")
    return {k: float(v) for k, v in out.items()}


#: Energy of one multiply-accumulate in pJ at 45 nm.
MAC_PJ: dict[str, float] = {
    # Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
    # fig. 1.1.9 (45 nm, 0.9 V): 8-bit integer multiply 0.2 pJ + 8-bit add 0.03 pJ.
    "int8": 0.23,
    # Derived: array-multiplier energy grows with bits^2 (0.2 pJ / 4), adder linearly
    # (0.03 pJ / 2). An assumption consistent with Horowitz's 8-bit vs 32-bit points
    # (0.2 pJ vs 3.1 pJ multiply, ratio 15.5 ~ 16 = (32/8)^2).
    "int4": 0.2 / 4 + 0.03 / 2,
    # Horowitz ISSCC 2014: 16-bit FP multiply 1.1 pJ + 16-bit FP add 0.4 pJ.
    "fp16": 1.5,
}

#: Area of one MAC unit in um^2 at 45 nm.
MAC_AREA_UM2: dict[str, float] = {
    # Horowitz ISSCC 2014 area table (45 nm): 8-bit multiply 282 um^2 + 32-bit add 137 um^2
    # (the int8 accumulator is 32 bits wide; same choice as archgym.envs.systolic.model).
    "int8": 282.0 + 137.0,
    # Derived: multiplier area ~ bits^2 (282 / 4), 16-bit accumulator (137 / 2).
    "int4": 282.0 / 4 + 137.0 / 2,
    # Horowitz ISSCC 2014: 16-bit FP multiply 1640 um^2 + 16-bit FP add 1360 um^2.
    "fp16": 1640.0 + 1360.0,
}

#: DRAM access energy, pJ per byte. Horowitz ISSCC 2014: DRAM 1.3-2.6 nJ per 64-bit access;
#: the midpoint 2.0 nJ / 8 bytes (same constant as archgym.envs.systolic.model). Off-chip,
#: so not scaled with the logic node.
DRAM_PJ_PER_BYTE = 250.0

#: SRAM read energy per byte of an 8 KiB array, 45 nm. Horowitz ISSCC 2014: 64-bit SRAM read
#: 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB): 10 pJ / 8 B at 8 KB, growing ~sqrt(size)
#: (the CACTI trend those three points follow); see :func:`sram_pj_per_byte`.
SRAM_PJ_PER_BYTE_8KB = 1.25

#: Register-file access energy per byte at 512 B, 45 nm. Eyeriss (Chen, Emer, Sze, ISCA 2016,
#: fig. 1 / table IV; JSSC 2017): a 0.5 KB RF access costs 1x the energy of a 16-bit MAC.
#: 16-bit integer MAC at 45 nm by the bits^2 rule above: 0.2*4 + 0.03*2 = 0.86 pJ per 2 bytes.
RF_PJ_PER_BYTE_512B = (0.2 * 4 + 0.03 * 2) / 2

#: Array NoC (global buffer <-> PE) energy per byte, 45 nm. Eyeriss ISCA 2016: moving a
#: 16-bit word over the array NoC costs 2x a MAC, i.e. 2 * 0.86 pJ per 2 bytes.
NOC_PJ_PER_BYTE = 2 * (0.2 * 4 + 0.03 * 2) / 2

#: SRAM area per byte, 45 nm: Intel 45 nm 6T cell 0.346 um^2 (Mistry et al., IEDM 2007) with
#: an assumed 50 % array efficiency (periphery), 8 bits per byte.
SRAM_UM2_PER_BYTE = 8 * 0.346 / 0.5

#: Register-file area per byte: same cell with an assumed 25 % efficiency (small arrays are
#: periphery-dominated; CACTI reports 20-30 % for sub-KB arrays).
RF_UM2_PER_BYTE = 8 * 0.346 / 0.25

#: Extra area per additional global-buffer bank (its own decoders and sense amplifiers), a
#: CACTI-style assumption: 2 % of the buffer's array area per bank beyond the first.
BANK_AREA_OVERHEAD = 0.02

#: Width of one global-buffer bank port, bytes per cycle (a 128-bit bank, as the 64-bit words of
#: Horowitz's SRAM figures doubled; ZigZag's default ``sram`` port widths are 64-2048 bits).
GBUF_BANK_WIDTH_BYTES = 16.0

#: Technology nodes offered (nm) and their nominal supply (V). 45 nm at 0.9 V is Horowitz's
#: point; the others are typical foundry nominal voltages (an assumption, not a cited table).
TECH_NODES: tuple[int, ...] = (45, 28, 16, 7)
VDD: dict[int, float] = {45: 0.9, 28: 0.9, 16: 0.8, 7: 0.7}


def tech_scale(node_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy and area factors of a node relative to 45 nm.

    Dynamic energy ``C * V^2`` with capacitance proportional to the feature size (classic
    constant-field scaling, the first-order rule Accelergy's technology scaling applies):
    ``(node/45) * (Vdd/0.9)^2``. Area scales as ``(node/45)^2`` (ideal; real SRAM scales
    less). Both are approximations; DRAM energy is off-chip and not scaled.

    Args:
        node_nm: Array of nodes in nm (any value > 0; :data:`VDD` gives the voltage of the
            listed nodes, others interpolate linearly in node size).
    """
    node = np.asarray(node_nm, dtype=float)
    nodes = np.array(sorted(VDD), dtype=float)
    vdd = np.interp(node, nodes, [VDD[int(x)] for x in nodes])
    energy = (node / 45.0) * (vdd / VDD[45]) ** 2
    area = (node / 45.0) ** 2
    return energy, area


def sram_pj_per_byte(bank_bytes: float | np.ndarray) -> np.ndarray:
    """SRAM access energy per byte of a bank of ``bank_bytes`` at 45 nm (sqrt-of-size trend
    through Horowitz's 8 KB / 32 KB / 1 MB points)."""
    return SRAM_PJ_PER_BYTE_8KB * np.sqrt(np.asarray(bank_bytes, dtype=float) / 8192.0)


def rf_pj_per_byte(rf_bytes: float | np.ndarray) -> np.ndarray:
    """Register-file access energy per byte at 45 nm: Eyeriss's 0.5 KB point, sqrt-of-size."""
    return RF_PJ_PER_BYTE_512B * np.sqrt(np.asarray(rf_bytes, dtype=float) / 512.0)
