"""Experiment files: a TOML description of a sweep, validated and expanded into experiments.

A sweep is envs × agents × hyperparameter settings × seeds; every combination is one
:class:`~archgym.runner.Experiment`::

    [sweep]
    name = "quickstart"
    budget = 50              # evaluations per experiment
    seeds = 3                # 3 -> seeds 0, 1, 2; or a list [0, 7, 42]
    objective = "edp"        # default of every env (an env may override it)
    constraints = ["area_mm2 <= 50"]
    batch_size = 1           # designs per agent ask
    sample_seed = 0          # seed of the random hyperparameter samples

    [[envs]]
    id = "archgym/Systolic-v0"
    kwargs = { workload = "resnet18" }
    label = "resnet18"       # optional; names the experiment directories

    [[agents]]
    name = "random-walk"
    params = { n_params = 1 }                       # fixed hyperparameters
    grid = { explore = [0.0, 0.1, 0.5] }            # every combination
    samples = 4                                     # random draws per grid point...
    random = { patience = { low = 5, high = 200, log = true } }   # ...of these

A ``random`` parameter is ``{ low, high, log = false }`` (integers when both bounds are
integers) or ``{ choices = [...] }``. Settings are grid points × ``samples`` random draws
(one setting when neither is given), drawn with ``numpy.random.default_rng([sample_seed,
agent index])`` so the same file always expands to the same experiments.

:func:`load_sweep` checks everything before anything runs: unknown keys, types, registered
env ids and agent names, hyperparameter names and values, grids that expand to nothing, and
that each env and agent can actually be built (one build per distinct setting). Errors are
:class:`SweepFileError` naming the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import ArchGymError
from archgym.limits import (
    MAX_BATCH_SIZE,
    MAX_BUDGET,
    MAX_EXPERIMENTS,
    MAX_GRID,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_SEEDS,
    check_hparams,
)
from archgym.runner import Experiment
from archgym.sweep._toml import Located, SweepFileError, load_toml

__all__ = ["SweepSpec", "SweepItem", "load_sweep", "SWEEP_KEYS", "ENV_KEYS", "AGENT_KEYS"]

SWEEP_KEYS = {
    "name",
    "description",
    "budget",
    "seeds",
    "objective",
    "constraints",
    "batch_size",
    "sample_seed",
}
ENV_KEYS = {"id", "kwargs", "label", "objective", "constraints", "budget"}
AGENT_KEYS = {"name", "label", "params", "grid", "random", "samples", "budget"}
_LABEL = re.compile(r"[^A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class SweepItem:
    """One experiment of a sweep.

    Attributes:
        id: Stable directory name ``{env}.{agent}.h{setting:03d}.s{seed}``.
        env_label: Label of the env entry.
        agent_label: Label of the agent entry.
        setting: Index of the hyperparameter setting within its agent entry.
        experiment: The experiment to run.
    """

    id: str
    env_label: str
    agent_label: str
    setting: int
    experiment: Experiment

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "env_label": self.env_label,
            "agent_label": self.agent_label,
            "setting": self.setting,
            "experiment": self.experiment.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SweepItem:
        return cls(
            d["id"],
            d["env_label"],
            d["agent_label"],
            int(d["setting"]),
            Experiment(**d["experiment"]),
        )


@dataclass
class SweepSpec:
    """A validated, expanded sweep.

    Attributes:
        name: Sweep name.
        source: The experiment file's path (or ``"<string>"``).
        text: The file's text, saved with the results.
        items: Every experiment, in a fixed order.
    """

    name: str
    source: str
    text: str
    items: list[SweepItem] = field(default_factory=list)
    description: str = ""

    def fingerprint(self) -> str:
        """Hash of the expanded experiments: equal fingerprints mean the same sweep."""
        blob = json.dumps([i.to_dict() for i in self.items], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The resolved sweep (saved as ``sweep.json`` in the sweep directory)."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "fingerprint": self.fingerprint(),
            "n_experiments": len(self.items),
            "text": self.text,
            "items": [i.to_dict() for i in self.items],
        }


def _check_keys(doc: Located, path: tuple[Any, ...], table: Any, allowed: set[str]) -> None:
    if not isinstance(table, dict):
        raise doc.error(path, f"must be a table, but got {table!r}")
    for key in table:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise doc.error(
                (*path, key),
                f"unknown key {key!r}{hint}; accepted keys: {', '.join(sorted(allowed))}",
            )


def _pos_int(doc: Located, path: tuple[Any, ...], v: Any, limit: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise doc.error(path, f"must be a positive integer, but got {v!r}")
    if limit is not None and v > limit:
        raise doc.error(
            path, f"is {v:,}, over the limit of {limit:,}: it would not fit in memory or time"
        )
    return v


def _seeds(doc: Located, v: Any) -> list[int]:
    path = ("sweep", "seeds")
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise doc.error(
                path,
                f"must be >= 1 (the number of seeds) or a list, but got {v}; "
                "the sweep would expand to zero experiments",
            )
        if v > MAX_SEEDS:
            raise doc.error(
                path,
                f"asks for {v:,} seeds, over the limit of {MAX_SEEDS:,} seeds per sweep; "
                "use fewer seeds",
            )
        return list(range(v))
    if not isinstance(v, list) or not v:
        raise doc.error(
            path,
            f"must be a positive count or a non-empty list of seeds, but got "
            f"{v!r}; the sweep would expand to zero experiments",
        )
    if len(v) > MAX_SEEDS:
        raise doc.error(path, f"lists {len(v):,} seeds, over the limit of {MAX_SEEDS:,}")
    for s in v:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise doc.error(path, f"seeds must be integers in [0, 2**32 - 1], but got {s!r}")
    if len(set(v)) != len(v):
        raise doc.error(path, f"seeds must be distinct, but got {v!r}")
    return list(v)


def _constraints(doc: Located, path: tuple[Any, ...], v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
        raise doc.error(path, f"must be a string or a list of strings, but got {v!r}")
    return list(v)


def _label(text: str) -> str:
    return _LABEL.sub("-", text).strip("-") or "x"


def _sample(doc: Located, path: tuple[Any, ...], spec: Any, rng: np.random.Generator) -> Any:
    if not isinstance(spec, dict):
        raise doc.error(
            path,
            "must be { low = .., high = .. [, log = true] } or "
            f"{{ choices = [...] }}, but got {spec!r}",
        )
    if "choices" in spec:
        _check_keys(doc, path, spec, {"choices"})
        ch = spec["choices"]
        if not isinstance(ch, list) or not ch:
            raise doc.error((*path, "choices"), f"must be a non-empty list, but got {ch!r}")
        return ch[int(rng.integers(len(ch)))]
    _check_keys(doc, path, spec, {"low", "high", "log"})
    if "low" not in spec or "high" not in spec:
        raise doc.error(path, "needs both 'low' and 'high' (or 'choices')")
    lo, hi, log = spec["low"], spec["high"], bool(spec.get("log", False))
    num = (int, float)
    if (
        isinstance(lo, bool)
        or isinstance(hi, bool)
        or not isinstance(lo, num)
        or not isinstance(hi, num)
    ):
        raise doc.error(path, f"low and high must be numbers, but got low={lo!r}, high={hi!r}")
    if not lo <= hi:
        raise doc.error(path, f"`low <= high` must hold, but got (low={lo!r}, high={hi!r})")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise doc.error(
            path, f"low and high must be finite numbers, but got low={lo!r}, high={hi!r}"
        )
    if log and lo <= 0:
        raise doc.error(path, f"a log-scale range needs low > 0, but got low={lo!r}")
    if isinstance(lo, int) and isinstance(hi, int):
        if log:
            return int(
                min(
                    hi, max(lo, round(float(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))) - 0.5))
                )
            )
        return int(rng.integers(lo, hi + 1))
    if log:
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return float(rng.uniform(lo, hi))


def _agent_settings(
    doc: Located, i: int, a: dict[str, Any], sample_seed: int
) -> list[dict[str, Any]]:
    base = ("agents", i)
    params = a.get("params", {})
    if not isinstance(params, dict):
        raise doc.error(
            (*base, "params"), f"must be a table of hyperparameters, but got {params!r}"
        )
    grid = a.get("grid", {})
    if not isinstance(grid, dict):
        raise doc.error((*base, "grid"), f"must be a table of lists, but got {grid!r}")
    for k, vals in grid.items():
        if not isinstance(vals, list):
            raise doc.error(
                (*base, "grid", k), f"a grid entry must be a list of values, but got {vals!r}"
            )
        if not vals:
            raise doc.error(
                (*base, "grid", k),
                "is an empty list, so the sweep would expand to "
                "zero experiments; give at least one value",
            )
    rand = a.get("random", {})
    if not isinstance(rand, dict):
        raise doc.error((*base, "random"), f"must be a table of distributions, but got {rand!r}")
    samples = _pos_int(doc, (*base, "samples"), a["samples"], MAX_SAMPLES) if "samples" in a else 1
    if "samples" in a and not rand:
        raise doc.error((*base, "samples"), "is given but there is no 'random' table to sample")
    dup = (set(params) & set(grid)) | (set(params) & set(rand)) | (set(grid) & set(rand))
    if dup:
        raise doc.error(
            base,
            f"hyperparameter(s) {sorted(dup)} appear in more than one of "
            "params/grid/random; give each in one place",
        )
    points = math.prod(len(v) for v in grid.values())
    if points > MAX_GRID:
        raise doc.error(
            (*base, "grid"),
            f"expands to {points:,} grid points (the product of its list lengths), over the "
            f"limit of {MAX_GRID:,}; shorten the lists, or use 'random' with 'samples'",
        )
    if points * samples > MAX_EXPERIMENTS:
        raise doc.error(
            base,
            f"expands to {points:,} grid points x {samples:,} samples = {points * samples:,} "
            f"settings, over the limit of {MAX_EXPERIMENTS:,} experiments per sweep",
        )
    rng = np.random.default_rng([sample_seed, i])
    keys = list(grid)
    settings = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        for _ in range(samples):
            s = dict(params)
            s.update(zip(keys, combo, strict=True))
            for k, spec in rand.items():
                s[k] = _sample(doc, (*base, "random", k), spec, rng)
            settings.append(s)
    return settings


def load_sweep(
    source: str | Path,
    text: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    check_build: bool = True,
) -> SweepSpec:
    """Load, validate and expand an experiment file.

    Args:
        source: Path of the TOML file (or a label when ``text`` is given).
        text: The TOML text, instead of reading ``source``.
        overrides: Values replacing keys of ``[sweep]`` (e.g. ``{"seeds": 10}`` to scale).
        check_build: Build each distinct env and agent once to catch errors a file check
            cannot see (bad env kwargs, an agent that cannot handle the objective).

    Raises:
        SweepFileError: Anything wrong, naming the file, line and field.
    """
    from archgym.agents._base import coerce_hparams
    from archgym.registry import _AGENTS, env_spec

    doc = load_toml(source, text)
    text = text if text is not None else Path(source).read_text(encoding="utf-8")
    data = doc.data
    _check_keys(doc, (), data, {"sweep", "envs", "agents"})
    sw = dict(data.get("sweep", {}))
    _check_keys(doc, ("sweep",), sw, SWEEP_KEYS)
    for k, v in (overrides or {}).items():
        if k not in SWEEP_KEYS:
            raise SweepFileError(
                doc.file,
                None,
                f"sweep.{k}",
                f"unknown override; accepted: {', '.join(sorted(SWEEP_KEYS))}",
            )
        sw[k] = v
    budget = _pos_int(doc, ("sweep", "budget"), sw.get("budget", 100), MAX_BUDGET)
    batch = _pos_int(doc, ("sweep", "batch_size"), sw.get("batch_size", 1), MAX_BATCH_SIZE)
    seeds = _seeds(doc, sw.get("seeds", 1))
    sample_seed = sw.get("sample_seed", 0)
    if (
        isinstance(sample_seed, bool)
        or not isinstance(sample_seed, int)
        or not 0 <= sample_seed <= MAX_SEED
    ):
        raise doc.error(
            ("sweep", "sample_seed"), f"must be a non-negative integer, got {sample_seed!r}"
        )
    objective = sw.get("objective")
    constraints = _constraints(doc, ("sweep", "constraints"), sw.get("constraints", []))
    envs, agents = data.get("envs"), data.get("agents")
    for key, val in (("envs", envs), ("agents", agents)):
        if not isinstance(val, list) or not val:
            raise doc.error(
                (key,),
                f"the file needs at least one [[{key}]] table; without it the "
                "sweep expands to zero experiments",
            )
    env_entries = []
    for j, e in enumerate(envs):  # type: ignore[arg-type]
        _check_keys(doc, ("envs", j), e, ENV_KEYS)
        if "id" not in e or not isinstance(e["id"], str):
            raise doc.error(("envs", j), 'needs id = "archgym/Name-vN" (see `archgym list`)')
        try:
            env_spec(e["id"])
        except ArchGymError as exc:
            raise doc.error(("envs", j, "id"), str(exc)) from None
        kwargs = e.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise doc.error(("envs", j, "kwargs"), f"must be a table, but got {kwargs!r}")
        label = e.get("label") or _label(
            e["id"].split("/")[-1]
            + "-"
            + "-".join(str(v) for v in kwargs.values() if isinstance(v, (str, int, float)))
        )
        env_entries.append((j, e, _label(str(label)), kwargs))
    labels = [x[2] for x in env_entries]
    if len(set(labels)) != len(labels):
        dup = next(lab for lab in labels if labels.count(lab) > 1)
        raise doc.error(
            ("envs", labels.index(dup, labels.index(dup) + 1)),
            f'two envs share the label {dup!r}; give one a distinct label = "..."',
        )
    agent_entries = []
    for i, a in enumerate(agents):  # type: ignore[arg-type]
        _check_keys(doc, ("agents", i), a, AGENT_KEYS)
        if "name" not in a or not isinstance(a["name"], str):
            raise doc.error(
                ("agents", i), 'needs name = "..." (a registered agent, see `archgym list`)'
            )
        try:
            cls: Any = _AGENTS.get(a["name"]).load()
        except ArchGymError as exc:
            raise doc.error(("agents", i, "name"), str(exc)) from None
        settings = _agent_settings(doc, i, a, sample_seed)
        fields = set(getattr(getattr(cls, "Config", None), "__dataclass_fields__", {}))
        for part in ("params", "grid", "random"):
            for k in a.get(part, {}):
                if fields and k not in fields:
                    raise doc.error(
                        ("agents", i, part, k),
                        f"agent {a['name']!r} has no "
                        f"hyperparameter {k!r}; accepted: {', '.join(sorted(fields))}",
                    )
        for s in settings:
            try:
                check_hparams(a["name"], s)
                coerce_hparams(cls, s)
            except ArchGymError as exc:
                raise doc.error(("agents", i), str(exc)) from None
        label = _label(str(a.get("label") or a["name"]))
        agent_entries.append((i, a, label, settings))
    alabels = [x[2] for x in agent_entries]
    if len(set(alabels)) != len(alabels):
        dup = next(lab for lab in alabels if alabels.count(lab) > 1)
        raise doc.error(
            ("agents", alabels.index(dup, alabels.index(dup) + 1)),
            f'two agent entries share the label {dup!r}; give one label = "..."',
        )
    n_settings = sum(len(x[3]) for x in agent_entries)
    n_items = len(env_entries) * n_settings * len(seeds)
    if n_items > MAX_EXPERIMENTS:
        raise SweepFileError(
            doc.file,
            None,
            "",
            f"the sweep expands to {len(env_entries)} envs x {n_settings:,} hyperparameter "
            f"settings x {len(seeds):,} seeds = {n_items:,} experiments, over the limit of "
            f"{MAX_EXPERIMENTS:,}; use fewer seeds, settings or envs (or split the file)",
        )
    items: list[SweepItem] = []
    for j, e, elabel, kwargs in env_entries:
        e_obj = e.get("objective", objective)
        e_con = (
            _constraints(doc, ("envs", j, "constraints"), e["constraints"])
            if "constraints" in e
            else constraints
        )
        e_budget = (
            _pos_int(doc, ("envs", j, "budget"), e["budget"], MAX_BUDGET)
            if "budget" in e
            else budget
        )
        for i, a, alabel, settings in agent_entries:
            a_budget = (
                _pos_int(doc, ("agents", i, "budget"), a["budget"], MAX_BUDGET)
                if "budget" in a
                else e_budget
            )
            for h, hp in enumerate(settings):
                for seed in seeds:
                    exp = Experiment(
                        env=e["id"],
                        env_kwargs=dict(kwargs),
                        agent=a["name"],
                        agent_kwargs=dict(hp),
                        budget=a_budget,
                        seed=seed,
                        batch_size=batch,
                        objective=e_obj,
                        constraints=list(e_con),
                        name=f"{elabel}.{alabel}.h{h:03d}",
                    )
                    items.append(
                        SweepItem(f"{elabel}.{alabel}.h{h:03d}.s{seed}", elabel, alabel, h, exp)
                    )
    spec = SweepSpec(
        str(sw.get("name") or Path(str(source)).stem),
        doc.file,
        text,
        items,
        str(sw.get("description", "")),
    )
    if check_build:
        _check_build(doc, env_entries, agent_entries, items)
    return spec


def _check_build(
    doc: Located, env_entries: list[Any], agent_entries: list[Any], items: list[SweepItem]
) -> None:
    from archgym.registry import make_agent

    env_pos = {lab: j for j, _, lab, _ in env_entries}
    agent_pos = {lab: i for i, _, lab, _ in agent_entries}
    envs: dict[str, Any] = {}
    seen: set[tuple[str, str, int]] = set()
    for it in items:
        key = (it.env_label, it.agent_label, it.setting)
        if key in seen:
            continue
        seen.add(key)
        exp = it.experiment
        if it.env_label not in envs:
            try:
                envs[it.env_label] = exp.make_env()
            except ArchGymError as exc:
                raise doc.error(
                    ("envs", env_pos[it.env_label]), f"cannot build this env: {exc}"
                ) from None
            except Exception as exc:  # noqa: BLE001 - a factory's own error, reported with the line
                raise doc.error(
                    ("envs", env_pos[it.env_label]),
                    f"cannot build this env: {type(exc).__name__}: {exc}",
                ) from None
        env = envs[it.env_label]
        try:
            make_agent(
                exp.agent,
                env.space,
                seed=exp.seed,
                n_objectives=env.objective.n_objectives,
                n_constraints=len(env.objective.constraints),
                **exp.agent_kwargs,
            )
        except ArchGymError as exc:
            raise doc.error(
                ("agents", agent_pos[it.agent_label]), f"cannot run on env {it.env_label!r}: {exc}"
            ) from None
