"""Run one experiment: an agent searching an env for a budget, every evaluation stored.

::

    exp = Experiment(env="archgym/Systolic-v0", env_kwargs={"workload": "resnet18"},
                     agent="tpe", budget=200, seed=0, objective="edp")
    result = run_experiment(exp, out="runs/demo")
    result.best["design"], result.pareto        # best design; Pareto front (DataFrame)

The loop is ``designs = agent.ask(k)`` -> ``env.evaluate(designs)`` -> ``agent.tell`` ->
``store.append``, until ``budget`` evaluations. Agents that learn through the Gymnasium API
(``drives_env``) get the env instead, and the store records their evaluations through the
env's listener, so every agent's log looks alike.

**Resume.** ``run_experiment(exp, out, resume=True)`` reopens the run, rebuilds the agent with
the same seed and *replays* the recorded batches (ask, compare with the records, tell the
recorded results without calling the cost model), then continues. Agents are deterministic
under a seed, so the resumed run is the run that would have happened without the crash:
nothing lost, nothing evaluated twice.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgym.cost_model import Evaluations
from archgym.errors import ArchGymError, ConfigError, StoreError
from archgym.limits import MAX_BATCH_SIZE, MAX_BUDGET, MAX_SEED, check_count, check_hparams
from archgym.pareto import hypervolume, pareto_mask
from archgym.registry import make, make_agent
from archgym.results import Results
from archgym.store import RunStore, ShardRunStore, make_records

__all__ = [
    "Experiment",
    "RunResult",
    "run_experiment",
    "summarize_records",
    "hypervolume_reference",
]


@dataclass
class Experiment:
    """One search: an env, an agent, a budget and a seed.

    Attributes:
        env: Registered env id.
        env_kwargs: Passed to the env factory (workload, cost_model...).
        agent: Registered agent name.
        agent_kwargs: The agent's hyperparameters.
        budget: Number of evaluations.
        seed: Seed of the agent (and of anything random in the env).
        batch_size: Designs asked per round (evaluated in one vectorised call).
        objective: Objective spec; ``None`` uses the env's default.
        constraints: Constraint strings, e.g. ``["area_mm2 <= 10"]``.
        name: Free label stored in the manifest.
        hv_reference: Reference point (one value per objective, minimisation form) for the
            hypervolume of multi-objective runs; ``None`` uses :func:`hypervolume_reference`.
    """

    env: str = "archgym/Systolic-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent: str = "random"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    budget: int = 200
    seed: int = 0
    batch_size: int = 1
    objective: Any = None
    constraints: list[str] = field(default_factory=list)
    name: str = ""
    hv_reference: list[float] | None = None

    def __post_init__(self) -> None:
        for key in ("env", "agent"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(
                    f"{key} must be a registered name (a string), but got {getattr(self, key)!r}"
                )
        for key in ("env_kwargs", "agent_kwargs"):
            if not isinstance(getattr(self, key), Mapping):
                raise ConfigError(
                    f"{key} must be a mapping of argument names to values, but got {getattr(self, key)!r}"
                )
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 1:
            raise ConfigError(f"budget must be a positive integer, but got {self.budget!r}")
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or self.batch_size < 1
        ):
            raise ConfigError(f"batch_size must be a positive integer, but got {self.batch_size!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, but got {self.seed!r}")
        check_count("seed", self.seed, MAX_SEED, "seeds are 32-bit: use 0 <= seed < 2**32")
        check_count("budget", self.budget, MAX_BUDGET, "split the search into several runs")
        check_count(
            "batch_size", self.batch_size, MAX_BATCH_SIZE, "ask for fewer designs per round"
        )
        check_hparams(self.agent, self.agent_kwargs)
        if isinstance(self.constraints, str):
            self.constraints = [self.constraints]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, stored in the manifest: ``dataclasses.asdict``, built
        directly where every value is plain JSON data (a tenth of its cost: a sweep stores
        one per experiment)."""
        try:
            return {f.name: _plain_copy(getattr(self, f.name)) for f in _EXPERIMENT_FIELDS}
        except _NotPlain:
            return dataclasses.asdict(self)

    def make_env(self) -> Any:
        """Build the env with this experiment's objective and constraints."""
        kwargs = dict(self.env_kwargs)
        if self.objective is not None:
            kwargs["objective"] = self.objective
        if self.constraints:
            kwargs["constraints"] = list(self.constraints)
        return make(self.env, **kwargs)


_EXPERIMENT_FIELDS = dataclasses.fields(Experiment)
_ATOMS = (str, int, float, bool, type(None))


class _NotPlain(Exception):
    """A value :func:`_plain_copy` leaves to ``dataclasses.asdict``."""


def _plain_copy(v: Any) -> Any:
    """A copy of plain JSON data (str, int, float, bool, None; dicts and lists of them), as
    ``dataclasses.asdict`` copies it; raises :class:`_NotPlain` for anything else."""
    t = type(v)
    if t in _ATOMS:
        return v
    if t is dict:
        return {k: _plain_copy(x) for k, x in v.items()}
    if t is list:
        return [_plain_copy(x) for x in v]
    raise _NotPlain


@dataclass
class RunResult:
    """What a finished run returns.

    Attributes:
        run_dir: Where the records are (``None`` for an in-memory run).
        n_evaluations: Evaluations made (including resumed ones).
        best: ``{"design", "metrics", "objective", "eval_id"}`` of the best admissible
            design, or ``None`` if no design was admissible.
        pareto_rows: The non-dominated admissible designs over ``pareto_metrics``, one dict
            per design (``eval_id``, the metrics, the design parameters); :attr:`pareto`
            is the same as a DataFrame.
        pareto_metrics: The columns the front is over (minimisation form applied).
        status: ``complete`` or ``interrupted``.
        wall_s: Wall time of this call.
        hypervolume: Hypervolume of the admissible objective vectors (multi-objective runs;
            ``None`` otherwise), against ``Experiment.hv_reference`` or
            :func:`hypervolume_reference`.
        workload: The env's workload name (``"llama-7b.ffn_up@2048 (gemm MxNxK ...)"``).
        hardware: The cost model's GPU where it has one (Kernel envs), else ``""``.
        outcomes: Counts of feasible, infeasible (with top reasons) and inadmissible
            evaluations (see :func:`archgym.outcomes.count_outcomes`).
        objective: The objective labels and constraints (``Objective.describe()``).
        cost_model: ``"name vVERSION"`` of the cost model that scored the run.
    """

    run_dir: Path | None
    n_evaluations: int
    best: dict[str, Any] | None
    pareto_rows: list[dict[str, Any]]
    pareto_metrics: list[str]
    status: str
    wall_s: float
    hypervolume: float | None = None
    workload: str = ""
    hardware: str = ""
    outcomes: dict[str, Any] | None = None
    objective: dict[str, Any] | None = None
    cost_model: str = ""

    @property
    def pareto(self) -> Any:
        """The Pareto front as a pandas DataFrame (built on first use)."""
        cached = self.__dict__.get("_pareto_df")
        if cached is None:
            import pandas as pd

            cached = self.__dict__["_pareto_df"] = pd.DataFrame(self.pareto_rows)
        return cached

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (``archgym run --json``)."""
        return {
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "n_evaluations": self.n_evaluations,
            "status": self.status,
            "wall_s": round(self.wall_s, 4),
            "best": self.best,
            "pareto_metrics": self.pareto_metrics,
            "pareto": self.pareto_rows,
            "hypervolume": self.hypervolume,
            "objective": self.objective,
            "cost_model": self.cost_model,
            "outcomes": self.outcomes,
        }


ProgressFn = Callable[[int, int, int], None]  # (done, budget, infeasible)


def _results_from_records(
    env: Any, designs: list[dict[str, Any]], recs: list[dict[str, Any]]
) -> Results:
    names = env.cost_model.metric_names
    evals = Evaluations(
        metrics={
            m: np.array(
                [np.nan if r["metrics"].get(m) is None else float(r["metrics"][m]) for r in recs]
            )
            for m in names
        },
        feasible=np.array([bool(r["feasible"]) for r in recs]),
        reasons=[str(r.get("reason", "")) for r in recs],
    )
    return Results(designs, evals, *env.objective.score(evals))


def _canon(design: Mapping[str, Any]) -> str:
    return json.dumps(design, sort_keys=True, default=float)


def run_experiment(
    exp: Experiment,
    out: str | Path | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
    env: Any = None,
    store_options: Mapping[str, Any] | None = None,
    summary: str = "full",
    described: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run ``exp``, recording every evaluation under ``out``.

    Args:
        exp: The experiment.
        out: Run directory; ``None`` keeps records in memory only.
        resume: Continue the run already in ``out`` (see the module docstring).
        progress: Called as ``progress(done, budget, infeasible)`` after each batch.
        env: A pre-built env to use instead of ``exp.make_env()`` (tests, custom envs).
        store_options: Keyword arguments of :class:`~archgym.store.RunStore` (e.g.
            ``{"buffered": True, "durable": False}`` for a run that is rerun whole if it
            stops), or ``{"shard": True}``: the run is written into its sweep's shards by a
            :class:`~archgym.store.ShardRunStore` (a sweep task), ``out`` being its address
            ``<sweep dir>/<experiment id>``; no ``resume``.
        summary: ``"full"``: the result has the best design, the Pareto front, the
            hypervolume and the outcome counts. ``"best"``: only the best design (the one
            summary the manifest stores); ``pareto_rows`` is empty and ``hypervolume`` and
            ``outcomes`` are ``None``, for a caller that keeps only the best, like a sweep
            task (``archgym show`` and :func:`load_runs` read the rest from the records).
        described: ``env.describe()`` of the ``env`` passed, when the caller already has it
            (a sweep task reusing one env for several experiments computes it once); the
            manifest's ``env`` identity. Must be that env's; ``None`` calls ``describe()``.

    Raises:
        ConfigError / RegistryError / DesignError: Bad experiment (before anything runs).
        StoreError: ``out`` is unusable, already holds a run (without ``resume``), or the
            recorded run does not match ``exp``.
    """
    t0 = time.perf_counter()
    if summary not in ("full", "best"):
        raise ConfigError(f"summary must be 'full' or 'best', but got {summary!r}")
    if described is not None and env is None:
        raise ConfigError("described= is the describe() of the env= passed; pass the env too")
    env, agent = _build(exp, env)
    if described is None:
        described = env.describe()
    manifest = {
        "env_id": exp.env,
        "env": described,
        "agent": exp.agent,
        "agent_hparams": agent.hparams(),
        "seed": exp.seed,
        "budget": exp.budget,
        "batch_size": exp.batch_size,
        "experiment": exp.to_dict(),
    }
    store: RunStore | ShardRunStore | None = None
    records: list[dict[str, Any]] = []
    if out is not None:
        options = dict(store_options or {})
        if options.pop("shard", False):
            if resume or options:
                raise ConfigError(
                    "a run written into shards takes no resume and no other store option, but "
                    f"got resume={resume}, {options}; a sweep reruns what did not complete"
                )
            store = ShardRunStore.create(out, manifest)
        elif resume and (Path(out) / "manifest.json").exists():

            def accept(old: dict[str, Any], recorded: list[dict[str, Any]]) -> None:
                # everything that can refuse the resume runs before the store touches a file
                _check_same_run(old, manifest, Path(out))
                if recorded and agent.drives_env and len(recorded) < exp.budget:
                    raise StoreError(
                        f"agent {exp.agent!r} learns through the env and cannot replay a partial "
                        "run, so it cannot resume; rerun into a new --out"
                    )
                if recorded:
                    _replay(env, agent, recorded)
                old["budget"] = exp.budget
                old.setdefault("experiment", {})["budget"] = exp.budget

            store = RunStore.open(out, accept=accept, **options)
        else:
            store = RunStore.create(out, manifest, **options)
        records = store.records
    status = "running"
    done = len(records)
    infeasible = sum(1 for r in records if not r["feasible"])
    try:

        def record(res: Results) -> None:
            nonlocal done, infeasible
            if store is not None:
                store.append(res, time.perf_counter() - t0)
            else:
                _append_memory(records, res, time.perf_counter() - t0)
            done += len(res)
            if progress:  # the count is for the progress display only
                infeasible += len(res) - int(np.count_nonzero(res.feasible))
                progress(done, exp.budget, infeasible)

        if progress:
            progress(done, exp.budget, infeasible)
        if agent.drives_env:
            env.add_listener(record)
            try:
                agent.run_env(env, exp.budget - done)
            finally:
                env.remove_listener(record)
        else:
            while done < exp.budget:
                k = min(exp.batch_size, exp.budget - done)
                designs = agent.ask(k)
                res = env.evaluate(designs)
                agent.tell(res.designs, res)
                record(res)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as exc:
        status = "failed"
        if store is not None:
            try:
                store.set_status("failed", error=f"{type(exc).__name__}: {exc}")
            except StoreError:  # the disk that failed the run fails this too: the manifest
                pass  # stays as last written (shown as stopped once the lock is released)
        raise
    finally:
        made: dict[str, Any] | None = None
        if store is not None:
            try:
                if status != "failed":
                    made = _store_summary(store, env, exp, summary)
                    store.set_status(status, best=made["best"], sync=True)
            finally:
                store.close()
    if store is not None and (made is None or summary == "full"):
        records = store.records  # with the buffered ones built
    if made is None:
        made = _summarize(records, env, exp, summary)
    identity = _identity(described)
    return RunResult(
        run_dir=Path(out) if out is not None else None,
        n_evaluations=done,
        best=made["best"],
        pareto_rows=made["pareto"],
        pareto_metrics=made["pareto_metrics"],
        status=status,
        wall_s=time.perf_counter() - t0,
        hypervolume=made["hypervolume"],
        workload=identity["workload"],
        hardware=identity["hardware"],
        **(_explained(records, env) if summary == "full" else {}),
    )


def _model_label(cm: Any) -> str:
    """``"name vVERSION"``; a version that already names the model (``proxy-<sha>``) once."""
    ver = str(getattr(cm, "version", "?"))
    if ver.startswith(f"{cm.name}-"):
        return f"{cm.name} {ver[len(cm.name) + 1 :]}"
    return f"{cm.name} v{ver}"


def _explained(records: list[dict[str, Any]], env: Any) -> dict[str, Any]:
    """The objective, the cost model and the evaluation outcomes, for a summary that states
    what was optimised, with what, and how many evaluations counted."""
    from archgym.outcomes import count_outcomes

    cm = env.cost_model
    return {
        "outcomes": count_outcomes(records, env.objective),
        "objective": env.objective.describe(),
        "cost_model": _model_label(cm),
    }


def _identity(info: Mapping[str, Any]) -> dict[str, str]:
    """The workload and hardware (the cost model's ``gpu``, if any) the run was for, from
    the env's ``describe()``."""
    model = info.get("cost_model")
    gpu = model.get("gpu", "") if isinstance(model, dict) else ""
    return {"workload": str(info.get("workload") or ""), "hardware": str(gpu or "")}


def _build(exp: Experiment, env: Any = None) -> tuple[Any, Any]:
    """The experiment's env and agent. Anything that fails here is bad input (an argument a
    factory or an agent does not accept), raised as an archgym error, never a plain one."""
    stage = "the env"
    try:
        env = env if env is not None else exp.make_env()
        stage = "the agent"
        agent = make_agent(
            exp.agent,
            env.space,
            seed=exp.seed,
            n_objectives=env.objective.n_objectives,
            n_constraints=len(env.objective.constraints),
            **exp.agent_kwargs,
        )
    except ArchGymError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError) as exc:
        what = (
            f"{exp.env} with {exp.env_kwargs}"
            if stage == "the env"
            else f"{exp.agent} with {exp.agent_kwargs}"
        )
        raise ConfigError(
            f"cannot build {stage} ({what}): {type(exc).__name__}: {exc}; check the arguments "
            "against `archgym list` and the docs of that env or agent"
        ) from exc
    return env, agent


def _check_same_run(old: Mapping[str, Any], new: Mapping[str, Any], path: Path) -> None:
    """Refuse to resume a run with another experiment: everything but the budget must match
    (env and its arguments, cost model and version, workload, objective, constraints, agent,
    hyperparameters, seed, batch size, design space)."""
    old_exp = {
        k: v for k, v in dict(old.get("experiment", {})).items() if k not in ("budget", "name")
    }
    new_exp = {k: v for k, v in dict(new["experiment"]).items() if k not in ("budget", "name")}
    checks: list[tuple[str, Any, Any]] = [
        (k, old_exp.get(k), new_exp.get(k)) for k in sorted(set(old_exp) | set(new_exp))
    ]
    checks.append(("agent_hparams", old.get("agent_hparams"), new.get("agent_hparams")))
    old_env, new_env = dict(old.get("env", {})), dict(new["env"])
    for key in ("space_fingerprint", "cost_model", "workload", "objective", "mode"):
        checks.append((f"env.{key}", old_env.get(key), new_env.get(key)))
    for key, was, now in checks:
        if json.dumps(was, sort_keys=True, default=str) != json.dumps(
            now, sort_keys=True, default=str
        ):
            raise StoreError(
                f"cannot resume {path}: it was run with {key}={was!r}, this experiment has "
                f"{key}={now!r}; resume with the same settings (only --budget may change) or "
                "choose another --out"
            )


def _replay(env: Any, agent: Any, records: list[dict[str, Any]]) -> None:
    batches: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        batches.setdefault(int(r["batch"]), []).append(r)
    for b in sorted(batches):
        recs = batches[b]
        asked = agent.ask(len(recs))
        if [_canon(d) for d in asked] != [_canon(r["design"]) for r in recs]:
            raise StoreError(
                f"cannot resume: replaying batch {b}, agent {agent.name!r} asked for different "
                "designs than the records hold (was the agent, its seed or the package version "
                "changed?); rerun into a new --out"
            )
        designs = [env.space.validate(r["design"]) for r in recs]
        agent.tell(designs, _results_from_records(env, designs, recs))


def _append_memory(records: list[dict[str, Any]], res: Results, t: float) -> None:
    batch = (records[-1]["batch"] + 1) if records else 0
    records.extend(make_records(res, len(records), batch, t))


def hypervolume_reference(values: np.ndarray) -> np.ndarray:
    """Default hypervolume reference point: per objective, the worst (largest) admissible
    value pushed out by 10 % of its magnitude, i.e. ``max * 1.1`` for positive values (and
    ``max * 0.9`` for negated, maximised ones). A zero maximum is pushed out by 10 % of the
    objective's range (or by 1 if every value is equal).

    The reference depends on the run's own values, so compare hypervolumes across runs only
    with a shared ``Experiment.hv_reference``.
    """
    v = np.asarray(values, dtype=float)
    worst = np.nanmax(v, axis=0)
    margin = 0.1 * np.abs(worst)
    spread = 0.1 * (worst - np.nanmin(v, axis=0))
    margin = np.where(margin > 0, margin, np.where(spread > 0, spread, 1.0))
    return worst + margin


def summarize_records(
    records: list[dict[str, Any]], env: Any, hv_reference: Any = None
) -> dict[str, Any]:
    """Best admissible design, the Pareto front and (multi-objective) hypervolume of a run.

    The front is over the objective columns for multi-objective runs, else over the env's
    ``report_metrics`` (latency/energy/area style metrics), so single-objective runs still
    show the trade-off they explored. ``O(n log n)`` in the number of records and free of
    pandas (see :mod:`archgym.pareto`); ``pareto`` is a list of rows, one dict per design.
    """
    obj = env.objective
    ok, values, best = _admissible_best(records, env)
    if obj.is_multi:
        pm = list(obj.labels)
        cols = [list(t.metrics) for t in obj.terms]
        pts = (
            values
            if values is not None and values.shape[1] == len(pm)
            else _matrix([r["objective"] for r in ok], len(pm))
        )
    else:
        metric_dirs = {m.name: m.direction for m in env.cost_model.metrics}
        pm = [m for m in getattr(env, "report_metrics", ()) if m in metric_dirs][:3] or list(
            obj.metric_names
        )
        signs = np.array([1.0 if metric_dirs.get(m, "min") == "min" else -1.0 for m in pm])
        cols = [[m] for m in pm]
        pts = _matrix([[r["metrics"].get(m) for m in pm] for r in ok], len(pm)) * signs
    rows = []
    seen: set[str] = set()
    names = list(dict.fromkeys(c for cs in cols for c in cs))
    on_front = _front_mask(pts)
    for i in np.flatnonzero(on_front):
        r = ok[int(i)]
        key = _canon(r["design"])
        if key not in seen:
            seen.add(key)
            row = {"eval_id": r["eval_id"]}
            for m in names:
                row[m] = r["metrics"].get(m)
            row.update(_active_design(env.space, r["design"]))
            rows.append(row)
    if rows:
        first = next(c for c in rows[0] if c != "eval_id")
        rows.sort(key=lambda row: _sort_key(row.get(first)))
    hv = None
    if obj.is_multi and len(ok):
        ref = (
            hypervolume_reference(pts) if hv_reference is None else np.asarray(hv_reference, float)
        )
        if ref.shape != (pts.shape[1],):
            raise ConfigError(
                f"hv_reference needs one value per objective {list(obj.labels)}, got {hv_reference!r}"
            )
        hv = hypervolume(pts[on_front], ref)
    return {"best": best, "pareto": rows, "pareto_metrics": pm, "hypervolume": hv}


def _admissible_best(
    records: list[dict[str, Any]], env: Any
) -> tuple[list[dict[str, Any]], np.ndarray | None, dict[str, Any] | None]:
    """The admissible records, their objective matrix (``None`` if there are none) and
    the best of them (see :func:`_best_record`, its design without inactive parameters)."""
    ok = [r for r in records if r.get("admissible")]
    values = _matrix([r["objective"] for r in ok], len(ok[0]["objective"])) if ok else None
    return ok, values, _shown(_best_record(ok, env.objective, values), env)


def _shown(best: dict[str, Any] | None, env: Any) -> dict[str, Any] | None:
    """The best design's summary (:func:`_best_fields`) with its design's inactive
    parameters dropped, or ``None``."""
    if best is None:
        return None
    return {**best, "design": _active_design(env.space, best["design"])}


def _best_only(best: dict[str, Any] | None) -> dict[str, Any]:
    """A ``summary="best"`` summary: the best design, no front, no hypervolume."""
    return {"best": best, "pareto": [], "pareto_metrics": [], "hypervolume": None}


def _store_summary(
    store: RunStore | ShardRunStore, env: Any, exp: Experiment, summary: str
) -> dict[str, Any]:
    """:func:`_summarize` of the store's records; with ``summary="best"`` and a
    :class:`ShardRunStore`, from its batches, without building every record."""
    if summary == "full" or not isinstance(store, ShardRunStore):
        return _summarize(store.records, env, exp, summary)
    top = store.best_record()
    return _best_only(_shown(None if top is None else _best_fields(top, env.objective), env))


def _summarize(
    records: list[dict[str, Any]], env: Any, exp: Experiment, summary: str
) -> dict[str, Any]:
    """:func:`summarize_records`, or with ``summary="best"`` the best design alone (no
    front, no hypervolume)."""
    if summary == "full":
        return summarize_records(records, env, hv_reference=exp.hv_reference)
    return _best_only(_admissible_best(records, env)[2])


def _active_design(space: Any, design: Mapping[str, Any]) -> dict[str, Any]:
    """``design`` without the parameters its own values make inactive (they are pinned to
    defaults and do not describe the design)."""
    names = set(getattr(space, "names", ()))
    return {k: v for k, v in design.items() if k not in names or space.is_active(space[k], design)}


def _front_mask(pts: np.ndarray) -> np.ndarray:
    """:func:`pareto_mask` computed once per distinct point (a long run evaluates many
    designs, and many points, more than once)."""
    if not len(pts):
        return np.zeros(0, dtype=bool)
    idx = np.flatnonzero(~np.isnan(pts).any(axis=1))
    mask = np.zeros(len(pts), dtype=bool)
    if not idx.size:
        return mask
    v = pts[idx]
    order = np.lexsort(v.T[::-1])
    sv = v[order]
    new = np.r_[True, np.any(sv[1:] != sv[:-1], axis=1)]  # first of each run of equal points
    group = np.cumsum(new) - 1
    distinct = sv[new]
    if distinct.shape[1] > 2 and len(distinct) <= _SMALL_FRONT:
        on = _front_small(distinct)[group]
    else:
        on = pareto_mask(distinct)[group]
    mask[idx[order]] = on
    return mask


#: Up to this many distinct points of 3+ objectives, :func:`_front_small` (one all-pairs
#: comparison, a few numpy calls) is faster than :func:`pareto_mask`'s blocked sweep, whose
#: ~10 numpy calls per block cost ~0.3 ms for a 100-evaluation run.
_SMALL_FRONT = 256


def _front_small(v: np.ndarray) -> np.ndarray:
    """Non-dominated mask of distinct, NaN-free ``(m, k)`` points (lower is better), by
    comparing all pairs: the same mask as :func:`pareto_mask` (checked in
    tests/test_runner_front.py), in O(m^2 k) time and memory for small ``m``."""
    # i nowhere worse than j, one objective at a time (a reduce over a short last axis of
    # an (m, m, k) array costs several times these k two-dimensional comparisons)
    le = v[:, None, 0] <= v[None, :, 0]
    for j in range(1, v.shape[1]):
        le &= v[:, None, j] <= v[None, :, j]
    # i dominates j: nowhere worse and, the points being distinct, not equal
    np.fill_diagonal(le, False)
    return np.asarray(~le.any(axis=0))


def _stored_float(v: Any) -> float:
    """A record's number back to a float: null -> NaN, "inf"/"-inf" -> +-inf."""
    if v is None:
        return math.nan
    return float(v)


def _matrix(rows: list[list[Any]], k: int) -> np.ndarray:
    """Stored numbers (null, "inf"/"-inf" included) as an ``(n, k)`` float array."""
    if not rows or set(map(len, rows)) == {k}:  # rows k long: one flat pass in C (~2x)
        try:
            return np.fromiter(
                itertools.chain.from_iterable(rows), dtype=float, count=len(rows) * k
            ).reshape(len(rows), k)
        except (TypeError, ValueError):  # null (None)
            pass
    try:  # numpy reads None as NaN and "inf" as inf, in C
        return np.array(rows, dtype=float).reshape(len(rows), k)
    except (TypeError, ValueError):
        return np.array([[_stored_float(v) for v in row] for row in rows], dtype=float).reshape(
            len(rows), k
        )


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v))
    return (1, str(v))


def _best_record(
    ok: list[dict[str, Any]], obj: Any, vals: np.ndarray | None
) -> dict[str, Any] | None:
    """The admissible record with the lowest objective (single) or highest reward (multi);
    the first one on ties. ``vals``: their objective values as a matrix (``None`` when
    ``ok`` is empty)."""
    if not ok or vals is None:
        return None
    if vals.shape[1] == 1:
        score = vals[:, 0]
    else:
        try:
            score = -np.array([r["reward"] for r in ok], dtype=float)
        except (TypeError, ValueError):
            score = -np.array([_stored_float(r["reward"]) for r in ok], dtype=float)
    score = np.where(np.isnan(vals).any(axis=1) | np.isnan(score), np.inf, score)
    return _best_fields(ok[int(np.argmin(score))], obj)


def _best_fields(top: Mapping[str, Any], obj: Any) -> dict[str, Any]:
    """The summary of the best record ``top`` (the manifest's ``best``)."""
    return {
        "eval_id": top["eval_id"],
        "design": top["design"],
        "metrics": dict(top["metrics"]),
        "objective": dict(zip(obj.labels, top["objective"], strict=False)),
    }
