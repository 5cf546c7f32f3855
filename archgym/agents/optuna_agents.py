"""Optuna-backed agents: TPE, GP, CMA-ES, NSGA-II, NSGA-III and QMC.

Each agent wraps one ``optuna.samplers`` sampler behind the archgym ask/tell interface (see
:mod:`archgym.agents._optuna`): ordered parameters (integers, ordinals) reach the sampler as
value indices so it sees their order, categoricals as categoricals; outcome constraints go
through ``trial.set_constraint``; infeasible designs are told as failed trials.

=========  ======================  =======================  ==============================
name       sampler                 objectives               notes
=========  ======================  =======================  ==============================
tpe        ``TPESampler``          single or several
gp         ``GPSampler``           single or several        ~1-4 s CPU per trial; one torch
                                                            thread while sampling
cmaes      ``CmaEsSampler``        single                   categoricals sampled at random
nsga2      ``NSGAIISampler``       single or several
nsga3      ``NSGAIIISampler``      several only             reference-point based
qmc        ``QMCSampler``          single or several        model-free (space filling)
=========  ======================  =======================  ==============================
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archgym.agents._optuna import OptunaAgent, _optuna_quiet
from archgym.errors import ConfigError
from archgym.registry import register_agent
from archgym.results import Results
from archgym.space import Categorical

__all__ = [
    "TPEAgent",
    "GPAgent",
    "CmaEsAgent",
    "NSGA2Agent",
    "NSGA3Agent",
    "QMCAgent",
]


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


class TPEAgent(OptunaAgent):
    """Tree-structured Parzen Estimator (Optuna ``TPESampler``), single- or multi-objective."""

    name = "tpe"
    description = "Bayesian optimisation with Optuna's TPE (single/multi-objective)"
    supports_multi = True

    infeasible_as_constraint = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.TPESampler``."""

        n_startup_trials: int = 10  # random trials before the model is used
        n_ei_candidates: int = 24  # candidates scored per suggestion
        multivariate: bool = True  # model parameter interactions jointly
        constant_liar: bool = True  # avoid duplicate suggestions within a batch

    def make_sampler(self) -> Any:
        import optuna

        c = self.config
        with _quiet_experimental():
            return optuna.samplers.TPESampler(
                n_startup_trials=c.n_startup_trials,
                n_ei_candidates=c.n_ei_candidates,
                multivariate=c.multivariate,
                constant_liar=c.constant_liar,
                seed=self.seed,
            )


class GPAgent(OptunaAgent):
    """Gaussian-process Bayesian optimisation (Optuna ``GPSampler``, logEI / logEHVI).

    The most sample-efficient agent here and by far the slowest: each trial refits the GP and
    optimises the acquisition, 1.5-3.5 s of CPU on a laptop core after a few hundred trials.
    Keep budgets modest (a few hundred evaluations). Sampling runs with one torch thread (the
    previous thread count is restored afterwards), so parallel workers do not oversubscribe
    the CPU.
    """

    name = "gp"
    description = "Bayesian optimisation with Optuna's Gaussian process (slow per trial)"
    supports_multi = True

    infeasible_as_constraint = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.GPSampler``."""

        n_startup_trials: int = 10  # random trials before the GP is used
        deterministic_objective: bool = True  # cost models are deterministic: no noise term
        torch_threads: int = 1  # torch threads while sampling (restored afterwards)

    def make_sampler(self) -> Any:
        import optuna

        c = self.config
        if c.torch_threads < 1:
            raise ConfigError(f"agent 'gp': torch_threads must be >= 1, but got {c.torch_threads}")
        with _quiet_experimental():
            return optuna.samplers.GPSampler(
                n_startup_trials=c.n_startup_trials,
                deterministic_objective=c.deterministic_objective,
                seed=self.seed,
            )

    @contextlib.contextmanager
    def _torch_threads(self) -> Iterator[None]:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.config.torch_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def sampling_context(self) -> contextlib.AbstractContextManager[Any]:
        return self._torch_threads()


class CmaEsAgent(OptunaAgent):
    """CMA-ES (Optuna ``CmaEsSampler``), single objective, with restarts done here.

    CMA-ES adapts a Gaussian over the *ordered* parameters (integers and ordinals, as value
    indices; floats). It cannot model unordered choices: **categorical parameters are sampled
    uniformly at random** for every trial (Optuna's independent sampler), so on spaces where a
    categorical matters most prefer ``tpe``, ``ga`` or ``aco``. Uses the ``cmaes`` package.

    Restarts: Optuna >= 4.4 ignores ``CmaEsSampler(restart_strategy=...)``, so a converged
    CMA-ES kept re-sampling the same few designs (on Mapping-v2, 300 distinct designs in 1,000
    trials). This agent restarts by itself: after ``restart_patience`` trials without a better
    value it starts a fresh CMA-ES (new study, next seed) whose population doubles each time
    (``"ipop"``) or alternates between doubled and default (``"bipop"``, simplified). The
    record of the search stays in archgym's store; only the sampler's state is reset.
    """

    name = "cmaes"
    description = "CMA-ES via Optuna (single objective; categoricals sampled at random)"
    infeasible_as_constraint = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.CmaEsSampler`` (restarts: here)."""

        n_startup_trials: int = 1  # random trials before CMA-ES starts
        sigma0: float = 0.0  # initial step size in index units; 0 = Optuna's default
        popsize: int = 0  # population per generation; 0 = CMA-ES default 4 + 3 ln(d)
        restart_strategy: str = "ipop"  # "" (none), "ipop" or "bipop" restarts
        restart_patience: int = 50  # trials without improvement before a restart
        with_margin: bool = True  # CMA-ES with margin, for integer/ordinal parameters

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        self._restarts = 0
        super().__init__(space, seed, **kwargs)
        if self.config.restart_patience < 1:
            raise ConfigError(
                f"agent 'cmaes': restart_patience must be >= 1, got {self.config.restart_patience}"
            )
        self._best = math.inf
        self._stale = 0  # trials told since the current CMA-ES last improved

    def _popsize(self) -> int | None:
        c = self.config
        if self._restarts == 0 or not c.restart_strategy:
            return c.popsize or None
        ordered = sum(1 for p in self.space.params if not isinstance(p, Categorical))
        base = c.popsize or 4 + int(3 * math.log(max(ordered, 1)))
        if c.restart_strategy == "bipop" and self._restarts % 2 == 0:
            return base
        return base * 2 ** (
            self._restarts if c.restart_strategy == "ipop" else (self._restarts + 1) // 2
        )

    def make_sampler(self) -> Any:
        import optuna

        c = self.config
        if c.restart_strategy not in ("", "ipop", "bipop"):
            raise ConfigError(
                "agent 'cmaes': restart_strategy must be '', 'ipop' or 'bipop', but got "
                f"{c.restart_strategy!r}"
            )
        with _quiet_experimental(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.samplers.CmaEsSampler(
                n_startup_trials=c.n_startup_trials,
                sigma0=c.sigma0 or None,
                popsize=self._popsize(),
                with_margin=c.with_margin,
                warn_independent_sampling=False,
                seed=self.seed + 7919 * self._restarts,
            )

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        c = self.config
        if (
            c.restart_strategy
            and self._stale >= c.restart_patience
            and not any(self._pending.values())
        ):
            self._restarts += 1
            self._stale, self._best = 0, math.inf
            with _optuna_quiet():
                self.study = self._optuna.create_study(sampler=self.make_sampler())
        return super().ask(n)

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        with warnings.catch_warnings():  # CMA-ES ranks by value: the infeasible penalty is
            warnings.filterwarnings("ignore", message="Constraints have been set")  # the value
            super().tell(designs, results)
        for i in range(len(designs)):
            v = float(results.values[i, 0])
            if bool(results.admissible[i]) and v < self._best:
                self._best, self._stale = v, 0
            else:
                self._stale += 1


class NSGA2Agent(OptunaAgent):
    """NSGA-II genetic algorithm (Optuna ``NSGAIISampler``), single or several objectives."""

    name = "nsga2"
    description = "NSGA-II evolutionary search via Optuna (single/multi-objective)"
    supports_multi = True

    infeasible_as_constraint = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.NSGAIISampler``.

        The default population (20) is smaller than Optuna's 50 so that budgets of a few
        hundred evaluations still see several generations.
        """

        population_size: int = 20  # designs per generation
        mutation_prob: float = 0.0  # per-parameter mutation probability; 0 = 1/#params
        crossover_prob: float = 0.9  # probability that a child comes from crossover
        swapping_prob: float = 0.5  # uniform-crossover swap probability per parameter

    def make_sampler(self) -> Any:
        import optuna

        c = self.config
        if c.population_size < 2:
            raise ConfigError(
                f"agent {self.name!r}: population_size must be >= 2, got {c.population_size}"
            )
        return optuna.samplers.NSGAIISampler(
            population_size=c.population_size,
            mutation_prob=c.mutation_prob or None,
            crossover_prob=c.crossover_prob,
            swapping_prob=c.swapping_prob,
            seed=self.seed,
        )


class NSGA3Agent(OptunaAgent):
    """NSGA-III (Optuna ``NSGAIIISampler``): NSGA-II with reference-point niching, built for
    three or more objectives. Several objectives only: with one objective the reference
    points are meaningless, use ``nsga2``."""

    name = "nsga3"
    description = "NSGA-III evolutionary search via Optuna (multi-objective only)"
    supports_single = False
    supports_multi = True

    infeasible_as_constraint = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.NSGAIIISampler``."""

        population_size: int = 20  # designs per generation
        mutation_prob: float = 0.0  # per-parameter mutation probability; 0 = 1/#params
        crossover_prob: float = 0.9  # probability that a child comes from crossover
        swapping_prob: float = 0.5  # uniform-crossover swap probability per parameter
        dividing_parameter: int = 3  # divisions per objective axis of the reference points

    def make_sampler(self) -> Any:
        import optuna

        c = self.config
        if c.population_size < 2:
            raise ConfigError(
                f"agent {self.name!r}: population_size must be >= 2, got {c.population_size}"
            )
        with _quiet_experimental():
            return optuna.samplers.NSGAIIISampler(
                population_size=c.population_size,
                mutation_prob=c.mutation_prob or None,
                crossover_prob=c.crossover_prob,
                swapping_prob=c.swapping_prob,
                dividing_parameter=c.dividing_parameter,
                seed=self.seed,
            )


class QMCAgent(OptunaAgent):
    """Quasi-Monte-Carlo sampling (Optuna ``QMCSampler``): a low-discrepancy, space-filling
    design of experiments; model-free like random search, with more even coverage.
    Categorical parameters are sampled at random (QMC covers ordered parameters only)."""

    name = "qmc"
    description = "quasi-Monte-Carlo (Sobol/Halton) space-filling sampling via Optuna"
    supports_multi = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``optuna.samplers.QMCSampler``."""

        qmc_type: str = "sobol"  # "sobol" or "halton"
        scramble: bool = True  # randomise the sequence with the seed (else only trial 0 is)

    def make_sampler(self) -> Any:
        import optuna

        c = self.config
        if c.qmc_type not in ("sobol", "halton"):
            raise ConfigError(
                f"agent 'qmc': qmc_type must be 'sobol' or 'halton', but got {c.qmc_type!r}"
            )
        with _quiet_experimental():
            return optuna.samplers.QMCSampler(
                qmc_type=c.qmc_type,
                scramble=c.scramble,
                seed=self.seed,
                warn_independent_sampling=False,
                warn_asynchronous_seeding=False,
            )


for _cls in (TPEAgent, GPAgent, CmaEsAgent, NSGA2Agent, NSGA3Agent, QMCAgent):
    register_agent(_cls.name, _cls, _cls.description)
