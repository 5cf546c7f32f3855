"""Trace a torch module into a :class:`~archgym.workloads.Workload`.

Conv1d/Conv2d (groups included) and Linear are caught with forward hooks; matrix products
(``torch.matmul``, ``@``, ``torch.bmm``, ``torch.mm`` and
``torch.nn.functional.scaled_dot_product_attention``) with a ``TorchFunctionMode``. Torch is
imported inside the function so that importing archgym does not import torch.
"""

from __future__ import annotations

import math
from typing import Any

from archgym.errors import ConfigError
from archgym.workloads._layer import Layer, Workload

__all__ = ["from_torch"]

# Modules that hold weights but do no GEMM work worth modelling on a systolic array.
_WEIGHTED_NO_GEMM = (
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
    "Embedding",
    "EmbeddingBag",
    "InstanceNorm2d",
    "PReLU",
)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def from_torch(model: Any, example_input: Any, name: str = "torch_model") -> Workload:
    """Run ``model(example_input)`` once and record its conv, linear and matmul layers.

    Batch elements become ``repeat``; conv padding is folded into the ifmap size (SCALE-Sim
    pads nothing); broadcast batch dims of a matmul become ``repeat``.

    Args:
        model: A ``torch.nn.Module``.
        example_input: A tensor, or a tuple of positional arguments.
        name: The workload's name.

    Raises:
        ConfigError: The model holds weights in a layer kind this tracer cannot lower (e.g.
            Conv3d), uses dilation or unequal strides, or records no layer at all.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    nn = torch.nn
    for mod_name, mod in model.named_modules():
        own = any(True for _ in mod.parameters(recurse=False))
        if own and not isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            if type(mod).__name__ not in _WEIGHTED_NO_GEMM:
                raise ConfigError(
                    f"from_torch: layer {mod_name or '<root>'!r} of type "
                    f"{type(mod).__name__} holds weights but cannot be lowered to a GEMM; "
                    f"supported: Conv1d, Conv2d, Linear, matmul/bmm/attention (and norms, "
                    f"embeddings, which are skipped)"
                )

    layers: list[Layer] = []

    def add(kind: str, base: str, **kw: Any) -> None:
        layers.append(Layer(name=f"{base}#{len(layers)}", kind=kind, **kw))  # type: ignore[arg-type]

    def conv_hook(mod: Any, args: tuple[Any, ...], _out: Any, mod_name: str) -> None:
        x = args[0]
        if isinstance(mod, nn.Conv1d):  # a 1 x L conv
            b, c, w = x.shape if x.dim() == 3 else (1, *x.shape)
            h, kh, kw_, ph, pw = 1, 1, mod.kernel_size[0], 0, _pad(mod, 0)
            sh = sw = mod.stride[0]
            dh, dw = 1, mod.dilation[0]
        else:
            b, c, h, w = x.shape if x.dim() == 4 else (1, *x.shape)
            (kh, kw_), (sh, sw), (dh, dw) = (
                _pair(mod.kernel_size),
                _pair(mod.stride),
                _pair(mod.dilation),
            )
            ph, pw = _pad(mod, 0), _pad(mod, 1)
        if dh != 1 or dw != 1:
            raise ConfigError(f"from_torch: layer {mod_name!r} uses dilation; not supported")
        if sh != sw:
            raise ConfigError(
                f"from_torch: layer {mod_name!r} has unequal strides {sh}x{sw}; SCALE-Sim "
                f"layers have one stride"
            )
        # The padded ifmap rows/cols some window touches (see archgym.workloads._layer).
        oh = (int(h) + 2 * ph - kh) // sh + 1
        ow = (int(w) + 2 * pw - kw_) // sw + 1
        add(
            "conv",
            mod_name,
            ifmap_h=(oh - 1) * sh + kh,
            ifmap_w=(ow - 1) * sw + kw_,
            filter_h=kh,
            filter_w=kw_,
            channels=int(c),
            num_filters=mod.out_channels,
            stride=sh,
            groups=mod.groups,
            repeat=int(b),
        )

    def _pad(mod: Any, i: int) -> int:
        p = mod.padding
        if isinstance(p, str):
            if p == "valid":
                return 0
            k = mod.kernel_size[i]
            return (k - 1) // 2  # 'same' with stride 1
        return int(p[i]) if isinstance(p, (tuple, list)) else int(p)

    def linear_hook(mod: Any, args: tuple[Any, ...], _out: Any, mod_name: str) -> None:
        x = args[0]
        m = int(math.prod(x.shape[:-1])) if x.dim() > 1 else 1
        layers.append(Layer.gemm(f"{mod_name}#{len(layers)}", m, mod.out_features, mod.in_features))

    def matmul(a: Any, b: Any, label: str) -> None:
        if a.dim() < 1 or b.dim() < 1:
            return
        m = int(a.shape[-2]) if a.dim() > 1 else 1
        k = int(a.shape[-1])
        n = int(b.shape[-1]) if b.dim() > 1 else 1
        batch = torch.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        layers.append(Layer.gemm(f"{label}#{len(layers)}", m, n, k, int(math.prod(batch))))

    F = torch.nn.functional
    mm_funcs = {
        torch.matmul,
        torch.Tensor.matmul,
        torch.Tensor.__matmul__,
        torch.bmm,
        torch.Tensor.bmm,
        torch.mm,
        torch.Tensor.mm,
    }

    class _Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            kwargs = kwargs or {}
            if func in mm_funcs and len(args) >= 2:
                matmul(args[0], args[1], getattr(func, "__name__", "matmul"))
            elif func is F.scaled_dot_product_attention:
                q, k, v = args[:3]
                matmul(q, k.transpose(-2, -1), "sdpa_scores")
                matmul(torch.empty(*q.shape[:-1], k.shape[-2], device="meta"), v, "sdpa_values")
            return func(*args, **kwargs)

    handles = []
    for mod_name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            handles.append(
                mod.register_forward_hook(lambda m_, a, o, n_=mod_name: conv_hook(m_, a, o, n_))
            )
        elif isinstance(mod, nn.Linear):
            handles.append(
                mod.register_forward_hook(lambda m_, a, o, n_=mod_name: linear_hook(m_, a, o, n_))
            )
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    try:
        with torch.no_grad(), _Mode():
            model(*args)
    finally:
        for h in handles:
            h.remove()
    if not layers:
        raise ConfigError(
            f"from_torch: tracing {type(model).__name__} recorded no conv, linear or matmul layer"
        )
    return Workload(name, tuple(layers), f"traced from {type(model).__name__}")
