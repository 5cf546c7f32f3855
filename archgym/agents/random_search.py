"""Random search and random walk (ArchGym's RW baseline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.agents._base import Agent
from archgym.errors import ConfigError
from archgym.registry import register_agent
from archgym.results import Results

__all__ = ["RandomAgent", "RandomWalkAgent"]


class RandomAgent(Agent):
    """Uniform random sampling of valid designs; the baseline every agent must beat.
    Works for any number of objectives."""

    name = "random"
    description = "uniform random search (baseline; any number of objectives)"
    supports_multi = True

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        return self.space.sample(self.rng, n)

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        pass


class RandomWalkAgent(Agent):
    """Random walk: each step mutates the current design; moves to the new design when it
    is at least as good (greedy) or with probability ``explore`` anyway, and restarts
    from a random design after ``patience`` steps without improvement.

    ArchGym's random walker moves unconditionally; set ``explore=1.0`` for that behaviour.
    """

    name = "random-walk"
    description = "random walk over neighbouring designs with restarts (ArchGym RW)"

    @dataclass
    class Config:
        """Hyperparameters of the random walk."""

        n_params: int = 1  # parameters changed per move
        explore: float = 0.1  # probability of accepting a worse move
        patience: int = 50  # steps without improvement before a random restart

        def __post_init__(self) -> None:
            if self.n_params < 1:
                raise ConfigError(
                    f"random-walk: `n_params >= 1` must hold, but got {self.n_params}"
                )
            if not 0.0 <= self.explore <= 1.0:
                raise ConfigError(
                    f"random-walk: `0 <= explore <= 1` must hold, but got {self.explore}"
                )
            if self.patience < 1:
                raise ConfigError(
                    f"random-walk: `patience >= 1` must hold, but got {self.patience}"
                )

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(space, seed, **kwargs)
        self._current: dict[str, Any] | None = None
        self._current_value = np.inf
        self._best_value = np.inf
        self._stale = 0

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        if self._current is None or self._stale >= self.config.patience:
            self._stale = 0
            self._current_value = np.inf
            self._current = self.space.sample(self.rng, 1)[0]
            first = [self._current]
            return first + [
                self.space.mutate(self._current, self.rng, self.config.n_params)
                for _ in range(n - 1)
            ]
        return [self.space.mutate(self._current, self.rng, self.config.n_params) for _ in range(n)]

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        scores = _scalar_scores(results)
        for design, score in zip(designs, scores, strict=True):
            if score < self._best_value:
                self._best_value = score
                self._stale = 0
            else:
                self._stale += 1
            if score <= self._current_value or self.rng.random() < self.config.explore:
                self._current, self._current_value = dict(design), score


def _scalar_scores(results: Results) -> np.ndarray:
    """One score per design, lower is better; inf for inadmissible designs."""
    vals = results.values[:, 0] if results.values.shape[1] == 1 else -results.reward
    ok = results.admissible & np.isfinite(vals)
    return np.where(ok, vals, np.inf)


register_agent("random", RandomAgent, RandomAgent.description)
register_agent("random-walk", RandomWalkAgent, RandomWalkAgent.description)
