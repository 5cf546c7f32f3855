"""Per-level access counts of a memory hierarchy from a temporal loop nest (for imported peers).

An imported peer's hierarchy (e.g. ZigZag's ``tesla_npu_like``: a 1 KB buffer per input operand
refilled from a 1 MB level) moves each operand through several on-chip levels. How often a level
is read or written follows from the loop nest, not from the DRAM traffic: a level is refilled
from the one above once per iteration of the loops above it, except the innermost run of loops
that do not index its operand, over which the tile stays put (stationarity; Chen et al.,
"Eyeriss", ISCA 2016, sec. IV; Parashar et al., "Timeloop", ISPASS 2019, sec. V.B; Mei et al.,
"ZigZag", IEEE TC 2021, sec. IV).

The temporal loop order is the one ZigZag's LOMA search would pick (Symons et al., "LOMA: Fast
Auto-Scheduling on DNN Accelerators through Loop-Order-based Memory Allocation", AICAS 2021):
the temporal loops are split into prime factors (merged, smallest first in the loop with the
most, down to ``lpf_limit``), every distinct order of them is tried, each memory level (bottom
up) takes for each of its operands the prefix of the remaining loops that fits its capacity and
minimises the accesses to the level above, and the order of least total energy wins.

Counts, for an operand ``X`` at level ``j`` of its chain (``tile_j``: the words of ``X`` indexed
by the spatial loops on the array dimensions ``j`` serves and the temporal loops allocated at or
below ``j``; ``inst_j``: the copies of level ``j``, the product of the spatial loops on the
dimensions it does not serve; ``refetch_j``: the product of the loops above ``j`` without their
innermost run of loops irrelevant to ``X``):

* inputs and weights: level ``j+1`` is read ``inst_{j+1} * view * refetch_j`` words, where
  ``view`` is ``tile_j`` widened by the spatial loops of ``j+1`` (a word multicast to several
  children is read once); level ``j`` is written ``inst_j * tile_j * refetch_j`` words;
* outputs: the same volume moves up (partial sums at ``psum_bits``, the last pass of each output
  at the final precision), and ``refetch_j - distinct_j`` passes of partial sums come back down
  (``distinct_j``: the product of the output-indexing loops above ``j``);
* the array reads its lowest level once per temporal iteration (minus the stationary run) and
  accumulates into the output's lowest level once per temporal iteration.

A convolution input tile covers the ``(ox - 1) * stride + fx`` columns (and likewise rows) its
windows touch, ``ox * fx`` where the window is narrower than the stride, clipped to the input.
Energy per bit is the level's ``r_cost``/``w_cost`` over its widest port, as in
:func:`archgym.envs.accelerator.from_zigzag`.

The hierarchy is the peer's, fixed: design columns (``rows``, ``gbuf_kb``, ``precision``) do
not resize it. The search costs 0.01-0.15 CPU-s per distinct (hierarchy, layer), once
(:func:`level_energy_pj` is cached).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from typing import Any

from archgym.errors import ConfigError

__all__ = [
    "MemLevel",
    "Hierarchy",
    "LEVEL_LOOPS",
    "buffer_energy_pj",
    "buffer_levels",
    "layer_loops",
    "level_energy_pj",
    "order_energy_pj",
]

#: Loops of a convolution layer (ZigZag's names).
LEVEL_LOOPS: tuple[str, ...] = ("B", "K", "C", "OY", "OX", "FY", "FX")
#: The loops that index each operand (``i`` inputs, ``w`` weights, ``o`` outputs).
_RELEVANT: dict[str, frozenset[str]] = {
    "i": frozenset({"B", "C", "OY", "OX", "FY", "FX"}),
    "w": frozenset({"K", "C", "FY", "FX"}),
    "o": frozenset({"B", "K", "OY", "OX"}),
}
_REDUCTION = frozenset({"C", "FY", "FX"})


@dataclass(frozen=True)
class MemLevel:
    """One memory of a peer's hierarchy.

    Attributes:
        name: The peer's name for it (e.g. ``sram_1KB_W``).
        operands: The operands it holds, among ``"i"``, ``"w"``, ``"o"``.
        capacity_bits: Its size in bits (shared by its operands).
        r_pj_per_bit: Read energy per bit (pJ).
        w_pj_per_bit: Write energy per bit (pJ).
        served: The array dimensions one instance serves (all of them for a shared buffer,
            none for a per-PE register).
    """

    name: str
    operands: tuple[str, ...]
    capacity_bits: float
    r_pj_per_bit: float
    w_pj_per_bit: float
    served: tuple[str, ...]


@dataclass(frozen=True)
class Hierarchy:
    """A peer's memories (bottom up, the last one off chip) and its array's spatial wiring.

    Attributes:
        levels: The memories, innermost first; each operand's chain is the levels holding it,
            in this order, ending at the shared off-chip level.
        spatial: ``(array dimension, loop, factor)`` of the spatial unrolling.
        dims: All the array's dimensions.
        bits: Operand bits ``(inputs, weights, partial sums, final outputs)``.
        lpf_limit: Most loop prime factors the order search permutes (LOMA's ``lpf_limit``).
    """

    levels: tuple[MemLevel, ...]
    spatial: tuple[tuple[str, str, int], ...]
    dims: tuple[str, ...]
    bits: tuple[int, int, int, int] = (8, 8, 16, 8)
    lpf_limit: int = 6


def _primes(n: int) -> list[int]:
    out, p = [], 2
    while n > 1 and p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


def _lpfs(temporal: dict[str, int], limit: int) -> list[tuple[str, int]]:
    """Loop prime factors, merged as LOMA does (``limit_lpfs``): while there are more than
    ``limit``, the two smallest factors of the loop with the most factors are multiplied."""
    pf = {d: _primes(n) for d, n in temporal.items() if n > 1}
    limit = max(limit, len(pf))
    while sum(len(v) for v in pf.values()) > limit:
        d = max(pf, key=lambda k: len(pf[k]))
        v = sorted(pf[d])
        pf[d] = sorted([v[0] * v[1], *v[2:]])
    return [(d, f) for d in LEVEL_LOOPS if d in pf for f in pf[d]]


def _orders(lpfs: list[tuple[str, int]]) -> list[tuple[tuple[str, int], ...]]:
    return list(dict.fromkeys(permutations(lpfs)))


def _size(op: str, dims: dict[str, float], stride: int, in_hw: tuple[float, float]) -> float:
    g = dims.get
    if op == "w":
        return g("K", 1) * g("C", 1) * g("FY", 1) * g("FX", 1)
    if op == "o":
        return g("B", 1) * g("K", 1) * g("OY", 1) * g("OX", 1)
    h = min(_touched(g("OY", 1), g("FY", 1), stride), in_hw[0])
    w = min(_touched(g("OX", 1), g("FX", 1), stride), in_hw[1])
    return g("B", 1) * g("C", 1) * h * w


def _touched(o: float, f: float, stride: int) -> float:
    """Input rows (or columns) that ``o`` outputs of an ``f``-tap window at ``stride`` read:
    the distinct values of ``stride * x + y`` (``x < o``, ``y < f``); a window narrower than
    the stride skips the pixels between (a 1 x 1 stride-2 convolution reads every other one)."""
    return o * f if stride >= f else (o - 1) * stride + f


def _strip(op: str, loops: tuple[tuple[str, int], ...]) -> float:
    """Refills: the product of ``loops`` (inner to outer) without their innermost run of
    loops that do not index ``op``."""
    rel = _RELEVANT[op]
    i = 0
    while i < len(loops) and loops[i][0] not in rel:
        i += 1
    return math.prod(f for _, f in loops[i:])


class _Nest:
    """The per-layer state of the search: spatial factors, chains, instance counts."""

    def __init__(self, hier: Hierarchy, layer: tuple[tuple[str, int], ...], stride: int) -> None:
        size = dict(layer)
        self.hier, self.stride = hier, stride
        self.in_hw = (
            _touched(size.get("OY", 1), size.get("FY", 1), stride),
            _touched(size.get("OX", 1), size.get("FX", 1), stride),
        )
        # a spatial loop larger than the layer's runs ceil(size / unroll) times, spread evenly
        # (ZigZag's fractional unrolling, e.g. K 64 on 14 rows: 5 passes of 12.8)
        unroll: dict[str, int] = {}
        for _, loop, f in hier.spatial:
            unroll[loop] = unroll.get(loop, 1) * f
        self.temporal = {d: -(-size.get(d, 1) // unroll.get(d, 1)) for d in LEVEL_LOOPS}
        share = {d: size.get(d, 1) / self.temporal[d] for d in LEVEL_LOOPS}
        self.spatial: list[tuple[str, str, float]] = []
        for dim, loop, f in hier.spatial:
            eff = min(float(f), share[loop])
            share[loop] = share[loop] / eff if eff > 0 else 1.0
            self.spatial.append((dim, loop, eff))
        chains = {op: [lv for lv in hier.levels if op in lv.operands] for op in ("i", "w", "o")}
        self.chains = {op: chain for op, chain in chains.items() if chain}
        self.sp_at: dict[str, list[dict[str, float]]] = {}
        self.inst: dict[str, list[float]] = {}
        for op, chain in self.chains.items():
            per: list[dict[str, float]] = []
            inst: list[float] = []
            for lv in chain:
                acc: dict[str, float] = {}
                for dim, loop, eff in self.spatial:
                    if dim in lv.served:
                        acc[loop] = acc.get(loop, 1.0) * eff
                per.append(acc)
                inst.append(math.prod(f for dim, _, f in self.spatial if dim not in lv.served))
            self.sp_at[op] = per
            self.inst[op] = inst
        b = hier.bits
        self.bits = {"i": b[0], "w": b[1]}
        self.psum, self.final = b[2], b[3]
        self.red_spatial = {
            op: [
                any(loop in _REDUCTION for dim, loop, _ in self.spatial if dim not in lv.served)
                for lv in chain
            ]
            for op, chain in self.chains.items()
        }

    def tile(self, op: str, j: int, loops: tuple[tuple[str, int], ...], sp: int) -> float:
        dims: dict[str, float] = dict(self.sp_at[op][sp])
        for d, f in loops:
            dims[d] = dims.get(d, 1.0) * f
        return _size(op, dims, self.stride, self.in_hw)

    def allocate(self, order: tuple[tuple[str, int], ...]) -> dict[str, list[int]] | None:
        """LOMA's memory allocation (``memory_allocator.py``): each level, bottom up, takes for
        each of its operands the prefix of the remaining loops that fits (the operands sharing
        it together) with the fewest accesses to the level above. ``None`` if nothing fits."""
        pos = {op: 0 for op in self.chains}
        idx = {op: 0 for op in self.chains}
        cut: dict[str, list[int]] = {op: [] for op in self.chains}
        n = len(order)
        for lv in self.hier.levels:
            ops = [op for op in lv.operands if op in self.chains]
            top = lv is self.hier.levels[-1]
            options: list[list[tuple[float, float, int]]] = []
            for op in ops:
                j = idx[op]
                opts = []
                for p in range(pos[op], n + 1):
                    if top and p < n:
                        continue
                    bits = self._bits(op, j, order[p:])
                    size = self.tile(op, j, order[:p], j) * bits
                    if size > lv.capacity_bits and not top:
                        break
                    acc = 0.0 if top else math.prod(f for _, f in order[p:]) * size
                    opts.append((size, acc, p))
                if not opts:
                    return None
                options.append(opts)
            best, best_acc = None, math.inf
            for combo in _product(options):
                if sum(c[0] for c in combo) > lv.capacity_bits and not top:
                    continue
                acc = sum(c[1] for c in combo)
                if acc <= best_acc:
                    best, best_acc = combo, acc
            if best is None:
                return None
            for op, c in zip(ops, best, strict=True):
                pos[op] = c[2]
                cut[op].append(c[2])
                idx[op] += 1
        return cut

    def _partial(self, j: int, above: tuple[tuple[str, int], ...]) -> bool:
        """Whether outputs leave level ``j`` of their chain as partial sums: a reduction loop
        is unrolled across its instances or runs in ``above``."""
        return self.red_spatial["o"][j] or any(d in _REDUCTION for d, _ in above)

    def _bits(self, op: str, j: int, above: tuple[tuple[str, int], ...]) -> int:
        if op != "o":
            return self.bits[op]
        return self.psum if self._partial(j, above) else self.final

    def energy(
        self, order: tuple[tuple[str, int], ...], cut: dict[str, list[int]]
    ) -> dict[str, float]:
        """pJ per level name (all operands) of one instance of the layer."""
        e: dict[str, float] = {lv.name: 0.0 for lv in self.hier.levels}
        total = math.prod(f for _, f in order)
        for op, chain in self.chains.items():
            cuts = cut[op]
            # the array and the lowest level
            lv0 = chain[0]
            view = self.inst[op][0] * self.tile(op, 0, (), 0)
            if op == "o":
                distinct = math.prod(f for d, f in order if d in _RELEVANT["o"])
                e[lv0.name] += view * total * self.psum * lv0.w_pj_per_bit
                e[lv0.name] += view * (total - distinct) * self.psum * lv0.r_pj_per_bit
            else:
                reads = view * _strip(op, order)
                e[lv0.name] += reads * self.bits[op] * lv0.r_pj_per_bit
            for j in range(len(chain) - 1):
                lo, hi = chain[j], chain[j + 1]
                above = order[cuts[j] :]
                r = _strip(op, above)
                low = self.inst[op][j] * self.tile(op, j, order[: cuts[j]], j)
                up = self.inst[op][j + 1] * self.tile(op, j, order[: cuts[j]], j + 1)
                if op != "o":
                    b = self.bits[op]
                    e[hi.name] += up * r * b * hi.r_pj_per_bit
                    e[lo.name] += low * r * b * lo.w_pj_per_bit
                    continue
                distinct = math.prod(f for d, f in above if d in _RELEVANT["o"])
                b_lo, b_hi = self._bits("o", j, above), self._bits("o", j + 1, order[cuts[j + 1] :])
                partial = self._partial(j, above)
                # every pass goes up; all but the last of each output are partial sums
                fin = distinct if partial else r
                part_up = r - fin
                e[lo.name] += low * (part_up * self.psum + fin * b_lo) * lo.r_pj_per_bit
                e[hi.name] += up * (part_up * self.psum + fin * b_hi) * hi.w_pj_per_bit
                back = r - distinct
                e[hi.name] += up * back * self.psum * hi.r_pj_per_bit
                e[lo.name] += low * back * self.psum * lo.w_pj_per_bit
        return e


def _product(options: list[list[Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    for opts in options:
        out = [(*c, o) for c in out for o in opts]
    return out


def order_energy_pj(
    hier: Hierarchy,
    layer: tuple[tuple[str, int], ...],
    order: tuple[tuple[str, int], ...],
    stride: int = 1,
) -> dict[str, float]:
    """Energy (pJ) per memory level of one instance of a layer under a given temporal loop
    order (inner to outer, ``(loop, factor)``; e.g. one ZigZag reports), its loops allocated
    to the levels as LOMA does.

    Raises:
        ConfigError: The order's factors do not multiply to the layer's temporal loops, or
            it does not fit the memories.
    """
    nest = _Nest(hier, layer, stride)
    got: dict[str, int] = {}
    for d, f in order:
        got[d] = got.get(d, 1) * int(f)
    want = {d: n for d, n in nest.temporal.items() if n > 1}
    if {d: n for d, n in got.items() if n > 1} != want:
        raise ConfigError(
            f"order {list(order)} multiplies to {got}, but the layer's temporal loops are "
            f"{want} (its sizes over the spatial unrolling); give factors of exactly those"
        )
    cut = nest.allocate(tuple(order))
    if cut is None:
        raise ConfigError(
            f"order {list(order)} does not fit the memories {[lv.name for lv in hier.levels]}"
        )
    return nest.energy(tuple(order), cut)


@lru_cache(maxsize=4096)
def level_energy_pj(
    hier: Hierarchy, layer: tuple[tuple[str, int], ...], stride: int = 1
) -> dict[str, float]:
    """Energy (pJ) per memory level of one instance of a layer under the least-energy temporal
    mapping of the LOMA search (module docstring).

    Args:
        hier: The peer's memories and spatial wiring.
        layer: ``(loop, size)`` of the layer's loops (:data:`LEVEL_LOOPS`; missing ones are 1).
        stride: The convolution's stride.

    Returns:
        Level name -> pJ. MAC energy is not included.

    Raises:
        ConfigError: No temporal mapping fits the hierarchy (a lowest level too small for the
            spatial unrolling).
    """
    nest = _Nest(hier, layer, stride)
    best: dict[str, float] | None = None
    best_e = math.inf
    for order in _orders(_lpfs(nest.temporal, hier.lpf_limit)):
        cut = nest.allocate(order)
        if cut is None:
            continue
        e = nest.energy(order, cut)
        tot = sum(e.values())
        if tot < best_e:
            best, best_e = e, tot
    if best is None:
        raise ConfigError(
            f"no temporal mapping of layer {dict(layer)} fits the memories "
            f"{[lv.name for lv in hier.levels]}: a level cannot hold the tile its spatial "
            "unrolling needs; enlarge it or unroll less"
        )
    return best


def buffer_levels(hier: Hierarchy) -> tuple[str, ...]:
    """The shared on-chip levels: every level but the last that serves all array dimensions
    (the peer's buffers, as :func:`archgym.envs.accelerator.from_zigzag` classifies them)."""
    return tuple(lv.name for lv in hier.levels[:-1] if set(lv.served) >= set(hier.dims))


def layer_loops(a: dict[str, Any], j: int) -> tuple[tuple[tuple[str, int], ...], int]:
    """``(loops, stride)`` of layer ``j`` of the accelerator model's layer arrays
    (:func:`archgym.envs.accelerator.model.layer_arrays`), one instance (group) of it."""

    def v(key: str) -> float:
        return float(a[key][0, j])

    if bool(a["is_gemm"][0, j]):
        loops = {"B": v("m"), "K": v("n"), "C": v("k")}
        stride = 1
    else:
        oh = v("oh")
        loops = {
            "K": v("n"),
            "C": v("cg"),
            "OY": oh,
            "OX": v("m") / oh,
            "FY": v("fh"),
            "FX": v("fw"),
        }
        stride = int(v("stride"))
    return tuple((d, int(round(loops.get(d, 1)))) for d in LEVEL_LOOPS), stride


def buffer_energy_pj(hier: Hierarchy, a: dict[str, Any]) -> Any:
    """Energy (pJ) of the shared on-chip levels per layer instance, shape ``(1, L)``."""
    import numpy as np

    names = buffer_levels(hier)
    out = np.zeros((1, a["m"].shape[1]))
    for j in range(out.shape[1]):
        loops, stride = layer_loops(a, j)
        e = level_energy_pj(hier, loops, stride)
        out[0, j] = sum(e[n] for n in names)
    return out
