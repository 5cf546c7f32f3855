"""Active learning: search on the proxy, evaluate the most promising and most uncertain
designs with the true model, retrain, repeat.

Each round scores a pool of candidates with the proxy (fresh random designs plus mutations
of the best designs evaluated so far), picks ``batch`` designs not evaluated before, most of
them the best by the proxy's objective and a share ``explore`` the most uncertain (spread of
a random forest's trees; random picks for other families), evaluates them with the env's true
cost model, and refits the proxy on everything seen. True evaluations can be logged to a run
directory (``out``), which then joins the proxy's training runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.cost_model import Evaluations
from archgym.errors import ConfigError
from archgym.proxy._proxy import Proxy, fit_payload_models, ratios_of

__all__ = ["ActiveResult", "acquire"]


@dataclass
class ActiveResult:
    """Outcome of :func:`acquire`.

    Attributes:
        proxy: The retrained proxy.
        n_initial: True evaluations the proxy was first trained on.
        n_acquired: True evaluations added.
        history: ``(true evaluations so far, best true objective so far)`` after the initial
            data and after each round (objective in minimisation form).
        best_design: Best design evaluated with the true model.
        run_dir: Where the acquired evaluations were logged, if anywhere.
    """

    proxy: Proxy
    n_initial: int
    n_acquired: int
    history: list[tuple[int, float]] = field(default_factory=list)
    best_design: dict[str, Any] | None = None
    run_dir: str | None = None


def _key(d: dict[str, Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(d[n] for n in names)


def acquire(
    proxy: Proxy,
    n: int,
    env: Any = None,
    batch: int = 50,
    pool: int = 4000,
    explore: float = 0.2,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    n_threads: int = 1,
) -> ActiveResult:
    """Add ``n`` true evaluations chosen by the proxy, retraining after each batch.

    Args:
        proxy: A proxy trained by :func:`~archgym.proxy.train_proxy` (its training runs must
            exist: they are the starting data).
        n: True evaluations to add.
        env: The env with the true cost model and the objective to search for; default the
            proxy's source env with its default objective.
        batch: Designs evaluated per round.
        pool: Candidates scored by the proxy per round.
        explore: Share of each batch picked for uncertainty instead of predicted quality.
        seed: Seed of candidate sampling.
        out: Run directory to log the true evaluations to.
        n_threads: Threads while refitting.

    Raises:
        ConfigError: ``n < 1``, or an objective needing a metric the proxy does not predict.
    """
    from archgym.proxy._data import load_training_data
    from archgym.proxy._proxy import _build_envs, _design_matrix

    if n < 1 or batch < 1:
        raise ConfigError(f"n and batch must be positive, but got n={n}, batch={batch}")
    if proxy.uses_workload_features:
        raise ConfigError("active learning needs a proxy of a single workload")
    data = load_training_data(proxy.payload["training_runs"], proxy.env_id, proxy.targets, 1)
    envs = _build_envs(data)
    env = env if env is not None else envs[0]
    need = [m for m in env.objective.metric_names if m not in proxy.targets]
    if need:
        raise ConfigError(
            f"the objective {env.objective.labels} needs {need}, which the proxy does not "
            f"predict ({list(proxy.targets)}); train with --target including them"
        )
    rng = np.random.default_rng(seed)
    space = env.space
    names = space.names
    X = _design_matrix(data, envs, False, proxy.payload.get("derived_features"))
    ok = data.frame["feasible"].astype(bool).to_numpy()
    Y = {t: data.frame[t].to_numpy(dtype=float) for t in proxy.targets}
    parts = {
        t: {c: data.frame[c].to_numpy(dtype=float) for c in cs}
        for t, cs in (proxy.payload.get("components") or {}).items()
    }
    cols = data.param_columns()
    designs = [
        space.validate(dict(zip(names, row, strict=True)))
        for row in zip(*(cols[k].tolist() for k in names), strict=True)
    ]
    seen = {_key(d, names) for d in designs}
    true_vals = env.objective.scalar(
        Evaluations({t: Y[t] for t in proxy.targets}, ok, [""] * len(ok))
    )
    history = [(len(ok), float(np.nanmin(true_vals)))]
    store = None
    if out is not None:
        from archgym.store import RunStore

        store = RunStore.create(
            out,
            {
                "env_id": proxy.env_id,
                "env": env.describe(),
                "agent": "proxy-acquire",
                "agent_hparams": {"batch": batch, "pool": pool, "explore": explore},
                "seed": seed,
                "budget": n,
                "batch_size": batch,
                "experiment": {"env": proxy.env_id, "env_kwargs": proxy.payload["env_kwargs"][0]},
            },
        )
    model = proxy.payload["model"]
    current = proxy
    added = 0
    try:
        while added < n:
            k = min(batch, n - added)
            order = np.argsort(np.where(np.isnan(true_vals), np.inf, true_vals))[:5]
            cands = space.sample(rng, pool)
            for i in order:
                cands += [
                    space.mutate(designs[int(i)], rng, int(rng.integers(1, 3)))
                    for _ in range(pool // 20)
                ]
            uniq: dict[tuple[Any, ...], dict[str, Any]] = {}
            for d in cands:
                key = _key(d, names)
                if key not in seen:
                    uniq.setdefault(key, d)
            cands = list(uniq.values())
            if not cands:
                break
            Xc = current.features(space.to_columns(cands), env.workload)
            pred, spread = current.predict_features(Xc, spread=True)
            p_ok = current.feasible_probability(Xc) >= 0.5
            score = env.objective.scalar(Evaluations(pred, p_ok, [""] * len(cands)))
            score = np.where(np.isnan(score), np.inf, score)
            n_explore = int(round(explore * k))
            pick = list(np.argsort(score, kind="stable")[: k - n_explore])
            rest = np.setdiff1d(np.arange(len(cands)), pick)
            if n_explore and rest.size:
                unc = sum(spread.values())
                if np.any(unc[rest] > 0):
                    extra = rest[np.argsort(-unc[rest], kind="stable")[:n_explore]]
                else:
                    extra = rng.choice(rest, size=min(n_explore, rest.size), replace=False)
                pick += list(extra)
            chosen = [cands[int(i)] for i in pick]
            res = env.evaluate(chosen)
            if store is not None:
                store.append(res)
            for d in chosen:
                seen.add(_key(d, names))
            designs += chosen
            X = np.vstack([X, current.features(space.to_columns(chosen), env.workload)])
            ok = np.concatenate([ok, res.feasible])
            for t in Y:
                Y[t] = np.concatenate([Y[t], res.evals.metrics[t]])
            for p in parts.values():
                for c in p:
                    p[c] = np.concatenate([p[c], res.evals.metrics[c]])
            true_vals = np.concatenate([true_vals, env.objective.scalar(res.evals)])
            added += len(chosen)
            history.append((len(ok), float(np.nanmin(true_vals))))
            models, feas = fit_payload_models(
                X,
                Y,
                model["family"],
                model["hyperparameters"],
                int(model["seed"]),
                ok,
                n_threads,
                parts,
                None,
                ratios_of(current.payload["models"]),
            )
            payload = dict(
                current.payload,
                models=models,
                feasibility=feas,
                n_rows=int(len(ok)),
                n_feasible=int(ok.sum()),
                cv=None,
            )
            current = Proxy(payload)
        if store is not None:
            store.set_status("complete")
    finally:
        if store is not None:
            store.close()
    payload = dict(current.payload)
    if out is not None:
        payload["training_runs"] = list(payload["training_runs"]) + [os.path.abspath(out)]
    payload["acquisition"] = {
        "n_initial": history[0][0],
        "n_acquired": added,
        "batch": batch,
        "pool": pool,
        "explore": explore,
        "seed": seed,
        "history": history,
    }
    best = int(np.nanargmin(true_vals))
    return ActiveResult(
        Proxy(payload),
        history[0][0],
        added,
        history,
        designs[best],
        str(out) if out is not None else None,
    )
