"""Measure how often each agent, and random search, succeeds on the ``valley`` fixture.

The agent-quality tests (``test_*_down_the_valley``) run one to three fixed seeds at
the budgets below; their comments quote this script's output. Run it again after changing
an agent, the valley, or a budget, and update the comments:

    nice python -m tests.measure_agent_success --seeds 40
    nice python -m tests.measure_agent_success --seeds 40 --only cmaes

A seed succeeds when the best latency_s found within the budget is <= VALLEY_SUCCESS_S.
Each agent line is followed by uniform random search at the same budget and seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import archgym.agents  # noqa: F401  (registers the agents)
from archgym.env import DSEEnv
from archgym.registry import make_agent
from tests.conftest import (
    VALLEY_LEVELS,
    VALLEY_SUCCESS_S,
    VALLEY_TARGET,
    ValleyCostModel,
    search_best,
    valley_space,
)

#: (agent, hyperparameters, budget) as the tests use them.
CASES: list[tuple[str, dict[str, object], int]] = [
    ("tpe", {}, 150),
    ("cmaes", {}, 300),
    ("cmaes", {"restart_patience": 100}, 300),
    ("nsga2", {}, 500),
    ("ga", {}, 200),
    ("aco", {}, 400),
    ("random-walk", {}, 300),
    ("ppo", {}, 500),
    ("qmc", {}, 500),  # space filling, not a search: expected near random
]


def success_rate(
    agent: str, hparams: dict[str, object], budget: int, seeds: int
) -> tuple[list[int], float]:
    """Seeds (of ``range(seeds)``) that reach the success level, and CPU seconds per run."""
    space = valley_space()
    env = DSEEnv(space, ValleyCostModel(), None, "latency_s", env_id="test/Valley-v0")
    hits = []
    start = time.process_time()
    for seed in range(seeds):
        best = search_best(make_agent(agent, space, seed=seed, **hparams), env, budget)
        if best <= VALLEY_SUCCESS_S:
            hits.append(seed)
    return hits, (time.process_time() - start) / seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--only", default="", help="comma-separated agent names")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    space = valley_space()
    env = DSEEnv(space, ValleyCostModel(), None, "latency_s")
    dims = len(VALLEY_TARGET)
    axes = [np.arange(VALLEY_LEVELS)] * dims
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, dims)
    lat = env.cost_model.evaluate_columns({f"x{i}": grid[:, i] for i in range(dims)}, None)
    frac = float(np.mean(lat.metrics["latency_s"] <= VALLEY_SUCCESS_S))
    print(f"designs {len(grid)}, fraction with latency_s <= {VALLEY_SUCCESS_S}: {frac:.2e}")
    for agent, hparams, budget in CASES:
        if only and agent not in only:
            continue
        hits, cpu = success_rate(agent, hparams, budget, args.seeds)
        rhits, _ = success_rate("random", {}, budget, args.seeds)
        expect = 1 - (1 - frac) ** budget
        missed = sorted(set(range(args.seeds)) - set(hits))
        missed_s = str(missed) if len(missed) <= 10 else f"{len(missed)} seeds"
        print(
            f"{agent} {hparams or ''} budget {budget}: {len(hits)}/{args.seeds} seeds "
            f"({cpu:.2f} s CPU per run; missed {missed_s}); random: {len(rhits)}/{args.seeds} "
            f"(expected {expect:.1%}; hit {rhits})",
            flush=True,
        )


if __name__ == "__main__":
    main()
