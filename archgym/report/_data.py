"""Load a sweep (or any directory of runs) into per-run quality numbers and curves.

Quality of a run, per env so envs of different scales compare:

* single objective: the best admissible objective value found (minimisation form), its
  best-so-far curve over evaluations, and a *normalised quality* in (0, 1]: the best value
  any run found on the env divided by this run's best (1 = matched the best; 0 = found no
  admissible design). When values are not all positive, min-max over the env instead.
* several objectives: the hypervolume of the run's admissible points after log10 and
  min-max normalisation over the env (reference point 1.1 in every objective), divided by
  the reference box's volume 1.1^k so it lies in [0, 1], at ten checkpoints for the curve;
  normalised quality = hypervolume / the env's largest.

Runs are grouped by env label *and* objective (labels and constraints): runs of one env
with different objectives are never pooled; their env label gets the objective appended and
:attr:`SweepData.warnings` says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import StoreError
from archgym.store import _runs_below, is_run, read_manifest, read_records

__all__ = ["SweepData", "load_sweep_data"]


@dataclass
class SweepData:
    """Everything the report draws from.

    Attributes:
        runs: DataFrame, one row per run: ``id, env, agent, setting, seed, hparams, status,
            n_evaluations, budget, final, quality, wall_s, multi``.
        curves: ``id -> (x, y)`` best-so-far (single) or hypervolume (multi) curves.
        points: ``id -> (n, k)`` admissible objective vectors (multi-objective runs only).
        labels: ``env -> objective labels``.
        name: Sweep name.
        warnings: What the reader should know (e.g. runs of one env with different
            objectives, grouped apart).
    """

    runs: Any
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    points: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)
    name: str = ""
    warnings: list[str] = field(default_factory=list)


def _entries(root: Path) -> list[dict[str, Any]]:
    sweep = root / "sweep.json"
    if sweep.exists():
        data = json.loads(sweep.read_text(encoding="utf-8"))
        return [
            {
                "id": it["id"],
                "dir": root / it["id"],
                "env": it["env_label"],
                "agent": it["agent_label"],
                "setting": it["setting"],
                "seed": it["experiment"]["seed"],
                "hparams": it["experiment"]["agent_kwargs"],
            }
            for it in data["items"]
        ]
    out = []
    for run in _runs_below(root):  # a damaged shard is an error, not "no runs"
        man = read_manifest(run)
        exp = man.get("experiment", {})
        wl = exp.get("env_kwargs", {}).get("workload", "")
        hp = exp.get("agent_kwargs", {})
        out.append(
            {
                "id": str(run.relative_to(root)),
                "dir": run,
                "env": f"{man['env_id'].split('/')[-1]}-{wl}".strip("-"),
                "agent": man["agent"],
                "setting": json.dumps(hp, sort_keys=True),
                "seed": man.get("seed", 0),
                "hparams": hp,
            }
        )
    if not out:
        raise StoreError(
            f"{root} holds no sweep.json and no runs (manifest.json, or a sweep's shards/) below it"
        )
    return out


def _hv_curve(
    pts_by_eval: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_eval: int
) -> tuple[np.ndarray, np.ndarray]:
    from archgym.pareto import hypervolume, pareto_mask

    checkpoints = np.unique(np.linspace(1, n_eval, 10).round().astype(int))
    ys = []
    for c in checkpoints:
        p = pts_by_eval[pts_by_eval[:, 0] < c][:, 1:]
        if len(p) == 0:
            ys.append(0.0)
            continue
        z = (np.log10(p) - lo) / np.where(hi > lo, hi - lo, 1.0)
        z = z[pareto_mask(z)]
        k = z.shape[1]  # the reference box [0, 1.1]^k bounds it: normalised to <= 1
        ys.append(hypervolume(z, np.full(k, 1.1)) / 1.1**k)
    return checkpoints.astype(float), np.array(ys)


def _group_by_objective(
    rows: list[dict[str, Any]], run_labels: dict[str, list[str]], data: SweepData
) -> None:
    """Keep runs of one env with different objectives (or constraints) apart: their env label
    gets ``[objective]`` appended, and a warning says so; labels are set per group."""
    by_env: dict[str, set[str]] = {}
    for r in rows:
        if "objective" in r:
            by_env.setdefault(r["env"], set()).add(r["objective"])
    for env, sigs in sorted(by_env.items()):
        if len(sigs) > 1:
            data.warnings.append(
                f"env {env!r} has runs with {len(sigs)} different objectives/constraints "
                f"({'; '.join(sorted(sigs))}); they are shown as separate groups"
            )
    for r in rows:
        if "objective" in r and len(by_env.get(r["env"], ())) > 1:
            r["env"] = f"{r['env']} [{r['objective']}]"
        if r["id"] in run_labels:
            data.labels.setdefault(r["env"], run_labels[r["id"]])


def load_sweep_data(root: str | Path) -> SweepData:
    """Read every run of a sweep directory (or a directory of runs).

    Raises:
        StoreError: No runs found, or a record file is corrupt.
    """
    import pandas as pd

    root = Path(root)
    if not root.is_dir():
        raise StoreError(f"no such sweep directory: {root}")
    name = root.name
    if (root / "sweep.json").exists():
        name = json.loads((root / "sweep.json").read_text(encoding="utf-8")).get("name", name)
    walls: dict[str, float] = {}
    res_file = root / "results.jsonl"
    if res_file.exists():
        for line in res_file.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            walls[r["id"]] = float(r.get("wall_s", math.nan))
    rows, raw = [], {}
    run_labels: dict[str, list[str]] = {}
    data = SweepData(runs=None, name=name)
    for e in _entries(root):
        row = {k: e[k] for k in ("id", "env", "agent", "setting", "seed")}
        row["hparams"] = json.dumps(e["hparams"], sort_keys=True)
        row["wall_s"] = walls.get(e["id"], math.nan)
        if not is_run(e["dir"]):
            row.update(status="missing", n_evaluations=0, budget=math.nan, multi=False)
            rows.append(row)
            continue
        man = read_manifest(e["dir"])
        recs, _ = read_records(e["dir"])
        spec = (man.get("env", {}).get("objective", {}) or {}).get("objectives", [])
        labels = [str(x) for x in spec] if isinstance(spec, list) else [str(spec)]
        k = len(recs[0]["objective"]) if recs else max(len(labels), 1)
        if len(labels) != k:
            labels = [f"obj_{j}" for j in range(k)]
        cons = (man.get("env", {}).get("objective", {}) or {}).get("constraints", []) or []
        row["objective"] = ", ".join(labels) + (f" s.t. {', '.join(cons)}" if cons else "")
        run_labels[e["id"]] = labels
        obj = np.array(
            [
                [math.nan if v is None else float(v) for v in r["objective"]]
                if r.get("admissible")
                else [math.nan] * k
                for r in recs
            ],
            dtype=float,
        ).reshape(len(recs), k)
        row.update(
            status=man.get("status", "?"),
            n_evaluations=len(recs),
            budget=man.get("budget", math.nan),
            multi=k > 1,
        )
        raw[e["id"]] = obj
        rows.append(row)
    _group_by_objective(rows, run_labels, data)
    runs = pd.DataFrame(rows)
    runs["final"] = math.nan
    runs["quality"] = 0.0
    for _env, grp in runs.groupby("env"):
        ids = [i for i in grp["id"] if i in raw]
        if not ids:
            continue
        multi = bool(grp["multi"].iloc[0])
        if not multi:
            finals = {}
            for i in ids:
                y = (
                    np.fmin.accumulate(np.where(np.isnan(raw[i][:, 0]), np.inf, raw[i][:, 0]))
                    if len(raw[i])
                    else np.array([])
                )
                y = np.where(np.isinf(y), np.nan, y)
                data.curves[i] = (np.arange(1, len(y) + 1, dtype=float), y)
                finals[i] = float(y[-1]) if len(y) else math.nan
            vals = np.array([v for v in finals.values() if not math.isnan(v)])
            for i, f in finals.items():
                q = 0.0
                if not math.isnan(f) and len(vals):
                    if vals.min() > 0:
                        q = vals.min() / f
                    else:
                        span = vals.max() - vals.min()
                        q = 1.0 if span == 0 else (vals.max() - f) / span
                runs.loc[runs["id"] == i, ["final", "quality"]] = [f, q]
        else:
            allp = np.vstack([raw[i][~np.isnan(raw[i]).any(axis=1)] for i in ids])
            allp = allp[(allp > 0).all(axis=1)] if len(allp) else allp
            if not len(allp):
                continue
            lo, hi = np.log10(allp).min(axis=0), np.log10(allp).max(axis=0)
            hvs = {}
            for i in ids:
                p = raw[i]
                keep = ~np.isnan(p).any(axis=1) & (p > 0).all(axis=1)
                data.points[i] = p[keep]
                idx = np.flatnonzero(keep)
                x, y = _hv_curve(np.column_stack([idx, p[keep]]), lo, hi, max(len(p), 1))
                data.curves[i] = (x, y)
                hvs[i] = float(y[-1]) if len(y) else 0.0
            top = max(hvs.values()) or 1.0
            for i, hv in hvs.items():
                runs.loc[runs["id"] == i, ["final", "quality"]] = [hv, hv / top]
    data.runs = runs
    return data
