"""The GPU matrix-kernel domain: parameter values, named layer shapes and the workload type.

This module is the single source of the kernel domain's value lists; the environment
(:mod:`archgym.envs.kernel`) builds its :class:`~archgym.space.DesignSpace` from them, and the
measurement planner (:mod:`archgym.envs.kernel.measure.plan`) draws from them.

Conventions used by every kernel module:

* ``C[M, N] = A[M, K] @ B[K, N]`` where **A is the weight operand**: the one that is sparse
  (SpMM) or quantised (int4 weight-only). For a linear layer ``M`` = output features,
  ``K`` = input features and ``N`` = tokens (batch x sequence).
* ``grouped_gemm`` runs ``G`` independent GEMMs of the same shape (MoE experts).
* ``sddmm`` computes ``(A @ B) * mask`` where the mask (the sparsity pattern) is on ``C``.
* ``density`` is the fraction of non-zeros of the sparse operand (1.0 for ``dense``, 0.5 for
  ``2:4``); useful work is ``2 * G * M * N * K * density`` FLOP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archgym.errors import ConfigError

__all__ = [
    "DESIGN_COLUMNS",
    "WORKLOAD_COLUMNS",
    "OPS",
    "PRECISIONS",
    "SPARSITIES",
    "BACKENDS",
    "TILE_SIZES",
    "GROUP_M",
    "NUM_WARPS",
    "NUM_STAGES",
    "SPLIT_K",
    "DENSITIES",
    "SPARSE_BLOCKS",
    "NAMED_LAYERS",
    "KernelWorkload",
    "as_kernel_workload",
    "named_workload",
    "effective_density",
]

OPS = ("gemm", "spmm", "sddmm", "grouped_gemm")
PRECISIONS = ("fp16", "bf16", "fp8", "int8", "int4")
"""``int4`` is weight-only: A holds packed 4-bit weights, B is fp16, accumulation in fp32."""
SPARSITIES = ("dense", "2:4", "nm", "block", "unstructured")
"""``2:4`` uses the hardware sparse tensor cores (vendor backend); ``nm`` is software N:M
with ``N/M = density`` (M = 8); ``block`` zeroes square ``sparse_block`` blocks;
``unstructured`` zeroes single elements at random."""
BACKENDS = ("triton", "torch")
"""``triton``: the tile-parameterised Triton kernel; ``torch``: the vendor library through
PyTorch (cuBLAS(Lt), cuSPARSE(Lt), CUTLASS), which picks its own tiles."""
TILE_SIZES = (16, 32, 64, 128, 256)
GROUP_M = (1, 4, 8, 16)
NUM_WARPS = (2, 4, 8)
NUM_STAGES = (2, 3, 4, 5)
SPLIT_K = (1, 2, 4, 8)
DENSITIES = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
SPARSE_BLOCKS = (16, 32, 64, 128)

# (out_features M, in_features K, groups G). Sources: the models' published configs
# (BERT-base: hidden 768, FFN 3072; GPT-2 small: 768/3072, vocab 50257; LLaMA-7B: 4096/11008,
# 32 heads; LLaMA-2-70B: 8192/28672 with 8 KV heads of 128; Mixtral-8x7B: 4096/14336, 8 experts).
NAMED_LAYERS: dict[str, tuple[int, int, int]] = {
    "bert-base.qkv": (2304, 768, 1),
    "bert-base.attn_out": (768, 768, 1),
    "bert-base.ffn_up": (3072, 768, 1),
    "bert-base.ffn_down": (768, 3072, 1),
    "gpt2.qkv": (2304, 768, 1),
    "gpt2.ffn_up": (3072, 768, 1),
    "gpt2.lm_head": (50257, 768, 1),
    "llama-7b.qkv": (12288, 4096, 1),
    "llama-7b.attn_out": (4096, 4096, 1),
    "llama-7b.ffn_up": (11008, 4096, 1),
    "llama-7b.ffn_down": (4096, 11008, 1),
    "llama-70b.qkv": (10240, 8192, 1),
    "llama-70b.attn_out": (8192, 8192, 1),
    "llama-70b.ffn_up": (28672, 8192, 1),
    "llama-70b.ffn_down": (8192, 28672, 1),
    "mixtral.expert_up": (14336, 4096, 8),
    "mixtral.expert_down": (4096, 14336, 8),
}


WORKLOAD_COLUMNS = ("op", "shape", "m", "n", "k", "groups")
"""Columns that name a workload in a kernel record (measured datasets, calibration)."""

DESIGN_COLUMNS = (
    "backend",
    "precision",
    "sparsity",
    "density",
    "sparse_block",
    "block_m",
    "block_n",
    "block_k",
    "group_m",
    "num_warps",
    "num_stages",
    "split_k",
)
"""Columns that name a design (the Kernel space's parameters) in a kernel record."""


@dataclass(frozen=True)
class KernelWorkload:
    """One matrix kernel to implement.

    Attributes:
        op: One of :data:`OPS`.
        m: Rows of A and C (output features of a layer).
        n: Columns of B and C (tokens).
        k: Reduction length.
        groups: Independent problems (MoE experts); 1 except for ``grouped_gemm``.
        name: Label, e.g. ``"llama-7b.ffn_up@2048"``.
    """

    op: str
    m: int
    n: int
    k: int
    groups: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ConfigError(f"kernel op must be one of {OPS}, but got {self.op!r}.")
        for dim in ("m", "n", "k", "groups"):
            v = getattr(self, dim)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(
                    f"kernel workload {dim} must be a positive integer, but got {v!r}; "
                    "give e.g. KernelWorkload('gemm', m=4096, n=2048, k=4096)."
                )
        if self.groups != 1 and self.op != "grouped_gemm":
            raise ConfigError(
                f"groups > 1 needs op='grouped_gemm', but got op={self.op!r} with "
                f"groups={self.groups}."
            )

    @property
    def dense_flop(self) -> float:
        """FLOP of the dense problem, ``2 * G * M * N * K``."""
        return 2.0 * self.groups * self.m * self.n * self.k


def as_kernel_workload(workload: Any, model: str) -> KernelWorkload:
    """``workload`` (a :class:`KernelWorkload` or a dict of its fields) for cost model ``model``.

    Raises:
        ConfigError: Any other workload, e.g. a DNN workload of another env.
    """
    if isinstance(workload, KernelWorkload):
        return workload
    if isinstance(workload, dict):
        try:
            return KernelWorkload(**workload)
        except TypeError as exc:
            raise ConfigError(
                f"{model}: bad kernel workload fields {sorted(workload)}: {exc}"
            ) from None
    raise ConfigError(
        f"{model}: workload must be a KernelWorkload or a dict of its fields (op, m, n, k), but "
        f"got {type(workload).__name__}; kernel cost models fit archgym/Kernel-v1 designs only"
    )


def named_workload(layer: str, tokens: int, op: str | None = None) -> KernelWorkload:
    """The workload of a named layer from :data:`NAMED_LAYERS` at ``tokens`` tokens.

    Args:
        layer: A key of :data:`NAMED_LAYERS`, e.g. ``"llama-7b.ffn_up"``.
        tokens: N, the number of tokens (batch x sequence length).
        op: Override the op; defaults to ``grouped_gemm`` for expert layers, else ``gemm``.
            For ``grouped_gemm`` ``tokens`` is the count routed to each expert.

    Raises:
        ConfigError: Unknown layer name (the message lists the known ones).
    """
    if layer not in NAMED_LAYERS:
        raise ConfigError(
            f"unknown layer {layer!r}; known layers: {', '.join(sorted(NAMED_LAYERS))}. "
            "Or build KernelWorkload(op, m, n, k) from your own shape."
        )
    m, k, g = NAMED_LAYERS[layer]
    if op is None:
        op = "grouped_gemm" if g > 1 else "gemm"
    if op != "grouped_gemm":
        g = 1
    return KernelWorkload(op, m=m, n=int(tokens), k=k, groups=g, name=f"{layer}@{tokens}")


def effective_density(density, sparse_block, tile_rows, tile_cols):  # type: ignore[no-untyped-def]
    """Fraction of ``tile_rows x tile_cols`` tiles that hold at least one non-zero block.

    Blocks of ``sparse_block x sparse_block`` are non-zero independently with probability
    ``density``. A tile covers ``ceil(tile_rows/b) * ceil(tile_cols/b)`` blocks, so it must be
    computed with probability ``1 - (1 - density)**blocks``; a block larger than the tile makes
    the tile exactly as sparse as the blocks. Works elementwise on numpy arrays.
    """
    import numpy as np

    b = np.asarray(sparse_block, dtype=float)
    d = np.asarray(density, dtype=float)
    blocks = np.ceil(np.asarray(tile_rows) / b) * np.ceil(np.asarray(tile_cols) / b)
    return 1.0 - (1.0 - d) ** blocks
