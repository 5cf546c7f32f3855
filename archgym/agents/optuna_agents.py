"""Optuna-backed agents: TPE (single- and multi-objective)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archgym.agents._optuna import OptunaAgent
from archgym.registry import register_agent

__all__ = ["TPEAgent"]


class TPEAgent(OptunaAgent):
    """Tree-structured Parzen Estimator (Optuna ``TPESampler``), single- or multi-objective."""

    name = "tpe"
    description = "Bayesian optimisation with Optuna's TPE (single/multi-objective)"
    supports_multi = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.TPESampler``."""

        n_startup_trials: int = 10  # random trials before the model is used
        n_ei_candidates: int = 24  # candidates scored per suggestion
        multivariate: bool = True  # model parameter interactions jointly
        constant_liar: bool = True  # avoid duplicate suggestions within a batch

    def make_sampler(self) -> Any:
        import warnings

        import optuna

        c = self.config
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                n_startup_trials=c.n_startup_trials,
                n_ei_candidates=c.n_ei_candidates,
                multivariate=c.multivariate,
                constant_liar=c.constant_liar,
                seed=self.seed,
            )


register_agent("tpe", TPEAgent, TPEAgent.description)
