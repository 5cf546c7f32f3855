"""The fixed cost of one evaluation: a lone design vs a batch, archgym's env vs a bare env.

    python benchmarks/bench_step.py [--workload resnet18] [--repeat 21] [--number 50] [--envs ...]

For each env (``archgym/Systolic-v0``, ``archgym/Accelerator-v2``), measured in this run:

1. *Single design vs batch*: the cost model's ``evaluate_columns`` on one design, against
   the per-design cost inside a ``--batch``-design batch (same model, same workload).
   Target (issue 16): single <= 4x batched per design. The call returns an ``Evaluations``
   whose ``metrics`` dict of arrays is built at its first use; so the figures of the call
   followed by ``floats(0)`` (what ``DSEEnv.step`` reads) and by ``.metrics`` (a caller that
   reads the arrays) are printed too.
2. *Env step vs a bare Gymnasium env*: ``DSEEnv.step`` with a ``MultiDiscrete`` action,
   against a hand-written ``gymnasium.Env`` over the same cost model that decodes the same
   action, calls the model, rewards ``-latency_s * energy_j`` (EDP, the env's objective) and
   returns the same observation and the metrics. Target: step <= 1.3x the bare env.

Every figure is CPU time (``time.process_time``) per call, min/median of ``--repeat``
repeats, with the wall time beside it; ratios use the minima (the least disturbed repeat).
"""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any

import numpy as np
from _timing import Timing, fail, load_line, positive_int, ratios, time_pair

ENVS = {"systolic": "archgym/Systolic-v0", "accelerator": "archgym/Accelerator-v2"}


def bare_env_class() -> type:
    """A hand-written Gymnasium env: what a user would write around the cost model."""
    import gymnasium as gym
    from gymnasium import spaces

    class BareEnv(gym.Env):  # type: ignore[type-arg]
        def __init__(self, model: Any, workload: Any, values: list[tuple[Any, ...]], names: Any):
            self.model, self.workload, self.names = model, workload, list(names)
            self.values = [np.asarray(v) for v in values]
            self.nvec = np.array([len(v) for v in values], dtype=float)
            self.action_space = spaces.MultiDiscrete([len(v) for v in values])
            d = len(values)
            self.observation_space = spaces.Box(0.0, 1.0, shape=(2 * d,), dtype=np.float64)

        def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
            super().reset(seed=seed)
            return np.zeros(self.observation_space.shape), {}

        def step(self, action: Any) -> Any:
            idx = np.asarray(action)
            cols = {
                n: v[i : i + 1]
                for n, v, i in zip(self.names, self.values, idx.tolist(), strict=False)
            }
            ev = self.model.evaluate_columns(cols, self.workload)
            metrics = {k: float(v[0]) for k, v in ev.metrics.items()}
            edp = metrics["latency_s"] * metrics["energy_j"]
            reward = -edp if bool(ev.feasible[0]) and math.isfinite(edp) else -1e6
            obs = np.concatenate([(idx + 0.5) / self.nvec, np.ones(len(idx))])
            return obs, reward, True, False, {"metrics": metrics}

    return BareEnv


def measure(env_id: str, workload: str, batch: int, repeat: int, number: int) -> dict[str, Timing]:
    import archgym

    env = archgym.make(env_id, workload=workload, objective="edp")
    model, wl = env.cost_model, env.workload
    designs = env.space.sample(np.random.default_rng(0), batch)
    many = env.space.to_columns(designs)
    lone = [env.space.to_columns([d]) for d in designs[:16]]
    actions = [env.space.encode_indices(d) for d in designs[:16]]
    out: dict[str, Timing] = {}
    model.evaluate_columns(many, wl)  # warm the per-workload tables
    it = iter(range(1 << 62))
    one = lambda: model.evaluate_columns(lone[next(it) % 16], wl)  # noqa: E731
    out["batched"], out["single"] = time_pair(
        lambda: model.evaluate_columns(many, wl), 1, one, number, repeat
    )
    floats = lambda: model.evaluate_columns(lone[next(it) % 16], wl).floats(0)  # noqa: E731
    arrays = lambda: model.evaluate_columns(lone[next(it) % 16], wl).metrics  # noqa: E731
    out["single_floats"], out["single_arrays"] = time_pair(floats, number, arrays, number, repeat)
    bare = bare_env_class()(model, wl, [p.values for p in env.space.params], env.space.names)
    env.reset(seed=0)
    bare.reset(seed=0)
    # the two envs agree on the reward, or the comparison is void
    for a in actions:
        r_env, r_bare = env.step(a)[1], bare.step(a)[1]
        if not math.isclose(r_env, r_bare, rel_tol=1e-12):
            fail(f"{env_id}: DSEEnv reward {r_env} != bare env reward {r_bare} for {a}")
    out["bare_step"], out["env_step"] = time_pair(
        lambda: bare.step(actions[next(it) % 16]),
        number,
        lambda: env.step(actions[next(it) % 16]),
        number,
        repeat,
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="resnet18")
    ap.add_argument(
        "--envs", default="systolic,accelerator", help="comma-separated: " + ", ".join(ENVS)
    )
    ap.add_argument("--batch", type=positive_int, default=1000, help="designs in the batch")
    ap.add_argument("--repeat", type=positive_int, default=21)
    ap.add_argument(
        "--number", type=positive_int, default=50, help="calls per repeat (single, steps)"
    )
    args = ap.parse_args()
    chosen = [e.strip() for e in args.envs.split(",") if e.strip()]
    unknown = [e for e in chosen if e not in ENVS]
    if unknown or not chosen:
        fail(f"--envs takes a comma-separated list of {sorted(ENVS)}, got {args.envs!r}")
    import archgym.workloads as wls
    from archgym.errors import ConfigError

    try:
        wls.get(args.workload)
    except ConfigError as exc:
        fail(f"--workload: {exc}")
    print(f"bench_step: workload {args.workload}; {load_line()}")
    for key in chosen:
        t = measure(ENVS[key], args.workload, args.batch, args.repeat, args.number)
        per_design = Timing(
            [c / args.batch for c in t["batched"].cpu], [w / args.batch for w in t["batched"].wall]
        )
        r1 = ratios(t["single"], t["batched"], args.batch)
        r2 = ratios(t["env_step"], t["bare_step"])
        print(f"{ENVS[key]}")
        print(f"  batched ({args.batch} designs), per design: {per_design.show()}")
        print(f"  single-design call:                 {t['single'].show()}")
        print(
            f"  -> single / batched per design = {r1[0]:.1f}x / {statistics.median(r1):.1f}x "
            f"(min/median of paired repeats)   [target <= 4x: {_ok(statistics.median(r1) <= 4)}]"
        )
        for key, what in (("single_floats", "+ floats(0)"), ("single_arrays", "+ .metrics ")):
            r = ratios(t[key], t["batched"], args.batch)
            print(
                f"  single-design call {what}:      {t[key].show()}  "
                f"({r[0]:.1f}x / {statistics.median(r):.1f}x batched)"
            )
        print(f"  bare gymnasium.Env step:            {t['bare_step'].show()}")
        print(f"  DSEEnv.step:                        {t['env_step'].show()}")
        print(
            f"  -> DSEEnv.step / bare env step = {r2[0]:.2f}x / {statistics.median(r2):.2f}x "
            f"(min/median of paired repeats)   [target <= 1.3x: {_ok(statistics.median(r2) <= 1.3)}]"
        )
    print(f"end: {load_line()}")
    return 0


def _ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


if __name__ == "__main__":
    raise SystemExit(main())
