"""NAS-v0: a CNN macro search space with a real accuracy oracle (PyTorch training on digits
and MNIST-1D), shipped accuracy tables and a surrogate.

Modules: :mod:`.arch` (the architecture encoding), :mod:`.compress` (sparsity and
quantisation applied for real), :mod:`.datasets`, :mod:`.model` and :mod:`.train` (the torch
network and its training), :mod:`.oracle`, :mod:`.build` and :mod:`.table` (the accuracy
tables in ``data/``), :mod:`.surrogate`, :mod:`.env` (space, cost model, factory,
registration). Torch is imported only when something is trained.
"""

from archgym.envs.nas.env import NASCostModel, make_nas_env, nas_space

__all__ = ["NASCostModel", "make_nas_env", "nas_space"]
