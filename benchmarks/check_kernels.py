"""Check the Triton matmul kernel's results against a float32 torch reference (CUDA GPU).

    python benchmarks/check_kernels.py

For every precision (dense) and for block-sparse SpMM, runs one tile config through
:func:`archgym.envs.kernel.measure.runners.build_runner` and prints the largest error relative
to the largest reference value; exit status 1 if any exceeds 2 % (fp8/int4 inputs are exact
in float32, so the reference differs only by accumulation order).
"""

from __future__ import annotations

import sys

import numpy as np

from archgym.envs.kernel.measure.runners import OperandCache, build_runner, tile_mask


def main() -> int:
    import torch

    m = n = k = 512
    tile = {
        "block_m": 128,
        "block_n": 128,
        "block_k": 64,
        "group_m": 8,
        "num_warps": 8,
        "num_stages": 3,
        "split_k": 1,
    }
    bad = 0
    for prec, op, sp in [
        ("fp16", "gemm", "dense"),
        ("bf16", "gemm", "dense"),
        ("fp8", "gemm", "dense"),
        ("int8", "gemm", "dense"),
        ("fp8", "spmm", "block"),
        ("fp16", "spmm", "block"),
    ]:
        for split in (1, 2):
            p = {
                "op": op,
                "shape": "check",
                "m": m,
                "n": n,
                "k": k,
                "groups": 1,
                "backend": "triton",
                "precision": prec,
                "sparsity": sp,
                "density": 0.5 if sp == "block" else 1.0,
                "sparse_block": 64 if sp == "block" else 0,
                **tile,
                "split_k": split,
            }
            cache = OperandCache(0)
            fn, _ = build_runner(p, cache)
            out = fn()[0]
            ops = cache.items[("operands",)]
            a, b = ops["a"][0].float(), ops["b"][0].float()
            if sp == "block":  # rebuild the tile mask the runner used
                rng = cache.rng("mask", op, 64, 0.5)
                bmask = rng.random((m // 64, k // 64)) < 0.5
                tm = tile_mask(bmask, 64, 128, 64, m, k)
                keep = np.kron(tm, np.ones((128, 64), dtype=bool))[:m, :k]
                a = a * torch.from_numpy(keep).to(a.device)
            ref = a @ b
            err = float((out.float() - ref).abs().max() / ref.abs().max().clamp_min(1e-6))
            ok = err <= 0.02
            bad += not ok
            print(
                f"{prec:5s} {op:5s} {sp:6s} split_k={split}: max rel error {err:.2e} "
                f"{'ok' if ok else 'WRONG'}",
                flush=True,
            )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
