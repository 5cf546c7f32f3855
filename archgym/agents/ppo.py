"""A compact PPO that learns through the env's Gymnasium API, readable top to bottom.

It works in both env modes:

* ``mode="one-step"``: an episode is one design. The policy is a *factorised categorical*:
  one categorical head per parameter (``MultiDiscrete`` actions; a unit ``Box`` action space
  is cut into ``float_bins`` values per dimension).
* ``mode="sequential"``: one parameter per step. One categorical head over the ``Discrete``
  action, masked to the current parameter's number of values; the observation (the design so
  far and the mask of set parameters) tells the network which parameter it is choosing.

Every episode ends in exactly one evaluation, so ``run_env(env, budget)`` plays exactly
``budget`` episodes and the env's listeners (the run store) see every evaluation.

Rewards of DSE envs span many orders of magnitude (an EDP of 1e-6 next to an infeasible
-1e6), so the episode returns of each rollout are *fitness-shaped* before the update
(``reward_shaping="rank"``: centred ranks in ``[-0.5, 0.5]``, as in evolution strategies;
``"standardize"``: z-scores after clipping infeasible rewards to the worst feasible one).
Rewards only arrive at the last step and ``gamma = 1``, so every step of an episode has the
episode's shaped return; the advantage is that return minus the value head's estimate.
The update is standard PPO: clipped surrogate, value loss, entropy bonus, a few epochs of
minibatches, gradient clipping.

Randomness: network initialisation and action sampling use ``torch`` generators seeded from
the agent seed (the global torch state is left untouched); minibatch order uses the agent's
numpy generator. Same seed -> same trajectory on the same machine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.agents._base import Agent
from archgym.errors import ConfigError
from archgym.registry import register_agent
from archgym.results import Results

__all__ = ["PPOAgent"]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with ``n`` torch threads, restoring the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def shape_returns(returns: np.ndarray, how: str) -> np.ndarray:
    """Fitness shaping of one rollout's episode returns (higher is better).

    ``"rank"``: centred ranks in ``[-0.5, 0.5]`` (ties share their mean rank); ``"standardize"``:
    z-scores after raising rewards below the worst finite feasible-looking one (the env's
    ``infeasible_reward`` sentinel is far below) to it; ``"none"``: unchanged.
    """
    r = np.asarray(returns, dtype=float)
    if how == "none" or r.size < 2:
        return r
    if how == "rank":
        order = np.argsort(r, kind="stable")
        ranks = np.empty(r.size)
        ranks[order] = np.arange(r.size, dtype=float)
        for value in np.unique(r):  # ties share their mean rank
            tie = r == value
            ranks[tie] = ranks[tie].mean()
        return ranks / (r.size - 1) - 0.5
    if how == "standardize":
        median = np.median(r)
        spread = np.median(np.abs(r - median)) * 10 + 1e-12
        clipped = np.maximum(r, median - spread)
        return (clipped - clipped.mean()) / (clipped.std() + 1e-12)
    raise ConfigError(f"reward_shaping must be 'rank', 'standardize' or 'none', got {how!r}")


class PPOAgent(Agent):
    """Proximal policy optimisation through ``env.reset``/``env.step`` (see module docstring).

    Single objective (the env's scalar reward). Use ``archgym.make(..., mode="sequential")``
    for the one-parameter-per-step formulation.
    """

    name = "ppo"
    description = "compact PyTorch PPO through the Gymnasium API (one-step or sequential)"
    drives_env = True

    @dataclass
    class Config:
        """Hyperparameters of PPO."""

        episodes_per_update: int = 32  # episodes (= evaluations) collected per update
        update_epochs: int = 4  # passes over each rollout
        minibatch_size: int = 64  # steps per gradient step
        learning_rate: float = 0.01  # Adam step size
        clip_coef: float = 0.2  # PPO ratio clip
        ent_coef: float = (
            0.05  # entropy bonus (keeps exploring; 0.01 collapses early on Mapping-v2)
        )
        vf_coef: float = 0.5  # value-loss weight
        max_grad_norm: float = 0.5  # gradient-norm clip
        hidden: int = 64  # width of the two hidden layers
        reward_shaping: str = "rank"  # "rank", "standardize" or "none"
        float_bins: int = 16  # values per dimension of a continuous one-step action space
        torch_threads: int = 1  # torch threads while training (restored afterwards)

    def __init__(self, space: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(space, seed, **kwargs)
        c = self.config
        if c.episodes_per_update < 2:
            raise ConfigError(
                f"agent 'ppo': episodes_per_update must be >= 2, got {c.episodes_per_update}"
            )
        if c.reward_shaping not in ("rank", "standardize", "none"):
            raise ConfigError(
                "agent 'ppo': reward_shaping must be 'rank', 'standardize' or 'none', got "
                f"{c.reward_shaping!r}"
            )

    # ask/tell are not how PPO learns; the runner calls run_env because drives_env is True.
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        raise ConfigError(
            "agent 'ppo' learns through the env (drives_env=True); call run_env(env, budget) "
            "or use archgym.runner.run_experiment"
        )

    def tell(self, designs: Sequence[Mapping[str, Any]], results: Results) -> None:
        raise ConfigError("agent 'ppo' learns through the env; see run_env")

    # -- the action layout ----------------------------------------------------------------
    def _heads(self, env: Any) -> tuple[list[int], bool]:
        """Sizes of the categorical heads, and whether the env is sequential."""
        from gymnasium import spaces

        act = env.action_space
        if getattr(env, "mode", "one-step") == "sequential":
            sizes = [
                p.n_choices if p.n_choices is not None else int(env.float_bins)
                for p in env.space.params
            ]
            return sizes, True
        if isinstance(act, spaces.MultiDiscrete):
            return [int(n) for n in np.asarray(act.nvec).reshape(-1)], False
        if isinstance(act, spaces.Box):
            return [self.config.float_bins] * int(np.prod(act.shape)), False
        raise ConfigError(
            f"agent 'ppo' needs a MultiDiscrete or unit Box action space (one-step) or a "
            f"sequential env, got {act}"
        )

    # -- training ----------------------------------------------------------------------
    def run_env(self, env: Any, budget: int) -> None:
        """Train for exactly ``budget`` episodes (each ends in one evaluation)."""
        with torch_threads(self.config.torch_threads):
            self._train(env, int(budget))

    def _train(self, env: Any, budget: int) -> None:
        import torch
        from torch import nn

        c = self.config
        sizes, sequential = self._heads(env)
        n_out = max(sizes) if sequential else sum(sizes)
        obs_dim = int(np.prod(env.observation_space.shape))
        with torch.random.fork_rng(devices=[]):  # seeded init, global torch state untouched
            torch.manual_seed(self.seed)
            net = nn.Sequential(
                nn.Linear(obs_dim, c.hidden), nn.Tanh(),
                nn.Linear(c.hidden, c.hidden), nn.Tanh(),
                nn.Linear(c.hidden, n_out + 1),
            )  # fmt: skip
        opt = torch.optim.Adam(net.parameters(), lr=c.learning_rate)
        gen = torch.Generator().manual_seed(self.seed)
        # mask[t]: legal logits when choosing parameter t (sequential mode)
        mask = torch.full((len(sizes), n_out), -1e9)
        for t, n in enumerate(sizes):
            mask[t, :n] = 0.0
        discrete_act = env.action_space.n if sequential else None

        def dist_parts(logits: torch.Tensor, t_idx: torch.Tensor | None) -> list[torch.Tensor]:
            """Log-softmax per head: one head (masked) in sequential mode, else one per param."""
            if sequential:
                assert t_idx is not None
                return [torch.log_softmax(logits + mask[t_idx], dim=-1)]
            return list(torch.split(logits, sizes, dim=-1))

        def log_probs(
            parts: list[torch.Tensor], actions: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            logp = torch.zeros(actions.shape[0])
            ent = torch.zeros(actions.shape[0])
            for h, part in enumerate(parts):
                lp = torch.log_softmax(part, dim=-1)
                logp = logp + lp.gather(1, actions[:, h : h + 1]).squeeze(1)
                ent = ent - (lp.exp() * lp).sum(-1)
            return logp, ent

        first_reset = True
        done = 0
        while done < budget:
            n_ep = min(c.episodes_per_update, budget - done)
            obs_l: list[np.ndarray] = []
            act_l: list[np.ndarray] = []
            t_l: list[int] = []
            logp_l: list[float] = []
            ep_of_step: list[int] = []
            returns = np.zeros(n_ep)
            for ep in range(n_ep):
                obs, _ = env.reset(seed=self.seed if first_reset else None)
                first_reset = False
                t = 0
                while True:
                    with torch.no_grad():
                        x = torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1)
                        logits = net(x)[:, :n_out]
                        t_idx = torch.tensor([t]) if sequential else None
                        parts = dist_parts(logits, t_idx)
                        a = torch.stack(
                            [
                                torch.multinomial(torch.softmax(p, -1), 1, generator=gen)[:, 0]
                                for p in parts
                            ],
                            dim=1,
                        )
                        lp, _ = log_probs(parts, a)
                    a_np = a.numpy()[0]
                    obs_l.append(np.asarray(obs, dtype=np.float32).reshape(-1))
                    act_l.append(a_np)
                    t_l.append(t)
                    logp_l.append(float(lp[0]))
                    ep_of_step.append(ep)
                    obs, reward, terminated, truncated, _ = env.step(
                        self._env_action(a_np, sizes, sequential, t, discrete_act, env)
                    )
                    returns[ep] += float(reward)
                    t += 1
                    if terminated or truncated:
                        break
            done += n_ep
            shaped = shape_returns(returns, c.reward_shaping)
            self._update(
                net, opt, n_out, dist_parts, log_probs,
                torch.as_tensor(np.stack(obs_l)),
                torch.as_tensor(np.stack(act_l), dtype=torch.int64),
                torch.as_tensor(t_l, dtype=torch.int64),
                torch.as_tensor(logp_l, dtype=torch.float32),
                torch.as_tensor(shaped[np.asarray(ep_of_step)], dtype=torch.float32),
            )  # fmt: skip
        self.policy = net

    @staticmethod
    def _env_action(
        a: np.ndarray, sizes: list[int], sequential: bool, t: int, discrete_n: int | None, env: Any
    ) -> Any:
        if sequential:
            # value index k of parameter t -> the Discrete action the env maps back to k
            # (env: k = a * n // N; a = ceil(k * N / n) inverts it for n <= N).
            k, n = int(a[0]), sizes[t]
            assert discrete_n is not None
            return (k * discrete_n + n - 1) // n
        from gymnasium import spaces

        if isinstance(env.action_space, spaces.Box):
            unit = (a.astype(float) + 0.5) / np.asarray(sizes, dtype=float)
            return unit.reshape(env.action_space.shape).astype(env.action_space.dtype)
        return a.astype(env.action_space.dtype)

    def _update(
        self, net: Any, opt: Any, n_out: int, dist_parts: Any, log_probs: Any,
        obs: Any, acts: Any, t_idx: Any, old_logp: Any, returns: Any,
    ) -> None:  # fmt: skip
        import torch

        c = self.config
        n = obs.shape[0]
        for _ in range(c.update_epochs):
            order = self.rng.permutation(n)
            for start in range(0, n, c.minibatch_size):
                mb = torch.as_tensor(order[start : start + c.minibatch_size])
                out = net(obs[mb])
                logits, value = out[:, :n_out], out[:, n_out]
                logp, ent = log_probs(dist_parts(logits, t_idx[mb]), acts[mb])
                adv = returns[mb] - value.detach()
                if adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                ratio = torch.exp(logp - old_logp[mb])
                pg = -torch.min(
                    ratio * adv, torch.clamp(ratio, 1 - c.clip_coef, 1 + c.clip_coef) * adv
                )
                loss = (
                    pg.mean()
                    + c.vf_coef * ((value - returns[mb]) ** 2).mean()
                    - c.ent_coef * ent.mean()
                )
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), c.max_grad_norm)
                opt.step()


register_agent("ppo", PPOAgent, PPOAgent.description)
