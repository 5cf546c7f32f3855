"""Conformance suites that ship with archgym, for its own and for third-party components.

::

    from archgym.testing import check_agent, check_cost_model, check_env
    check_env("archgym/Systolic-v0")                     # an env (id or DSEEnv)
    check_cost_model(model, env.space, env.workload)     # a cost model on a space
    check_agent("tpe", "archgym/Systolic-v0")            # a registered agent ...
    check_agent(MyAgent, my_env, budget=12)              # ... or your own Agent subclass

Each returns a :class:`ConformanceReport` and raises :class:`ConformanceError` naming the
failed check. ``tests/test_conformance.py`` runs them on every registered agent, env and cost model.
"""

from archgym.testing._agent_checks import check_agent
from archgym.testing._common import ConformanceError, ConformanceReport, FlakyCostModel
from archgym.testing._cost_model_checks import check_cost_model
from archgym.testing._env_checks import check_env, derive_env

__all__ = [
    "check_agent",
    "check_cost_model",
    "check_env",
    "derive_env",
    "ConformanceError",
    "ConformanceReport",
    "FlakyCostModel",
]
