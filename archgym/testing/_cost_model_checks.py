"""The cost-model conformance suite: :func:`check_cost_model`.

Checks, in order:

* ``declares``: a name, a non-empty version, and metrics with unique names, a unit string and
  a direction.
* ``evaluate``: one row per design, every declared metric and nothing undeclared as a metric.
* ``feasibility``: feasible rows are finite; infeasible rows are NaN and carry a reason.
* ``deterministic``: the same designs evaluated twice give the same numbers.
* ``vectorised``: one batch call equals one call per design (a vectorisation bug catcher).
* ``design_params``: when declared, dropping every column outside it changes nothing (the
  model reads only what it declares), and every parameter of the space is declared.
* ``describe``: the manifest identity is JSON-serialisable and names the version.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from archgym.cost_model import CostModel, Evaluations
from archgym.space import DesignSpace
from archgym.testing._common import ConformanceReport, fail

__all__ = ["check_cost_model"]


def _same(a: Evaluations, b: Evaluations) -> str | None:
    """Why two evaluations differ, or None."""
    if not np.array_equal(a.feasible, b.feasible):
        return f"feasible differs at rows {np.flatnonzero(a.feasible != b.feasible)[:5].tolist()}"
    for k, v in a.metrics.items():
        w = b.metrics[k]
        if not np.allclose(v, w, rtol=1e-9, atol=0.0, equal_nan=True):
            rows = np.flatnonzero(~np.isclose(v, w, rtol=1e-9, atol=0.0, equal_nan=True))[:5]
            return f"metric {k!r} differs at rows {rows.tolist()}: {v[rows]} vs {w[rows]}"
    return None


def check_cost_model(
    model: CostModel, space: DesignSpace, workload: Any = None, n: int = 32, seed: int = 0
) -> ConformanceReport:
    """Run the cost-model conformance checks on ``n`` designs sampled from ``space``.

    Args:
        model: The cost model under test.
        space: A design space the model evaluates (the env's).
        workload: The workload passed to every call.
        n: Designs to sample (the row-by-row check evaluates each alone).
        seed: Seed of the sample.

    Returns:
        The report of passed and skipped checks.

    Raises:
        ConformanceError: A check failed; the message names the check and what happened.
    """
    subject = f"cost model {getattr(model, 'name', type(model).__name__)!r}"
    report = ConformanceReport(subject)
    names = [m.name for m in model.metrics]
    if not names or len(set(names)) != len(names):
        raise fail("declares", subject, f"metrics must be non-empty and unique, got {names}")
    for m in model.metrics:
        if not isinstance(m.unit, str) or m.direction not in ("min", "max"):
            raise fail("declares", subject, f"metric {m.name!r} needs a unit and a direction")
    if not str(model.version):
        raise fail("declares", subject, "version must be a non-empty string; bump it on change")
    report.passed.append("declares")

    designs = space.sample(np.random.default_rng(seed), n)
    cols = space.to_columns(designs)
    out = model.evaluate(cols, workload)
    if len(out) != n:
        raise fail("evaluate", subject, f"{n} designs gave {len(out)} rows")
    missing = [k for k in names if k not in out.metrics]
    extra = [k for k in out.metrics if k not in names]
    if missing or extra:
        raise fail("evaluate", subject, f"metrics missing {missing}, undeclared {extra}")
    report.passed.append("evaluate")

    for i in range(n):
        vals = np.array([out.metrics[k][i] for k in names])
        if out.feasible[i] and not np.all(np.isfinite(vals)):
            bad = [k for k, v in zip(names, vals, strict=True) if not np.isfinite(v)]
            raise fail("feasibility", subject, f"feasible design {i} has non-finite {bad}")
        if not out.feasible[i] and (not out.reasons[i] or not np.all(np.isnan(vals))):
            raise fail("feasibility", subject, f"infeasible design {i} needs NaN metrics "
                       f"and a reason, got {dict(zip(names, vals, strict=True))}, "
                       f"reason {out.reasons[i]!r}")  # fmt: skip
    if not out.feasible.any():
        report.skipped["feasible_rows"] = f"none of {n} sampled designs is feasible"
    report.passed.append("feasibility")

    why = _same(out, model.evaluate(cols, workload))
    if why:
        raise fail("deterministic", subject, f"a second evaluation differs: {why}")
    report.passed.append("deterministic")

    one = Evaluations.concat([model.evaluate([d], workload) for d in designs])
    why = _same(out, one)
    if why:
        raise fail("vectorised", subject, f"batch and one-by-one evaluation differ: {why}")
    report.passed.append("vectorised")

    declared = model.design_params
    if declared is None:
        report.skipped["design_params"] = "the model does not declare design_params"
    else:
        undeclared = [p for p in space.names if p not in declared]
        if undeclared:
            raise fail("design_params", subject, f"space parameters {undeclared} are not in "
                       f"design_params {sorted(declared)}; the model would ignore them")  # fmt: skip
        kept = {k: v for k, v in cols.items() if k in declared}
        why = _same(out, model.evaluate(kept, workload))
        if why:
            raise fail("design_params", subject, f"reads columns outside design_params: {why}")
        report.passed.append("design_params")

    desc = model.describe()
    try:
        json.dumps(desc)
    except TypeError as exc:
        raise fail("describe", subject, f"describe() is not JSON-serialisable: {exc}") from exc
    if str(desc.get("version", "")) != str(model.version):
        raise fail("describe", subject, f"describe() must record version {model.version!r}")
    report.passed.append("describe")
    return report
