"""archgym/Kernel-v0 on CPU with the analytical model."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.kernel import kernel_space, kernel_workload, make_kernel_env
from archgym.envs.kernel.space import KernelWorkload, named_workload
from archgym.errors import ConfigError
from archgym.registry import make


def test_make_and_step():
    env = make("archgym/Kernel-v0", workload="llama-7b.ffn_up@512", op="spmm")
    env.reset(seed=0)
    res = env.evaluate(
        [
            {"backend": "torch", "precision": "fp16", "sparsity": "2:4"},
            {
                "backend": "triton",
                "precision": "fp16",
                "sparsity": "block",
                "density": 0.25,
                "sparse_block": 64,
                "block_m": 128,
                "block_n": 128,
                "block_k": 64,
                "group_m": 8,
                "num_warps": 4,
                "num_stages": 3,
                "split_k": 1,
            },
            {
                "backend": "triton",
                "precision": "fp16",
                "sparsity": "2:4",
                "block_m": 64,
                "block_n": 64,
                "block_k": 64,
                "group_m": 8,
                "num_warps": 4,
                "num_stages": 3,
                "split_k": 1,
            },
        ]
    )
    rows = list(res.evals.rows())
    assert rows[0]["feasible"] and rows[1]["feasible"] and not rows[2]["feasible"]
    assert "backend='torch'" in rows[2]["reason"]


def test_space_and_workloads():
    space = kernel_space()
    designs = space.sample(np.random.default_rng(0), 5)
    assert designs == kernel_space().sample(np.random.default_rng(0), 5)
    assert kernel_workload("gpt2.qkv@64") == named_workload("gpt2.qkv", 64)
    assert kernel_workload({"op": "gemm", "m": 64, "n": 64, "k": 64}).k == 64
    wl = kernel_workload("mixtral.expert_up@128")
    assert wl.op == "grouped_gemm" and wl.groups == 8


def test_bad_workloads_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown layer 'llama-9b.qkv'"):
        kernel_workload("llama-9b.qkv@16")
    with pytest.raises(ConfigError, match="positive integer"):
        KernelWorkload("gemm", 0, 16, 16)
    with pytest.raises(ConfigError, match="op must be one of"):
        KernelWorkload("conv", 16, 16, 16)
    with pytest.raises(ConfigError, match="unknown GPU"):
        make_kernel_env(gpu="V100")
