"""Weight compression applied for real: pruning masks, fake quantization, BN re-estimation.

A :class:`Compression` names a sparsity pattern, a weight bit width and a scope:

* ``sparsity``: ``"dense"``; ``"unstructured-D"`` keeps the ``D`` percent largest-magnitude
  weights of each layer (``"unstructured-50"``); ``"N:M"`` keeps the ``N`` largest of every group
  of ``M`` consecutive weights along the reduction dimension (``"2:4"``, ``"1:4"``);
  ``"blockB-D"`` keeps the ``D`` percent of ``B x B`` tiles of the ``(out, reduction)`` weight
  matrix with the largest L1 norm (``"block2-50"``).
* ``weight_bits``: 32 (float, untouched) or ``b`` in {8, 4, 2}: per-output-channel symmetric
  fake quantization to the integers ``-(2^(b-1)-1) .. 2^(b-1)-1`` times a per-channel scale
  ``max|w| / (2^(b-1)-1)`` (so int4 has at most 15 levels per channel, int2 three).
* ``scope``: ``"inner"`` compresses every weight layer except the ones reading the input
  (``blocks.0.conv1`` and its shortcut) and the classifier ``head``; ``"all"`` compresses all.

A pattern that does not divide a layer (``N:M`` or ``blockB`` on a reduction length not divisible
by ``M``/``B``, or a block on an output count not divisible by ``B``) makes the design infeasible;
:func:`check_compression` returns the reason without touching torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archgym.envs.nas.arch import LayerPlan
from archgym.errors import DesignError

__all__ = [
    "Compression",
    "SPARSITIES",
    "WEIGHT_BITS",
    "SCOPES",
    "parse_sparsity",
    "check_compression",
    "compressed_layers",
    "apply_compression",
]

SPARSITIES = ("dense", "unstructured-50", "unstructured-25", "2:4", "1:4", "block2-50")
WEIGHT_BITS = (32, 8, 4, 2)
SCOPES = ("inner", "all")
STEM_PREFIXES = ("blocks.0.conv1", "blocks.0.shortcut")

_NM = re.compile(r"^(\d+):(\d+)$")
_UNSTRUCT = re.compile(r"^unstructured-(\d+)$")
_BLOCK = re.compile(r"^block(\d+)-(\d+)$")


@dataclass(frozen=True)
class Compression:
    """One compression setting (see the module docstring)."""

    sparsity: str = "dense"
    weight_bits: int = 32
    scope: str = "inner"

    def __post_init__(self) -> None:
        parse_sparsity(self.sparsity)
        if self.weight_bits not in WEIGHT_BITS:
            raise DesignError(
                f"weight_bits must be one of {WEIGHT_BITS}, but got {self.weight_bits!r}."
            )
        if self.scope not in SCOPES:
            raise DesignError(f"scope must be one of {SCOPES}, but got {self.scope!r}.")

    @property
    def is_identity(self) -> bool:
        """True when nothing is compressed (dense float weights)."""
        return self.sparsity == "dense" and self.weight_bits == 32

    def canonical(self) -> Compression:
        """Scope is irrelevant when nothing is compressed; pin it to ``"inner"``."""
        return Compression("dense", 32, "inner") if self.is_identity else self

    @property
    def density(self) -> float:
        """Fraction of weights kept in compressed layers."""
        kind, a, b = parse_sparsity(self.sparsity)
        if kind == "dense":
            return 1.0
        if kind == "nm":
            return a / b
        return b / 100.0


def parse_sparsity(s: str) -> tuple[str, int, int]:
    """``"2:4"`` -> ``("nm", 2, 4)``; ``"unstructured-50"`` -> ``("unstructured", 0, 50)``;
    ``"block2-50"`` -> ``("block", 2, 50)``; ``"dense"`` -> ``("dense", 0, 100)``.

    Raises:
        DesignError: The string matches no pattern or its numbers are out of range.
    """
    if s == "dense":
        return ("dense", 0, 100)
    if m := _NM.match(s):
        n, mm = int(m[1]), int(m[2])
        if not 0 < n < mm:
            raise DesignError(f"N:M sparsity needs 0 < N < M, but got {s!r}.")
        return ("nm", n, mm)
    if m := _UNSTRUCT.match(s):
        d = int(m[1])
        if not 0 < d <= 100:
            raise DesignError(f"unstructured density percent must be in 1..100, but got {s!r}.")
        return ("unstructured", 0, d)
    if m := _BLOCK.match(s):
        b, d = int(m[1]), int(m[2])
        if b < 1 or not 0 < d <= 100:
            raise DesignError(f"block sparsity needs B >= 1 and density in 1..100, but got {s!r}.")
        return ("block", b, d)
    raise DesignError(
        f"sparsity must be 'dense', 'N:M', 'unstructured-D' or 'blockB-D', but got {s!r}."
    )


def compressed_layers(
    layers: tuple[LayerPlan, ...] | list[LayerPlan], scope: str
) -> list[LayerPlan]:
    """The layers a scope compresses."""
    if scope == "all":
        return list(layers)
    return [lp for lp in layers if lp.name != "head" and not lp.name.startswith(STEM_PREFIXES)]


def check_compression(layers: tuple[LayerPlan, ...], comp: Compression) -> str:
    """``""`` if ``comp`` can be applied to every layer in its scope, else the reason."""
    kind, a, b = parse_sparsity(comp.sparsity)
    for lp in compressed_layers(layers, comp.scope):
        if kind == "nm" and lp.reduction % b:
            return (
                f"{comp.sparsity} sparsity needs the reduction length of every compressed layer to "
                f"be divisible by {b}, but {lp.name} has {lp.reduction} "
                f"(c_in={lp.c_in} x kernel {lp.kernel}^{lp.ndim}); use scope='inner' or another pattern"
            )
        if kind == "block" and (lp.reduction % a or lp.c_out % a):
            return (
                f"{comp.sparsity} sparsity needs {a}x{a} tiles to divide every compressed layer, but "
                f"{lp.name} is {lp.c_out}x{lp.reduction}; use scope='inner' or another pattern"
            )
    return ""


def _mask(w2, kind: str, a: int, b: int):  # type: ignore[no-untyped-def]
    """Keep-mask (same shape) for a 2-D ``(out, reduction)`` weight matrix."""
    import torch

    mag = w2.abs()
    if kind == "dense":
        return torch.ones_like(w2, dtype=torch.bool)
    if kind == "unstructured":
        keep = max(1, int(round(b / 100.0 * w2.numel())))
        # ties broken by flat index (stable sort) so the mask is deterministic
        order = torch.argsort(mag.flatten(), descending=True, stable=True)
        m = torch.zeros(w2.numel(), dtype=torch.bool)
        m[order[:keep]] = True
        return m.view_as(w2)
    if kind == "nm":
        g = mag.reshape(w2.shape[0], -1, b)
        top = torch.argsort(g, dim=2, descending=True, stable=True)[..., :a]
        m = torch.zeros_like(g, dtype=torch.bool).scatter_(2, top, True)
        return m.reshape_as(w2)
    # block: score B x B tiles by their L1 norm, keep the top fraction
    o, r = w2.shape
    tiles = mag.reshape(o // a, a, r // a, a).sum(dim=(1, 3))
    keep = max(1, int(round(b / 100.0 * tiles.numel())))
    order = torch.argsort(tiles.flatten(), descending=True, stable=True)
    tm = torch.zeros(tiles.numel(), dtype=torch.bool)
    tm[order[:keep]] = True
    tm = tm.view_as(tiles)
    return tm.repeat_interleave(a, 0).repeat_interleave(a, 1)


def _quantize(w2, bits: int):  # type: ignore[no-untyped-def]
    """Per-output-channel symmetric fake quantization of a 2-D weight matrix."""
    import torch

    qmax = 2 ** (bits - 1) - 1
    scale = w2.abs().amax(dim=1, keepdim=True) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(torch.round(w2 / scale), -qmax, qmax) * scale


def apply_compression(net, layers: tuple[LayerPlan, ...], comp: Compression) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Prune then quantize the weights of ``net`` in place; returns the masks by layer name.

    BatchNorm statistics are *not* touched here; call
    :func:`archgym.envs.nas.train.reestimate_bn` afterwards.

    Raises:
        DesignError: The pattern does not divide a layer (see :func:`check_compression`).
    """
    import torch

    reason = check_compression(layers, comp)
    if reason:
        raise DesignError(reason)
    kind, a, b = parse_sparsity(comp.sparsity)
    modules = dict(net.named_modules())
    masks: dict[str, object] = {}
    with torch.no_grad():
        for lp in compressed_layers(layers, comp.scope):
            w = modules[lp.name].weight
            w2 = w.detach().reshape(w.shape[0], -1)
            m = _mask(w2, kind, a, b)
            q = w2 * m
            if comp.weight_bits < 32:
                q = _quantize(q, comp.weight_bits) * m
            w.copy_(q.reshape(w.shape))
            masks[lp.name] = m.reshape(w.shape)
    return masks
