"""Systolic-v0: a DNN workload on a systolic array, with SCALE-Sim-exact stall-free cycles.

Modules: :mod:`.timing` (the systolic fold/fill timing every model shares), :mod:`.model`
(:class:`SystolicCostModel`), :mod:`.env` (the space, the factory and the registration).
"""

from archgym.envs.systolic.env import make_systolic_env, systolic_space
from archgym.envs.systolic.model import SystolicCostModel

__all__ = ["SystolicCostModel", "make_systolic_env", "systolic_space"]
