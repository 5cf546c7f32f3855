"""A thin wrapper around Stable-Baselines3 PPO, for users who want a standard baseline.

Needs the extra: ``pip install "archgym[sb3]"``. The default RL agent is archgym's own
compact PPO (``ppo``, :mod:`archgym.agents.ppo`), which is 10-40x faster on these envs; this
one exists so results can be compared with a maintained, widely used implementation.

SB3 learns through the env's Gymnasium API like ``ppo``: ``MultiDiscrete`` (one-step mode,
discrete spaces), ``Box`` (one-step, continuous) or ``Discrete`` (``mode="sequential"``, the
formulation SB3 users usually want). SB3 rejects ``Dict`` action spaces, which is why the env
exposes flat ones. Training stops after exactly ``budget`` evaluations (a callback counts them
through the env's listener), even in the middle of a rollout.

Rewards: DSE rewards span many orders of magnitude and infeasible designs get a huge penalty,
which SB3's value function cannot fit. With ``reward_shaping="quantile"`` (default) each
episode's final reward is replaced by its quantile among the episodes so far, in
``[-0.5, 0.5]``; ``"none"`` passes rewards through.

Seeding: SB3 seeds Python's, NumPy's and torch's *global* generators from ``seed``; this
wrapper saves those states before training and restores them afterwards.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.agents._base import Agent
from archgym.errors import ConfigError
from archgym.registry import register_agent
from archgym.results import Results

__all__ = ["SB3PPOAgent"]


class _QuantileReward:
    """Replace each episode's final reward by its quantile among past episodes."""

    def __init__(self) -> None:
        self.history: list[float] = []

    def __call__(self, reward: float) -> float:
        q = bisect.bisect_left(self.history, reward) + 0.5 * (
            bisect.bisect_right(self.history, reward) - bisect.bisect_left(self.history, reward)
        )
        out = q / max(len(self.history), 1) - 0.5 if self.history else 0.0
        bisect.insort(self.history, reward)
        return float(out)


class SB3PPOAgent(Agent):
    """Stable-Baselines3 PPO through the Gymnasium API (see the module docstring)."""

    name = "sb3-ppo"
    description = "Stable-Baselines3 PPO (needs archgym[sb3]); one-step or sequential envs"
    drives_env = True

    @dataclass
    class Config:
        """Hyperparameters passed to ``stable_baselines3.PPO`` (and the reward shaping)."""

        n_steps: int = 64  # env steps per rollout
        batch_size: int = 32  # minibatch size
        n_epochs: int = 4  # passes over each rollout
        learning_rate: float = 0.001  # Adam step size
        gamma: float = 1.0  # discount (rewards only arrive at the last step)
        gae_lambda: float = 0.95  # GAE lambda
        clip_range: float = 0.2  # PPO ratio clip
        ent_coef: float = 0.01  # entropy bonus
        hidden: int = 64  # width of the two hidden layers of policy and value nets
        reward_shaping: str = "quantile"  # "quantile" or "none"

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(space, seed, **kwargs)
        if self.config.reward_shaping not in ("quantile", "none"):
            raise ConfigError(
                "agent 'sb3-ppo': reward_shaping must be 'quantile' or 'none', got "
                f"{self.config.reward_shaping!r}"
            )

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        raise ConfigError(
            "agent 'sb3-ppo' learns through the env (drives_env=True); call run_env(env, "
            "budget) or use archgym.runner.run_experiment"
        )

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        raise ConfigError("agent 'sb3-ppo' learns through the env; see run_env")

    def run_env(self, env: Any, budget: int) -> None:
        """Train SB3 PPO until exactly ``budget`` evaluations have been made."""
        import torch

        from archgym._imports import optional_import

        sb3 = optional_import("stable_baselines3", "sb3")
        import gymnasium as gym
        from stable_baselines3.common.callbacks import BaseCallback

        c = self.config
        shaping = _QuantileReward() if c.reward_shaping == "quantile" else None

        class Shaped(gym.Wrapper):  # type: ignore[type-arg]
            def step(self, action: Any) -> Any:
                obs, reward, terminated, truncated, info = self.env.step(action)
                if shaping is not None and (terminated or truncated):
                    reward = shaping(float(reward))
                return obs, reward, terminated, truncated, info

        count = [0]

        def listener(res: Results) -> None:
            count[0] += len(res)

        class StopAtBudget(BaseCallback):  # type: ignore[misc]
            def _on_step(self) -> bool:
                return count[0] < budget

        steps_per_episode = len(env.space) if getattr(env, "mode", "") == "sequential" else 1
        py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
        env.add_listener(listener)
        try:
            with torch.random.fork_rng(devices=[]):
                model = sb3.PPO(
                    "MlpPolicy",
                    Shaped(env),
                    n_steps=c.n_steps,
                    batch_size=c.batch_size,
                    n_epochs=c.n_epochs,
                    learning_rate=c.learning_rate,
                    gamma=c.gamma,
                    gae_lambda=c.gae_lambda,
                    clip_range=c.clip_range,
                    ent_coef=c.ent_coef,
                    policy_kwargs={"net_arch": [c.hidden, c.hidden]},
                    seed=self.seed,
                    device="cpu",
                    verbose=0,
                )
                model.learn(
                    total_timesteps=budget * steps_per_episode + c.n_steps,
                    callback=StopAtBudget(),
                )
        finally:
            env.remove_listener(listener)
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002
        self.model = model


register_agent("sb3-ppo", SB3PPOAgent, SB3PPOAgent.description)
