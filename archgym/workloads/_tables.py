"""The built-in workload tables, written as small Python builders.

Conventions (all batch 1, 8-bit words as in SCALE-Sim):

* Conv ifmap sizes include the padding the conv uses (SCALE-Sim pads nothing): a k x k conv
  with stride s and padding p on an H x H input has ``out = (H + 2p - k) // s + 1`` and is the
  row ``ifmap = (out - 1) * s + k`` (``H + 2p`` minus padding rows no window touches), for
  which SCALE-Sim's ceil-based ofmap formula gives the real ``out``.
* Transformer blocks are listed once with ``repeat = number of blocks`` (times heads for the
  per-head attention matmuls); Q/K/V projections are one fused GEMM.
* Depthwise convs are ``groups == channels`` (each channel its own 1-filter GEMM), the way
  SCALE-Sim splits a ``DP`` layer into per-channel layers.
"""

from __future__ import annotations

from collections.abc import Callable

from archgym.workloads._layer import Layer, Workload

__all__ = ["BUILDERS"]


def _conv(
    name: str,
    hw: int,
    k: int,
    cin: int,
    cout: int,
    stride: int = 1,
    pad: int | None = None,
    groups: int = 1,
) -> Layer:
    """A square conv on an ``hw x hw`` (unpadded) input, padding ``k // 2`` unless given."""
    p = k // 2 if pad is None else pad
    used = (_out(hw, k, stride, p) - 1) * stride + k
    return Layer(name, "conv", used, used, k, k, cin, cout, stride, groups)


def _out(hw: int, k: int, stride: int, pad: int) -> int:
    return (hw + 2 * pad - k) // stride + 1


def resnet18() -> Workload:
    """ResNet-18, 224x224 (torchvision layout: stride on the first 3x3 of a stage)."""
    ls = [_conv("conv1", 224, 7, 3, 64, 2, 3)]
    hw, cin = 56, 64  # after the 3x3/2 max-pool
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            s = 2 if (stage > 1 and block == 0) else 1
            p = f"layer{stage}.{block}"
            ls.append(_conv(f"{p}.conv1", hw, 3, cin, width, s))
            out = _out(hw, 3, s, 1)
            ls.append(_conv(f"{p}.conv2", out, 3, width, width))
            if s != 1 or cin != width:
                ls.append(_conv(f"{p}.downsample", hw, 1, cin, width, s, 0))
            hw, cin = out, width
    ls.append(Layer.gemm("fc", 1, 1000, 512))
    return Workload("resnet18", tuple(ls), "ResNet-18, 224x224 input, batch 1")


def resnet50() -> Workload:
    """ResNet-50 v1.5, 224x224 (stride on the 3x3 conv of the bottleneck)."""
    ls = [_conv("conv1", 224, 7, 3, 64, 2, 3)]
    hw, cin = 56, 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for block in range(blocks):
            s = 2 if (stage > 1 and block == 0) else 1
            p = f"layer{stage}.{block}"
            ls.append(_conv(f"{p}.conv1", hw, 1, cin, width, 1, 0))
            ls.append(_conv(f"{p}.conv2", hw, 3, width, width, s))
            out = _out(hw, 3, s, 1)
            ls.append(_conv(f"{p}.conv3", out, 1, width, 4 * width, 1, 0))
            if block == 0:
                ls.append(_conv(f"{p}.downsample", hw, 1, cin, 4 * width, s, 0))
            hw, cin = out, 4 * width
    ls.append(Layer.gemm("fc", 1, 1000, 2048))
    return Workload("resnet50", tuple(ls), "ResNet-50 v1.5, 224x224 input, batch 1")


def mobilenet_v2() -> Workload:
    """MobileNetV2 1.0, 224x224; depthwise convs as ``groups == channels``."""
    ls = [_conv("conv0", 224, 3, 3, 32, 2)]
    hw, cin = 112, 32
    cfg = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )
    i = 0
    for t, c, n, s in cfg:
        for j in range(n):
            stride = s if j == 0 else 1
            hidden = cin * t
            p = f"block{i}"
            if t != 1:
                ls.append(_conv(f"{p}.expand", hw, 1, cin, hidden, 1, 0))
            ls.append(_conv(f"{p}.dw", hw, 3, hidden, hidden, stride, 1, groups=hidden))
            hw = _out(hw, 3, stride, 1)
            ls.append(_conv(f"{p}.project", hw, 1, hidden, c, 1, 0))
            cin = c
            i += 1
    ls.append(_conv("conv_last", hw, 1, cin, 1280, 1, 0))
    ls.append(Layer.gemm("fc", 1, 1000, 1280))
    return Workload("mobilenet_v2", tuple(ls), "MobileNetV2 1.0, 224x224 input, batch 1")


def vgg16() -> Workload:
    """VGG-16 (configuration D), 224x224."""
    ls: list[Layer] = []
    hw, cin = 224, 3
    for block, (width, convs) in enumerate(
        ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1
    ):
        for j in range(convs):
            ls.append(_conv(f"conv{block}_{j + 1}", hw, 3, cin, width))
            cin = width
        hw //= 2
    ls += [
        Layer.gemm("fc6", 1, 4096, 512 * 7 * 7),
        Layer.gemm("fc7", 1, 4096, 4096),
        Layer.gemm("fc8", 1, 1000, 4096),
    ]
    return Workload("vgg16", tuple(ls), "VGG-16, 224x224 input, batch 1")


def _encoder(
    seq: int,
    d: int,
    heads: int,
    ff: int,
    blocks: int,
    *,
    kv: int | None = None,
    gated: bool = False,
    prefix: str = "block",
) -> list[Layer]:
    """One transformer block's GEMMs, ``repeat = blocks`` (x heads for attention matmuls).

    ``kv`` is the attention context length (defaults to ``seq``); ``gated`` adds the SwiGLU
    gate projection.
    """
    kv = seq if kv is None else kv
    hd = d // heads
    ls = [
        Layer.gemm(f"{prefix}.qkv", seq, 3 * d, d, blocks),
        Layer.gemm(f"{prefix}.attn_scores", seq, kv, hd, blocks * heads),
        Layer.gemm(f"{prefix}.attn_values", seq, hd, kv, blocks * heads),
        Layer.gemm(f"{prefix}.attn_out", seq, d, d, blocks),
    ]
    if gated:
        ls.append(Layer.gemm(f"{prefix}.ffn_gate", seq, ff, d, blocks))
    ls += [
        Layer.gemm(f"{prefix}.ffn_up", seq, ff, d, blocks),
        Layer.gemm(f"{prefix}.ffn_down", seq, d, ff, blocks),
    ]
    return ls


def bert_base() -> Workload:
    """BERT-base encoder, sequence 128: 12 blocks, d=768, 12 heads, FFN 3072."""
    return Workload(
        "bert_base",
        tuple(_encoder(128, 768, 12, 3072, 12)),
        "BERT-base encoder GEMMs, seq 128, batch 1 (embeddings/pooler omitted)",
    )


def vit_b16() -> Workload:
    """ViT-B/16 at 224x224: patch-embedding conv, 197 tokens, 12 blocks, classifier."""
    ls = [Layer("patch_embed", "conv", 224, 224, 16, 16, 3, 768, 16)]
    ls += _encoder(197, 768, 12, 3072, 12)
    ls.append(Layer.gemm("head", 1, 1000, 768))
    return Workload("vit_b16", tuple(ls), "ViT-B/16, 224x224 input (197 tokens), batch 1")


def gpt2() -> Workload:
    """GPT-2 small, sequence 512: 12 blocks, d=768, 12 heads, FFN 3072, tied LM head."""
    ls = _encoder(512, 768, 12, 3072, 12)
    ls.append(Layer.gemm("lm_head", 512, 50257, 768))
    return Workload("gpt2", tuple(ls), "GPT-2 small (124M), seq 512 prefill, batch 1")


def llama7b_prefill() -> Workload:
    """LLaMA-7B prefill of 512 tokens: 32 blocks, d=4096, 32 heads, SwiGLU FFN 11008."""
    ls = _encoder(512, 4096, 32, 11008, 32, gated=True)
    ls.append(Layer.gemm("lm_head", 1, 32000, 4096))
    return Workload(
        "llama7b_prefill",
        tuple(ls),
        "LLaMA-7B prefill, 512 tokens, batch 1 (logits for the last token only)",
    )


def llama7b_decode() -> Workload:
    """LLaMA-7B decode of one token against a 512-entry KV cache."""
    ls = _encoder(1, 4096, 32, 11008, 32, kv=512, gated=True)
    ls.append(Layer.gemm("lm_head", 1, 32000, 4096))
    return Workload(
        "llama7b_decode", tuple(ls), "LLaMA-7B decode step: 1 token, KV length 512, batch 1"
    )


BUILDERS: dict[str, Callable[[], Workload]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "vgg16": vgg16,
    "bert_base": bert_base,
    "vit_b16": vit_b16,
    "gpt2": gpt2,
    "llama7b_prefill": llama7b_prefill,
    "llama7b_decode": llama7b_decode,
}
