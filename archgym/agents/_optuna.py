"""Adapter from Optuna samplers to the archgym ask/tell Agent interface.

The archgym loop stays outside Optuna: :meth:`OptunaAgent.ask` calls ``study.ask`` with the
distributions from :meth:`DesignSpace.to_optuna` (ordered parameters as value indices, so
samplers see their order; categoricals as categoricals), and :meth:`OptunaAgent.tell` calls
``study.tell``. Constraint violations go through ``trial.set_constraint`` (Optuna 5); an
infeasible design is told, by default, as a failed trial, which Optuna's samplers ignore.
Agents whose sampler ranks constrained trials (``infeasible_as_constraint = True``: TPE,
CMA-ES, NSGA-II/III, GP) instead get it as a finished trial with the worst objective values told
so far and a violated ``infeasible`` constraint, so the sampler learns to avoid the
infeasible region rather than keep proposing it (a failed trial is still used until a
feasible value has been seen). A sampled design that breaks a space constraint
is told as failed and re-sampled; after ``max_resample`` tries a random valid design is used
and added to the study as a finished trial once told.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from archgym.agents._base import Agent
from archgym.errors import DesignError
from archgym.results import Results

__all__ = ["OptunaAgent"]


@contextlib.contextmanager
def _optuna_quiet() -> Iterator[None]:
    """Silence Optuna's INFO chatter ("A new study created") for the duration, then restore
    the ``optuna`` logger's level: the library never reconfigures logging for good."""
    import logging

    logger = logging.getLogger("optuna")
    before = logger.level
    logger.setLevel(max(before, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(before)


def _key(design: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, repr(v)) for k, v in design.items()))


class OptunaAgent(Agent):
    """Base of Optuna-backed agents; subclasses implement :meth:`make_sampler`."""

    max_resample = 20
    #: Tell infeasible designs as finished trials with the worst values seen so far and a
    #: violated ``infeasible`` constraint (see the module docstring), else as failed trials.
    infeasible_as_constraint = False

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(space, seed, **kwargs)
        import optuna

        self._optuna = optuna
        directions: list[Any] = ["minimize"] * self.n_objectives
        with _optuna_quiet():
            self.study = optuna.create_study(directions=directions, sampler=self.make_sampler())
        self._dists = space.to_optuna()
        self._pending: dict[tuple[Any, ...], list[Any]] = {}
        self._worst: np.ndarray | None = None  # worst finite objective values told so far
        self._worst_violation: np.ndarray | None = None  # largest finite violation per constraint

    @abc.abstractmethod
    def make_sampler(self) -> Any:
        """The configured Optuna sampler, seeded from ``self.seed``."""

    def sampling_context(self) -> contextlib.AbstractContextManager[Any]:
        """Context entered around sampling (``study.ask``); e.g. GP limits torch threads."""
        return contextlib.nullcontext()

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        with self.sampling_context():
            return self._ask(n)

    def _ask(self, n: int) -> list[dict[str, Any]]:
        from optuna.trial import TrialState

        out: list[dict[str, Any]] = []
        for _ in range(n):
            design = None
            for _ in range(self.max_resample):
                trial = self.study.ask(self._dists)
                raw = self.space.from_optuna(trial.params)
                try:
                    design = self.space.validate(raw)
                except DesignError:
                    self.study.tell(trial, state=TrialState.FAIL)
                    continue
                self._pending.setdefault(_key(design), []).append(trial)
                break
            if design is None:
                design = self.space.sample(self.rng, 1)[0]
            out.append(design)
        return out

    def _optuna_params(self, design: Mapping[str, Any]) -> dict[str, Any]:
        return {p.name: p.to_optuna_value(design[p.name]) for p in self.space.params}

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        from optuna.trial import TrialState, create_trial

        for i, design in enumerate(designs):
            values = results.values[i]
            ok = bool(results.feasible[i]) and bool(np.all(np.isfinite(values)))
            violations = results.violations[i] if results.violations.shape[1] else None
            if ok:
                v = np.asarray(values, dtype=float)
                self._worst = v.copy() if self._worst is None else np.maximum(self._worst, v)
                if violations is not None:
                    fin = np.where(np.isfinite(violations), violations, 0.0)
                    w = self._worst_violation
                    self._worst_violation = fin.copy() if w is None else np.maximum(w, fin)
            elif self.infeasible_as_constraint and self._worst is not None:
                self._tell_infeasible(design)
                continue
            queue = self._pending.get(_key(design))
            if queue:
                trial = queue.pop(0)
                if violations is not None and ok:
                    for j, v in enumerate(violations):
                        trial.set_constraint(f"c{j}", float(v) if math.isfinite(v) else 1e300)
                if ok and self.infeasible_as_constraint:
                    trial.set_constraint("infeasible", 0.0)  # same keys on every trial (GP)
                if ok:
                    self.study.tell(trial, [float(x) for x in values])
                else:
                    self.study.tell(trial, state=TrialState.FAIL)
                continue
            # A design the study did not ask for (random fallback, resume, warm start).
            attrs: dict[str, Any] = {}
            if violations is not None and ok:
                attrs = {f"constraints:c{j}": float(v) for j, v in enumerate(violations)}
            if ok and self.infeasible_as_constraint:
                attrs["constraints:infeasible"] = 0.0
            self.study.add_trial(
                create_trial(
                    params=self._optuna_params(design),
                    distributions=self._dists,
                    values=[float(x) for x in values] if ok else None,
                    state=TrialState.COMPLETE if ok else TrialState.FAIL,
                    system_attrs=attrs,
                )
            )

    def _tell_infeasible(self, design: Mapping[str, Any]) -> None:
        """Tell an infeasible design as a finished trial at the worst values seen so far,
        with the ``infeasible`` constraint violated (value 1)."""
        from optuna.trial import TrialState, create_trial

        assert self._worst is not None
        worst = [float(x) for x in self._worst]
        # Objective constraints at their largest violation seen (at least 1), so every trial
        # carries the same constraint keys.
        cons = (
            {f"c{j}": max(float(v), 1.0) for j, v in enumerate(self._worst_violation)}
            if self._worst_violation is not None
            else {}
        )
        cons["infeasible"] = 1.0
        queue = self._pending.get(_key(design))
        if queue:
            trial = queue.pop(0)
            for k, v in cons.items():
                trial.set_constraint(k, v)
            self.study.tell(trial, worst)
            return
        self.study.add_trial(
            create_trial(
                params=self._optuna_params(design),
                distributions=self._dists,
                values=worst,
                state=TrialState.COMPLETE,
                system_attrs={f"constraints:{k}": v for k, v in cons.items()},
            )
        )
