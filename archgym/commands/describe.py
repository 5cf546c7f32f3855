"""``archgym describe ENV``: what an env offers, without reading its source.

::

    archgym describe archgym/Systolic-v0
    archgym describe archgym/NAS-v0 --env-opt workload=mnist1d --json

Prints the env's options (factory arguments with defaults and their documented accepted
values), workloads, design space (parameters with values or ranges, conditions, size),
metrics with units and directions, default objective and constraints, and cost models. The
env is built once (with ``--env-opt`` settings) to read its space and metrics.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from archgym.env_options import env_options

__all__ = ["add_parser", "describe_env", "format_description"]


def add_parser(subparsers: Any) -> None:
    """Add ``describe``."""
    p = subparsers.add_parser(
        "describe",
        help="show an env's options, workloads, design space, metrics and cost models",
        description="Show what an env offers: options with defaults, workloads, design space, "
        "metrics with units, default objective and cost models.",
    )
    p.add_argument("env", help="env id, e.g. archgym/Systolic-v0 (see `archgym list`)")
    p.add_argument(
        "--env-opt",
        action="append",
        metavar="KEY=VALUE",
        help="env argument the description is built with, e.g. workload=bert_base (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=cmd_describe)


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return repr(v)


def _workloads(spec: Any, env: Any) -> dict[str, Any]:
    from archgym.workloads import Workload, names

    current = getattr(env.workload, "name", None) or (
        env.workload if isinstance(env.workload, str) else repr(env.workload)
    )
    info: dict[str, Any] = {"current": _jsonable(current)}
    if spec.workload_type is Workload:
        info["accepted"] = names()
        info["also"] = "a Workload or Layer object (Python API)"
    elif spec.workload_type is not None:
        info["type"] = spec.workload_type.__name__
    return info


def describe_env(env_id: str, **env_kwargs: Any) -> dict[str, Any]:
    """Everything ``archgym describe`` prints, as a JSON-ready dict.

    Raises:
        RegistryError: Unknown env (with did-you-mean).
        ConfigError: A bad ``env_kwargs`` key or value.
    """
    from archgym.registry import env_spec, list_cost_models, make

    spec = env_spec(env_id)
    factory = spec.load()
    env = make(env_id, **env_kwargs)
    space = env.space
    params = []
    for p in space.params:
        d = p.spec()
        entry: dict[str, Any] = {"name": p.name, "kind": d["kind"], "description": p.description}
        if "values" in d:
            entry["values"] = d["values"]
        for k in ("low", "high", "log"):
            if k in d:
                entry[k] = d[k]
        if p.active_if:
            entry["active_if"] = d.get("active_if")
        params.append(entry)
    cm = env.cost_model
    registered = list_cost_models()
    return {
        "env": env_id,
        "description": spec.description,
        "source": spec.source,
        "options": [
            {**o, "default": _jsonable(o["default"]), "value": _jsonable(env_kwargs[o["name"]])}
            if o["name"] in env_kwargs
            else {**o, "default": _jsonable(o["default"])}
            for o in env_options(factory)
        ],
        "workload": _workloads(spec, env),
        "design_space": {
            "name": space.name,
            "size": float(space.size()),
            "params": params,
            "constraints": [{"name": c.name, "rule": c.rule} for c in space.constraints],
            "fingerprint": space.fingerprint(),
        },
        "metrics": [
            {"name": m.name, "unit": m.unit, "direction": m.direction, "description": m.description}
            for m in cm.metrics
        ],
        "objective": {
            "objectives": list(env.objective.labels),
            "constraints": [str(c) for c in env.objective.constraints],
        },
        "report_metrics": list(spec.report_metrics),
        "cost_model": {
            "name": cm.name,
            "version": str(getattr(cm, "version", "")),
            "default": spec.default_cost_model or cm.name,
            "env_choices": list(spec.cost_models),
            "registered": {k: s.description for k, s in registered.items()},
        },
    }


def _values_text(p: dict[str, Any]) -> str:
    if "values" in p:
        vals = p["values"]
        text = ", ".join(str(v) for v in vals)
        return (
            f"{{{text}}}"
            if len(text) <= 60
            else f"{{{', '.join(map(str, vals[:6]))}, ... ({len(vals)})}}"
        )
    scale = " log" if p.get("log") else ""
    return f"[{p['low']}, {p['high']}]{scale}"


def format_description(d: dict[str, Any]) -> str:
    """The text ``archgym describe`` prints."""
    lines = [f"{d['env']}: {d['description']}", ""]
    lines.append("Options (archgym run --env-opt KEY=VALUE; archgym.make(env_id, KEY=VALUE)):")
    for o in d["options"]:
        now = f" (now {o['value']!r})" if "value" in o else ""
        lines.append(f"  {o['name']:<18} default {o['default']!r}{now}")
        if o["doc"]:
            lines.append(f"  {'':<18} {o['doc']}")
    wl = d["workload"]
    lines += ["", f"Workload: {wl['current']}"]
    if "accepted" in wl:
        lines.append(f"  accepted names: {', '.join(wl['accepted'])}")
    ds = d["design_space"]
    lines += [
        "",
        f"Design space {ds['name']!r}: {len(ds['params'])} parameters, {ds['size']:.3g} combinations",
    ]
    for p in ds["params"]:
        cond = ""
        if p.get("active_if"):
            cond = "  active if " + " and ".join(f"{k} in {v}" for k, v in p["active_if"].items())
        desc = f"  {p['description']}" if p["description"] else ""
        lines.append(f"  {p['name']:<18} {p['kind']:<11} {_values_text(p)}{desc}{cond}")
    for c in ds["constraints"]:
        lines.append(f"  constraint {c['name']}: {c['rule']}")
    lines += ["", "Metrics (name, unit, direction):"]
    w = max((len(m["name"]) for m in d["metrics"]), default=0)
    for m in d["metrics"]:
        unit = m["unit"] or "-"
        lines.append(f"  {m['name']:<{w}}  {unit:<8} {m['direction']:<4} {m['description']}")
    ob = d["objective"]
    lines += [
        "",
        f"Default objective: {', '.join(ob['objectives'])}"
        + (f"; constraints: {', '.join(ob['constraints'])}" if ob["constraints"] else ""),
    ]
    cm = d["cost_model"]
    lines.append(f"Cost model: {cm['name']} v{cm['version']}")
    if cm["env_choices"]:
        lines.append(f"  other choices (--cost-model): {', '.join(cm['env_choices'])}")
    lines.append(
        "  registered cost models (--cost-model NAME, if they read this space): "
        + ", ".join(cm["registered"])
    )
    return "\n".join(lines)


def cmd_describe(args: argparse.Namespace) -> int:
    """``archgym describe``."""
    from archgym.commands._args import parse_kv

    d = describe_env(args.env, **parse_kv(args.env_opt, "--env-opt"))
    if args.json:
        print(json.dumps(d, default=str, indent=2))
    else:
        print(format_description(d))
    return 0
