"""Derived features: physically motivated columns an env declares for its design space.

A proxy learns products of parameters far better when it sees them as one column: in log
space ``rows * cols`` is ``log2(rows) + log2(cols)``, bandwidth in words per cycle is
``log2(bytes per cycle) - log2(bytes per word)``. A space's env (or anyone) registers a
function computing such columns from the design columns, under the space's name::

    from archgym.proxy import register_derived_features
    register_derived_features("accelerator", accelerator_features, version="1")

:class:`~archgym.proxy.FeatureEncoder` appends them after the parameter features whenever
the space's name has a registration. A proxy file records the set's ``name/version`` and
rebuilds it on load from this registry (code shipped with archgym, never code from the
file); a file naming a set this archgym lacks is refused.

Domains register their sets when imported (``accelerator/1``, for
``archgym/Accelerator-v2``, lives in :mod:`archgym.envs.accelerator.proxy_features`); a
lookup of an unknown space imports the registered domains first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from archgym.errors import ConfigError

__all__ = ["register_derived_features", "derived_features", "derived_key"]

#: A function from design columns (arrays by parameter name) to named float columns.
DerivedFn = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]

_REGISTRY: dict[str, tuple[str, DerivedFn]] = {}


def register_derived_features(space_name: str, fn: DerivedFn, version: str = "1") -> None:
    """Declare derived feature columns for the design space named ``space_name``.

    Args:
        space_name: ``DesignSpace.name`` the columns apply to.
        fn: Columns by parameter name -> ``{feature name: (n,) float array}``; must be a pure
            function of the design (same input, same output, bit for bit).
        version: Bump it whenever ``fn``'s output changes, so old proxy files are refused
            instead of silently fed other columns.
    """
    _REGISTRY[space_name] = (str(version), fn)


def _lookup(name: str) -> tuple[str, DerivedFn] | None:
    if name not in _REGISTRY:
        from archgym.registry import list_envs

        list_envs()  # imports every domain, which registers its sets
    return _REGISTRY.get(name)


def derived_key(space_spec: Mapping[str, Any]) -> str | None:
    """``"name/version"`` of the set registered for this space, or ``None``."""
    hit = _lookup(str(space_spec.get("name")))
    return f"{space_spec.get('name')}/{hit[0]}" if hit else None


def derived_features(key: str) -> DerivedFn:
    """The function of a recorded ``"name/version"`` key.

    Raises:
        ConfigError: No such set, or another version of it is registered.
    """
    name, _, version = key.rpartition("/")
    hit = _lookup(name)
    if hit is None or hit[0] != version:
        have = f"version {hit[0]}" if hit else "no such set"
        raise ConfigError(
            f"the proxy uses derived features {key!r}, but this archgym has {have}; retrain "
            "the proxy with this archgym"
        )
    return hit[1]
