"""Tests of the NAS search space, compression and oracle (archgym.envs.nas)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archgym.envs.nas.arch import TABLE_VALUES, arch_key, canonical, plan_network
from archgym.envs.nas.compress import Compression, check_compression, parse_sparsity
from archgym.errors import DesignError

BASE = {
    "num_blocks": 2,
    "activation": "relu",
    "b1_width": 8,
    "b1_kernel": 3,
    "b1_down": "maxpool",
    "b1_expand": 1,
    "b1_skip": False,
    "b2_width": 16,
    "b2_kernel": 3,
    "b2_down": "none",
    "b2_expand": 2,
    "b2_skip": True,
}


def test_canonical_key_ignores_inactive_blocks() -> None:
    a = canonical(BASE)
    b = canonical(
        {
            **BASE,
            "b3_width": 64,
            "b3_kernel": 7,
            "b3_down": "stride",
            "b3_expand": 4,
            "b3_skip": True,
        }
    )
    assert a == b
    assert arch_key(a) == "relu|8k3-maxpool-e1|16k3-none-e2-skip"


def test_plan_counts_match_hand_calculation() -> None:
    # Hand count on 1x8x8 digits: b1 conv1 1*8*9=72 w, conv2 8*8=64, BN 2*8+2*8=32;
    # maxpool 8->4. b2 conv1 8*32*9=2304, conv2 32*16=512, shortcut 8*16=128,
    # BN 2*32+2*16+2*16=128. head 16*10+10=170. Total 72+64+32+2304+512+128+128+170 = 3410.
    p = plan_network(BASE, 1, 8, 2, 10)
    assert p.feasible and p.params == 3410
    # MACs: 72*64 + 64*64 + 2304*16 + 512*16 + 128*16 + 160 = 4608+4096+36864+8192+2048+160
    assert p.macs == 55968


def test_infeasible_spatial_and_width() -> None:
    arch = {**BASE, "num_blocks": 4}
    for i in (1, 2, 3, 4):
        arch.update(
            {
                f"b{i}_width": 8,
                f"b{i}_kernel": 3,
                f"b{i}_down": "maxpool",
                f"b{i}_expand": 1,
                f"b{i}_skip": False,
            }
        )
    p = plan_network(arch, 1, 8, 2, 10)  # 8 -> 4 -> 2 -> 1 -> (pool of 1) 0
    assert not p.feasible and "block 4" in p.reason and "below 1" in p.reason
    p0 = plan_network({**BASE, "b2_width": 0}, 1, 8, 2, 10)
    assert not p0.feasible and "width" in p0.reason


def test_nm_not_dividing_is_infeasible() -> None:
    plan = plan_network(BASE, 1, 8, 2, 10)
    reason = check_compression(plan.layers, Compression("2:4", 32, "all"))
    assert "blocks.0.conv1 has 9" in reason  # 1 channel x 3x3 kernel is not divisible by 4
    assert check_compression(plan.layers, Compression("2:4", 32, "inner")) == ""
    with pytest.raises(DesignError, match="N:M"):
        parse_sparsity("4:2")
    with pytest.raises(DesignError, match="weight_bits"):
        Compression("dense", 3)


def test_masks_and_quantization_levels() -> None:
    from archgym.envs.nas.compress import _mask, _quantize

    w = torch.randn(16, 32, generator=torch.Generator().manual_seed(0))
    m = _mask(w, "nm", 2, 4)
    assert torch.equal(m.reshape(16, 8, 4).sum(2), torch.full((16, 8), 2))
    m14 = _mask(w, "nm", 1, 4)
    assert torch.equal(m14.reshape(16, 8, 4).sum(2), torch.ones(16, 8, dtype=torch.long))
    mu = _mask(w, "unstructured", 0, 25)
    assert int(mu.sum()) == 128
    mb = _mask(w, "block", 2, 50)
    tiles = mb.reshape(8, 2, 16, 2).float().mean(dim=(1, 3))
    assert set(tiles.unique().tolist()) <= {0.0, 1.0} and int(tiles.sum()) == 64
    q4 = _quantize(w, 4)
    for row in q4:
        assert len(torch.unique(row)) <= 16
    q2 = _quantize(w, 2)
    assert max(len(torch.unique(r)) for r in q2) <= 3


def _tiny_data():  # type: ignore[no-untyped-def]
    from archgym.envs.nas.datasets import load_task

    return load_task("digits")


def test_training_is_deterministic_and_compression_is_real() -> None:
    from archgym.envs.nas.oracle import OracleConfig, evaluate_compression
    from archgym.envs.nas.train import TrainConfig, reestimate_bn, train_architecture

    torch.set_num_threads(1)
    data = _tiny_data()
    arch = canonical({**BASE, "num_blocks": 1})
    cfg = TrainConfig(epochs=2)
    state = torch.random.get_rng_state()
    r1 = train_architecture(arch, data, seed=3, cfg=cfg)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    r2 = train_architecture(arch, data, seed=3, cfg=cfg)
    assert r1.val_accuracy == r2.val_accuracy and r1.test_accuracy == r2.test_accuracy
    for p1, p2 in zip(r1.net.parameters(), r2.net.parameters(), strict=True):
        assert torch.equal(p1, p2)
    assert r1.val_accuracy > 0.15  # 10 classes (chance 0.10); a 258-parameter net after 2 epochs

    plan = plan_network(arch, 1, 8, 2, 10)
    ocfg = OracleConfig(finetune_epochs=0)
    row = evaluate_compression(r1.net, plan, data, Compression("2:4", 4, "inner"), ocfg)
    assert row["feasible"] and 0.0 <= row["val_accuracy"] <= 1.0
    dense_w = sum(lp.weights for lp in plan.layers)
    inner = plan.layers[1].weights  # only blocks.0.conv2 is inner in a 1-block net
    assert row["nonzero_weights"] <= dense_w - inner // 2
    bad = evaluate_compression(r1.net, plan, data, Compression("2:4", 32, "all"), ocfg)
    assert not bad["feasible"] and "divisible by 4" in bad["reason"]

    bn = r1.net.blocks[0].bn1
    before = bn.running_mean.clone()
    with torch.no_grad():
        r1.net.blocks[0].conv1.weight.mul_(0.5)
    reestimate_bn(r1.net, data.x_train[:256])
    assert not torch.allclose(before, bn.running_mean)
    # halving the conv weights halves the batch means the BN sees (no bias in conv1)
    assert torch.allclose(bn.running_mean, before * 0.5, atol=0.05)


@pytest.mark.slow
def test_full_oracle_path_one_architecture() -> None:
    from archgym.envs.nas.oracle import OracleConfig, measure_architecture

    torch.set_num_threads(1)
    rec = measure_architecture(BASE, _tiny_data(), OracleConfig(noise_fraction=1.0))
    assert rec["feasible"] and len(rec["points"]) == 48
    assert rec["val_accuracy"] > 0.9 and rec["val_accuracy_seed2"] is not None
    assert sum(p["feasible"] for p in rec["points"]) == 36


def test_table_values_are_a_subspace() -> None:
    from archgym.envs.nas.arch import PARAM_VALUES

    for k, vals in TABLE_VALUES.items():
        assert set(vals) <= set(PARAM_VALUES[k]), k
    assert np.prod([len(v) for v in PARAM_VALUES.values()]) > 1e5
