"""``proxy``: a trained proxy file as a cost model any env can use.

::

    env = archgym.make("archgym/Systolic-v0", cost_model="proxy:proxies/systolic.json")
    archgym run --env archgym/Systolic-v0 --cost-model proxy:proxies/systolic.json --agent tpe

The cost model declares the metrics it predicts with the units and directions of the source
cost model the proxy imitates. It refuses (ConfigError, with the reason) an env other than
the one the proxy was trained for: another env id, another version of it, another design
space (fingerprint), or a workload it was not trained on. ``archgym.make`` checks this when
the env is built (through :meth:`ProxyCostModel.bind_env`); an env built by hand is checked
at its first evaluation against the design columns and workload it passes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.errors import ConfigError
from archgym.registry import register_cost_model

__all__ = ["ProxyCostModel", "make_proxy_cost_model"]


class ProxyCostModel(CostModel):
    """Predicts a source cost model's metrics with a trained proxy.

    Args:
        proxy: A :class:`~archgym.proxy.Proxy`, or the path of a proxy file.
    """

    name = "proxy"
    description = "learned proxy of another cost model, from a proxy file (proxy:FILE)"

    def __init__(self, proxy: Any) -> None:
        from archgym.proxy import Proxy

        self.proxy = proxy if isinstance(proxy, Proxy) else Proxy.load(proxy)
        self.metrics = tuple(  # type: ignore[misc]
            Metric(m["name"], m["unit"], m["direction"], m.get("description", ""))
            for m in self.proxy.payload["metrics"]
        )
        self.version = f"proxy-{self.proxy.sha256[:12] or 'unsaved'}"  # type: ignore[misc]
        self._checked_workloads: dict[int, Any] = {}

    def bind_env(self, env: Any) -> None:
        """Refuse an env the proxy was not trained for (called by ``archgym.make``).

        Raises:
            ConfigError: Another env id or version, another design space, or another workload.
        """
        p = self.proxy
        env_id = getattr(env, "env_id", "") or ""
        if env_id and env_id != p.env_id:
            base = env_id.rsplit("-v", 1)[0]
            same_family = base == p.env_id.rsplit("-v", 1)[0]
            why = (
                "another version of the env (its results may differ)"
                if same_family
                else "another env"
            )
            raise ConfigError(
                f"proxy {p.path or ''} was trained for {p.env_id!r}, not {env_id!r} ({why}); "
                f"train a proxy on runs of {env_id!r}"
            )
        fp = env.space.fingerprint()
        if fp != p.fingerprint:
            raise ConfigError(
                f"proxy {p.path or ''} was trained on a design space with fingerprint "
                f"{p.fingerprint}, but this env's space {env.space.name!r} has {fp} (parameters "
                "or ranges changed); retrain the proxy on runs of this space"
            )
        p.check_workload(env.workload)

    def evaluate_columns(self, columns: dict[str, np.ndarray], workload: Any) -> Evaluations:
        """Predict every target; a design the proxy's feasibility model rejects (only when
        the training runs had infeasible designs) is infeasible with the reason."""
        X = self.proxy.features(columns, workload)
        pred = self.proxy.predict_features(X)
        n = X.shape[0]
        p_ok = self.proxy.feasible_probability(X)
        feasible = p_ok >= 0.5
        reasons = [""] * n
        if not feasible.all():
            common = next(iter(self.proxy.payload.get("infeasible_reasons", {})), "")
            for i in np.flatnonzero(~feasible):
                reasons[int(i)] = (
                    f"proxy predicts infeasible (p_feasible={p_ok[i]:.2f}; most common reason "
                    f"in training: {common})"
                )
            for k in pred:
                pred[k] = np.where(feasible, pred[k], np.nan)
        return Evaluations(metrics=pred, feasible=feasible, reasons=reasons)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            path=self.proxy.path,
            sha256=self.proxy.sha256,
            env_id=self.proxy.env_id,
            source=self.proxy.payload["source"],
            model=self.proxy.payload["model"]["family"],
        )
        return out


def make_proxy_cost_model(path: str | os.PathLike[str] = "", **kwargs: Any) -> ProxyCostModel:
    """Factory of ``proxy:FILE``.

    Raises:
        ConfigError: No file given.
        StoreError: The file is missing, truncated or fails its integrity check.
    """
    if not path:
        raise ConfigError("the proxy cost model needs a file: use cost_model='proxy:PATH.json'")
    if kwargs:
        raise ConfigError(f"proxy cost model takes only a file path, got extra {sorted(kwargs)}")
    return ProxyCostModel(path)


register_cost_model("proxy", make_proxy_cost_model, ProxyCostModel.description)
