"""The accuracy oracle: deterministic training and evaluation of one architecture.

Same architecture, task, seed and :class:`TrainConfig` -> the same weights and accuracies on a
given machine and torch build (one torch thread; weight init under
``torch.random.fork_rng`` + ``torch.manual_seed`` so torch's global RNG is left as it was;
mini-batch order from a seeded ``torch.Generator``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from archgym.envs.nas.datasets import TaskData
from archgym.envs.nas.model import Network, build_network

__all__ = ["TrainConfig", "TrainResult", "train_architecture", "accuracy", "reestimate_bn"]


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters (identical for every architecture of a table).

    Attributes:
        epochs: Passes over the training split.
        batch_size: Mini-batch size.
        lr: Peak AdamW learning rate (one-cycle cosine schedule).
        weight_decay: AdamW weight decay.
    """

    epochs: int = 15
    batch_size: int = 64
    lr: float = 5e-3
    weight_decay: float = 1e-4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """A trained network and its dense measurements.

    Attributes:
        net: The trained network (eval mode).
        val_accuracy, test_accuracy: Fractions in ``[0, 1]``.
        params: Trainable parameters.
        macs: MACs per sample.
        train_time_s: Wall-clock training time on one thread.
    """

    net: Network
    val_accuracy: float
    test_accuracy: float
    params: int
    macs: int
    train_time_s: float


@torch.no_grad()
def accuracy(net: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Top-1 accuracy of ``net`` (put in eval mode) on ``(x, y)``."""
    net.eval()
    xt = torch.as_tensor(x)
    yt = torch.as_tensor(y)
    pred = net(xt).argmax(1)
    return float((pred == yt).float().mean())


@torch.no_grad()
def reestimate_bn(net: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> None:
    """Recompute every BatchNorm's running mean/variance from ``x`` (cumulative average).

    Pruning and quantization shift each layer's output distribution; the stored statistics of
    the dense network then normalise wrongly (2:4 pruning on digits loses tens of points without
    this step and about one with it). Weights are not changed.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches
    net.train()
    xt = torch.as_tensor(x)
    for i in range(0, xt.shape[0], batch_size):
        net(xt[i : i + batch_size])
    for m, mom in zip(bns, saved, strict=True):
        m.momentum = mom
    net.eval()


def fit(
    net: nn.Module,
    data: TaskData,
    cfg: TrainConfig,
    seed: int,
    epochs: int | None = None,
    after_step: Any = None,
) -> None:
    """Train ``net`` in place on the training split (AdamW, cosine one-cycle, cross-entropy).

    Args:
        after_step: Optional callable run after every optimiser step (e.g. re-apply a pruning mask).
    """
    epochs = cfg.epochs if epochs is None else epochs
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.as_tensor(data.x_train)
    y = torch.as_tensor(data.y_train)
    n = x.shape[0]
    steps = epochs * ((n + cfg.batch_size - 1) // cfg.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1))
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
            if after_step is not None:
                after_step()
    net.eval()


def train_architecture(
    arch: Mapping[str, Any], data: TaskData, seed: int = 0, cfg: TrainConfig | None = None
) -> TrainResult:
    """Build ``arch`` for ``data``, train it under ``seed`` and measure it.

    Call ``torch.set_num_threads(1)`` in the process first for reproducible timings (on 2 cores,
    2 threads were slower than 1 for these small networks).

    Raises:
        DesignError: The architecture cannot be built (the message says why).
    """
    cfg = cfg or TrainConfig()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net, plan = build_network(arch, data.in_channels, data.in_size, data.ndim, data.n_classes)
    t0 = time.perf_counter()
    fit(net, data, cfg, seed)
    dt = time.perf_counter() - t0
    return TrainResult(
        net=net,
        val_accuracy=accuracy(net, data.x_val, data.y_val),
        test_accuracy=accuracy(net, data.x_test, data.y_test),
        params=sum(p.numel() for p in net.parameters()),
        macs=plan.macs,
        train_time_s=dt,
    )
