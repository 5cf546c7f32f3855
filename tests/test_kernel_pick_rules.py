"""The sampling floor of benchmarks/kernel_pick_rules.py (the gap a wrong pick costs at least)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from kernel_pick_rules import sampling_floor  # noqa: E402


def _group(shape: str, times: list[float], backend: str = "triton") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shape": shape,
            "op": "gemm",
            "precision": "fp16",
            "sparsity": "dense",
            "backend": backend,
            "latency_s": times,
        }
    )


def test_sampling_floor_hand_computed() -> None:
    # group a: best 1.0, second 1.2 -> gap 20 %; group b: 2.0 and 2.02 -> 1 %;
    # group c has 19 configs (< 20, skipped); vendor rows never count
    a = _group("a", [1.0, 1.2] + [3.0] * 18)
    b = _group("b", [2.02, 2.0] + [5.0] * 18)
    c = _group("c", [1.0, 9.0] + [9.0] * 17)
    v = _group("a", [0.1] * 25, backend="torch")
    line = sampling_floor(pd.concat([a, b, c, v], ignore_index=True))
    assert line.startswith("2 groups, median 20 timed configs")
    assert f"second-best gap median {np.median([20.0, 1.0]):.1f} %" in line
    assert "worst 20.0 %" in line
    assert "groups with a gap over 10 %: 50 %" in line


def test_sampling_floor_h100_shipped_data() -> None:
    # the shipped H100 data: 182 Triton groups of 20 timed configs; in 49 % of them the
    # second-fastest is over 10 % slower (measured 2026-12-02 by kernel_pick_rules.py --gaps-only)
    from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows

    frame = trusted_rows(load_dataset(DATASETS["H100-SXM"], "H100-SXM"))
    line = sampling_floor(frame)
    assert line.startswith("182 groups, median 20 timed configs")
    assert "groups with a gap over 10 %: 49 %" in line
