"""The CNN macro search space: parameters, canonical keys and the layer plan of a network.

An architecture is a flat dict (see :data:`PARAM_VALUES`)::

    {"num_blocks": 2, "activation": "relu",
     "b1_width": 16, "b1_kernel": 3, "b1_down": "maxpool", "b1_expand": 1, "b1_skip": False,
     "b2_width": 32, "b2_kernel": 5, "b2_down": "none",    "b2_expand": 2, "b2_skip": True,
     "b3_...": ..., "b4_...": ...}        # blocks past num_blocks are inactive and ignored

Block ``i`` (``i <= num_blocks``) is::

    x -> Conv(k=b{i}_kernel, C_in -> width*expand, stride 2 if down=="stride") -> BN -> act
      -> Conv(k=1, width*expand -> width) -> BN
      -> (+ shortcut(x) if skip: identity when shapes match, else Conv(k=1, stride) -> BN)
      -> act -> MaxPool(2) if down=="maxpool"

then global average pooling and a linear classifier. The same plan builds 2-D networks (digits,
8x8 images) and 1-D networks (mnist1d, length-40 signals). Parameters of inactive blocks are
ignored: :func:`canonical` pins them to their first value and :func:`arch_key` omits them, so
equivalent designs share one key. This module needs no torch: the plan gives parameter counts,
MACs and feasibility analytically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_BLOCKS",
    "PARAM_VALUES",
    "TABLE_VALUES",
    "BLOCK_FIELDS",
    "canonical",
    "arch_key",
    "LayerPlan",
    "NetworkPlan",
    "plan_network",
]

MAX_BLOCKS = 4
BLOCK_FIELDS = ("width", "kernel", "down", "expand", "skip")
ACTIVATIONS = ("relu", "gelu", "silu", "hardswish")

#: Every parameter of the full space and its allowed values (first value = inactive default).
PARAM_VALUES: dict[str, tuple[Any, ...]] = {
    "num_blocks": (1, 2, 3, 4),
    "activation": ACTIVATIONS,
}
for _i in range(1, MAX_BLOCKS + 1):
    PARAM_VALUES[f"b{_i}_width"] = (8, 16, 24, 32, 48, 64)
    PARAM_VALUES[f"b{_i}_kernel"] = (1, 3, 5, 7)
    PARAM_VALUES[f"b{_i}_down"] = ("none", "stride", "maxpool")
    PARAM_VALUES[f"b{_i}_expand"] = (1, 2, 4)
    PARAM_VALUES[f"b{_i}_skip"] = (False, True)

#: The sub-space the shipped tables enumerate exhaustively (every design of it is in the table).
TABLE_VALUES: dict[str, tuple[Any, ...]] = {
    "num_blocks": (1, 2, 3),
    "activation": ("relu", "gelu"),
}
for _i in range(1, MAX_BLOCKS + 1):
    TABLE_VALUES[f"b{_i}_width"] = (8, 32)
    TABLE_VALUES[f"b{_i}_kernel"] = (3, 5)
    TABLE_VALUES[f"b{_i}_down"] = ("none", "maxpool")
    TABLE_VALUES[f"b{_i}_expand"] = (1,)
    TABLE_VALUES[f"b{_i}_skip"] = (False,)


def _active_blocks(arch: Mapping[str, Any]) -> int:
    return int(arch["num_blocks"])


def canonical(
    arch: Mapping[str, Any], values: Mapping[str, tuple[Any, ...]] = PARAM_VALUES
) -> dict[str, Any]:
    """Return ``arch`` with plain Python types and inactive-block parameters pinned to the
    first entry of ``values`` (so equivalent designs compare equal). Missing inactive
    parameters are filled in; missing active ones raise ``KeyError``."""
    n = int(arch["num_blocks"])
    out: dict[str, Any] = {"num_blocks": n, "activation": str(arch["activation"])}
    for i in range(1, MAX_BLOCKS + 1):
        for f in BLOCK_FIELDS:
            k = f"b{i}_{f}"
            if i > n:
                out[k] = values[k][0]
            else:
                out[k] = _plain(f, arch[k])
    return out


def _plain(field: str, v: Any) -> Any:
    if field == "down":
        return str(v)
    if field == "skip":
        return bool(v)
    return int(v)


def arch_key(arch: Mapping[str, Any]) -> str:
    """A short string that identifies an architecture; inactive blocks are left out.

    Example: ``"relu|16k3-maxpool-e1|32k5-none-e2-skip"``.
    """
    n = int(arch["num_blocks"])
    parts = [str(arch["activation"])]
    for i in range(1, n + 1):
        w, k, d, e, s = (_plain(f, arch[f"b{i}_{f}"]) for f in BLOCK_FIELDS)
        parts.append(f"{w}k{k}-{d}-e{e}" + ("-skip" if s else ""))
    return "|".join(parts)


@dataclass(frozen=True)
class LayerPlan:
    """One weight layer of the network (a convolution or the final linear layer).

    Attributes:
        name: Dotted name matching the torch module built by :mod:`archgym.envs.nas.model`.
        kind: ``"conv"`` or ``"linear"``.
        c_in: Input channels (features for linear).
        c_out: Output channels.
        kernel: Kernel size along each spatial dimension (1 for linear).
        stride: Stride.
        out_size: Spatial size of the output along each dimension (1 for linear).
        ndim: Number of spatial dimensions of the network (1 or 2).
    """

    name: str
    kind: str
    c_in: int
    c_out: int
    kernel: int
    stride: int
    out_size: int
    ndim: int

    @property
    def reduction(self) -> int:
        """Length of the dot product each output computes: ``c_in * kernel**ndim``."""
        return self.c_in * (self.kernel**self.ndim if self.kind == "conv" else 1)

    @property
    def weights(self) -> int:
        """Number of weights (biases and BN excluded)."""
        return self.c_out * self.reduction

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one forward pass of one sample."""
        return self.weights * (self.out_size**self.ndim if self.kind == "conv" else 1)


@dataclass(frozen=True)
class NetworkPlan:
    """Shapes of a network, or why it cannot be built.

    Attributes:
        layers: Weight layers in forward order (empty when infeasible).
        params: Trainable parameters (weights, biases, BN affine), 0 when infeasible.
        macs: MACs per sample of the weight layers, 0 when infeasible.
        reason: ``""`` when the network can be built, else why not.
    """

    layers: tuple[LayerPlan, ...]
    params: int
    macs: int
    reason: str = ""

    @property
    def feasible(self) -> bool:
        return not self.reason


def _conv_out(n: int, k: int, s: int) -> int:
    return (n + 2 * (k // 2) - k) // s + 1


def plan_network(
    arch: Mapping[str, Any], in_channels: int, in_size: int, ndim: int, n_classes: int
) -> NetworkPlan:
    """Infer every layer's shape for ``arch`` on inputs of ``in_channels x in_size**ndim``.

    Returns an infeasible plan (with the reason) when a width is below 1, a kernel is not a
    positive odd number, the block count is out of range, or the spatial size shrinks below 1.
    """
    n = int(arch["num_blocks"])
    if not 1 <= n <= MAX_BLOCKS:
        return NetworkPlan((), 0, 0, f"num_blocks must be in 1..{MAX_BLOCKS}, got {n}")
    if str(arch["activation"]) not in ACTIVATIONS:
        return NetworkPlan(
            (), 0, 0, f"activation must be one of {ACTIVATIONS}, got {arch['activation']!r}"
        )
    layers: list[LayerPlan] = []
    params = 0
    c, size = in_channels, in_size
    for i in range(1, n + 1):
        w, k, d, e, skip = (_plain(f, arch[f"b{i}_{f}"]) for f in BLOCK_FIELDS)
        if w < 1 or e < 1:
            return NetworkPlan(
                (), 0, 0, f"block {i}: width*expand must be >= 1, got width={w}, expand={e}"
            )
        if k < 1 or k % 2 == 0:
            return NetworkPlan(
                (), 0, 0, f"block {i}: kernel must be a positive odd number, got {k}"
            )
        if d not in ("none", "stride", "maxpool"):
            return NetworkPlan((), 0, 0, f"block {i}: down must be none/stride/maxpool, got {d!r}")
        s = 2 if d == "stride" else 1
        out = _conv_out(size, k, s)
        hid = w * e
        layers.append(LayerPlan(f"blocks.{i - 1}.conv1", "conv", c, hid, k, s, out, ndim))
        layers.append(LayerPlan(f"blocks.{i - 1}.conv2", "conv", hid, w, 1, 1, out, ndim))
        params += 2 * hid + 2 * w  # BN affine
        if skip and (c != w or s != 1):
            layers.append(LayerPlan(f"blocks.{i - 1}.shortcut.0", "conv", c, w, 1, s, out, ndim))
            params += 2 * w
        if d == "maxpool":
            if out < 2:
                return NetworkPlan(
                    (),
                    0,
                    0,
                    f"block {i}: spatial size {out} before max-pooling shrinks below 1; "
                    "use fewer downsampling blocks",
                )
            out //= 2
        c, size = w, out
    layers.append(LayerPlan("head", "linear", c, n_classes, 1, 1, 1, ndim))
    params += n_classes  # head bias
    params += sum(layer.weights for layer in layers)
    return NetworkPlan(tuple(layers), params, sum(layer.macs for layer in layers))
