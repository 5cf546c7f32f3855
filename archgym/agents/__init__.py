"""Search agents. Each module registers its agents; :class:`Agent` is the contract."""

from archgym.agents._base import Agent, coerce_hparams

__all__ = ["Agent", "coerce_hparams"]
