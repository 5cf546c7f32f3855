"""Training data of a proxy: logged runs, checked to come from one env and one cost model.

:func:`load_training_data` reads run directories with :func:`archgym.store.load_runs` and
their manifests, and refuses data a proxy cannot be trained on, naming the problem: no
records, runs of different envs (or env versions), of different design spaces, of different
source cost models, a target metric the runs do not hold, or too few feasible rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import ConfigError, StoreError
from archgym.store import _find_runs, load_runs, read_manifest

__all__ = ["TrainingData", "load_training_data", "MIN_ROWS"]

#: Fewest feasible rows a proxy is trained on (5-fold cross-validation needs some per fold).
MIN_ROWS = 20


@dataclass
class TrainingData:
    """Records of one env's runs, ready for training.

    Attributes:
        frame: One row per evaluation (``load_runs`` columns plus ``_workload``, the index of
            the run's workload in ``workloads``).
        env_id: The runs' env id (with version).
        env_kwargs: Env arguments of each distinct run setting, in ``workloads`` order.
        space_spec: ``DesignSpace.spec()`` recorded by the runs.
        fingerprint: The space fingerprint recorded by the runs.
        source: The source cost model's identity (``describe()`` of the runs' cost model).
        workloads: Workload names, one per distinct run setting.
        runs: Run directories read.
    """

    frame: Any
    env_id: str
    env_kwargs: list[dict[str, Any]]
    space_spec: dict[str, Any]
    fingerprint: str
    source: dict[str, Any]
    workloads: list[str | None]
    runs: list[str] = field(default_factory=list)

    def param_columns(self) -> dict[str, np.ndarray]:
        """Design parameter columns by name (undoing ``load_runs``' ``param.`` prefix)."""
        out = {}
        for p in self.space_spec["params"]:
            name = p["name"]
            col = f"param.{name}" if f"param.{name}" in self.frame.columns else name
            out[name] = self.frame[col].to_numpy()
        return out


def _env_kwargs(manifest: dict[str, Any]) -> dict[str, Any]:
    kw = dict(manifest.get("experiment", {}).get("env_kwargs", {}) or {})
    kw.pop("objective", None)
    kw.pop("constraints", None)
    return kw


def load_training_data(
    run_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    env_id: str | None = None,
    targets: Sequence[str] | None = None,
    min_rows: int = MIN_ROWS,
) -> TrainingData:
    """Load and check the runs a proxy is trained on.

    Args:
        run_dirs: Run directories (or folders containing runs).
        env_id: Expected env id; ``None`` accepts the runs' own (which must agree).
        targets: Metrics that must be present; ``None`` skips the check.
        min_rows: Fewest feasible rows accepted.

    Raises:
        StoreError: A path holds no runs or no records.
        ConfigError: Mixed envs, spaces or cost models; a missing target; too few rows.
    """
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise ConfigError("no run directories given; pass the runs to train on")
    runs = _find_runs(run_dirs)
    manifests = {str(r): read_manifest(r) for r in runs}
    ids = sorted({str(m["env_id"]) for m in manifests.values()})
    if len(ids) > 1:
        by = {i: [r for r, m in manifests.items() if m["env_id"] == i] for i in ids}
        raise ConfigError(
            f"the runs mix envs {ids} (runs per env: {by}); a proxy is trained for one env id "
            "and version: pass only that env's runs"
        )
    if env_id is not None and ids[0] != env_id:
        raise ConfigError(
            f"--env is {env_id!r} but the runs are of {ids[0]!r}; a proxy is trained for the "
            "env (and version) that produced its records"
        )
    fps = {str(m.get("env", {}).get("space_fingerprint")) for m in manifests.values()}
    if len(fps) > 1:
        raise ConfigError(
            f"the runs of {ids[0]} use different design spaces (fingerprints {sorted(fps)}); "
            "train on runs of one space"
        )
    sources = {
        json.dumps(m.get("env", {}).get("cost_model", {}), sort_keys=True)
        for m in manifests.values()
    }
    if len(sources) > 1:
        raise ConfigError(
            f"the runs of {ids[0]} come from different cost models {sorted(sources)}; a proxy "
            "imitates one source model: train on runs of one"
        )
    frame = load_runs([str(r) for r in runs])
    if len(frame) == 0:
        raise StoreError(f"the runs {[str(r) for r in runs]} hold no evaluation records")
    settings: list[str] = []
    env_kwargs: list[dict[str, Any]] = []
    workloads: list[str | None] = []
    idx = {}
    for r, m in manifests.items():
        kw = _env_kwargs(m)
        key = json.dumps(kw, sort_keys=True, default=str)
        if key not in settings:
            settings.append(key)
            env_kwargs.append(kw)
            workloads.append(m.get("env", {}).get("workload"))
        idx[r] = settings.index(key)
    frame["_workload"] = frame["run"].map(idx).astype(int)
    first = next(iter(manifests.values()))
    data = TrainingData(
        frame=frame,
        env_id=ids[0],
        env_kwargs=env_kwargs,
        space_spec=first["env"]["space"],
        fingerprint=str(first["env"]["space_fingerprint"]),
        source=dict(first["env"].get("cost_model", {})),
        workloads=workloads,
        runs=[str(Path(r)) for r in runs],
    )
    if targets is not None:
        missing = [t for t in targets if t not in frame.columns]
        if missing:
            params = set(data.param_columns()) | {f"param.{n}" for n in data.param_columns()}
            known = [
                c
                for c in frame.columns
                if c not in _NON_METRIC and c not in params and not c.startswith(("obj_", "obj:"))
            ]
            raise ConfigError(
                f"target metric(s) {missing} are not in the runs' records; they hold {known}"
            )
    n_ok = int(frame["feasible"].astype(bool).sum())
    if n_ok < min_rows:
        raise ConfigError(
            f"too few rows to train a proxy: the runs hold {n_ok} feasible evaluations "
            f"({len(frame)} in all), at least {min_rows} are needed; run a larger --budget"
        )
    return data


_NON_METRIC = {
    "run",
    "env_id",
    "agent",
    "seed",
    "eval_id",
    "batch",
    "feasible",
    "reason",
    "admissible",
    "reward",
    "eval_s",
    "t_s",
    "_workload",
}
