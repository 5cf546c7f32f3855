"""Derived features: physically motivated columns an env declares for its design space.

A proxy learns products of parameters far better when it sees them as one column: in log
space ``rows * cols`` is ``log2(rows) + log2(cols)``, bandwidth in words per cycle is
``log2(bytes per cycle) - log2(bytes per word)``. A space's env (or anyone) registers a
function computing such columns from the design columns, under the space's name::

    from archgym.proxy import register_derived_features
    register_derived_features("accelerator", accelerator_features, version="1")

:class:`~archgym.proxy.FeatureEncoder` appends them after the parameter features whenever
the space's name has a registration. A proxy file records the set's ``name/version`` and
rebuilds it on load from this registry (code shipped with archgym, never code from the
file); a file naming a set this archgym lacks is refused.

The built-in set ``accelerator/1`` describes ``archgym/Accelerator-v0``'s space (see
:func:`accelerator_features`, and :mod:`archgym.cost_models.accelerator` for the terms each
column mirrors).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from archgym.errors import ConfigError

__all__ = ["register_derived_features", "derived_features", "derived_key", "accelerator_features"]

#: A function from design columns (arrays by parameter name) to named float columns.
DerivedFn = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]

_REGISTRY: dict[str, tuple[str, DerivedFn]] = {}


def register_derived_features(space_name: str, fn: DerivedFn, version: str = "1") -> None:
    """Declare derived feature columns for the design space named ``space_name``.

    Args:
        space_name: ``DesignSpace.name`` the columns apply to.
        fn: Columns by parameter name -> ``{feature name: (n,) float array}``; must be a pure
            function of the design (same input, same output, bit for bit).
        version: Bump it whenever ``fn``'s output changes, so old proxy files are refused
            instead of silently fed other columns.
    """
    _REGISTRY[space_name] = (str(version), fn)


def derived_key(space_spec: Mapping[str, Any]) -> str | None:
    """``"name/version"`` of the set registered for this space, or ``None``."""
    hit = _REGISTRY.get(str(space_spec.get("name")))
    return f"{space_spec.get('name')}/{hit[0]}" if hit else None


def derived_features(key: str) -> DerivedFn:
    """The function of a recorded ``"name/version"`` key.

    Raises:
        ConfigError: No such set, or another version of it is registered.
    """
    name, _, version = key.rpartition("/")
    hit = _REGISTRY.get(name)
    if hit is None or hit[0] != version:
        have = f"version {hit[0]}" if hit else "no such set"
        raise ConfigError(
            f"the proxy uses derived features {key!r}, but this archgym has {have}; retrain "
            "the proxy with this archgym"
        )
    return hit[1]


def accelerator_features(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derived columns of the Accelerator-v0 space (all base-2 logs).

    Each mirrors a term of :class:`~archgym.cost_models.accelerator.AcceleratorCostModel`:
    PE count and aspect (compute folds), bytes per word of the precision, DRAM bandwidth in
    words per cycle (DRAM stalls), the effective NoC bandwidth ``min(noc_bw_bytes,
    16 * gbuf_banks)`` in bytes and words (NoC stalls), the buffer in words (tiling), the bank
    size (buffer energy per access), RF words per PE, the technology energy factor, PEs per
    DRAM word and per NoC word, and ``rows + cols`` (pipeline fill).
    """
    from archgym.cost_models import accelerator_tables as tb

    r = np.log2(np.asarray(cols["rows"], dtype=float))
    c = np.log2(np.asarray(cols["cols"], dtype=float))
    prec = np.asarray(cols["precision"])
    w = np.zeros(prec.shape[0])
    for p, b in tb.WORD_BYTES.items():
        w[prec == p] = np.log2(b)
    dbw = np.log2(np.asarray(cols["dram_bw_bytes"], dtype=float)) - w
    banks = np.asarray(cols["gbuf_banks"], dtype=float)
    noc = np.log2(np.minimum(np.asarray(cols["noc_bw_bytes"], dtype=float),
                             tb.GBUF_BANK_WIDTH_BYTES * banks))
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
        "log2(rows+cols)": np.log2(2.0 ** r + 2.0 ** c),
    }


register_derived_features("accelerator", accelerator_features, version="1")
