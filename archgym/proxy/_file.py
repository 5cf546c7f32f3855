"""The proxy file: JSON, no code, with a SHA-256 of its payload.

Layout::

    {"format": "archgym-proxy", "format_version": 1, "sha256": "<hex>", "payload": {...}}

``sha256`` is the hash of the payload serialised canonically (``sort_keys``, compact
separators). Loading parses JSON only (arrays are base64 numbers, see
:mod:`archgym.proxy._estimators`), so a shared proxy file cannot run code; a truncated file
fails to parse and a modified one fails the hash, each with an error naming the file.

The hash gives integrity, not validity: anyone can re-hash a crafted payload. So
:func:`read_payload` also checks the payload's structure before anything uses it
(:func:`validate_payload`): every tree is a tree (child indices in range and greater than
their parent's, so no cycle and no shared node), not deeper than :data:`MAX_TREE_DEPTH`,
splits on features the proxy has, every number finite, and the file, the trees and the
networks within fixed size limits, checked within :data:`MAX_VALIDATE_S` seconds. A payload
that breaks a rule is refused with a :class:`~archgym.errors.StoreError` naming the rule and
the value, so no crafted file can hang the loader or give NaN predictions marked feasible.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import ArchGymError, ConfigError, StoreError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "write_payload",
    "read_payload",
    "payload_sha256",
    "validate_payload",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_TREE_DEPTH",
    "MAX_MLP_WEIGHTS",
    "MAX_VALIDATE_S",
]

FORMAT = "archgym-proxy"
FORMAT_VERSION = 1

#: Largest proxy file read (a trained proxy is a few MB).
MAX_FILE_BYTES = 256 << 20
#: Most tree nodes in one file, over every model.
MAX_NODES = 20_000_000
#: Deepest tree accepted (scikit-learn trees of archgym proxies are < 50 deep).
MAX_TREE_DEPTH = 256
#: Most weights of one network.
MAX_MLP_WEIGHTS = 50_000_000
#: Most models (targets, components and the feasibility model) in one file.
MAX_MODELS = 1_000
#: Longest a validation may take.
MAX_VALIDATE_S = 60.0
_TRANSFORMS = ("none", "log", "log1p")


def _canonical(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def payload_sha256(payload: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``payload``."""
    return hashlib.sha256(_canonical(payload)).hexdigest()


def write_payload(path: str | os.PathLike[str], payload: dict[str, Any]) -> str:
    """Write a proxy file atomically; returns the payload's SHA-256.

    Raises:
        StoreError: The file cannot be written.
    """
    p = Path(path)
    sha = payload_sha256(payload)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "sha256": sha, "payload": payload}
    try:
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        os.replace(tmp, p)
    except OSError as exc:
        raise StoreError(f"cannot write the proxy file {p}: {exc.strerror or exc}") from None
    return sha


def read_payload(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """Read and verify a proxy file; returns ``(payload, sha256)``.

    Raises:
        StoreError: Missing or unreadable file, not JSON (e.g. truncated), not a proxy file,
            an unsupported format version, or a payload whose SHA-256 does not match
            (modified or corrupted); the message names the file.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StoreError(
                f"proxy file {p} is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes for a "
                "proxy file; it is not a proxy archgym wrote"
            )
        raw = p.read_bytes()
    except FileNotFoundError:  # a wrong path is bad input (exit 2), not a broken store
        raise ConfigError(
            f"proxy file {p} does not exist; check the path, or train one with "
            "`archgym proxy train RUN_DIR --out FILE`"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot read the proxy file {p}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise StoreError(
            f"proxy file {p} nests its JSON too deeply; it is not a proxy archgym wrote"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"proxy file {p} is not valid JSON ({exc}); it may be truncated or corrupted: "
            "copy it again or retrain"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(f'{p} is not an archgym proxy file (no "format": "{FORMAT}")')
    if doc.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"proxy file {p} has format_version {doc.get('format_version')!r}; this archgym reads "
            f"version {FORMAT_VERSION}: retrain the proxy with this archgym"
        )
    payload = doc.get("payload")
    sha = payload_sha256(payload)
    if sha != doc.get("sha256"):
        raise StoreError(
            f"proxy file {p} failed its integrity check: the payload's SHA-256 is {sha[:16]}..., "
            f"the file records {str(doc.get('sha256'))[:16]}...; it was modified or corrupted "
            "after training: copy it again or retrain"
        )
    if not isinstance(payload, dict):
        raise StoreError(f"proxy file {p} has no payload object")
    validate_payload(payload, str(p))
    return payload, sha


class _Invalid(Exception):
    """A rule the payload breaks (turned into a StoreError naming the file)."""


def validate_payload(payload: Any, where: str = "<payload>") -> None:
    """Check a proxy payload's structure before use (see the module docstring).

    Raises:
        StoreError: The payload breaks a rule; the message names ``where``, the part of the
            payload, the rule and the value.
    """
    deadline = time.monotonic() + MAX_VALIDATE_S
    try:
        _check_payload(payload, deadline)
    except _Invalid as exc:
        raise StoreError(f"proxy file {where} is invalid: {exc}; retrain the proxy") from None
    except (
        ArchGymError,
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as exc:
        raise StoreError(
            f"proxy file {where} is invalid: {type(exc).__name__}: {exc}; retrain the proxy"
        ) from None


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise _Invalid(message)


def _finite_number(v: Any, what: str) -> float:
    _need(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)),
        f"{what} must be a finite number, but got {v!r}",
    )
    return float(v)


def _check_payload(payload: Mapping[str, Any], deadline: float) -> None:
    from archgym.proxy._features import WORKLOAD_FEATURES, FeatureEncoder

    for key in ("env_id", "space_fingerprint"):
        _need(
            isinstance(payload.get(key), str),
            f"{key} must be a string, but got {payload.get(key)!r}",
        )
    space: Any = payload.get("space")
    _need(
        isinstance(space, dict) and isinstance(space.get("params"), list),
        "space must be a design-space spec with a list of params",
    )
    targets: Any = payload.get("targets")
    _need(
        isinstance(targets, list) and all(isinstance(t, str) for t in targets),
        f"targets must be a list of metric names, but got {targets!r}",
    )
    models: Any = payload.get("models")
    _need(isinstance(models, dict) and bool(models), "models must be a non-empty object")
    _need(set(models) == set(targets), f"models {sorted(models)} must be the targets {targets}")
    workload: Any = payload.get("workload")
    _need(
        isinstance(workload, dict)
        and isinstance(workload.get("use_features"), bool)
        and isinstance(workload.get("names"), list),
        "workload must be an object with use_features (true/false) and names (a list)",
    )
    _check_descriptive(payload, targets)
    derived: Any = payload.get("derived_features")
    _need(
        derived is None or isinstance(derived, str),
        f"derived_features must be a name or null, got {derived!r}",
    )
    n_features = len(FeatureEncoder(space, derived).feature_names)
    if workload["use_features"]:
        n_features += len(WORKLOAD_FEATURES)
    entries: list[tuple[str, Any]] = []
    for t, m in models.items():
        _need(isinstance(m, dict), f"models.{t} must be an object")
        if "ratio" in m:
            _check_ratio(m["ratio"], f"models.{t}.ratio", models, n_features)
            continue
        if "components" in m:
            comps = m["components"]
            _need(
                isinstance(comps, dict) and bool(comps),
                f"models.{t}.components must be a non-empty object",
            )
            entries.extend((f"models.{t}.components.{c}", mc) for c, mc in comps.items())
        else:
            entries.append((f"models.{t}", m))
    _need(len(entries) <= MAX_MODELS, f"{len(entries)} models exceed the limit of {MAX_MODELS}")
    budget = [MAX_NODES]
    for what, m in entries:
        _need(isinstance(m, dict), f"{what} must be an object")
        _need(
            m.get("transform") in _TRANSFORMS,
            f"{what}.transform must be one of {_TRANSFORMS}, but got {m.get('transform')!r}",
        )
        _finite_number(m.get("y_shift"), f"{what}.y_shift")
        scale = _finite_number(m.get("y_scale"), f"{what}.y_scale")
        _need(scale != 0.0, f"{what}.y_scale must be non-zero, but got 0")
        _check_estimator(m.get("estimator"), f"{what}.estimator", n_features, budget, deadline)
    if payload.get("feasibility"):
        _check_estimator(payload["feasibility"], "feasibility", n_features, budget, deadline)


def _check_ratio(r: Any, what: str, models: Mapping[str, Any], n_features: int) -> None:
    """A target predicted from another's prediction (:mod:`archgym.proxy._ratio`)."""
    _need(isinstance(r, dict), f"{what} must be an object")
    of = r.get("of")
    _need(
        isinstance(of, str) and isinstance(models.get(of), dict) and "ratio" not in models[of],
        f"{what}.of must name a fitted target of this file, but got {of!r}",
    )
    index = r.get("feature_index")
    _need(
        isinstance(index, int) and not isinstance(index, bool) and 0 <= index < n_features,
        f"{what}.feature_index must be a feature column 0..{n_features - 1}, but got {index!r}",
    )
    _need(r.get("decode") in ("none", "exp2"), f"{what}.decode must be 'none' or 'exp2'")
    _need(r.get("power") in (-1, 1), f"{what}.power must be -1 or 1, but got {r.get('power')!r}")
    scale = _finite_number(r.get("scale"), f"{what}.scale")
    _need(scale != 0.0, f"{what}.scale must be non-zero, but got 0")


def _check_descriptive(payload: Mapping[str, Any], targets: list[str]) -> None:
    """The fields the proxy cost model and ``proxy eval`` read besides the models."""
    from archgym.proxy._estimators import FAMILIES

    metrics: Any = payload.get("metrics")
    _need(isinstance(metrics, list), f"metrics must be a list, but got {metrics!r}")
    for i, m in enumerate(metrics):
        _need(
            isinstance(m, dict)
            and isinstance(m.get("name"), str)
            and isinstance(m.get("unit"), str)
            and m.get("direction") in ("min", "max")
            and isinstance(m.get("description", ""), str),
            f"metrics[{i}] must be {{name, unit, direction: 'min'|'max'}}, but got {m!r}",
        )
    missing = sorted(set(targets) - {m["name"] for m in metrics})
    _need(not missing, f"targets {missing} have no entry in metrics")
    _need(isinstance(payload.get("source"), dict), "source must be an object (the cost model)")
    model: Any = payload.get("model")
    _need(
        isinstance(model, dict) and model.get("family") in FAMILIES,
        f"model must be an object with family in {list(FAMILIES)}, but got {model!r}",
    )
    env_kwargs: Any = payload.get("env_kwargs")
    _need(
        isinstance(env_kwargs, list)
        and bool(env_kwargs)
        and all(isinstance(k, dict) for k in env_kwargs),
        f"env_kwargs must be a non-empty list of objects, but got {env_kwargs!r}",
    )
    runs: Any = payload.get("training_runs")
    _need(
        isinstance(runs, list) and all(isinstance(r, str) for r in runs),
        f"training_runs must be a list of paths, but got {runs!r}",
    )
    n_rows: Any = payload.get("n_rows")
    _need(
        isinstance(n_rows, int) and not isinstance(n_rows, bool) and n_rows >= 0,
        f"n_rows must be a count, but got {n_rows!r}",
    )
    for key in ("infeasible_reasons", "components"):
        _need(
            payload.get(key) is None or isinstance(payload.get(key), dict),
            f"{key} must be an object",
        )
    workload = payload["workload"]
    _need(all(isinstance(n, str) for n in workload["names"]), "workload.names must be strings")
    feats: Any = workload.get("features")
    _need(
        feats is None
        or (
            isinstance(feats, list)
            and all(
                isinstance(f, dict)
                and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in f.values()
                )
                for f in feats
            )
        ),
        "workload.features must be null or a list of objects of finite numbers",
    )


def _arrays(d: Mapping[str, Any], names: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    from archgym.proxy._estimators import unpack

    out = {}
    for name in names:
        _need(isinstance(d.get(name), dict), f"{what}.{name} must be a packed array")
        try:
            arr = unpack(d[name])
        except (KeyError, TypeError, ValueError) as exc:
            raise _Invalid(f"{what}.{name} is not a valid packed array ({exc})") from None
        _need(arr.ndim == 1, f"{what}.{name} must be 1-D, but has shape {list(arr.shape)}")
        out[name] = arr
    return out


def _check_estimator(
    d: Any, what: str, n_features: int, budget: list[int], deadline: float
) -> None:
    from archgym.proxy._estimators import FAMILIES, unpack

    _need(isinstance(d, dict), f"{what} must be an object")
    family = d.get("family")
    _need(family in FAMILIES, f"{what}.family must be one of {list(FAMILIES)}, but got {family!r}")
    if family == "mlp":
        mean, scale = unpack(d["mean"]), unpack(d["scale"])
        _need(
            isinstance(d.get("coefs"), list)
            and isinstance(d.get("intercepts"), list)
            and len(d["coefs"]) == len(d["intercepts"]) >= 1,
            f"{what}: coefs and intercepts must be lists of equal, non-zero length",
        )
        coefs = [unpack(w) for w in d["coefs"]]
        inter = [unpack(b) for b in d["intercepts"]]
        _need(
            mean.shape == scale.shape == (n_features,),
            f"{what}: mean and scale must have one value per feature ({n_features}), but have "
            f"shapes {list(mean.shape)} and {list(scale.shape)}",
        )
        _need(bool(np.all(scale != 0)), f"{what}.scale must be non-zero")
        weights = sum(int(w.size) for w in coefs)
        _need(
            weights <= MAX_MLP_WEIGHTS,
            f"{what} has {weights} weights, over the limit of {MAX_MLP_WEIGHTS}",
        )
        width = n_features
        for i, (w, b) in enumerate(zip(coefs, inter, strict=True)):
            _need(
                w.ndim == 2 and w.shape[0] == width and b.shape == (w.shape[1],),
                f"{what}: layer {i} has weights {list(w.shape)} and biases {list(b.shape)}, "
                f"but its input has {width} values",
            )
            width = w.shape[1]
        _need(width == 1, f"{what}: the last layer must have one output, but has {width}")
        for name, arr in (
            ("mean", mean),
            ("scale", scale),
            *(("coefs", w) for w in coefs),
            *(("intercepts", b) for b in inter),
        ):
            _need(bool(np.all(np.isfinite(arr))), f"{what}.{name} holds NaN or infinite values")
        return
    names: tuple[str, ...] = ("tree_sizes", "value", "feature", "threshold", "left", "right")
    if family == "hist-gbm":
        names += ("is_leaf", "missing_left")
        _finite_number(d.get("baseline"), f"{what}.baseline")
    a = _arrays(d, names, what)
    sizes = a["tree_sizes"].astype(np.int64)
    n = int(a["value"].shape[0])
    _need(sizes.size >= 1 and bool(np.all(sizes >= 1)), f"{what}.tree_sizes must be >= 1 each")
    _need(
        int(sizes.sum()) == n,
        f"{what}.tree_sizes sum to {int(sizes.sum())}, but there are {n} nodes",
    )
    budget[0] -= n
    _need(budget[0] >= 0, f"the trees hold more than {MAX_NODES} nodes, the limit")
    for name in names[1:]:
        _need(
            a[name].shape[0] == n,
            f"{what}.{name} has {a[name].shape[0]} entries, but there are {n} nodes",
        )
    _need(bool(np.all(np.isfinite(a["value"]))), f"{what}.value holds NaN or infinite values")
    leaf = a["is_leaf"].astype(bool) if family == "hist-gbm" else a["left"] < 0
    inner = np.flatnonzero(~leaf)
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    tree_of = np.repeat(np.arange(sizes.size), sizes)
    local = np.arange(n) - roots[tree_of]
    if inner.size:
        _need(not np.isnan(a["threshold"][inner]).any(), f"{what}.threshold holds NaN")
        feat = a["feature"][inner].astype(np.int64)
        _need(
            int(feat.min()) >= 0 and int(feat.max()) < n_features,
            f"{what}.feature must index the proxy's {n_features} features, but holds "
            f"{int(feat.min())}..{int(feat.max())}",
        )
        for side in ("left", "right"):
            child = a[side][inner].astype(np.int64)
            size = sizes[tree_of[inner]]
            bad = (child <= local[inner]) | (child >= size)
            if bad.any():
                i = int(inner[np.argmax(bad)])
                raise _Invalid(
                    f"{what}.{side} of node {int(local[i])} (tree {int(tree_of[i])}) is "
                    f"{int(a[side][i])}, but a child must come after its parent and inside its "
                    f"tree of {int(sizes[tree_of[i]])} nodes (a cycle or an index out of range)"
                )
        kids = np.concatenate([a["left"][inner], a["right"][inner]]).astype(np.int64)
        kids += np.concatenate([roots[tree_of[inner]]] * 2)
        _need(np.unique(kids).size == kids.size, f"{what}: a node has two parents (not a tree)")
    # depth: walk down level by level from the roots (children after parents: terminates)
    left_g = np.where(leaf, -1, a["left"].astype(np.int64) + roots[tree_of])
    right_g = np.where(leaf, -1, a["right"].astype(np.int64) + roots[tree_of])
    frontier, depth = roots, 0
    while frontier.size:
        frontier = frontier[~leaf[frontier]]
        if not frontier.size:
            break
        depth += 1
        _need(depth <= MAX_TREE_DEPTH, f"{what} has a tree deeper than {MAX_TREE_DEPTH} levels")
        _need(time.monotonic() < deadline, f"checking it took longer than {MAX_VALIDATE_S:g} s")
        frontier = np.concatenate([left_g[frontier], right_g[frontier]])
