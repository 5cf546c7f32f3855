"""The single exception root of archgym and its specialisations.

Every error archgym raises on purpose derives from :class:`ArchGymError`, so callers can catch
one type. Messages state the rule that was broken, the offending value and, where there is
one, the fix.
"""

from __future__ import annotations

__all__ = [
    "ArchGymError",
    "DesignError",
    "RegistryError",
    "StoreError",
    "ConfigError",
    "BackendError",
    "MissingDependencyError",
]


class ArchGymError(Exception):
    """Root of every error archgym raises deliberately."""


class DesignError(ArchGymError, ValueError):
    """A design (or a design-space definition) breaks a rule of its space."""


class RegistryError(ArchGymError, KeyError):
    """An env, agent or cost-model name is unknown or registered twice."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class StoreError(ArchGymError):
    """A run directory or record file is missing, unwritable or corrupt."""


class ConfigError(ArchGymError, ValueError):
    """An experiment, objective, hyperparameter or CLI option is malformed."""


class BackendError(ArchGymError, RuntimeError):
    """A cost-model backend (simulator, GPU, model file) is broken, not just the design."""


class MissingDependencyError(ArchGymError, ImportError):
    """An optional dependency is not installed; the message gives the pip command."""
