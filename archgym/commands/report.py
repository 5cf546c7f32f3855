"""``archgym report DIR --out REPORT_DIR``: tables and plots of a sweep (PNG, CSV, HTML).

Writes ``summary.csv`` (per env and agent), ``settings.csv`` (best and worst hyperparameter
setting per agent), ``runs.csv``, ``convergence.png``, ``lottery.png``, ``pareto.png`` (for
multi-objective runs) and ``report.html``, one self-contained page that opens offline.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "cmd_report"]


def add_parser(subparsers: Any) -> None:
    """Register ``archgym report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="tables and plots of a sweep (PNG, CSV, one HTML page)"
    )
    p.add_argument(
        "sweep_dir", help="a sweep directory (archgym sweep --out) or a directory of runs"
    )
    p.add_argument("--out", default=None, help="report directory (default SWEEP_DIR/report)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """``archgym report``."""
    from pathlib import Path

    from archgym.report import make_report

    out = args.out or str(Path(args.sweep_dir) / "report")
    paths = make_report(args.sweep_dir, out)
    summary = __import__("pandas").read_csv(paths["summary"])
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    for name, path in paths.items():
        print(f"{name:>12}: {path}")
    import json
    import sys

    for warning in json.loads(Path(out, "report.json").read_text()).get("warnings", []):
        print(f"archgym: warning: {warning}", file=sys.stderr)
    return 0
