"""Measure one architecture: train it, then evaluate every compression setting on it.

Training is the expensive part (about a second per digits network on one thread); each
compression setting reuses the trained weights: prune, fine-tune briefly with the mask held
fixed, quantize, re-estimate BatchNorm statistics, evaluate. This is what makes thousands of
(architecture, sparsity, bits) points cheap. The result is one JSON-serialisable record.
"""

from __future__ import annotations

import copy
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from archgym.envs.nas.arch import arch_key, canonical, plan_network
from archgym.envs.nas.compress import (
    SCOPES,
    SPARSITIES,
    WEIGHT_BITS,
    Compression,
    apply_compression,
    check_compression,
    compressed_layers,
)
from archgym.envs.nas.datasets import TaskData
from archgym.envs.nas.train import TrainConfig

__all__ = ["OracleConfig", "measure_architecture", "evaluate_compression", "all_compressions"]


@dataclass(frozen=True)
class OracleConfig:
    """Everything that fixes the numbers of a table (recorded in its metadata).

    Attributes:
        seed: Training seed of the reported accuracies.
        noise_seed: Second training seed, used on a deterministic ~``noise_fraction`` subset of
            architectures to measure seed-to-seed noise.
        noise_fraction: Fraction of architectures trained twice (chosen by a hash of the key).
        train: Dense training hyperparameters.
        finetune_epochs: Epochs of fine-tuning with the pruning mask fixed (0 = none); the
            quantization that follows is post-training.
        finetune_lr: Peak learning rate of that fine-tune.
        bn_samples: Training samples used to re-estimate BatchNorm statistics.
    """

    seed: int = 0
    noise_seed: int = 1
    noise_fraction: float = 0.1
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune_epochs: int = 1
    finetune_lr: float = 3e-3
    bn_samples: int = 512

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def all_compressions() -> list[Compression]:
    """The full grid SPARSITIES x WEIGHT_BITS x SCOPES (48 settings) a table records."""
    return [Compression(s, b, c) for s in SPARSITIES for b in WEIGHT_BITS for c in SCOPES]


def wants_noise_run(key: str, fraction: float) -> bool:
    """Deterministic choice of the architectures trained with a second seed."""
    return (zlib.crc32(key.encode()) % 1000) < int(round(fraction * 1000))


def evaluate_compression(
    net, plan, data: TaskData, comp: Compression, cfg: OracleConfig, ft_cache: dict | None = None
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Compress a copy of trained ``net`` with ``comp`` and measure it.

    Args:
        ft_cache: Optional dict reused across calls on the same ``net``: the pruned and
            fine-tuned float network per ``(sparsity, scope)``, so bit widths share one fine-tune.

    Returns:
        ``{"sparsity", "weight_bits", "scope", "feasible", "reason", "val_accuracy",
        "test_accuracy", "nonzero_weights", "effective_macs", "weight_bytes"}``.
    """
    import torch

    from archgym.envs.nas.compress import _quantize
    from archgym.envs.nas.train import accuracy, fit, reestimate_bn

    row: dict[str, Any] = {
        "sparsity": comp.sparsity,
        "weight_bits": comp.weight_bits,
        "scope": comp.scope,
    }
    reason = check_compression(plan.layers, comp)
    if reason:
        return {
            **row,
            "feasible": False,
            "reason": reason,
            "val_accuracy": None,
            "test_accuracy": None,
            "nonzero_weights": None,
            "effective_macs": None,
            "weight_bytes": None,
        }
    key = (comp.sparsity, comp.scope)
    cache = ft_cache if ft_cache is not None else {}
    if key not in cache:
        pruned = copy.deepcopy(net)
        masks = apply_compression(pruned, plan.layers, Compression(comp.sparsity, 32, comp.scope))
        if comp.sparsity != "dense" and cfg.finetune_epochs > 0:
            mods = dict(pruned.named_modules())

            def reapply() -> None:
                with torch.no_grad():
                    for name, m in masks.items():
                        mods[name].weight.mul_(m)

            ft = TrainConfig(
                epochs=cfg.finetune_epochs,
                batch_size=cfg.train.batch_size,
                lr=cfg.finetune_lr,
                weight_decay=cfg.train.weight_decay,
            )
            fit(pruned, data, ft, seed=cfg.seed + 7, after_step=reapply)
        cache[key] = (pruned, masks)
    pruned, masks = cache[key]
    model = copy.deepcopy(pruned)
    mods = dict(model.named_modules())
    if comp.weight_bits < 32:
        with torch.no_grad():
            for name, m in masks.items():
                w = mods[name].weight
                w2 = w.reshape(w.shape[0], -1)
                w.copy_(
                    (_quantize(w2, comp.weight_bits) * m.reshape(w.shape[0], -1)).reshape(w.shape)
                )
    reestimate_bn(model, data.x_train[: cfg.bn_samples])
    inside = {lp.name for lp in compressed_layers(plan.layers, comp.scope)}
    nonzero = 0
    eff_macs = 0.0
    bits = 0.0
    for lp in plan.layers:
        w = mods[lp.name].weight
        nz = int((w != 0).sum())
        nonzero += nz
        frac = nz / w.numel()
        eff_macs += lp.macs * (comp.density if lp.name in inside else frac)
        bits += nz * (comp.weight_bits if lp.name in inside else 32)
    return {
        **row,
        "feasible": True,
        "reason": "",
        "val_accuracy": accuracy(model, data.x_val, data.y_val),
        "test_accuracy": accuracy(model, data.x_test, data.y_test),
        "nonzero_weights": nonzero,
        "effective_macs": eff_macs,
        "weight_bytes": bits / 8.0,
    }


def measure_architecture(
    arch: Mapping[str, Any],
    data: TaskData,
    cfg: OracleConfig,
    compressions: Iterable[Compression] | None = None,
) -> dict[str, Any]:
    """Train ``arch`` once and evaluate each compression setting on it.

    Returns:
        A record ``{"key", "arch", "feasible", "reason", "params", "macs", "train_time_s",
        "val_accuracy", "test_accuracy", "val_accuracy_seed2", "test_accuracy_seed2",
        "points": [...]}``; infeasible architectures get ``feasible=False`` and no points.
        ``*_seed2`` are ``None`` unless the architecture is in the noise subset.
    """
    from archgym.envs.nas.train import train_architecture

    arch = canonical(arch)
    key = arch_key(arch)
    plan = plan_network(arch, data.in_channels, data.in_size, data.ndim, data.n_classes)
    rec: dict[str, Any] = {
        "key": key,
        "arch": arch,
        "feasible": plan.feasible,
        "reason": plan.reason,
    }
    if not plan.feasible:
        return rec
    t0 = time.perf_counter()
    res = train_architecture(arch, data, seed=cfg.seed, cfg=cfg.train)
    rec.update(
        params=res.params,
        macs=res.macs,
        train_time_s=round(res.train_time_s, 4),
        val_accuracy=res.val_accuracy,
        test_accuracy=res.test_accuracy,
        val_accuracy_seed2=None,
        test_accuracy_seed2=None,
    )
    if wants_noise_run(key, cfg.noise_fraction):
        r2 = train_architecture(arch, data, seed=cfg.noise_seed, cfg=cfg.train)
        rec.update(val_accuracy_seed2=r2.val_accuracy, test_accuracy_seed2=r2.test_accuracy)
    cache: dict = {}
    comps = all_compressions() if compressions is None else list(compressions)
    rec["points"] = [evaluate_compression(res.net, plan, data, c, cfg, cache) for c in comps]
    rec["measure_time_s"] = round(time.perf_counter() - t0, 4)
    return rec
