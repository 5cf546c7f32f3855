"""CoDesign-v1: the joint search of network x sparsity pattern x quantisation x accelerator.

Modules: :mod:`.tables` (sparse/low-precision hardware costs, with citations), :mod:`.hw`
(per-layer hardware costs, built on the systolic timing of :mod:`archgym.envs.systolic`),
:mod:`.model` (:class:`CoDesignCostModel`), :mod:`.env` (space, factory, registration).
"""

from archgym.envs.codesign.env import codesign_space, make_codesign_env
from archgym.envs.codesign.model import CoDesignCostModel

__all__ = ["CoDesignCostModel", "codesign_space", "make_codesign_env"]
