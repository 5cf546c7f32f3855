"""Joint co-design versus "NAS first, then hardware" on equal evaluation budgets (NASAIC-style).

Two questions on ``archgym/CoDesign-v1`` (digits, NAS-table accuracy):

* **Q1** max ``accuracy`` s.t. ``latency_s <= 3e-6``, ``area_mm2 <= 0.5``, ``energy_j <= 2e-6``.
* **Q2** min EDP (``energy_j * latency_s``) s.t. ``accuracy >= 0.95``, ``area_mm2 <= 1.0``.

Strategies, each with budget ``B`` evaluations:

* ``joint``: one agent over the whole CoDesign space (network x compression x hardware).
* ``seq``: ``B/2`` on ``archgym/NAS-v0`` maximising accuracy (the best network, no hardware
  view), then ``B/2`` on the hardware half (act bits, accelerator, sparsity knobs) of
  CoDesign-v1 with the chosen network fixed, minimising EDP under the question's constraints.
* ``seq-proxy``: as ``seq`` but the NAS phase uses a hardware-agnostic MAC proxy:
  Q1 maximise accuracy s.t. ``effective_macs <= X`` (X = the median effective MACs of the
  table's feasible rows, chosen without looking at any hardware); Q2 minimise
  ``effective_macs`` s.t. ``accuracy >= 0.95``.

The score of a run is the best admissible objective over *all* its evaluations in CoDesign
terms (a sequential run only counts designs of phase 2). A run with no admissible design is a
failure. Reports per (question, agent, strategy): successes out of seeds, median and best
score. Usage::

    python benchmarks/codesign_joint_vs_sequential.py --budget 300 --seeds 10 --agents random tpe
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from archgym.registry import make, make_agent

QUESTIONS: dict[str, dict[str, Any]] = {
    "Q1": {
        "objective": "max:accuracy",
        "constraints": ["latency_s <= 3e-6", "area_mm2 <= 0.5", "energy_j <= 2e-6"],
        "phase2_objective": "edp",
        "phase2_constraints": None,
    },
    "Q2": {
        "objective": "edp",
        "constraints": ["accuracy >= 0.95", "area_mm2 <= 1.0"],
        "phase2_objective": "edp",
        "phase2_constraints": ["area_mm2 <= 1.0"],
    },
}


def _search(env: Any, agent_name: str, seed: int, budget: int, batch: int) -> list[Any]:
    agent = make_agent(
        agent_name,
        env.space,
        seed=seed,
        n_objectives=env.objective.n_objectives,
        n_constraints=len(env.objective.constraints),
    )
    out = []
    done = 0
    while done < budget:
        k = min(batch, budget - done)
        ds = agent.ask(k)
        res = env.evaluate(ds)
        agent.tell(ds, res)
        out.append(res)
        done += k
    return out


def _best(results: list[Any], sign: float) -> float:
    """Best admissible value of the first objective column (in the metric's own direction)."""
    best = np.inf
    for r in results:
        v = r.values[:, 0][r.admissible & np.isfinite(r.values[:, 0])]
        if v.size:
            best = min(best, float(v.min()))
    return sign * best if np.isfinite(best) else float("nan")


def _pick(results: list[Any]) -> dict[str, Any] | None:
    best, pick = np.inf, None
    for r in results:
        for i in np.flatnonzero(r.admissible):
            if r.values[i, 0] < best:
                best, pick = r.values[i, 0], r.designs[i]
    return pick


def _median_eff_macs(task: str) -> float:
    from archgym.envs.nas.table import default_table_path, load_table

    t = load_table(default_table_path(task))
    return float(np.median(t.column("effective_macs")[t.column("feasible").astype(bool)]))


def run_one(
    q: str, strategy: str, agent: str, seed: int, budget: int, batch: int, task: str = "digits"
) -> float:
    """Score of one run (NaN if it found no admissible design)."""
    spec = QUESTIONS[q]
    sign = -1.0 if spec["objective"].startswith("max:") else 1.0
    joint = make(
        "archgym/CoDesign-v1",
        workload=task,
        objective=spec["objective"],
        constraints=spec["constraints"],
    )
    if strategy == "joint":
        return _best(_search(joint, agent, seed, budget, batch), sign)
    if strategy == "seq":
        nas = make("archgym/NAS-v0", workload=task, objective="max:accuracy")
    elif q == "Q1":
        nas = make(
            "archgym/NAS-v0",
            workload=task,
            objective="max:accuracy",
            constraints=[f"effective_macs <= {_median_eff_macs(task):.0f}"],
        )
    else:
        nas = make(
            "archgym/NAS-v0",
            workload=task,
            objective="effective_macs",
            constraints=["accuracy >= 0.95"],
        )
    net = _pick(_search(nas, agent, seed, budget // 2, batch))
    if net is None:
        return float("nan")
    fixed = {k: [net[k]] for k in nas.space.names}
    hw_space = joint.space.restrict("codesign-hw", **fixed)
    from archgym.env import DSEEnv

    cons = (
        spec["phase2_constraints"]
        if spec["phase2_constraints"] is not None
        else spec["constraints"]
    )
    phase2 = DSEEnv(hw_space, joint.cost_model, task, spec["phase2_objective"], cons)
    designs = [
        d
        for r in _search(phase2, agent, seed + 1000, budget - budget // 2, batch)
        for d in r.designs
    ]
    return _best([joint.evaluate(designs)], sign)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--agents", nargs="+", default=["random", "tpe"])
    p.add_argument("--questions", nargs="+", default=list(QUESTIONS))
    p.add_argument("--json", default=None, help="write all scores to this file")
    a = p.parse_args(argv)
    rows = []
    for q in a.questions:
        for agent in a.agents:
            for strategy in ("joint", "seq", "seq-proxy"):
                t0 = time.perf_counter()
                scores = [run_one(q, strategy, agent, s, a.budget, a.batch) for s in range(a.seeds)]
                rows.append(
                    {
                        "question": q,
                        "agent": agent,
                        "strategy": strategy,
                        "scores": scores,
                        "wall_s": time.perf_counter() - t0,
                    }
                )
                ok = np.array([x for x in scores if np.isfinite(x)])
                med = f"{np.median(ok):.4g}" if ok.size else "-"
                best = (f"{(ok.max() if q == 'Q1' else ok.min()):.4g}") if ok.size else "-"
                print(
                    f"{q}  {agent:7s} {strategy:9s} admissible {ok.size:2d}/{a.seeds}  "
                    f"median {med:>9s}  best {best:>9s}  ({rows[-1]['wall_s']:.0f} s)",
                    flush=True,
                )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"budget": a.budget, "seeds": a.seeds, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
