"""The env conformance suite: :func:`check_env`, and :func:`derive_env` to rebuild an env
with another space, mode or cost model.

Checks, in order:

* ``id``: a registered id is versioned, ``namespace/Name-vN``.
* ``space``: sampled designs validate, validation is idempotent, and index encoding
  round-trips for discrete spaces.
* ``evaluate``: :meth:`DSEEnv.evaluate` returns one row per design with every declared
  metric; objective values are ``(n, k)``, NaN exactly where infeasible; infeasible rows
  give a reason; rewards are finite.
* ``deterministic``: evaluating the same designs twice gives the same numbers.
* ``batch_consistent``: one batch call equals one call per design (a vectorisation bug
  catcher).
* ``describe``: the manifest identity is JSON-serialisable.
* ``gymnasium``: ``gymnasium.utils.env_checker.check_env`` passes in the one-step and the
  sequential mode.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from archgym.errors import DesignError
from archgym.testing._common import ConformanceReport, fail

__all__ = ["check_env", "derive_env"]


def derive_env(env: Any, *, space: Any = None, mode: str | None = None, cost_model: Any = None,
               objective: Any = None) -> Any:  # fmt: skip
    """A new :class:`~archgym.env.DSEEnv` like ``env`` with some parts replaced.

    Typical uses: a reduced space for enumeration (``space=env.space.restrict(...)``), the
    sequential mode, or another cost model. Workload, constraints, infeasible reward, env id
    and ``report_metrics`` are kept.
    """
    from archgym.env import DSEEnv

    new = DSEEnv(
        space if space is not None else env.space,
        cost_model if cost_model is not None else env.cost_model,
        env.workload,
        objective if objective is not None else env.objective.spec,
        [str(c) for c in env.objective.constraints],
        mode=mode or env.mode,
        float_bins=env.float_bins,
        env_id=env.env_id,
        infeasible_reward=env.objective.infeasible_reward,
    )
    if hasattr(env, "report_metrics"):
        new.report_metrics = env.report_metrics
    return new


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True))


def check_env(
    env: Any, *, n: int = 8, seed: int = 0, gymnasium_check: bool = True
) -> ConformanceReport:
    """Run the env conformance suite (see the module docstring).

    Args:
        env: A registered env id or a :class:`~archgym.env.DSEEnv`.
        n: Designs sampled for the evaluation checks.
        seed: Seed of the design sampler.
        gymnasium_check: Also run Gymnasium's ``env_checker`` in both modes.

    Raises:
        ConformanceError: A check failed; the message names it.
    """
    from archgym.registry import ENV_ID_RE, make

    env_id = env if isinstance(env, str) else getattr(env, "env_id", "")
    if isinstance(env, str):
        env = make(env)
    subject = f"env {env_id or env.space.name!r}"
    report = ConformanceReport(subject)
    if env_id:
        if not ENV_ID_RE.match(env_id):
            raise fail("id", subject, "ids must look like 'namespace/Name-vN'")
        report.passed.append("id")
    else:
        report.skipped["id"] = "env has no id"

    space = env.space
    rng = np.random.default_rng(seed)
    designs = space.sample(rng, n)
    for d in designs:
        try:
            again = space.validate(d)
        except DesignError as exc:
            raise fail("space", subject, f"sample() gave an invalid design: {exc}") from None
        if again != d:
            raise fail("space", subject, f"validate() is not idempotent: {d} -> {again}")
        if space.is_discrete and space.decode_indices(space.encode_indices(d)) != d:
            raise fail("space", subject, f"index encoding does not round-trip for {d}")
    report.passed.append("space")

    res = env.evaluate(designs)
    k = env.objective.n_objectives
    if len(res) != n or res.values.shape != (n, k) or res.reward.shape != (n,):
        raise fail(
            "evaluate",
            subject,
            f"expected {n} rows and {k} objective column(s), got "
            f"values {res.values.shape}, reward {res.reward.shape}",
        )
    missing = set(env.cost_model.metric_names) - set(res.evals.metrics)
    if missing:
        raise fail(
            "evaluate", subject, f"declared metrics missing from the results: {sorted(missing)}"
        )
    nan_rows = np.any(np.isnan(res.values), axis=1)
    if np.any(nan_rows[res.feasible]):
        i = int(np.flatnonzero(nan_rows & res.feasible)[0])
        raise fail("evaluate", subject, f"feasible design {designs[i]} has a NaN objective")
    if not np.all(nan_rows[~res.feasible]):
        raise fail("evaluate", subject, "an infeasible design has a finite objective value")
    if any(not res.evals.reasons[i] for i in np.flatnonzero(~res.feasible)):
        raise fail("evaluate", subject, "an infeasible design has no reason")
    if not np.all(np.isfinite(res.reward)):
        raise fail("evaluate", subject, f"rewards must be finite, got {res.reward}")
    report.passed.append("evaluate")

    again = env.evaluate(designs)
    for m, v in res.evals.metrics.items():
        if not _same(v, again.evals.metrics[m]):
            raise fail("deterministic", subject, f"metric {m!r} differs between two evaluations")
    report.passed.append("deterministic")

    singles = [env.evaluate([d]) for d in designs]
    for m, v in res.evals.metrics.items():
        one = np.array([s.evals.metrics[m][0] for s in singles])
        if not _same(v, one):
            raise fail(
                "batch_consistent",
                subject,
                f"metric {m!r} differs between one batch call "
                f"and one call per design: {v} vs {one}",
            )
    if not np.array_equal(res.feasible, np.array([s.feasible[0] for s in singles])):
        raise fail(
            "batch_consistent", subject, "feasibility differs between batch and single calls"
        )
    report.passed.append("batch_consistent")

    try:
        json.dumps(env.describe())
    except TypeError as exc:
        raise fail("describe", subject, f"describe() is not JSON-serialisable: {exc}") from None
    report.passed.append("describe")

    if gymnasium_check:
        import warnings

        from gymnasium.utils.env_checker import check_env as gym_check

        for mode in ("one-step", "sequential"):
            e = env if env.mode == mode else derive_env(env, mode=mode)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    gym_check(e, skip_render_check=True)
                except Exception as exc:
                    raise fail(
                        "gymnasium", subject, f"{mode} mode: {type(exc).__name__}: {exc}"
                    ) from exc
        report.passed.append("gymnasium")
    else:
        report.skipped["gymnasium"] = "gymnasium_check=False"
    return report
