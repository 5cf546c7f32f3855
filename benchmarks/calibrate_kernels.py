"""Fit the analytical kernel model's constants per GPU and report held-out-shape errors.

    python benchmarks/calibrate_kernels.py                      # both shipped GPUs
    python benchmarks/calibrate_kernels.py --gpu H200-SXM --dataset mygpu.csv.gz --no-write

The register term (``--registers``) defaults to the GPU's shipped one
(``archgym.envs.kernel.calibrate.SHIPPED_REGISTERS``: the H200 the compiler-fitted term of
analytical v7, the H100 v6's fitted constant overhead); ``--int4-rate`` / ``--no-int4-rate``
override the GPU's shipped choice of the vendor int4 path as a constant rate
(``calibrate.SHIPPED_INT4_RATE``: the H200's since analytical v8).

For each GPU: grouped 5-fold by shape (fit on the training shapes, predict the held-out
ones) and print median/p90 |error| per path; then fit on all shapes and write the constants
to ``archgym/envs/kernel/data/calibration.json`` (the shipped calibration). The same runs
as ``archgym measure calibrate DATA --gpu NAME``.
"""

from __future__ import annotations

import argparse
import sys

from archgym.envs.kernel.calibrate import REGISTER_PARAMS, calibrate
from archgym.envs.kernel.dataset import DATASETS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="append", default=[], help="GPU key (repeatable)")
    ap.add_argument("--dataset", default="", help="records file (default: the shipped one)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="report only")
    ap.add_argument(
        "--registers",
        choices=sorted(REGISTER_PARAMS),
        help="register term to fit (default: the GPU's shipped one, calibrate.SHIPPED_REGISTERS)",
    )
    ap.add_argument(
        "--int4-rate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hold the vendor int4 path as a constant rate (default: the GPU's shipped choice, "
        "calibrate.SHIPPED_INT4_RATE)",
    )
    args = ap.parse_args(argv)
    for gpu in args.gpu or sorted(DATASETS):
        data = args.dataset or str(DATASETS[gpu])
        calibrate(
            gpu,
            data,
            args.folds,
            not args.no_write,
            registers=args.registers,
            int4_rate=args.int4_rate,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
