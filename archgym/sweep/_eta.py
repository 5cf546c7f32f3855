"""Time left in a sweep, weighted by env: experiments of a slow env count for more.

A plain progress bar extrapolates from experiments done per second, which is wrong when envs
differ in cost (a lottery of a cheap accelerator model and a co-design env with a network
table: the cheap ones finish first and the bar promises minutes that become an hour).
:class:`EnvWeightedEta` weighs each experiment by the mean wall time of the finished ones of
its env (the overall mean for an env with none finished yet) and scales the elapsed time by
the weight left over the weight done, so parallel workers are accounted for by the elapsed
time itself.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["EnvWeightedEta"]


class EnvWeightedEta:
    """Seconds left of a sweep from its finished experiments' wall times, by env.

    Args:
        envs: The env key of every experiment still to run.
    """

    def __init__(self, envs: Iterable[str]) -> None:
        self._left: dict[str, int] = {}
        for e in envs:
            self._left[e] = self._left.get(e, 0) + 1
        self._sum: dict[str, float] = {}
        self._n: dict[str, int] = {}

    def done(self, env: str, wall_s: float) -> None:
        """One experiment of ``env`` finished after ``wall_s`` seconds of its own."""
        self._left[env] = max(0, self._left.get(env, 0) - 1)
        self._sum[env] = self._sum.get(env, 0.0) + max(float(wall_s), 0.0)
        self._n[env] = self._n.get(env, 0) + 1

    def _mean(self, env: str) -> float:
        if self._n.get(env):
            return self._sum[env] / self._n[env]
        total = sum(self._n.values())
        return sum(self._sum.values()) / total if total else 0.0

    def remaining_s(self, elapsed_s: float) -> float | None:
        """Estimated seconds left, or ``None`` before anything finished (or took time)."""
        done_w = sum(self._sum.values())
        if done_w <= 0:
            return None
        left_w = sum(n * self._mean(e) for e, n in self._left.items())
        return elapsed_s * left_w / done_w
