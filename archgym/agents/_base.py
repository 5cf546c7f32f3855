"""The Agent contract: ``ask(n) -> designs``, ``tell(designs, results)``.

An agent proposes designs of a :class:`~archgym.space.DesignSpace` and learns from their
evaluations. It owns its random state (a ``numpy.random.Generator`` built from ``seed``), so
the same seed gives the same trajectory. Hyperparameters are a dataclass ``Config`` on the
agent class; each field's default and comment document it, and unknown or mistyped names are
rejected with the accepted ones listed::

    class MyAgent(Agent):
        name = "my-agent"

        @dataclass
        class Config:
            step: int = 1          # how far a move goes

        def ask(self, n): ...
        def tell(self, designs, results): ...

``tell`` receives :class:`~archgym.results.Results`: ``results.values`` is ``(n, k)`` in
minimisation form with NaN for infeasible designs, ``results.violations`` the constraint
violations. Agents must accept infeasible results and designs they did not ask for.

Agents that learn through the Gymnasium API (RL) set ``drives_env = True`` and implement
:meth:`Agent.run_env`; the runner then hands them the env instead of calling ask/tell.
"""

from __future__ import annotations

import abc
import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from archgym.errors import ConfigError
from archgym.results import Results
from archgym.space import DesignSpace

__all__ = ["Agent", "coerce_hparams", "scalar_scores"]


class Agent(abc.ABC):
    """Base class of every search agent.

    Args:
        space: The design space to search.
        seed: Seed of the agent's own random generator.
        n_objectives: Number of objective columns it will be told (1 = single objective).
        n_constraints: Number of constraint columns it will be told.
        **hparams: Fields of the agent's ``Config``.

    Raises:
        ConfigError: Unknown or mistyped hyperparameter, or an objective count the agent
            does not support.
    """

    name: ClassVar[str] = "agent"
    description: ClassVar[str] = ""
    supports_single: ClassVar[bool] = True
    supports_multi: ClassVar[bool] = False
    drives_env: ClassVar[bool] = False

    @dataclasses.dataclass
    class Config:
        """No hyperparameters."""

    def __init__(
        self,
        space: DesignSpace,
        seed: int = 0,
        n_objectives: int = 1,
        n_constraints: int = 0,
        **hparams: Any,
    ) -> None:
        self.space = space
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.n_objectives = int(n_objectives)
        self.n_constraints = int(n_constraints)
        if self.n_objectives > 1 and not self.supports_multi:
            raise ConfigError(
                f"agent {self.name!r} optimises a single objective, but the objective has "
                f"{self.n_objectives} columns; use a multi-objective agent (e.g. 'nsga2', 'tpe', "
                "'random') or a scalar objective such as 'edp' or a weighted sum"
            )
        if self.n_objectives == 1 and not self.supports_single:
            raise ConfigError(
                f"agent {self.name!r} needs several objectives, but the objective has one; "
                "give a list of objectives, e.g. ['latency_s', 'energy_j']"
            )
        self.config = coerce_hparams(type(self), hparams)

    @abc.abstractmethod
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        """Propose ``n`` valid designs."""

    @abc.abstractmethod
    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        """Learn from evaluated designs (in the order given; may include infeasible ones)."""

    def run_env(self, env: Any, budget: int) -> None:
        """For ``drives_env`` agents: learn through ``env.reset/step`` for ``budget``
        evaluations."""
        raise ConfigError(
            f"agent {self.name!r} uses ask/tell and does not drive the env; call ask() and tell()"
        )

    def hparams(self) -> dict[str, Any]:
        """The resolved hyperparameters, for run manifests."""
        return dataclasses.asdict(self.config)  # type: ignore[call-overload]


def scalar_scores(results: Results) -> np.ndarray:
    """One score per design for single-objective agents, lower is better.

    The objective value for one objective, else minus the env's scalar reward; ``inf`` for
    designs that are infeasible, break a constraint or have a non-finite value.
    """
    vals = results.values[:, 0] if results.values.shape[1] == 1 else -results.reward
    ok = results.admissible & np.isfinite(vals)
    return np.where(ok, vals, np.inf)


def coerce_hparams(cls: type[Agent], given: Mapping[str, Any]) -> Any:
    """Build ``cls.Config`` from ``given``, converting CLI strings to the field types.

    Raises:
        ConfigError: Unknown name (accepted ones listed) or a value of the wrong type.
    """
    config_cls = cls.Config
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    unknown = sorted(set(given) - set(fields))
    if unknown:
        accepted = ", ".join(f"{k}={f.default!r}" for k, f in fields.items()) or "none"
        raise ConfigError(
            f"agent {cls.name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"accepted (with defaults): {accepted}"
        )
    values: dict[str, Any] = {}
    for key, raw in given.items():
        values[key] = _coerce(cls.name, key, raw, hints.get(key, Any))
    return config_cls(**values)


def _coerce(agent: str, key: str, raw: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if raw is None and type(None) in args:
            return None
        if isinstance(raw, str) and raw.lower() == "none" and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(agent, key, raw, a)
            except ConfigError:
                continue
        raise ConfigError(f"agent {agent!r}: hyperparameter {key!r} expects {hint}, got {raw!r}")
    try:
        if hint is bool:
            if isinstance(raw, str):
                low = raw.lower()
                if low in ("true", "1", "yes"):
                    return True
                if low in ("false", "0", "no"):
                    return False
                raise ValueError(raw)
            if isinstance(raw, bool):
                return raw
            raise ValueError(raw)
        if hint is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if hint is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if hint is str:
            if not isinstance(raw, str):
                raise ValueError(raw)
            return raw
    except (TypeError, ValueError):
        tname = getattr(hint, "__name__", str(hint))
        raise ConfigError(
            f"agent {agent!r}: hyperparameter {key!r} must be of type {tname}, got {raw!r}"
        ) from None
    return raw
