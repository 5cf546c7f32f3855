"""Accelerator-v2 (a DNN accelerator: PE array, register files, buffer, NoC, DRAM) and
Mapping-v2 (the loop order and tiling of one layer onto it), sharing one access model.

Modules: :mod:`.tables` (per-access energies and areas, with citations), :mod:`.model`
(:class:`AcceleratorCostModel` and ``layer_costs``), :mod:`.mapping_model`
(:class:`MappingCostModel`), :mod:`.proxy_features` (derived proxy features), :mod:`.peers` (ZigZag/SCALE-Sim
hardware importers), :mod:`.fidelity` (comparison with the shipped peer reference set), :mod:`.env` and :mod:`.mapping_env` (spaces, factories,
registration).
"""

from archgym.envs.accelerator.env import accelerator_space, make_accelerator_env
from archgym.envs.accelerator.mapping_env import make_mapping_env, mapping_space
from archgym.envs.accelerator.mapping_model import MappingCostModel
from archgym.envs.accelerator.model import AcceleratorCostModel
from archgym.envs.accelerator.peers import ImportedAccelerator, from_scalesim, from_zigzag
from archgym.envs.accelerator.proxy_features import accelerator_features

__all__ = [
    "AcceleratorCostModel",
    "MappingCostModel",
    "ImportedAccelerator",
    "accelerator_features",
    "from_scalesim",
    "from_zigzag",
    "accelerator_space",
    "make_accelerator_env",
    "make_mapping_env",
    "mapping_space",
]
