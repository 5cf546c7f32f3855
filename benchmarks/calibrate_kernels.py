"""Fit the analytical kernel model's constants per GPU and report held-out-shape errors.

    python benchmarks/calibrate_kernels.py                      # both shipped GPUs
    python benchmarks/calibrate_kernels.py --gpu H200-SXM --dataset mygpu.csv.gz --no-write

For each GPU: grouped 5-fold by shape (fit on the training shapes, predict the held-out
ones) and print median/p90 |error| per path; then fit on all shapes and write the constants
to ``archgym/envs/kernel/data/calibration.json`` (the shipped calibration). The same runs
as ``archgym measure calibrate DATA --gpu NAME``.
"""

from __future__ import annotations

import argparse
import sys

from archgym.envs.kernel.calibrate import calibrate
from archgym.envs.kernel.dataset import DATASETS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="append", default=[], help="GPU key (repeatable)")
    ap.add_argument("--dataset", default="", help="records file (default: the shipped one)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="report only")
    args = ap.parse_args(argv)
    for gpu in args.gpu or sorted(DATASETS):
        calibrate(gpu, args.dataset or str(DATASETS[gpu]), args.folds, not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
