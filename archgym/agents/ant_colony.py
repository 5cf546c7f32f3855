"""Ant-colony optimisation over a DesignSpace (ArchGym's ACO), single objective.

Pheromone lives on every (parameter, value) pair; continuous parameters are cut into
``float_bins`` bins. An ant builds a design one parameter at a time: with probability
``greediness`` it takes the value with the most pheromone, otherwise it draws a value with
probability proportional to ``pheromone ** alpha``. After every colony of ``ant_count``
evaluated ants:

* pheromone evaporates: ``tau <- (1 - evaporation) * tau``;
* the colony's best ant and the best ant so far each deposit ``deposit`` on the values they
  used (only admissible ants deposit);
* pheromone is clipped to ``[tau_min, tau_max]`` (MAX-MIN ant system), so no value's
  probability ever reaches zero and the colony keeps exploring.

ArchGym's knobs are ``ant_count``, ``greediness`` and ``evaporation``; they keep their meaning
here. A design that breaks a space constraint, or that was already evaluated (the cost models are
deterministic: once the pheromone concentrates, most ants would re-build the best design),
is re-built up to ``max_tries`` times; then the last valid re-build is mutated
(:meth:`DesignSpace.mutate`, one more parameter per try; discrete spaces only) until it is
new, and if no ant was valid a random valid design is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.agents._base import Agent, scalar_scores
from archgym.errors import ConfigError
from archgym.registry import register_agent
from archgym.results import Results
from archgym.space import Param

__all__ = ["AntColonyAgent"]


def _key(design: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, repr(v)) for k, v in design.items()))


class AntColonyAgent(Agent):
    """MAX-MIN ant system over parameter values (see the module docstring)."""

    name = "aco"
    description = "ant-colony optimisation over parameter values (ArchGym ACO)"

    @dataclass
    class Config:
        """Hyperparameters of the ant colony."""

        ant_count: int = 16  # ants (evaluations) per colony before pheromone is updated
        greediness: float = 0.2  # probability an ant takes the strongest value outright
        evaporation: float = 0.2  # fraction of pheromone lost per colony
        alpha: float = 1.0  # exponent on pheromone when sampling a value
        deposit: float = 1.0  # pheromone an elite ant adds to each value it used
        tau_min: float = 0.05  # pheromone floor (keeps every value reachable)
        tau_max: float = 10.0  # pheromone ceiling
        float_bins: int = 16  # bins per continuous parameter
        max_tries: int = 20  # re-builds of an ant that breaks a space constraint

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(space, seed, **kwargs)
        c = self.config
        if c.ant_count < 1:
            raise ConfigError(f"agent 'aco': ant_count must be >= 1, got {c.ant_count}")
        for key in ("greediness", "evaporation"):
            value = getattr(c, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"agent 'aco': {key} must be in [0, 1], got {value}")
        if not 0.0 < c.tau_min <= c.tau_max:
            raise ConfigError(
                f"agent 'aco': `0 < tau_min <= tau_max` must hold, got ({c.tau_min=}, {c.tau_max=})"
            )
        self._sizes = [
            p.n_choices if p.n_choices is not None else c.float_bins for p in space.params
        ]
        self._tau = [np.ones(n) for n in self._sizes]
        self._colony: list[tuple[float, np.ndarray]] = []
        self._best: tuple[float, np.ndarray] | None = None
        self._seen: set[tuple[Any, ...]] = set()  # designs asked or told

    # -- designs <-> value indices ---------------------------------------------------------
    def _value(self, p: Param, k: int, n: int) -> Any:
        vals = p.values
        return vals[k] if vals is not None else p.from_unit((k + 0.5) / n)

    def _index(self, p: Param, value: Any, n: int) -> int:
        if p.values is not None:
            return p.index(value)
        return min(int(p.to_unit(value) * n), n - 1)

    # -- ask / tell ---------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return [self._build() for _ in range(n)]

    def _build(self) -> dict[str, Any]:
        c = self.config
        fallback: dict[str, Any] | None = None
        for _ in range(c.max_tries):
            design: dict[str, Any] = {}
            for p, tau, size in zip(self.space.params, self._tau, self._sizes, strict=True):
                if self.rng.random() < c.greediness:
                    top = np.flatnonzero(tau == tau.max())
                    k = int(top[self.rng.integers(len(top))])
                else:
                    w = tau**c.alpha
                    k = int(self.rng.choice(size, p=w / w.sum()))
                design[p.name] = self._value(p, k, size)
            if self.space.is_valid(design):
                valid = self.space.validate(design)
                if _key(valid) not in self._seen:
                    self._seen.add(_key(valid))
                    return valid
                fallback = fallback or valid
        if fallback is None:
            return self.space.sample(self.rng, 1)[0]
        if not self.space.is_discrete:  # binned floats: a repeat is the ant's honest choice
            return fallback
        for extra in range(c.max_tries):  # the colony has converged: step away from it
            valid = self.space.mutate(fallback, self.rng, 1 + extra)
            if _key(valid) not in self._seen:
                break
        self._seen.add(_key(valid))
        return valid

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        scores = scalar_scores(results)
        for design, score in zip(designs, scores, strict=True):
            self._seen.add(_key(design))
            idx = np.array(
                [
                    self._index(p, design[p.name], size)
                    for p, size in zip(self.space.params, self._sizes, strict=True)
                ]
            )
            self._colony.append((float(score), idx))
            if np.isfinite(score) and (self._best is None or score < self._best[0]):
                self._best = (float(score), idx)
            if len(self._colony) >= self.config.ant_count:
                self._update()

    def _update(self) -> None:
        c = self.config
        for tau in self._tau:
            tau *= 1.0 - c.evaporation
        elite = [min(self._colony, key=lambda item: item[0])]
        if self._best is not None:
            elite.append(self._best)
        for score, idx in elite:
            if not np.isfinite(score):
                continue
            for tau, k in zip(self._tau, idx, strict=True):
                tau[int(k)] += c.deposit
        for tau in self._tau:
            np.clip(tau, c.tau_min, c.tau_max, out=tau)
        self._colony = []


register_agent("aco", AntColonyAgent, AntColonyAgent.description)
