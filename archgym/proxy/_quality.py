"""How good a proxy is: error and ranking figures per target metric, and its speed.

Every figure is computed on the original scale of the metric (after undoing any log
transform). Definitions (printed with every report, :data:`DEFINITIONS`):

* normalised RMSE: ``RMSE / (max - min)`` of the true values (ArchGym's "RMSE %");
* MAPE: mean of ``|pred - true| / |true|`` over rows whose true value is not 0;
* R²: ``1 - SS_res / SS_tot``;
* Spearman: rank correlation of predictions and true values;
* top-k recall: of the ``k`` designs the proxy ranks best (in the metric's direction), the
  share that are among the true best ``k`` (ties at the k-th true value count as best).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["quality", "format_report", "DEFINITIONS"]

DEFINITIONS: tuple[str, ...] = (
    "nRMSE = RMSE / (max - min) of the true values",
    "MAPE = mean |pred - true| / |true| (rows with true != 0)",
    "top-k recall = share of the proxy's best k designs that are among the true best k "
    "(ties included)",
)


def quality(
    y_true: np.ndarray, y_pred: np.ndarray, direction: str = "min", k: int = 10
) -> dict[str, Any]:
    """Error and ranking figures of one target.

    Args:
        y_true: True values (finite).
        y_pred: Predictions, same shape.
        direction: ``"min"`` if lower is better, else ``"max"``.
        k: Designs in the top-k recall (capped at the number of rows).
    """
    from scipy.stats import spearmanr

    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    n = int(t.shape[0])
    err = p - t
    rmse = float(np.sqrt(np.mean(err**2))) if n else math.nan
    span = float(t.max() - t.min()) if n else math.nan
    nz = t != 0
    ss_tot = float(np.sum((t - t.mean()) ** 2)) if n else math.nan
    k = max(1, min(int(k), n)) if n else 0
    recall = math.nan
    if n:
        s_t, s_p = (t, p) if direction == "min" else (-t, -p)
        kth = np.partition(s_t, k - 1)[k - 1]
        best_true = s_t <= kth
        best_pred = np.argsort(s_p, kind="stable")[:k]
        recall = float(best_true[best_pred].sum() / k)
    rho = math.nan
    if n > 2 and np.ptp(t) > 0 and np.ptp(p) > 0:
        rho = float(spearmanr(t, p).statistic)
    return {
        "n": n,
        "nrmse": rmse / span if span > 0 else math.nan,
        "rmse": rmse,
        "range": span,
        "mape": float(np.mean(np.abs(err[nz]) / np.abs(t[nz]))) if nz.any() else math.nan,
        "r2": 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else math.nan,
        "spearman": rho,
        "topk_recall": recall,
        "k": k,
    }


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.3f} %"


def _num(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def format_report(report: Mapping[str, Any]) -> str:
    """A plain-text table of :func:`quality` results per target, with the definitions and,
    when present, the speed comparison (``report["speed"]``)."""
    lines = [f"proxy quality ({report.get('method', '')}, {report.get('n', '?')} rows)"]
    header = f"{'target':<24}{'nRMSE':>12}{'MAPE':>12}{'R2':>10}{'Spearman':>10}{'top-k':>12}"
    lines += [header, "-" * len(header)]
    for name, q in report["targets"].items():
        topk = "n/a" if math.isnan(q["topk_recall"]) else f"{q['topk_recall']:.2f} (k={q['k']})"
        lines.append(
            f"{name:<24}{_pct(q['nrmse']):>12}{_pct(q['mape']):>12}{_num(q['r2']):>10}"
            f"{_num(q['spearman']):>10}{topk:>12}"
        )
    lines.append("")
    lines += [f"  {d}" for d in DEFINITIONS]
    speed = report.get("speed")
    if speed:
        lines.append("")
        lines.append(
            f"speed ({speed['n']} designs, same process): proxy {speed['proxy_s_per_design'] * 1e6:.2f} "
            f"us/design, source model {speed['source']} {speed['source_s_per_design'] * 1e6:.2f} "
            f"us/design -> proxy is {speed['speedup']:.3g}x the source's speed"
        )
    return "\n".join(lines)
