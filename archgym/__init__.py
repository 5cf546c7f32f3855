"""archgym: a design-space exploration gym for ML systems and hardware.

Typical use::

    import archgym
    env = archgym.make("archgym/Systolic-v0", workload="resnet18", objective="edp")
    result = archgym.run_experiment(
        archgym.Experiment(env="archgym/Systolic-v0", agent="tpe", budget=200), out="runs/demo")
    df = archgym.load_runs("runs/")
"""

from archgym.agents import Agent
from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.errors import (
    ArchGymError,
    BackendError,
    ConfigError,
    DesignError,
    MissingDependencyError,
    RegistryError,
    StoreError,
)
from archgym.objective import Objective
from archgym.pareto import hypervolume, pareto_mask
from archgym.registry import (
    list_agents,
    list_cost_models,
    list_envs,
    make,
    make_agent,
    make_cost_model,
    register,
    register_agent,
    register_cost_model,
)
from archgym.results import Results
from archgym.runner import Experiment, RunResult, run_experiment
from archgym.space import Categorical, Constraint, DesignSpace, Float, Integer, Ordinal
from archgym.store import RunStore, load_runs

__version__ = "0.1.0"

# Built-in domains register with Gymnasium too, so `gymnasium.make("archgym/...")` works after
# `import archgym` (plugins' entry points load lazily, on first use).
from archgym.registry import load_builtin_envs as _load_builtin_envs  # noqa: E402

_load_builtin_envs()

__all__ = [
    "Agent",
    "ArchGymError",
    "BackendError",
    "Categorical",
    "ConfigError",
    "Constraint",
    "CostModel",
    "DSEEnv",
    "DesignError",
    "DesignSpace",
    "Evaluations",
    "Experiment",
    "Float",
    "Integer",
    "Metric",
    "MissingDependencyError",
    "Objective",
    "Ordinal",
    "RegistryError",
    "Results",
    "RunResult",
    "RunStore",
    "StoreError",
    "__version__",
    "hypervolume",
    "list_agents",
    "list_cost_models",
    "list_envs",
    "load_runs",
    "make",
    "make_agent",
    "make_cost_model",
    "pareto_mask",
    "register",
    "register_agent",
    "register_cost_model",
    "run_experiment",
]
