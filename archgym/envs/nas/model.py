"""Build the torch network of an architecture (see :mod:`archgym.envs.nas.arch` for the layout).

Module names equal :attr:`archgym.envs.nas.arch.LayerPlan.name` (``blocks.0.conv1``, ``head``...),
so compression can address layers by the plan. Imports torch; keep it out of registry paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from archgym.envs.nas.arch import BLOCK_FIELDS, NetworkPlan, _plain, plan_network
from archgym.errors import DesignError

__all__ = ["build_network", "Block", "Network"]

_ACT = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "hardswish": nn.Hardswish}


class Block(nn.Module):
    """One macro block: conv(k, stride) -> BN -> act -> conv1x1 -> BN (+ shortcut) -> act -> pool."""

    def __init__(
        self,
        c_in: int,
        width: int,
        kernel: int,
        down: str,
        expand: int,
        skip: bool,
        act: str,
        ndim: int,
    ) -> None:
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if ndim == 2 else nn.BatchNorm1d
        pool = nn.MaxPool2d if ndim == 2 else nn.MaxPool1d
        stride = 2 if down == "stride" else 1
        hid = width * expand
        self.conv1 = conv(c_in, hid, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn1 = bn(hid)
        self.conv2 = conv(hid, width, 1, bias=False)
        self.bn2 = bn(width)
        self.act1 = _ACT[act]()
        self.act2 = _ACT[act]()
        self.skip = skip
        self.shortcut: nn.Module | None = None
        if skip and (c_in != width or stride != 1):
            self.shortcut = nn.Sequential(
                conv(c_in, width, 1, stride=stride, bias=False), bn(width)
            )
        self.pool: nn.Module = pool(2) if down == "maxpool" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        if self.skip:
            y = y + (x if self.shortcut is None else self.shortcut(x))
        return self.pool(self.act2(y))


class Network(nn.Module):
    """Blocks, global average pooling, linear classifier."""

    def __init__(self, blocks: list[Block], width: int, n_classes: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x)
        return self.head(h.flatten(2).mean(2))


def build_network(
    arch: Mapping[str, Any], in_channels: int, in_size: int, ndim: int, n_classes: int
) -> tuple[Network, NetworkPlan]:
    """Build the (randomly initialised, under torch's current RNG) network of ``arch``.

    Raises:
        DesignError: The architecture cannot be built; the message is the plan's reason.
    """
    plan = plan_network(arch, in_channels, in_size, ndim, n_classes)
    if not plan.feasible:
        raise DesignError(f"architecture cannot be built: {plan.reason}")
    blocks = []
    c = in_channels
    for i in range(1, int(arch["num_blocks"]) + 1):
        w, k, d, e, s = (_plain(f, arch[f"b{i}_{f}"]) for f in BLOCK_FIELDS)
        blocks.append(Block(c, w, k, d, e, s, str(arch["activation"]), ndim))
        c = w
    net = Network(blocks, c, n_classes)
    return net, plan
