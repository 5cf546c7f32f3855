"""archgym: a design-space exploration gym for ML systems and hardware."""

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.errors import (
    ArchGymError,
    BackendError,
    ConfigError,
    DesignError,
    MissingDependencyError,
    RegistryError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "ArchGymError",
    "BackendError",
    "ConfigError",
    "CostModel",
    "DesignError",
    "Evaluations",
    "Metric",
    "MissingDependencyError",
    "RegistryError",
    "StoreError",
    "__version__",
]
