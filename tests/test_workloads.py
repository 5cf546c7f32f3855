"""Tests of archgym.workloads: layer lowering, the built-in tables, lookup, torch tracing."""

from __future__ import annotations

import pytest

from archgym import workloads
from archgym.errors import ConfigError
from archgym.workloads import Layer, Workload


def test_conv_lowers_to_scalesim_gemm_dims() -> None:
    # SCALE-Sim operand_matrix.py: M = ofmap px, K = fh*fw*C, N = num_filters.
    layer = Layer("c", "conv", 10, 9, 3, 2, 3, 5, 1)
    assert (layer.ofmap_h, layer.ofmap_w) == (8, 8)
    assert (layer.m, layer.n, layer.k) == (64, 5, 18)
    assert layer.macs == 64 * 5 * 18
    assert layer.ifmap_words == 10 * 9 * 3


def test_ofmap_uses_scalesim_ceil_formula() -> None:
    # topology_utils.py: ofmap = ceil((ifmap - filter + stride) / stride); 14x14, 1x1, s2 -> 8.
    assert Layer("d", "conv", 14, 14, 1, 1, 4, 4, 2).ofmap_h == 8
    assert Layer("d", "conv", 13, 13, 1, 1, 4, 4, 2).ofmap_h == 7


def test_gemm_layer_matches_scalesim_gemm_mode() -> None:
    # topology_utils.load_arrays_gemm: ifmap = M x K, filter = 1 x K, C = 1, N filters.
    g = Layer.gemm("g", 128, 768, 64, repeat=12)
    assert (g.ifmap_h, g.ifmap_w, g.filter_h, g.filter_w, g.channels) == (128, 64, 1, 64, 1)
    assert (g.m, g.n, g.k, g.instances) == (128, 768, 64, 12)


def test_depthwise_is_one_gemm_per_channel() -> None:
    dw = Layer("dw", "conv", 114, 114, 3, 3, 32, 32, 1, groups=32)
    assert (dw.m, dw.n, dw.k, dw.instances) == (112 * 112, 1, 9, 32)


@pytest.mark.parametrize("field", ["ifmap_h", "filter_w", "channels", "num_filters", "stride"])
@pytest.mark.parametrize("bad", [0, -3])
def test_malformed_layer_names_layer_and_field(field: str, bad: int) -> None:
    kw = dict(
        name="conv7",
        kind="conv",
        ifmap_h=8,
        ifmap_w=8,
        filter_h=3,
        filter_w=3,
        channels=4,
        num_filters=4,
        stride=1,
    )
    kw[field] = bad
    with pytest.raises(ConfigError, match=rf"conv7.*{field}"):
        Layer(**kw)  # type: ignore[arg-type]


def test_filter_larger_than_ifmap_and_bad_groups_raise() -> None:
    with pytest.raises(ConfigError, match="must fit"):
        Layer("x", "conv", 2, 2, 3, 3, 1, 1)
    with pytest.raises(ConfigError, match="groups"):
        Layer("x", "conv", 8, 8, 3, 3, 6, 4, groups=4)


def test_builtin_workloads_mac_counts() -> None:
    # Published MAC counts at 224x224 (torchvision / the papers): ResNet-18 1.81 G,
    # ResNet-50 4.09 G, MobileNetV2 300 M, VGG-16 15.47 G; exact values hand-summed here.
    assert workloads.get("resnet18").macs == 1_814_073_344
    assert workloads.get("resnet50").macs == 4_089_184_256
    assert workloads.get("mobilenet_v2").macs == 300_774_272
    assert workloads.get("vgg16").macs == 15_470_264_320
    # BERT-base at seq 128: 12 * (128*768*(3*768 + 768 + 2*3072) + 2*12*128*128*64)
    assert workloads.get("bert_base").macs == 12 * (
        128 * 768 * (4 * 768 + 2 * 3072) + 2 * 12 * 128 * 128 * 64
    )


def test_resnet_strided_layers_have_real_output_sizes() -> None:
    wl = workloads.get("resnet18")
    sizes = {x.name: x.ofmap_h for x in wl.layers if x.kind == "conv"}
    assert sizes["conv1"] == 112
    assert sizes["layer2.0.conv1"] == sizes["layer2.0.downsample"] == 28
    assert sizes["layer4.1.conv2"] == 7


def test_names_get_and_did_you_mean() -> None:
    assert set(workloads.names()) >= {
        "resnet18",
        "resnet50",
        "bert_base",
        "mobilenet_v2",
        "vgg16",
        "vit_b16",
        "gpt2",
        "llama7b_prefill",
        "llama7b_decode",
    }
    assert workloads.get("resnet50") is workloads.get("resnet50")
    with pytest.raises(ConfigError, match=r"Did you mean 'resnet50'.*Known workloads"):
        workloads.get("resnet5O")


def test_as_arrays() -> None:
    wl = workloads.get("bert_base")
    a = wl.as_arrays()
    assert a["m"].shape == (len(wl),)
    assert (a["macs"].sum()) == wl.macs
    assert (a["ofmap_words"] == a["m"] * a["n"]).all()


def test_workload_rejects_duplicates_and_empty() -> None:
    layer = Layer.gemm("g", 2, 2, 2)
    with pytest.raises(ConfigError, match="repeats"):
        Workload("w", (layer, layer))
    with pytest.raises(ConfigError, match="at least one"):
        Workload("w", ())


def test_from_torch_traces_conv_linear_matmul() -> None:
    import torch

    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(16)
            self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
            self.fc = nn.Linear(16, 24)

        def forward(self, x):  # type: ignore[no-untyped-def]
            y = self.fc(self.dw(self.bn(self.c1(x))).mean((2, 3)))  # (B, 24)
            q = y.view(-1, 4, 6)  # (B, 4, 6)
            return q @ q.transpose(-2, -1)

    wl = workloads.from_torch(Net(), torch.randn(2, 3, 32, 32))
    dims = [(x.kind, x.m, x.n, x.k, x.instances) for x in wl.layers]
    assert dims == [
        ("conv", 16 * 16, 16, 27, 2),  # batch 2 -> repeat 2
        ("conv", 16 * 16, 1, 9, 32),  # depthwise: 16 groups x batch 2
        ("gemm", 2, 24, 16, 1),
        ("gemm", 4, 4, 6, 2),
    ]
    assert wl.layers[0].ifmap_h == 33  # 32 + 2*1 padding, last row unused at stride 2


def test_from_torch_rejects_unsupported_weighted_layer() -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Conv3d(1, 2, 3))
    with pytest.raises(ConfigError, match=r"'0'.*Conv3d"):
        workloads.from_torch(model, torch.randn(1, 1, 4, 4, 4))


def test_workload_names_ignore_case_and_separators() -> None:
    from archgym.workloads import get

    assert get("mobilenetv2").name == get("mobilenet_v2").name == get("MobileNet-V2").name


def test_derived_tables_are_built_once_per_workload_and_key() -> None:
    # cost models keep per-workload tables here; one built for another workload or key
    # would silently evaluate the wrong layers
    calls: list[str] = []

    def build(wl: Workload) -> int:
        calls.append(wl.name)
        return len(wl.layers)

    a, b = workloads.get("resnet18"), Workload("tiny", (Layer.gemm("g", 4, 4, 4),))
    assert a.derived("test-key", build) == len(a.layers)
    assert a.derived("test-key", build) == len(a.layers)
    assert b.derived("test-key", build) == 1
    assert a.derived("other-key", lambda wl: "x") == "x"
    assert calls == ["resnet18", "tiny"]
    assert b == Workload("tiny", (Layer.gemm("g", 4, 4, 4),))  # the cache is not compared
