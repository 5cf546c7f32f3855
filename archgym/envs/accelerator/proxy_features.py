"""Derived proxy features of the Accelerator-v2 space (registered as ``accelerator/1``).

See :mod:`archgym.proxy._derived` for what derived features are and how proxy files refer to
them; bump the version below whenever a column changes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from archgym.envs.accelerator import tables as tb
from archgym.proxy._derived import register_derived_features

__all__ = ["accelerator_features"]


def accelerator_features(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derived columns of the Accelerator-v2 space (all base-2 logs).

    Each mirrors a term of :class:`~archgym.envs.accelerator.model.AcceleratorCostModel`:
    PE count and aspect (compute folds), bytes per word of the precision, DRAM bandwidth in
    words per cycle (DRAM stalls), the effective NoC bandwidth ``min(noc_bw_bytes,
    16 * gbuf_banks)`` in bytes and words (NoC stalls), the buffer in words (tiling), the bank
    size (buffer energy per access), RF words per PE, the technology energy factor, PEs per
    DRAM word and per NoC word, and ``rows + cols`` (pipeline fill).
    """
    r = np.log2(np.asarray(cols["rows"], dtype=float))
    c = np.log2(np.asarray(cols["cols"], dtype=float))
    prec = np.asarray(cols["precision"])
    w = np.zeros(prec.shape[0])
    for p, b in tb.WORD_BYTES.items():
        w[prec == p] = np.log2(b)
    dbw = np.log2(np.asarray(cols["dram_bw_bytes"], dtype=float)) - w
    banks = np.asarray(cols["gbuf_banks"], dtype=float)
    noc = np.log2(
        np.minimum(np.asarray(cols["noc_bw_bytes"], dtype=float), tb.GBUF_BANK_WIDTH_BYTES * banks)
    )
    gbuf = np.log2(np.asarray(cols["gbuf_kb"], dtype=float))
    es = np.log2(tb.tech_scale(np.asarray(cols["tech_nm"], dtype=float))[0])
    return {
        "log2(pes)": r + c,
        "log2(rows/cols)": r - c,
        "log2(word_bytes)": w,
        "log2(dram_words/cycle)": dbw,
        "log2(noc_eff_bytes)": noc,
        "log2(noc_eff_words)": noc - w,
        "log2(gbuf_words)": gbuf + 10 - w,
        "log2(bank_kb)": gbuf - np.log2(banks),
        "log2(rf_words)": np.log2(np.asarray(cols["rf_bytes"], dtype=float)) - w,
        "log2(energy_scale)": es,
        "log2(pes/dram_word)": r + c - dbw,
        "log2(pes/noc_word)": r + c - (noc - w),
        "log2(rows+cols)": np.log2(2.0**r + 2.0**c),
    }


register_derived_features("accelerator", accelerator_features, version="1")
