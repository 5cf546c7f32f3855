"""`Layer` and `Workload`: DNN layers in SCALE-Sim's topology terms, lowered to GEMMs.

A layer is described exactly as a SCALE-Sim topology row (``ifmap_h, ifmap_w, filter_h,
filter_w, channels, num_filters, stride``). SCALE-Sim applies **no padding** and computes the
output as ``ceil((ifmap - filter + stride) / stride)`` (``scalesim/topology_utils.py``), i.e.
``ceil((ifmap - filter) / stride) + 1`` -- one more than PyTorch's
``(ifmap - filter) // stride + 1`` whenever the stride does not divide ``ifmap - filter``.
The built-in tables therefore give the *used* padded ifmap, ``(ofmap - 1) * stride + filter``
(a 3x3/pad-1 conv on 56x56 is ifmap 58 at stride 1 and 57 at stride 2), for which both
formulas agree and SCALE-Sim's ofmap equals the real network's.

The GEMM a conv lowers to (im2col, ``scalesim/compute/operand_matrix.py``) is::

    M = ofmap_h * ofmap_w          rows of the ifmap operand matrix  (ofmap pixels)
    K = filter_h * filter_w * C    its columns                       (conv window)
    N = num_filters                columns of the filter operand matrix

SCALE-Sim's GEMM topology mode maps ``(M, N, K)`` to the conv row
``ifmap = M x K, filter = 1 x K, channels = 1, num_filters = N, stride = 1``;
:meth:`Layer.gemm` does the same, so both kinds evaluate through one formula.

Two multiplicities extend SCALE-Sim's single-instance rows:

* ``groups`` (grouped/depthwise conv): each group is an independent GEMM with
  ``K = fh*fw*C/groups`` and ``N = num_filters/groups``, run back-to-back. This is how
  SCALE-Sim runs a depthwise layer (a name containing ``DP`` is split into ``channels``
  single-channel layers), so a depthwise conv has ``groups == channels``.
* ``repeat``: identical independent instances run back-to-back (attention heads, batch
  elements, or identical transformer blocks listed once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np

from archgym.errors import ConfigError

_T = TypeVar("_T")
_MISSING = object()

__all__ = ["Layer", "Workload"]

LayerKind = Literal["conv", "gemm"]
_INT_FIELDS = (
    "ifmap_h",
    "ifmap_w",
    "filter_h",
    "filter_w",
    "channels",
    "num_filters",
    "stride",
    "groups",
    "repeat",
)


@dataclass(frozen=True)
class Layer:
    """One conv or GEMM layer in SCALE-Sim topology terms.

    Attributes:
        name: Layer name, unique within its workload.
        kind: ``"conv"`` or ``"gemm"`` (informational; both lower to one GEMM per instance).
        ifmap_h, ifmap_w: Input feature-map size, padding included.
        filter_h, filter_w: Kernel size.
        channels: Input channels (all groups together).
        num_filters: Output channels (all groups together).
        stride: Stride in both directions (SCALE-Sim has one stride per layer).
        groups: Conv groups; ``channels`` for a depthwise conv.
        repeat: Identical independent instances run back-to-back.

    Raises:
        ConfigError: A dimension is not a positive integer, the filter is larger than the
            ifmap, or ``groups`` does not divide ``channels`` and ``num_filters``; the message
            names the layer and the field.
    """

    name: str
    kind: LayerKind
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride: int = 1
    groups: int = 1
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("conv", "gemm"):
            raise ConfigError(
                f"layer {self.name!r}: kind must be 'conv' or 'gemm', but got {self.kind!r}"
            )
        for f in _INT_FIELDS:
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ConfigError(
                    f"layer {self.name!r}: field {f!r} must be a positive integer, but got "
                    f"{v!r}; fix the workload table"
                )
            object.__setattr__(self, f, int(v))
        if self.filter_h > self.ifmap_h or self.filter_w > self.ifmap_w:
            raise ConfigError(
                f"layer {self.name!r}: filter ({self.filter_h}x{self.filter_w}) must fit in the "
                f"ifmap ({self.ifmap_h}x{self.ifmap_w}); SCALE-Sim applies no padding, so give "
                f"the padded ifmap size"
            )
        if self.channels % self.groups or self.num_filters % self.groups:
            raise ConfigError(
                f"layer {self.name!r}: field 'groups' ({self.groups}) must divide channels "
                f"({self.channels}) and num_filters ({self.num_filters})"
            )

    @classmethod
    def gemm(cls, name: str, m: int, n: int, k: int, repeat: int = 1) -> Layer:
        """A GEMM ``(M x K) @ (K x N)`` in SCALE-Sim's GEMM-mode conv encoding."""
        return cls(name, "gemm", m, k, 1, k, 1, n, 1, 1, repeat)

    @property
    def ofmap_h(self) -> int:
        """Output height as SCALE-Sim computes it: ``ceil((ifmap_h - filter_h) / stride) + 1``."""
        return -(-(self.ifmap_h - self.filter_h) // self.stride) + 1

    @property
    def ofmap_w(self) -> int:
        """Output width as SCALE-Sim computes it: ``ceil((ifmap_w - filter_w) / stride) + 1``."""
        return -(-(self.ifmap_w - self.filter_w) // self.stride) + 1

    @property
    def m(self) -> int:
        """GEMM M of one instance: ofmap pixels (SCALE-Sim's ``ofmap_px_per_filt``)."""
        return self.ofmap_h * self.ofmap_w

    @property
    def n(self) -> int:
        """GEMM N of one instance: filters per group."""
        return self.num_filters // self.groups

    @property
    def k(self) -> int:
        """GEMM K of one instance: the conv window of one group."""
        return self.filter_h * self.filter_w * (self.channels // self.groups)

    @property
    def instances(self) -> int:
        """Independent GEMM instances this layer runs: ``groups * repeat``."""
        return self.groups * self.repeat

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole layer (all instances)."""
        return self.m * self.n * self.k * self.instances

    @property
    def ifmap_words(self) -> int:
        """Distinct ifmap words of one instance (padded ifmap of one group)."""
        return self.ifmap_h * self.ifmap_w * (self.channels // self.groups)

    def scalesim_row(self) -> list[int | str]:
        """One instance as a SCALE-Sim conv topology row (name, ifmap_h, ..., stride)."""
        return [
            self.name,
            self.ifmap_h,
            self.ifmap_w,
            self.filter_h,
            self.filter_w,
            self.channels // self.groups,
            self.n,
            self.stride,
        ]


@dataclass(frozen=True)
class Workload:
    """A named sequence of layers, run one after another.

    Attributes:
        name: Registry name, e.g. ``"resnet18"``.
        layers: The layers, in execution order.
        description: One line on what the workload is (input size, sequence length...).
    """

    name: str
    layers: tuple[Layer, ...]
    description: str = ""
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ConfigError(f"workload {self.name!r} must have at least one layer")
        seen: set[str] = set()
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise ConfigError(
                    f"workload {self.name!r}: every layer must be a Layer, got {layer!r}"
                )
            if layer.name in seen:
                raise ConfigError(f"workload {self.name!r}: layer name {layer.name!r} repeats")
            seen.add(layer.name)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def macs(self) -> int:
        """Total multiply-accumulates."""
        return sum(layer.macs for layer in self.layers)

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Per-layer int64 arrays for vectorised models (cached; do not modify).

        Keys: ``m``, ``n``, ``k`` (GEMM dims of one instance), ``instances``
        (``groups * repeat``), ``ifmap_words``, ``filter_words`` (``k * n``),
        ``ofmap_words`` (``m * n``), all of one instance, and ``macs`` (whole layer).
        """
        if not self._arrays:
            ls = self.layers
            arr = {
                "m": np.array([x.m for x in ls], dtype=np.int64),
                "n": np.array([x.n for x in ls], dtype=np.int64),
                "k": np.array([x.k for x in ls], dtype=np.int64),
                "instances": np.array([x.instances for x in ls], dtype=np.int64),
                "ifmap_words": np.array([x.ifmap_words for x in ls], dtype=np.int64),
            }
            arr["filter_words"] = arr["k"] * arr["n"]
            arr["ofmap_words"] = arr["m"] * arr["n"]
            arr["macs"] = arr["m"] * arr["n"] * arr["k"] * arr["instances"]
            for a in arr.values():
                a.setflags(write=False)
            self._arrays.update(arr)
        return dict(self._arrays)

    def derived(self, key: str, build: Callable[[Workload], _T]) -> _T:
        """``build(self)``, computed once per workload and kept under ``key``.

        Cost models keep here the per-layer tables they derive from the layers (mapped GEMM
        dimensions per dataflow, float copies...), so that evaluating one design does not
        rebuild them. The workload is immutable, so the cache never goes stale; ``key``
        should name the model (``"systolic-analytical"``), and the value must not be
        modified by callers.
        """
        hit = self._derived.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._derived[key] = build(self)
        return hit  # type: ignore[no-any-return]
