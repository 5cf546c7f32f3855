"""A plain genetic algorithm over a DesignSpace (single objective).

Steady-state (mu + lambda) GA, readable in one pass:

1. The first ``population_size`` designs are uniform random samples (distinct, if possible).
2. After that, each asked design is a child: two parents chosen by tournament among the
   current population, uniform crossover (each parameter from either parent) with
   probability ``crossover_prob``, then with probability ``mutation_prob`` a mutation through
   :meth:`DesignSpace.mutate` (``mutation_params`` parameters moved to a neighbouring value,
   or another choice for categoricals). Children that break a space constraint are repaired
   by re-drawing; children already evaluated are re-drawn a few times, each redraw mutating
   one parameter more than the last (the cost models are deterministic, so a repeat
   evaluation is wasted, and a converged population must jump further to find new designs).
3. The population is the best ``population_size`` of everything told so far (elitist).
   Admissible designs rank by objective value, ahead of designs that break an objective
   constraint (ranked by their total violation, so the population is pulled toward the
   admissible region), ahead of infeasible designs.

Because selection works on that population, ``ask(n)`` accepts any ``n`` and designs the agent did
not ask for (resume, warm start) simply compete for a place in it.
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

__all__ = ["GeneticAgent"]


def _key(design: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, repr(v)) for k, v in design.items()))


class GeneticAgent(Agent):
    """Steady-state genetic algorithm with tournament selection, uniform crossover and
    neighbour mutation (see the module docstring)."""

    name = "ga"
    description = "plain genetic algorithm: tournament, uniform crossover, neighbour mutation"

    @dataclass
    class Config:
        """Hyperparameters of the genetic algorithm."""

        population_size: int = 20  # designs kept (best of everything evaluated)
        tournament_size: int = 3  # candidates per parent tournament
        crossover_prob: float = 0.9  # probability a child mixes two parents
        mutation_prob: float = 0.5  # probability a child is mutated afterwards
        mutation_params: int = 1  # parameters changed by one mutation
        max_redraws: int = 10  # attempts to avoid an already evaluated child

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(space, seed, **kwargs)
        c = self.config
        if c.population_size < 2:
            raise ConfigError(f"agent 'ga': population_size must be >= 2, got {c.population_size}")
        if c.tournament_size < 1:
            raise ConfigError(f"agent 'ga': tournament_size must be >= 1, got {c.tournament_size}")
        for key in ("crossover_prob", "mutation_prob"):
            value = getattr(c, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"agent 'ga': {key} must be in [0, 1], got {value}")
        self._population: list[
            tuple[tuple[float, float], dict[str, Any]]
        ] = []  # ((violation, score), design)
        self._seen: set[tuple[Any, ...]] = set()
        self._asked = 0

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _ in range(n):
            if self._asked < self.config.population_size or len(self._population) < 2:
                for _ in range(max(self.config.max_redraws, 1)):
                    child = self.space.sample(self.rng, 1)[0]
                    if _key(child) not in self._seen:
                        break
            else:
                child = self._child()
            self._asked += 1
            self._seen.add(_key(child))
            out.append(child)
        return out

    def _child(self) -> dict[str, Any]:
        c = self.config
        child: dict[str, Any] = {}
        for attempt in range(max(c.max_redraws, 1)):
            a = self._tournament()
            child = dict(a)
            if self.rng.random() < c.crossover_prob:
                b = self._tournament()
                take_b = self.rng.random(len(self.space.params)) < 0.5
                mixed = {
                    p.name: (b if t else a)[p.name]
                    for p, t in zip(self.space.params, take_b, strict=True)
                }
                if self.space.is_valid(mixed):
                    child = self.space.validate(mixed)
            if self.rng.random() < c.mutation_prob or _key(child) in self._seen:
                # A converged population has seen its neighbours: each redraw mutates one
                # parameter more, so the search can leave a local optimum.
                child = self.space.mutate(child, self.rng, c.mutation_params + attempt)
            if _key(child) not in self._seen:
                break
        return child

    def _tournament(self) -> dict[str, Any]:
        k = min(self.config.tournament_size, len(self._population))
        picks = self.rng.choice(len(self._population), size=k, replace=False)
        best = min(int(i) for i in picks)  # population is sorted, lower index is better
        return self._population[best][1]

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        scores = scalar_scores(results)
        violation = np.where(results.feasible, results.violations.sum(axis=1), np.inf)
        violation = np.where(np.isfinite(scores), 0.0, violation)
        pool = list(self._population)
        for design, score, viol in zip(designs, scores, violation, strict=True):
            self._seen.add(_key(design))
            pool.append(((float(viol), float(score)), dict(design)))
        # The best of everything evaluated. Stable sort: ties keep arrival order (deterministic).
        pool.sort(key=lambda item: item[0])
        self._population = pool[: self.config.population_size]


register_agent("ga", GeneticAgent, GeneticAgent.description)
