"""Evaluate a proxy: on held-out runs, or by cross-validation on its training runs, and its
speed against the source cost model measured in the same process.

Cross-validation refits the proxy's model family with its stored hyperparameters and seed on
k folds of the recorded training runs (which must still exist), so it measures the training
recipe, not the one stored model; a held-out run directory measures the stored model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from archgym.errors import ConfigError, StoreError
from archgym.proxy._data import load_training_data
from archgym.proxy._proxy import (
    Proxy,
    _build_envs,
    _cross_validate,
    _design_matrix,
    n_fits,
    progress_bar,
    ratios_of,
)
from archgym.proxy._quality import quality

__all__ = ["evaluate_proxy", "measure_speed"]


def _source_env(proxy: Proxy) -> Any:
    from archgym.registry import make

    kw = dict(proxy.payload["env_kwargs"][0])
    return make(proxy.env_id, **kw)


def measure_speed(proxy: Proxy, n: int = 2000, seed: int = 0, repeats: int = 3) -> dict[str, Any]:
    """Seconds per design of the proxy and of the source cost model on the same ``n`` random
    designs, same process, best of ``repeats`` (each a single batch call)."""
    env = _source_env(proxy)
    designs = env.space.sample(np.random.default_rng(seed), n)
    cols = env.space.to_columns(designs)

    def predict() -> None:  # what the ``proxy:FILE`` cost model does per batch
        X = proxy.features(cols, env.workload)
        proxy.predict_features(X)
        proxy.feasible_probability(X)

    def best(fn: Any) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    t_proxy = best(predict)
    t_src = best(lambda: env.cost_model.evaluate(cols, env.workload))
    return {
        "n": n,
        "proxy_s_per_design": t_proxy / n,
        "source_s_per_design": t_src / n,
        "source": f"{env.cost_model.name} v{env.cost_model.version}",
        "speedup": t_src / t_proxy,
    }


def evaluate_proxy(
    proxy: Proxy,
    held_out: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    folds: int = 5,
    top_k: int = 10,
    speed_n: int = 2000,
    n_threads: int = 1,
    progress: bool | None = False,
) -> dict[str, Any]:
    """Quality report of ``proxy`` (see :func:`archgym.proxy.quality`), plus its speed.

    Args:
        proxy: The proxy to evaluate.
        held_out: Run directories of the same env not used in training; ``None`` runs
            ``folds``-fold cross-validation on the proxy's training runs.
        folds: Cross-validation folds.
        top_k: ``k`` of the top-k recall.
        speed_n: Designs in the speed measurement (0 skips it).
        n_threads: Threads while refitting.
        progress: Progress bar on stderr over the refits (``None``: only on a terminal).

    Raises:
        ConfigError: Held-out runs of another env or space, or a target they lack.
        StoreError: The training runs are gone (cross-validation needs them).
    """
    directions = {m["name"]: m["direction"] for m in proxy.payload["metrics"]}
    if held_out is not None:
        data = load_training_data(held_out, None, proxy.targets, min_rows=1)
        if data.env_id != proxy.env_id or data.fingerprint != proxy.fingerprint:
            raise ConfigError(
                f"held-out runs are of {data.env_id} (space {data.fingerprint}), the proxy of "
                f"{proxy.env_id} (space {proxy.fingerprint}); evaluate on runs of the proxy's env"
            )
        envs = _build_envs(data)
        ok = data.frame["feasible"].astype(bool).to_numpy()
        cols = data.param_columns()
        pred: dict[str, np.ndarray] = {t: np.full(len(ok), np.nan) for t in proxy.targets}
        for w, env in enumerate(envs):
            rows = (data.frame["_workload"] == w).to_numpy()
            X = proxy.features({k: v[rows] for k, v in cols.items()}, env.workload)
            for t, v in proxy.predict_features(X).items():
                pred[t][rows] = v
        report: dict[str, Any] = {
            "method": f"held-out runs {data.runs}",
            "n": int(ok.sum()),
            "targets": {},
        }
        for t in proxy.targets:
            y = data.frame[t].to_numpy(dtype=float)
            m = ok & np.isfinite(y)
            report["targets"][t] = quality(y[m], pred[t][m], directions[t], top_k)
    else:
        runs = proxy.payload["training_runs"]
        gone = [r for r in runs if not os.path.isdir(r)]
        if gone:
            raise StoreError(
                f"cross-validation refits on the proxy's training runs, but {gone} no longer "
                "exist; pass held-out run directories instead"
            )
        if folds < 2:
            raise ConfigError(f"cross-validation needs at least 2 folds, but got {folds}")
        data = load_training_data(runs, proxy.env_id, proxy.targets, min_rows=folds)
        envs = _build_envs(data)
        X = _design_matrix(
            data, envs, proxy.uses_workload_features, proxy.payload.get("derived_features")
        )
        ok = data.frame["feasible"].astype(bool).to_numpy()
        Y = {t: data.frame[t].to_numpy(dtype=float) for t in proxy.targets}
        parts = {
            t: {c: data.frame[c].to_numpy(dtype=float) for c in cs}
            for t, cs in (proxy.payload.get("components") or {}).items()
        }
        model = proxy.payload["model"]
        ratios = ratios_of(proxy.payload["models"])
        bar = progress_bar(n_fits(Y, parts, ratios) * folds, progress, "proxy eval")
        try:
            report = _cross_validate(
                X,
                Y,
                ok,
                model["family"],
                model["hyperparameters"],
                int(model["seed"]),
                folds,
                directions,
                n_threads,
                top_k,
                parts,
                bar,
                ratios,
            )
        finally:
            if bar is not None:
                bar.close()
    if speed_n:
        report["speed"] = measure_speed(proxy, speed_n)
    return report
