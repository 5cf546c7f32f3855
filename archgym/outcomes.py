"""What a run's evaluations came to: feasible, infeasible (and why), inadmissible (and which
constraint), for summaries that explain themselves.

::

    from archgym.outcomes import count_outcomes
    count_outcomes(records, env.objective)
    # {"n": 200, "feasible": 190, "infeasible": 10, "inadmissible": 40, "admissible": 150,
    #  "infeasible_reasons": [["buffer overflow ...", 10]], "constraints": {...},
    #  "never_met": []}
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["count_outcomes", "format_outcomes"]


def _number(v: Any) -> float:
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):  # "inf" as stored in record files
        try:
            return float(v)
        except ValueError:
            return math.nan
    return math.nan


def count_outcomes(
    records: Sequence[dict[str, Any]], objective: Any, top: int = 3
) -> dict[str, Any]:
    """Counts of a run's evaluation records (the record-file format).

    Args:
        records: Evaluation records (``feasible``, ``reason``, ``violation``, ``admissible``).
        objective: The run's :class:`~archgym.objective.Objective` (names the constraints).
        top: How many infeasibility reasons to keep.

    Returns:
        ``n``; ``feasible``/``infeasible`` (the cost model's verdict); ``inadmissible``
        (feasible but breaking a constraint) and ``admissible``; ``infeasible_reasons``, the
        ``top`` most common reasons as ``[reason, count]``; ``constraints``, per constraint
        the feasible designs that broke it; ``never_met``, the constraints no feasible design
        satisfied (when there were feasible designs).
    """
    n = len(records)
    feasible = [r for r in records if r.get("feasible")]
    reasons = Counter(
        str(r.get("reason") or "no reason given") for r in records if not r.get("feasible")
    )
    names = [str(c) for c in getattr(objective, "constraints", ())]
    broke = dict.fromkeys(names, 0)
    for r in feasible:
        viol = r.get("violation") or []
        for name, v in zip(names, viol, strict=False):
            x = _number(v)
            if not (x == 0):  # NaN and positive both break it
                broke[name] += 1
    admissible = sum(1 for r in records if r.get("admissible"))
    return {
        "n": n,
        "feasible": len(feasible),
        "infeasible": n - len(feasible),
        "admissible": admissible,
        "inadmissible": len(feasible) - admissible,
        "infeasible_reasons": [[k, v] for k, v in reasons.most_common(top)],
        "constraints": broke,
        "never_met": [c for c, k in broke.items() if feasible and k == len(feasible)],
    }


def format_outcomes(c: dict[str, Any]) -> list[str]:
    """Lines of text for a summary (see :func:`count_outcomes`)."""
    lines = [
        f"Evaluations: {c['n']}: {c['admissible']} admissible, {c['infeasible']} infeasible, "
        f"{c['inadmissible']} feasible but breaking a constraint"
    ]
    for reason, k in c["infeasible_reasons"]:
        lines.append(f"  infeasible x{k}: {reason}")
    for name, k in c["constraints"].items():
        if k:
            lines.append(f"  broke '{name}': {k} of {c['feasible']} feasible designs")
    return lines
