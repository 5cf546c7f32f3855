"""The agent conformance suite: :func:`check_agent`.

Every registered agent passes it on every registered env (``tests/test_conformance.py``);
a third-party agent runs the same checks::

    from archgym.testing import check_agent
    report = check_agent(MyAgent, "archgym/Systolic-v0")     # raises ConformanceError
    print(report)

Checks, in order (ask/tell agents; ``drives_env`` agents where noted):

* ``objective_count``: an agent that cannot handle the env's number of objectives must
  refuse it with :class:`~archgym.errors.ConfigError` at construction (then nothing else
  runs and the report says so).
* ``hparams``: an unknown hyperparameter and a mistyped one are rejected with a
  ConfigError naming them; the resolved hyperparameters are JSON-serialisable.
* ``run``: plain runs (on the env as it is) raise nothing.
* ``budget``: ``ask(k)`` returns exactly ``k`` designs for varying ``k`` and the run makes
  exactly ``budget`` evaluations (RL: ``run_env(env, budget)`` makes exactly ``budget``).
* ``valid_designs``: every asked design passes ``space.validate`` and is already in its
  canonical form (RL: every design the env scored as feasible is valid).
* ``deterministic``: the same seed gives the same trajectory.
* ``seed_effect``: another seed gives another trajectory (turn off for deterministic agents).
* ``infeasible``: a run where about half the evaluations come back infeasible (see
  :class:`~archgym.testing.FlakyCostModel`) completes with valid designs.
* ``failed_tell``: ``tell`` accepts a batch of failed evaluations (all NaN), feasible
  rows with non-finite values, and designs the agent never asked for; ``ask`` then still
  returns valid designs. (Not applicable to ``drives_env`` agents.)
* ``smoke``: a tiny-budget :func:`~archgym.runner.run_experiment` completes (registered
  agents only; the runner builds agents by name).

The env is borrowed: listeners and the cost model are swapped during the checks and restored.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

from archgym.agents._base import Agent
from archgym.cost_model import Evaluations
from archgym.errors import ConfigError, DesignError
from archgym.results import Results
from archgym.testing._common import (
    ConformanceError,
    ConformanceReport,
    FlakyCostModel,
    canonical,
    fail,
)

__all__ = ["check_agent"]

_BATCHES = (1, 3, 2, 4)


def _resolve(agent: str | type[Agent]) -> tuple[type[Agent], str | None]:
    from archgym.registry import list_agents, make_agent

    if isinstance(agent, str):
        spec = list_agents().get(agent)
        if spec is None:
            make_agent(agent, None)  # raises RegistryError with "did you mean"
        assert spec is not None
        cls = cast("type[Agent]", spec.load())
        return cls, agent
    if isinstance(agent, type) and issubclass(agent, Agent):
        return agent, None
    raise TypeError(
        f"check_agent needs a registered agent name or an Agent subclass, got {agent!r}"
    )


def _resolve_env(env: Any) -> Any:
    if isinstance(env, str):
        from archgym.registry import make

        return make(env)
    return env


def check_agent(
    agent: str | type[Agent],
    env: Any,
    *,
    budget: int = 12,
    seed: int = 0,
    hparams: Mapping[str, Any] | None = None,
    require_seed_effect: bool = True,
) -> ConformanceReport:
    """Run the agent conformance suite (see the module docstring).

    Args:
        agent: A registered agent name or an :class:`~archgym.agents.Agent` subclass.
        env: A :class:`~archgym.env.DSEEnv` or a registered env id.
        budget: Evaluations per run (keep it tiny; the suite makes about five runs).
        seed: Seed of the first run.
        hparams: Hyperparameters for every agent built (e.g. a smaller population).
        require_seed_effect: Fail if two seeds give the same trajectory.

    Returns:
        The report of passed and skipped checks.

    Raises:
        ConformanceError: A check failed; the message names it.
    """
    cls, name = _resolve(agent)
    env = _resolve_env(env)
    hp = dict(hparams or {})
    subject = f"agent {name or cls.__name__!r} on {env.env_id or env.space.name!r}"
    report = ConformanceReport(subject)
    n_obj = env.objective.n_objectives
    n_con = len(env.objective.constraints)

    def make(s: int, **extra: Any) -> Agent:
        return cls(env.space, seed=s, n_objectives=n_obj, n_constraints=n_con, **{**hp, **extra})

    # -- objective_count ---------------------------------------------------------------
    supported = cls.supports_multi if n_obj > 1 else cls.supports_single
    if not supported:
        try:
            make(seed)
        except ConfigError:
            report.passed.append("objective_count")
            report.skipped["rest"] = f"agent does not support {n_obj} objective(s)"
            return report
        raise fail(
            "objective_count",
            subject,
            f"accepted {n_obj} objective(s) although "
            f"supports_single={cls.supports_single}, supports_multi={cls.supports_multi}",
        )
    report.passed.append("objective_count")

    _check_hparams(cls, make, seed, subject)
    report.passed.append("hparams")

    # -- budget, valid_designs, deterministic, seed_effect -------------------------------
    plain = _run_env if cls.drives_env else _run_ask_tell

    def run(agent_: Agent, env_: Any, budget_: int, subject_: str) -> list[str]:
        try:
            return plain(agent_, env_, budget_, subject_)
        except ConformanceError:
            raise
        except Exception as exc:
            raise fail("run", subject_, f"raised {type(exc).__name__}: {exc}") from exc

    first = run(make(seed), env, budget, subject)
    report.passed += ["budget", "valid_designs"]
    second = run(make(seed), env, budget, subject)
    if first != second:
        at = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
        raise fail(
            "deterministic",
            subject,
            f"two runs with seed={seed} differ at evaluation {at}: {first[at]} vs {second[at]}",
        )
    report.passed.append("deterministic")
    if require_seed_effect:
        other = run(make(seed + 1), env, budget, subject)
        if other == first:
            raise fail(
                "seed_effect",
                subject,
                f"seeds {seed} and {seed + 1} gave the same "
                "trajectory; the agent must draw from its own seeded generator "
                "(pass require_seed_effect=False for a deterministic agent)",
            )
        report.passed.append("seed_effect")
    else:
        report.skipped["seed_effect"] = "require_seed_effect=False"

    # -- infeasible --------------------------------------------------------------------
    inner = env.cost_model
    env.cost_model = FlakyCostModel(inner, rate=0.5)
    try:
        n_bad = _count_infeasible(plain, make(seed), env, budget, subject)
    finally:
        env.cost_model = inner
    if n_bad:
        report.passed.append("infeasible")
    else:  # pragma: no cover - needs every design of a run to dodge a 50 % failure rate
        report.skipped["infeasible"] = "no evaluation came back infeasible"

    # -- failed_tell -------------------------------------------------------------------
    if cls.drives_env:
        report.skipped["failed_tell"] = "drives_env agents learn through env.step, not tell"
    else:
        _check_failed_tell(make(seed), env, subject)
        report.passed.append("failed_tell")

    # -- smoke through the runner ------------------------------------------------------
    if name is None:
        report.skipped["smoke"] = "agent class is not registered; the runner builds agents by name"
    else:
        from archgym.runner import Experiment, run_experiment

        exp = Experiment(env=env.env_id or "custom", agent=name, agent_kwargs=hp,
                         budget=budget, seed=seed, batch_size=2)  # fmt: skip
        result = run_experiment(exp, env=env)
        if result.n_evaluations != budget or result.status != "complete":
            raise fail(
                "smoke",
                subject,
                f"run_experiment made {result.n_evaluations} of "
                f"{budget} evaluations, status {result.status!r}",
            )
        report.passed.append("smoke")
    return report


def _check_hparams(cls: type[Agent], make: Callable[..., Agent], seed: int, subject: str) -> None:
    bogus = "no_such_hparam_xyz"
    try:
        make(seed, **{bogus: 1})
    except ConfigError as exc:
        if bogus not in str(exc):
            raise fail(
                "hparams",
                subject,
                f"the error for an unknown hyperparameter does not name it: {exc}",
            ) from None
    else:
        raise fail("hparams", subject, f"accepted an unknown hyperparameter {bogus!r}")
    hints = typing.get_type_hints(cls.Config)
    for f in dataclasses.fields(cls.Config):
        if hints.get(f.name) in (int, float, bool):
            try:
                make(seed, **{f.name: "not-a-number"})
            except ConfigError as exc:
                if f.name not in str(exc):
                    raise fail(
                        "hparams",
                        subject,
                        f"the error for a mistyped {f.name!r} does not name it: {exc}",
                    ) from None
            else:
                raise fail("hparams", subject, f"accepted {f.name}='not-a-number'")
            break
    try:
        json.dumps(make(seed).hparams())
    except TypeError as exc:
        raise fail("hparams", subject, f"hparams() is not JSON-serialisable: {exc}") from None


def _check_design(env: Any, design: Any, subject: str) -> str:
    if not isinstance(design, Mapping):
        raise fail("valid_designs", subject, f"asked a {type(design).__name__}, not a design dict")
    try:
        norm = env.space.validate(design)
    except DesignError as exc:
        raise fail("valid_designs", subject, f"asked an invalid design: {exc}") from None
    if canonical(norm) != canonical(design):
        raise fail(
            "valid_designs",
            subject,
            f"asked {dict(design)}, which is not in canonical "
            f"form {norm} (return space.validate(design))",
        )
    return canonical(norm)


def _run_ask_tell(agent: Agent, env: Any, budget: int, subject: str) -> list[str]:
    trajectory: list[str] = []
    done = 0
    i = 0
    while done < budget:
        k = min(_BATCHES[i % len(_BATCHES)], budget - done)
        i += 1
        designs = agent.ask(k)
        if not isinstance(designs, list) or len(designs) != k:
            got = len(designs) if isinstance(designs, Sequence) else type(designs).__name__
            raise fail(
                "budget",
                subject,
                f"ask({k}) returned {got} designs; it must return exactly {k} in a list",
            )
        trajectory += [_check_design(env, d, subject) for d in designs]
        res = env.evaluate(designs)
        agent.tell(res.designs, res)
        done += k
    return trajectory


def _run_env(agent: Agent, env: Any, budget: int, subject: str) -> list[str]:
    seen: list[Results] = []
    env.add_listener(seen.append)
    try:
        agent.run_env(env, budget)
    finally:
        env.remove_listener(seen.append)
    n = sum(len(r) for r in seen)
    if n != budget:
        raise fail(
            "budget",
            subject,
            f"run_env(env, {budget}) made {n} evaluations; it must make exactly {budget}",
        )
    trajectory: list[str] = []
    for res in seen:
        for design, feasible in zip(res.designs, res.feasible, strict=True):
            if feasible:
                trajectory.append(_check_design(env, design, subject))
            else:  # an RL action may decode to a constraint-breaking design: scored infeasible
                trajectory.append(canonical(design))
    return trajectory


def _count_infeasible(run: Callable[..., list[str]], agent: Agent, env: Any, budget: int,
                      subject: str) -> int:  # fmt: skip
    bad = [0]

    def count(res: Results) -> None:
        bad[0] += int((~res.feasible).sum())

    env.add_listener(count)
    try:
        run(agent, env, budget, subject)
    except ConformanceError:
        raise
    except Exception as exc:
        raise fail(
            "infeasible",
            subject,
            f"raised {type(exc).__name__}: {exc} on a run with infeasible evaluations",
        ) from exc
    finally:
        env.remove_listener(count)
    return bad[0]


def _results(env: Any, designs: list[dict[str, Any]], evals: Evaluations) -> Results:
    obj = env.objective
    return Results(designs, evals, obj.values(evals), obj.violations(evals), obj.reward(evals))


def _check_failed_tell(agent: Agent, env: Any, subject: str) -> None:
    names = env.cost_model.metric_names
    try:
        asked = agent.ask(3)
        # 1. every evaluation failed (a crashed backend)
        failed = Evaluations.infeasible(len(asked), names, "evaluation failed (injected)")
        agent.tell(asked, _results(env, asked, failed))
        # 2. designs it never asked for, with real results
        foreign = env.space.sample(np.random.default_rng(12345), 2)
        agent.tell(foreign, env.evaluate(foreign))
        # 3. "feasible" rows whose metrics are NaN (a model that forgot to flag them)
        more = agent.ask(2)
        evals = Evaluations({m: np.full(len(more), np.nan) for m in names},
                            np.ones(len(more), dtype=bool), [""] * len(more))  # fmt: skip
        agent.tell(more, _results(env, more, evals))
        after = agent.ask(2)
    except ConformanceError:
        raise
    except Exception as exc:
        raise fail("failed_tell", subject, f"raised {type(exc).__name__}: {exc}") from exc
    if len(after) != 2:
        raise fail("failed_tell", subject, f"ask(2) after failed evaluations returned {len(after)}")
    for d in after:
        _check_design(env, d, subject)
