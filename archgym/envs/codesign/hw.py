"""Sparsity- and precision-aware accelerator cost of a NAS network on its own layers.

The network (an architecture of :mod:`archgym.envs.nas.arch`) is lowered to a
:class:`~archgym.workloads.Workload` by :func:`network_workload`, one im2col GEMM
``(M x K) @ (K x N)`` per conv/linear layer (``M`` = output pixels x ``batch``, ``K`` = the
reduction ``c_in * kernel^ndim``, ``N`` = output channels), cached per architecture.

Compute follows the SCALE-Sim stall-free formula also used by
:class:`~archgym.envs.accelerator.model.AcceleratorCostModel` (``os``/``ws``/``is``; a dense
design gives exactly its ``compute_cycles``)::

    dataflow  Sr  Sc  T        cycles = ceil(Sr/R) * ceil(Sc/C) * (T + fill) - 1
    os        M   N   K'       fill   = R + C - 2 (os), 2R + C - 2 (ws, is)
    ws        K'  N   M
    is        K'  M   N

where ``K'`` is the reduction the array actually walks. Sparsity changes ``K'`` only where the
hardware supports the pattern (Sparseloop's *skipping*, Wu et al. MICRO 2022):

=================  ===================  ==========================================  =============
pattern            knob                 compute / storage                           metadata
=================  ===================  ==========================================  =============
N:M (M = 4)        ``nm_support``       ``K' = K*N/M``; only kept weights stored    log2(M) bits
                                                                                    per kept weight
bB-D (b x b tiles) ``block_skip``       ``K' = ceil(K * D * 1.10)`` (imbalance);    ceil(log2(K/b))
                                        kept tiles stored                           bits per tile
unstructured-D     ``zero_gating``      no cycles saved; stored CSR if smaller      ceil(log2 K)
                                        than dense                                  bits per nonzero
                                                                                    + 16 per row
any sparse         ``zero_gating``      zero-weight MACs (not skipped) cost no MAC  --
                                        energy and no activation/psum RF access
=================  ===================  ==========================================  =============

Without the matching knob, a pruned layer is stored and computed densely (its zeros cost like
any weight). Zero-gating is Sparseloop's *gating*: energy only, never cycles.

Precision: layers inside the compression scope use ``weight_bits`` weights and ``act_bits``
activations; layers outside it (and every layer when ``weight_bits == 32``) run in fp32, as the
NAS oracle measured them. Traffic is priced per byte at each operand's width; MAC energy by
:func:`~archgym.envs.codesign.tables.mac_pj`; the PE's MAC is sized for the most
expensive format the network uses (:func:`~archgym.envs.codesign.tables.mac_um2`).

Memory: array traffic (buffer <-> PEs) is SCALE-Sim's count -- ifmap ``M*K*ceil(Sc/C)``
(``os``/``ws``) or ``K*M`` (``is``); weights ``K'*N*ceil(Sr/R)`` (``os``), ``K'*N`` (``ws``),
``K'*N*ceil(Sc/C)`` (``is``); outputs ``M*N`` plus partial sums ``M*N*(ceil(Sr/R)-1)`` written
and read back at the partial-sum width. DRAM: the layer's ifmap, stored weights and ofmap once when they fit in
the global buffer, else the cheaper of streaming the ifmap once per half-buffer of weights or
the weights once per half-buffer of ifmap. Latency per layer ``max(compute, largest operand's
DRAM bytes / dram_bw_bytes, array bytes / (gbuf_banks * 16 B))`` (one DRAM port per operand,
as in Accelerator-v2). Register files follow the dataflow's stationarity and partial sums move
at the product width (fp32 with fp32 operands), the access model of
:func:`archgym.envs.accelerator.model.layer_costs`. Activation sparsity is not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from archgym.envs.accelerator import tables as at
from archgym.envs.accelerator.model import edge_words
from archgym.envs.codesign import tables as ct
from archgym.envs.nas.arch import BLOCK_FIELDS, MAX_BLOCKS, PARAM_VALUES, arch_key, plan_network
from archgym.envs.nas.compress import compressed_layers, parse_sparsity
from archgym.envs.systolic.timing import fold_cycles, mapped_dims
from archgym.workloads import Layer, Workload

__all__ = ["network_workload", "network_layers", "hardware_costs", "DATAFLOWS", "HW_METRICS"]

DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
HW_METRICS: tuple[str, ...] = (
    "latency_s",
    "cycles",
    "compute_cycles",
    "energy_j",
    "energy_mac_j",
    "energy_rf_j",
    "energy_noc_j",
    "energy_buffer_j",
    "energy_dram_j",
    "area_mm2",
    "executed_macs",
    "dram_bytes",
    "metadata_bytes",
)
_KIND = {"dense": 0, "nm": 1, "block": 2, "unstructured": 3}


def _arch_from_key_source(arch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(arch)
    for i in range(1, MAX_BLOCKS + 1):
        for f in BLOCK_FIELDS:
            out.setdefault(f"b{i}_{f}", PARAM_VALUES[f"b{i}_{f}"][0])
    return out


def network_workload(arch: Mapping[str, Any], shape: tuple[int, int, int, int]) -> Workload | str:
    """The network's conv/linear layers as a Workload, or the reason it cannot be built.

    Args:
        arch: An architecture dict of :mod:`archgym.envs.nas.arch` (inactive blocks may be absent).
        shape: ``(in_channels, in_size, ndim, n_classes)`` of the task
            (:data:`archgym.envs.nas.datasets.TASK_SHAPES`).

    Convs use the padded ifmap ``(out - 1) * stride + kernel`` (the workloads convention), so
    each layer's GEMM equals the network's; 1-D convs are ``1 x length`` feature maps.
    """
    return _workload(
        arch_key(arch), tuple(shape), tuple(sorted(_arch_from_key_source(arch).items()))
    )


@lru_cache(maxsize=4096)
def _workload(
    key: str, shape: tuple[int, int, int, int], items: tuple[tuple[str, Any], ...]
) -> Workload | str:
    plan = plan_network(dict(items), *shape)
    if not plan.feasible:
        return plan.reason
    layers = []
    for lp in plan.layers:
        if lp.kind == "linear":
            layers.append(Layer.gemm(lp.name, 1, lp.c_out, lp.c_in))
            continue
        size = (lp.out_size - 1) * lp.stride + lp.kernel
        h, fh = (size, lp.kernel) if lp.ndim == 2 else (1, 1)
        layers.append(Layer(lp.name, "conv", h, size, fh, lp.kernel, lp.c_in, lp.c_out, lp.stride))
    return Workload(f"nas:{key}", tuple(layers), f"NAS network {key}")


@lru_cache(maxsize=4096)
def _layer_table(
    key: str, shape: tuple[int, int, int, int], items: tuple[tuple[str, Any], ...]
) -> dict[str, np.ndarray] | str:
    wl = _workload(key, shape, items)
    if isinstance(wl, str):
        return wl
    a = wl.as_arrays()
    plan = plan_network(dict(items), *shape)
    inner = {lp.name for lp in compressed_layers(plan.layers, "inner")}
    return {
        "m": a["m"].astype(float),
        "k": a["k"].astype(float),
        "n": a["n"].astype(float),
        "ifmap_words": a["ifmap_words"].astype(float),
        "inner": np.array([layer.name in inner for layer in wl.layers]),
    }


def network_layers(
    arch: Mapping[str, Any], shape: tuple[int, int, int, int]
) -> dict[str, np.ndarray] | str:
    """Per-layer float arrays ``m, k, n, ifmap_words`` and the bool ``inner`` (inside scope
    ``"inner"``) of a network, cached per architecture; or the reason it cannot be built."""
    full = _arch_from_key_source(arch)
    return _layer_table(arch_key(full), tuple(shape), tuple(sorted(full.items())))


def pad_layers(
    tables: list[dict[str, np.ndarray]],
    sparsity: np.ndarray,
    weight_bits: np.ndarray,
    scope: np.ndarray,
    act_bits: np.ndarray,
    batch: int,
) -> dict[str, np.ndarray]:
    """Stack per-design layer tables into ``(n, L_max)`` arrays with the compression applied:
    ``valid`` mask, ``m`` (times ``batch``), ``k``, ``n``, ``ifmap_words``, ``wbits``, ``abits``,
    ``kind`` (0 dense, 1 N:M, 2 block, 3 unstructured), ``pa``/``pb`` (N and M, or b and 0),
    ``density``. Out-of-scope layers are dense fp32."""
    n = len(tables)
    L = max(len(t["m"]) for t in tables)
    out = {
        k: np.zeros((n, L))
        for k in ("m", "k", "n", "ifmap_words", "wbits", "abits", "kind", "pa", "pb", "density")
    }
    out["valid"] = np.zeros((n, L), dtype=bool)
    for i, t in enumerate(tables):
        ln = len(t["m"])
        kind, a, b = parse_sparsity(str(sparsity[i]))
        scoped = t["inner"] if str(scope[i]) == "inner" else np.ones(ln, dtype=bool)
        wb = int(weight_bits[i])
        out["valid"][i, :ln] = True
        for key in ("m", "k", "n", "ifmap_words"):
            out[key][i, :ln] = t[key]
        out["m"][i, :ln] *= batch
        out["ifmap_words"][i, :ln] *= batch
        quant = scoped & (wb < 32)
        out["wbits"][i, :ln] = np.where(quant, wb, 32)
        out["abits"][i, :ln] = np.where(quant, int(act_bits[i]), 32)
        dens = 1.0 if kind == "dense" else (a / b if kind == "nm" else b / 100.0)
        out["kind"][i, :ln] = np.where(scoped, _KIND[kind], 0)
        out["pa"][i, :ln] = a
        out["pb"][i, :ln] = b
        out["density"][i, :ln] = np.where(scoped, dens, 1.0)
    return out


def hardware_costs(
    hw: Mapping[str, np.ndarray], lay: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Whole-network hardware metrics, one per design (see the module docstring).

    Args:
        hw: Design columns of shape ``(n,)``: ``rows``, ``cols``, ``gbuf_kb``, ``gbuf_banks``,
            ``rf_bytes``, ``dram_bw_bytes``, ``dataflow`` (index into :data:`DATAFLOWS`),
            ``clock_mhz``, ``tech_nm``, and the bools ``nm_support``, ``block_skip``,
            ``zero_gating``.
        lay: Layer arrays from :func:`pad_layers`.

    Returns:
        :data:`HW_METRICS` arrays of shape ``(n,)`` (units in their names; ``executed_macs`` are
        the MACs the array issues, gated ones included).
    """
    col = {k: np.asarray(v, dtype=float)[:, None] for k, v in hw.items()}
    R, C, df = col["rows"], col["cols"], col["dataflow"]
    nm_hw, blk_hw, gate_hw = (col[k] > 0 for k in ("nm_support", "block_skip", "zero_gating"))
    valid = lay["valid"]
    M, K, N = lay["m"], lay["k"], lay["n"]
    wbits, abits, kind, dens = lay["wbits"], lay["abits"], lay["kind"], lay["density"]
    pa, pb = lay["pa"], lay["pb"]

    # -- which zeros are skipped (cycles) or gated (energy) ------------------------------
    skip_nm = (kind == 1) & nm_hw & (pb == ct.NM_MUX_WAYS)
    skip_blk = (kind == 2) & blk_hw
    k_cmp = np.where(
        skip_nm,
        K * dens,
        np.where(skip_blk, np.minimum(np.ceil(K * dens * ct.BLOCK_IMBALANCE), K), K),
    )
    k_act = np.where(skip_blk, np.ceil(K * dens), K)  # activations the array must receive
    exec_macs = M * N * np.where(skip_nm, K * dens, np.where(skip_blk, np.ceil(K * dens), K))
    zero_frac = np.where(skip_nm | skip_blk | (kind == 0), 0.0, 1.0 - dens)
    gated = exec_macs * zero_frac * gate_hw  # zero MACs whose energy is gated
    live = exec_macs - gated

    # -- compute cycles (SCALE-Sim formula with the walked reduction k_cmp) ---------------
    is_os, is_ws = df == 0, df == 1
    Sr, Sc, T = mapped_dims(M, N, k_cmp, is_os, is_ws)
    rfold, cfold, compute = fold_cycles(Sr, Sc, T, R, C, short_fill=is_os)

    # -- stored weights and metadata (bits) ------------------------------------------------
    dense_bits = K * N * wbits
    nm_bits = K * dens * N * (wbits + ct.nm_meta_bits(ct.NM_MUX_WAYS))
    kept_blocks = np.ceil(K * dens) * N / np.maximum(pa, 1) ** 2
    blk_bits = np.ceil(K * dens) * N * wbits + kept_blocks * ct.block_meta_bits(
        K / np.maximum(pa, 1), 1
    )
    csr_bits = K * dens * N * (wbits + ct.csr_meta_bits(K)) + (N + 1) * ct.CSR_ROWPTR_BITS
    use_csr = (kind == 3) & gate_hw & (csr_bits < dense_bits)
    w_bits_stored = np.where(
        skip_nm, nm_bits, np.where(skip_blk, blk_bits, np.where(use_csr, csr_bits, dense_bits))
    )
    meta_bits = np.where(
        skip_nm,
        K * dens * N * ct.nm_meta_bits(ct.NM_MUX_WAYS),
        np.where(
            skip_blk,
            blk_bits - np.ceil(K * dens) * N * wbits,
            np.where(use_csr, csr_bits - K * dens * N * wbits, 0.0),
        ),
    )
    w_bytes_per_elem = w_bits_stored / 8.0 / np.maximum(k_cmp * N, 1)  # incl. metadata

    # -- array (buffer <-> PE) traffic, bytes ----------------------------------------------
    ifm = np.where(is_os | is_ws, M * k_act * cfold, k_act * M) * abits / 8.0
    flt = (
        np.where(is_os, k_cmp * N * rfold, np.where(is_ws, k_cmp * N, k_cmp * N * cfold))
        * w_bytes_per_elem
    )
    # partial sums at the product width for integers (Accelerator-v2's default, 2x for int8),
    # fp32 when either operand is fp32 (archgym.envs.accelerator.tables.PSUM_BITS)
    psum_b = np.where((wbits >= 32) | (abits >= 32), 32.0, wbits + abits) / 8.0
    spill = np.where(is_os, 0.0, M * N * (rfold - 1))
    ofm = M * N * abits / 8.0 + 2 * spill * psum_b
    noc_bytes = ifm + flt + ofm

    # -- DRAM traffic, bytes per operand (one port each, as in Accelerator-v2) --------------
    cap = col["gbuf_kb"] * 1024.0
    in_b = lay["ifmap_words"] * abits / 8.0
    w_b = w_bits_stored / 8.0
    out_b = M * N * abits / 8.0
    half = cap / 2.0
    fits = in_b + w_b + out_b <= cap
    in_a, w_a = in_b * np.ceil(w_b / half), w_b  # weight tiles, ifmap re-streamed
    in_c, w_c = in_b, w_b * np.ceil(in_b / half)  # ifmap tiles, weights re-streamed
    pick_a = in_a + w_a <= in_c + w_c
    dram_in = np.where(fits, in_b, np.where(pick_a, in_a, in_c))
    dram_w = np.where(fits, w_b, np.where(pick_a, w_a, w_c))
    dram = dram_in + dram_w + out_b

    noc_bw = col["gbuf_banks"] * at.GBUF_BANK_WIDTH_BYTES
    port = np.maximum(np.maximum(dram_in, dram_w), out_b)
    cycles = np.maximum(np.maximum(compute, port / col["dram_bw_bytes"]), noc_bytes / noc_bw)
    # the first stationary tile loads before the first MAC and the last output block drains
    # after the last one (archgym.envs.accelerator.model.edge_words, as in Accelerator-v2)
    first_i, first_w, last_o = edge_words(is_os, is_ws, R, C, M, N, Sr, Sc)
    edge = np.minimum(first_i * abits / 8.0 + first_w * w_bytes_per_elem, dram_in + dram_w)
    edge = edge + np.minimum(last_o * abits / 8.0, out_b)
    cycles = np.maximum(cycles, compute + edge / col["dram_bw_bytes"])

    # -- energy (pJ -> J) --------------------------------------------------------------------
    # Register-file accesses by stationarity (as archgym.envs.accelerator.model.layer_costs):
    # the stationary operand (ws: weights, is: activations) twice per word delivered to the
    # array, a streamed operand once per executed MAC (a gated MAC still reads its weight),
    # the partial sum read and written once per live MAC.
    rf_w = np.where(is_ws, 2 * flt, (live + gated) * wbits / 8.0)
    rf_a = np.where(df == 2, 2 * ifm, live * abits / 8.0)
    rf_bytes = rf_w + rf_a + 2 * live * psum_b
    es = at.tech_scale(col["tech_nm"][:, 0])[0][:, None]
    rf_pj = at.rf_pj_per_byte(col["rf_bytes"])
    buf_pj = at.sram_pj_per_byte(cap / col["gbuf_banks"])
    pj = 1e-12
    e = {
        "energy_mac_j": live * ct.mac_pj(wbits, abits) * es,
        "energy_rf_j": rf_bytes * rf_pj * es,
        "energy_noc_j": noc_bytes * at.NOC_PJ_PER_BYTE * es,
        "energy_buffer_j": (noc_bytes + dram) * buf_pj * es,
        "energy_dram_j": dram * at.DRAM_PJ_PER_BYTE,
    }
    z = np.zeros_like(M)
    tot = {k: np.where(valid, v * pj, z).sum(axis=1) for k, v in e.items()}

    def net(x: np.ndarray) -> np.ndarray:
        return np.where(valid, x, z).sum(axis=1)

    # -- area --------------------------------------------------------------------------------
    big = np.where(valid, ct.mac_um2(wbits, abits), 0.0)
    worst = np.argmax(big, axis=1)
    rows_i = np.arange(len(worst))
    mac_area = big[rows_i, worst]
    a_max = np.where(valid, abits, 0).max(axis=1)
    w_max = np.where(valid, wbits, 0).max(axis=1)
    r, c = col["rows"][:, 0], col["cols"][:, 0]
    pe = (
        mac_area
        + col["rf_bytes"][:, 0] * at.RF_UM2_PER_BYTE
        + nm_hw[:, 0] * ct.nm_support_um2_per_pe(a_max)
        + gate_hw[:, 0] * ct.zero_gating_um2_per_pe(w_max)
    )
    gbuf = (
        cap[:, 0]
        * at.SRAM_UM2_PER_BYTE
        * (1 + at.BANK_AREA_OVERHEAD * (col["gbuf_banks"][:, 0] - 1))
    )
    area_um2 = r * c * pe + gbuf + blk_hw[:, 0] * c * ct.block_skip_um2_per_col(r)
    cyc = net(cycles)
    energy = sum(tot.values())
    return {
        "latency_s": cyc / (col["clock_mhz"][:, 0] * 1e6),
        "cycles": cyc,
        "compute_cycles": net(compute),
        "energy_j": energy,
        **tot,
        "area_mm2": area_um2 * at.tech_scale(col["tech_nm"][:, 0])[1] * 1e-6,
        "executed_macs": net(exec_macs),
        "dram_bytes": net(dram),
        "metadata_bytes": net(meta_bits) / 8.0,
    }
