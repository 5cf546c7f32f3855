"""DSEEnv: the one Gymnasium environment class every archgym domain uses.

An env is a :class:`~archgym.space.DesignSpace` + a :class:`~archgym.cost_model.CostModel` +
a workload + an :class:`~archgym.objective.Objective`::

    env = archgym.make("archgym/Systolic-v0", workload="resnet18", objective="edp")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    info["metrics"]["latency_s"], info["feasible"], info["objective"]

Two ways to drive it:

* **Batch API** (search agents): :meth:`DSEEnv.evaluate` takes a list of design dicts and
  returns :class:`~archgym.results.Results` from one vectorised cost-model call.
* **Gymnasium API** (RL agents). ``mode="one-step"`` (default): an episode is one step; the
  action is a whole design (``MultiDiscrete`` value indices for discrete spaces, a unit
  ``Box`` otherwise, or a design dict), the reward is the objective's. ``mode="sequential"``:
  one parameter per step (``Discrete`` action, scaled to each parameter's choices; continuous
  parameters are cut into ``float_bins`` values); the design is evaluated at the last step and
  earlier steps give reward 0.

Observations are ``Box(0, 1, (2d,))``: the unit-encoded design so far, then a 0/1 mask of the
parameters already set. Every evaluation, from either API, is passed to the listeners added
with :meth:`DSEEnv.add_listener` (the run store is one), so every agent's log looks alike.

A design dict outside the space raises :class:`~archgym.errors.DesignError`. An array action
that decodes to a design breaking a space constraint is not an error: it is scored as
infeasible, so RL agents can learn the constraint.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from archgym.cost_model import CostModel, Evaluations, reject_unphysical
from archgym.errors import BackendError, ConfigError, DesignError
from archgym.objective import Objective, ObjectiveSpec
from archgym.results import Results
from archgym.space import DesignSpace

__all__ = ["DSEEnv"]

Listener = Callable[[Results], None]


_MAX_CACHED_VALUES = 10_000


def _row(value: Any) -> np.ndarray:
    arr = np.asarray([value])
    arr.setflags(write=False)
    return arr


class DSEEnv(gym.Env):  # type: ignore[type-arg]
    """A design-space-exploration environment.

    Args:
        space: The design space (actions).
        cost_model: Evaluates designs on ``workload``.
        workload: Domain-specific workload passed to the cost model (may be ``None``).
        objective: Objective spec (see :mod:`archgym.objective`); default: the cost model's
            first metric.
        constraints: Constraint strings such as ``"area_mm2 <= 5"``.
        mode: ``"one-step"`` or ``"sequential"``.
        float_bins: Values per continuous parameter in sequential mode.
        env_id: Registry id, recorded in run manifests.
        infeasible_reward: Reward of an infeasible or constraint-breaking design.

    Raises:
        ConfigError: Unknown mode, or an objective/constraint naming an unknown metric.
    """

    metadata = {"render_modes": []}
    #: Metrics that summaries and Pareto tables show (env factories set it); empty: the
    #: objective's metrics.
    report_metrics: tuple[str, ...] = ()

    def __init__(
        self,
        space: DesignSpace,
        cost_model: CostModel,
        workload: Any = None,
        objective: ObjectiveSpec | None = None,
        constraints: Sequence[str] = (),
        mode: str = "one-step",
        float_bins: int = 16,
        env_id: str = "",
        infeasible_reward: float = -1.0e6,
    ) -> None:
        super().__init__()
        if mode not in ("one-step", "sequential"):
            raise ConfigError(f"mode must be 'one-step' or 'sequential', but got {mode!r}")
        if not (hasattr(cost_model, "metrics") and hasattr(cost_model, "evaluate_columns")):
            raise ConfigError(
                "cost_model must be a CostModel (with metrics and evaluate_columns), but got "
                f"{type(cost_model).__name__} {cost_model!r:.60}; pass a registered name through "
                "archgym.make(env_id, cost_model='NAME') (see archgym.list_cost_models())"
            )
        self.space = space
        self.cost_model = cost_model
        reads = getattr(cost_model, "design_params", None)
        ignored = [n for n in space.names if reads is not None and n not in reads]
        if ignored:
            raise ConfigError(
                f"cost model {cost_model.name!r} does not read design parameter(s) {ignored} of "
                f"space {space.name!r} (it reads {sorted(reads or ())}), so their values would be "
                "ignored silently; use a cost model built for this env's design space"
            )
        self.workload = workload
        self.infeasible_reward = infeasible_reward
        self.set_objective(objective, constraints)
        self.mode = mode
        self.env_id = env_id
        self.float_bins = int(float_bins)
        self._listeners: list[Listener] = []
        d = len(space)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(2 * d,), dtype=np.float64)
        self._values: list[Any] = [p.values for p in space.params]
        self._n_values = [len(v) if v is not None else 0 for v in self._values]
        # Each value as a read-only one-row column, so a step whose action gives value
        # indices hands the model its columns without building them (unconditional discrete
        # spaces of at most _MAX_CACHED_VALUES values in all).
        self._value_rows: list[list[np.ndarray]] | None = None
        if (
            space.is_discrete
            and not space._conditional
            and sum(len(v) for v in self._values) <= _MAX_CACHED_VALUES
        ):
            self._value_rows = [[_row(x) for x in vals] for vals in self._values]
        self._discrete = space.is_discrete
        if self._discrete:
            # the observation of each value index, (i + 0.5) / n, as plain floats
            self._units = [[(i + 0.5) / len(v) for i in range(len(v))] for v in self._values]
        # A lone design with prebuilt columns calls evaluate_columns directly and applies
        # CostModel.evaluate's checks (one row, physical metrics) to the floats the step reads
        # anyway; a model that overrides evaluate keeps going through it.
        self._direct = getattr(type(cost_model), "evaluate", None) is CostModel.evaluate
        self._plain = not any(m.signed or m.optional for m in cost_model.metrics)
        if mode == "one-step":
            self.action_space = space.to_gymnasium()
        else:
            self._choices = [
                p.n_choices if p.n_choices is not None else self.float_bins for p in space.params
            ]
            self._n_actions = max(self._choices)
            self.action_space = spaces.Discrete(self._n_actions)
        self._partial: dict[str, Any] = {}
        self._obs = np.zeros(2 * d)

    def set_objective(
        self, objective: ObjectiveSpec | None, constraints: Sequence[str] = ()
    ) -> None:
        """Replace the objective and constraints (``None``: the cost model's first metric).

        Raises:
            ConfigError: The objective or a constraint names a metric the cost model lacks.
        """
        self.objective = Objective(
            objective if objective is not None else self.cost_model.metrics[0].name,
            self.cost_model.metrics,
            constraints,
            infeasible_reward=self.infeasible_reward,
        )

    # -- listeners ---------------------------------------------------------------------
    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(results)`` after every evaluation (batch or Gymnasium step)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn``."""
        self._listeners.remove(fn)

    # -- batch API ---------------------------------------------------------------------
    def evaluate(self, designs: Sequence[Mapping[str, Any]], validate: bool = True) -> Results:
        """Evaluate designs in one cost-model call.

        Args:
            designs: Design dicts of this env's space.
            validate: Check and normalise each design first (turn off only for designs that
                came from :meth:`DesignSpace.validate`).

        Raises:
            DesignError: A design is outside the space; names the design's position.
        """
        if validate:
            checked = []
            for i, d in enumerate(designs):
                try:
                    checked.append(self.space.validate(d))
                except DesignError as exc:
                    raise DesignError(f"design #{i} of the batch: {exc}") from None
        else:
            checked = [dict(d) for d in designs]
        return self._score(checked, self._run_model(checked))

    def _run_model(
        self, designs: list[dict[str, Any]], cols: dict[str, np.ndarray] | None = None
    ) -> tuple[Evaluations, float]:
        t0 = time.perf_counter()
        if cols is None:
            cols = {n: np.asarray([d[n] for d in designs]) for n in self.space.names}
        # through evaluate, which enforces the contract (row count, unphysical outputs)
        evals = self.cost_model.evaluate(cols, self.workload)
        if len(evals) != len(designs):
            raise RuntimeError(
                f"{type(self.cost_model).__name__} returned {len(evals)} rows for {len(designs)} designs"
            )
        return evals, time.perf_counter() - t0

    def _run_one(
        self, cols: dict[str, np.ndarray]
    ) -> tuple[Evaluations, dict[str, float], float, bool]:
        """One design's evaluation, its metrics as floats, the seconds it took and whether
        every metric is finite and >= 0: :meth:`CostModel.evaluate`'s contract (one row;
        :func:`reject_unphysical`) checked on the floats."""
        model = self.cost_model
        t0 = time.perf_counter()
        evals = model.evaluate_columns(cols, self.workload)
        if len(evals) != 1:
            raise BackendError(
                f"{type(model).__name__}.evaluate_columns returned {len(evals)} rows for 1 design"
            )
        metrics = evals.floats(0)
        # NaN fails 0 <= x: an infeasible design (NaN metrics) takes the full check too
        clean = self._plain and all(0.0 <= x < math.inf for x in metrics.values())
        if not clean:
            evals = reject_unphysical(evals, model.metrics, model.name)
            metrics = evals.floats(0)
        return evals, metrics, time.perf_counter() - t0, clean

    def _score(self, designs: list[dict[str, Any]], run: tuple[Evaluations, float]) -> Results:
        evals, dt = run
        values, violations, reward = self.objective.score(evals)
        res = Results(designs, evals, values, violations, reward, dt)
        for fn in self._listeners:
            fn(res)
        return res

    # -- Gymnasium API ------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: an empty design. Returns ``(observation, info)``."""
        super().reset(seed=seed)
        self._partial = {}
        self._obs = np.zeros(2 * len(self.space))
        return self._obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply an action; see the module docstring for the two modes."""
        if self.mode == "sequential":
            return self._step_sequential(action)
        if isinstance(action, Mapping):
            design = self.space.validate(action)  # a user's dict: bad input is an error
            return self._finish(design, trusted=True)
        design, idx = self._decode_action(action)
        return self._finish(design, trusted=True, idx=idx)

    def _decode_action(self, action: Any) -> tuple[dict[str, Any], list[int] | None]:
        if self._discrete:
            try:
                idx = action.tolist() if isinstance(action, np.ndarray) else list(action)
            except TypeError:  # not a sequence: no index vector at all
                idx = []
            ok = len(idx) == len(self._n_values)
            int_array = isinstance(action, np.ndarray) and action.dtype.kind in "iu"
            if ok and int_array and action.ndim == 1 and idx:
                # Python ints after tolist: the bounds by C-level comparisons
                ok = min(idx) >= 0 and all(map(operator.lt, idx, self._n_values))
            elif ok:
                ok = all(
                    type(i) is int and 0 <= i < m for i, m in zip(idx, self._n_values, strict=True)
                )
            if not ok:
                raise DesignError(
                    f"action must lie in the action space {self.action_space}, but got {action!r}"
                )
            values = map(operator.getitem, self._values, idx)
            return dict(zip(self.space.names, values, strict=True)), idx
        try:
            arr = np.asarray(action, dtype=float)
        except (TypeError, ValueError):
            arr = np.full(0, np.nan)
        if arr.shape != (len(self.space),) or not bool(np.all((arr >= 0.0) & (arr <= 1.0))):
            raise DesignError(
                f"action must lie in the action space {self.action_space}, but got {action!r}"
            )
        return self.space.decode(arr), None

    def _step_sequential(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        t = len(self._partial)
        if t >= len(self.space):
            raise ConfigError("episode is over; call reset() before step()")
        try:
            raw = np.asarray(action).reshape(()).item()
        except (TypeError, ValueError):
            raw = None
        # an integer action only: 2.7 is not silently truncated to 2
        integral = isinstance(raw, (int, np.integer)) and not isinstance(raw, bool)
        if isinstance(raw, float) and raw.is_integer():
            integral = True
        if not integral or not 0 <= int(raw) < self._n_actions:
            raise DesignError(
                f"action must be an integer in [0, {self._n_actions - 1}], but got {action!r}"
            )
        a = int(raw)
        p = self.space.params[t]
        n = self._choices[t]
        k = min(a * n // self._n_actions, n - 1)
        value = p.values[k] if p.values is not None else p.from_unit((k + 0.5) / n)
        self._partial[p.name] = value
        self._obs[t] = p.to_unit(value)
        self._obs[len(self.space) + t] = 1.0
        if len(self._partial) < len(self.space):
            return self._obs.copy(), 0.0, False, False, {"design_so_far": dict(self._partial)}
        return self._finish(dict(self._partial), trusted=True)

    def _finish(
        self, design: dict[str, Any], trusted: bool = False, idx: list[int] | None = None
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        try:
            design = self.space.validate(design, trusted=trusted)
            rows = self._value_rows
            cols = (
                None
                if idx is None or rows is None
                else dict(zip(self.space.names, map(operator.getitem, rows, idx), strict=True))
            )
            if cols is not None and self._direct:
                evals, metrics, dt, clean = self._run_one(cols)
                shown = metrics if clean else None  # every metric finite: nothing to hide
            else:
                evals, dt = self._run_model([design], cols)
                metrics = evals.floats(0)
                shown = None
        except DesignError as exc:  # decoded action broke a space constraint
            evals, dt = Evaluations.infeasible(1, self.cost_model.metric_names, str(exc)), 0.0
            metrics = evals.floats(0)
            shown = None
        feasible = bool(evals.feasible[0])
        values, violations, reward = self.objective.score_one(metrics, feasible)
        if self._listeners:
            res = Results(
                [design],
                evals,
                np.array([values], dtype=float),
                np.array([violations], dtype=float).reshape(1, len(violations)),
                np.array([reward]),
                dt,
            )
            for fn in self._listeners:
                fn(res)
        d = len(self.space)
        if self._discrete:
            if idx is None or self.space._conditional:
                idx = self.space.encode_indices(design).tolist()
            self._obs[:d] = list(map(operator.getitem, self._units, idx))
        else:
            self._obs[:d] = [p.to_unit(design[p.name]) for p in self.space.params]
        self._obs[d:] = 1.0
        self._partial = dict(design)
        info = {
            "design": design,
            "metrics": (
                dict(shown)
                if shown is not None
                else {k: (None if math.isnan(v) else v) for k, v in metrics.items()}
            ),
            "feasible": feasible,
            "reason": evals.reasons[0],
            "objective": [None if math.isnan(v) else v for v in values],
            "admissible": feasible and not any(violations) and all(map(math.isfinite, values)),
        }
        return self._obs.copy(), float(reward), True, False, info

    # -- identity ------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Identity recorded in run manifests."""
        wl = self.workload
        wl_name = getattr(
            wl, "name", wl if isinstance(wl, (str, int, float)) or wl is None else repr(wl)
        )
        return {
            "env_id": self.env_id,
            "space": self.space.spec(),
            "space_fingerprint": self.space.fingerprint(),
            "cost_model": self.cost_model.describe(),
            "workload": wl_name,
            "objective": self.objective.describe(),
            "mode": self.mode,
        }
