"""A trained proxy: predicts a source cost model's metrics from design features.

::

    from archgym.proxy import train_proxy, Proxy
    proxy = train_proxy(["runs/sweep"], targets=["latency_s", "energy_j"], model="hist-gbm")
    proxy.save("proxies/systolic.json")
    proxy = Proxy.load("proxies/systolic.json")
    proxy.predict({"rows": [32], ...}, workload)     # {"latency_s": array, ...}

One regressor per target, fitted on the features of :class:`~archgym.proxy.FeatureEncoder`
(its derived features included, plus workload features when the runs span several
workloads), on ``log(y)`` where a target spans two or more decades. A target that the
records show to be the sum of other metrics of its unit (``energy_j`` of the five
``energy_*_j`` levels, ``cycles`` of ``compute_cycles + stall_cycles``) is predicted as the
sum of one regressor per component (:func:`find_components`): each part is a simpler
function of the design than the total. Prediction always goes through the exported arrays, so a loaded
proxy predicts exactly what the trained one did.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from archgym.errors import ConfigError, StoreError
from archgym.proxy import _estimators as est
from archgym.proxy._data import MIN_ROWS, TrainingData, load_training_data
from archgym.proxy._features import (
    WORKLOAD_FEATURES,
    FeatureEncoder,
    stack_workload,
    workload_features,
    workload_name,
)
from archgym.proxy._file import read_payload, write_payload
from archgym.proxy._quality import quality
from archgym.proxy._ratio import apply_ratio, find_ratio

__all__ = ["Proxy", "train_proxy", "fit_payload_models", "choose_transform", "find_components"]


def choose_transform(y: np.ndarray) -> str:
    """``"log"`` for positive targets spanning >= 100x, ``"log1p"`` for non-negative ones
    whose positive values span >= 100x, else ``"none"``."""
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        return "none"
    lo, hi = float(y.min()), float(y.max())
    if lo > 0 and hi / lo >= 100:
        return "log"
    pos = y[y > 0]
    if lo >= 0 and pos.size and hi / float(pos.min()) >= 100:
        return "log1p"
    return "none"


#: A summed component spanning this factor or more is fitted on the raw scale.
COMPONENT_LOG_SPAN_MAX = 1e6


def _component_transform(y: np.ndarray) -> str:
    """Transform of a summed component: ``log`` or nothing. Parts add on the raw scale, and
    ``log1p`` of a part that is often exactly 0 fits its zeros at the expense of its large
    values, so it is never used here. For the same reason a part spanning six decades or
    more (:data:`COMPONENT_LOG_SPAN_MAX`) is fitted raw: its smallest values are zero next
    to its largest, yet a log fit weighs their relative error as much. Accelerator-v2's stall
    cycles span 3e7 (1.9 to 6e7 cycles; every other part <= 4e4): fitted raw, the held-out
    nRMSE of cycles is 0.555 / 0.564 % instead of 2.015 / 1.853 % on two seed pairs."""
    how = choose_transform(y)
    if how == "log1p":
        return "none"
    y = np.asarray(y, dtype=float)
    if how == "log" and float(y.max()) / float(y.min()) >= COMPONENT_LOG_SPAN_MAX:
        return "none"
    return how


def find_components(
    frame: Any, target: str, metrics: Sequence[Any], rows: np.ndarray, rtol: float = 1e-9
) -> list[str]:
    """Other metrics of ``target``'s unit that sum to it on every given row, or ``[]``.

    Args:
        frame: Records (a DataFrame with the metrics as columns).
        target: The target metric.
        metrics: The source model's declared :class:`~archgym.cost_model.Metric` objects.
        rows: Boolean mask of the rows to check (feasible ones).
        rtol: Relative tolerance of the sum.
    """
    unit = {m.name: m.unit for m in metrics}
    if target not in unit:
        return []
    parts = [
        m.name
        for m in metrics
        if m.name != target and m.unit == unit[target] and m.name in frame.columns
    ]
    if len(parts) < 2 or not rows.any():
        return []
    y = frame[target].to_numpy(dtype=float)[rows]
    total = sum(frame[p].to_numpy(dtype=float)[rows] for p in parts)
    ok = np.all(np.isfinite(total)) and np.allclose(total, y, rtol=rtol, atol=0.0)
    return parts if ok else []


def _forward(y: np.ndarray, how: str) -> np.ndarray:
    return np.log(y) if how == "log" else np.log1p(y) if how == "log1p" else y


def _inverse(z: np.ndarray, how: str) -> np.ndarray:
    return np.exp(z) if how == "log" else np.expm1(z) if how == "log1p" else z


def _threads(n: int) -> Any:
    """Limit BLAS and OpenMP threads to ``n`` while fitting.

    scikit-learn's estimators are imported first: threadpoolctl limits only the libraries
    already loaded, and an OpenMP pool it missed spins ``cores`` threads per histogram
    (50x the CPU time of one thread on a busy machine).
    """
    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime before limiting it
    import sklearn.neural_network  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


class Proxy:
    """A trained proxy, built from a verified payload (see :meth:`load`).

    Attributes:
        payload: Everything stored in the proxy file.
        sha256: Hash of the payload (identifies the proxy in run manifests).
        path: File it was loaded from, if any.
    """

    def __init__(self, payload: dict[str, Any], sha256: str = "", path: str | None = None) -> None:
        self.payload = payload
        self.sha256 = sha256
        self.path = path
        try:
            self.encoder = FeatureEncoder(payload["space"], payload.get("derived_features"))
            self.predictors = _predictors(payload["models"])
            feas = payload.get("feasibility")
            self.feasibility = est.Predictor(feas) if feas else None
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"proxy {path or ''} has a malformed payload ({type(exc).__name__}: {exc}); retrain it"
            ) from None

    # -- identity --------------------------------------------------------------------
    @property
    def env_id(self) -> str:
        """Env id (with version) of the runs it was trained on."""
        return str(self.payload["env_id"])

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the design space it was trained on."""
        return str(self.payload["space_fingerprint"])

    @property
    def targets(self) -> tuple[str, ...]:
        """Metrics it predicts, in order."""
        return tuple(self.payload["targets"])

    @property
    def uses_workload_features(self) -> bool:
        """True if trained on several workloads (workload features are inputs)."""
        return bool(self.payload["workload"]["use_features"])

    # -- prediction ------------------------------------------------------------------
    def check_workload(self, workload: Any) -> list[float] | None:
        """The workload feature vector to use, after checking the workload is one the proxy
        can predict for.

        Raises:
            ConfigError: A proxy trained on one workload is asked about another, or a
                workload-feature proxy gets a workload without GEMM layers.
        """
        info = self.payload["workload"]
        feats = workload_features(workload)
        if info["use_features"]:
            if feats is None:
                raise ConfigError(
                    f"this proxy takes workload features (trained on {info['names']}), but the "
                    f"workload {workload!r} has no GEMM layers to describe"
                )
            return [feats[k] for k in WORKLOAD_FEATURES]
        trained = info["names"][0] if info["names"] else None
        name = workload_name(workload)
        same_feats = (
            feats is None
            or info["features"] is None
            or all(abs(feats[k] - v) < 1e-9 for k, v in info["features"][0].items())
        )
        if (trained is not None and name is not None and name != trained) or not same_feats:
            raise ConfigError(
                f"this proxy was trained on workload {trained!r} only and cannot predict for "
                f"workload {name!r}; train it on runs of that workload (runs of several "
                "workloads give a proxy with workload features)"
            )
        return None

    def features(self, columns: Mapping[str, Any], workload: Any = None) -> np.ndarray:
        """Feature matrix of designs given as columns (or a DataFrame) on ``workload``."""
        X = self.encoder.transform(columns)
        wl = self.check_workload(workload)
        return stack_workload(X, wl) if wl is not None else X

    def predict_features(self, X: np.ndarray, spread: bool = False) -> Any:
        """Predictions ``{target: array}`` from a feature matrix; with ``spread=True`` also
        ``{target: std}`` on the transformed scale (random forests; zeros otherwise)."""
        out, std = {}, {}
        models = self.payload["models"]
        for t, m in models.items():
            if "ratio" in m:  # from another target's prediction, below
                continue
            if "components" in m:  # sum of parts; spread: relative std of the sum
                total, var = np.zeros(X.shape[0]), np.zeros(X.shape[0])
                for c in sorted(m["components"]):  # the file's key order (sorted JSON)
                    mc = m["components"][c]
                    v, s = _predict_one(self.predictors[f"{t}/{c}"], mc, X)
                    total += v
                    var += (s * v) ** 2 if mc["transform"] != "none" else s**2
                out[t] = total
                with np.errstate(divide="ignore", invalid="ignore"):
                    std[t] = np.nan_to_num(np.sqrt(var) / np.abs(total))
                continue
            out[t], std[t] = _predict_one(self.predictors[t], m, X)
        for t, m in models.items():
            if "ratio" in m:  # same relative spread as the target it is derived from
                out[t], std[t] = (
                    apply_ratio(m["ratio"], out[m["ratio"]["of"]], X),
                    std[m["ratio"]["of"]],
                )
        out = {t: out[t] for t in models}
        return (out, {t: std[t] for t in models}) if spread else out

    def predict(self, columns: Mapping[str, Any], workload: Any = None) -> dict[str, np.ndarray]:
        """Predicted metrics of designs (columns by parameter name) on ``workload``."""
        return self.predict_features(self.features(columns, workload))

    def feasible_probability(self, X: np.ndarray) -> np.ndarray:
        """Predicted probability that each design is feasible (1 if training had no
        infeasible designs)."""
        if self.feasibility is None:
            return np.ones(X.shape[0])
        return np.clip(self.feasibility.predict(X), 0.0, 1.0)

    # -- files -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the proxy file (JSON + SHA-256); returns the hash."""
        self.sha256 = write_payload(path, self.payload)
        self.path = str(path)
        return self.sha256

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Proxy:
        """Read and verify a proxy file (see :mod:`archgym.proxy._file`)."""
        payload, sha = read_payload(path)
        return cls(payload, sha, str(path))

    def describe(self) -> dict[str, Any]:
        """A short summary (what ``archgym proxy eval`` prints first)."""
        p = self.payload
        return {
            "path": self.path,
            "sha256": self.sha256,
            "env_id": p["env_id"],
            "space_fingerprint": p["space_fingerprint"],
            "source_cost_model": p["source"],
            "targets": p["targets"],
            "model": p["model"],
            "n_rows": p["n_rows"],
            "workload": p["workload"]["names"],
            "training_runs": p["training_runs"],
        }


def _predictors(models: Mapping[str, Any]) -> dict[str, est.Predictor]:
    """Predictors by target, and by ``target/component`` for summed targets."""
    out = {}
    for t, m in models.items():
        if "ratio" in m:
            continue
        if "components" in m:
            for c, mc in m["components"].items():
                out[f"{t}/{c}"] = est.Predictor(mc["estimator"])
        else:
            out[t] = est.Predictor(m["estimator"])
    return out


def _predict_one(pred: est.Predictor, m: Mapping[str, Any], X: np.ndarray) -> tuple[Any, Any]:
    z, s = pred.predict(X, spread=True)
    return _inverse(z * m["y_scale"] + m["y_shift"], m["transform"]), s * m["y_scale"]


# -- training -----------------------------------------------------------------------
def n_fits(
    Y: Mapping[str, Any],
    components: Mapping[str, Mapping[str, Any]] | None,
    ratios: Mapping[str, Any] | None = None,
) -> int:
    """Models fitted per training pass (one per target, or per component of a summed one;
    none for a target derived from another by :mod:`archgym.proxy._ratio`)."""
    comps = components or {}
    return sum(len(comps[t]) if comps.get(t) else 1 for t in Y if t not in (ratios or {}))


def ratios_of(models: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ratio`` specs of a payload's models, by target."""
    return {t: m["ratio"] for t, m in models.items() if "ratio" in m}


def progress_bar(total: int, enabled: bool | None, what: str = "proxy") -> Any:
    """A tqdm bar on stderr over ``total`` fits, or ``None``.

    ``enabled``: ``True`` always shows it, ``None`` only when stderr is a terminal, ``False``
    never."""
    if enabled is False:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=what,
        unit="fit",
        mininterval=0,  # a fit takes a while: show each one
        file=sys.stderr,
        leave=False,
        disable=None if enabled is None else False,
    )


def _ticker(bar: Any, stage: str) -> Callable[[str], None] | None:
    if bar is None:
        return None

    def tick(label: str) -> None:
        bar.set_description(f"{stage}: {label}", refresh=False)
        bar.update(1)

    return tick


def _build_envs(data: TrainingData) -> list[Any]:
    from archgym.registry import make

    envs = []
    for kw in data.env_kwargs:
        try:
            envs.append(make(data.env_id, **kw))
        except Exception as exc:  # noqa: BLE001 - report which setting failed
            raise ConfigError(
                f"cannot rebuild {data.env_id} with the runs' arguments {kw} to read its "
                f"workload and metrics: {exc}"
            ) from exc
    return envs


def _design_matrix(
    data: TrainingData, envs: Sequence[Any], use_features: bool, derived: str | None = "auto"
) -> np.ndarray:
    enc = FeatureEncoder(data.space_spec, derived)
    X = enc.transform(data.param_columns())
    if not use_features:
        return X
    per_env = [workload_features(e.workload) or {} for e in envs]
    feats = np.array([[f[k] for k in WORKLOAD_FEATURES] for f in per_env])
    return np.hstack([X, feats[data.frame["_workload"].to_numpy()]])


def fit_payload_models(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    family: str,
    hparams: Mapping[str, Any],
    seed: int,
    feasible: np.ndarray | None = None,
    n_threads: int = 1,
    components: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    tick: Callable[[str], None] | None = None,
    ratios: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fit one exported model per target (rows of ``X`` where the target is finite and the
    design feasible), plus a feasibility model when some rows are infeasible.

    ``components[t]`` (arrays by component name) makes target ``t`` a sum of one model per
    component (see :func:`find_components`); ``ratios[t]`` (a spec of
    :func:`~archgym.proxy._ratio.find_ratio`) predicts ``t`` from another target, with no
    fit. ``tick(label)`` is called after each fit (a progress bar)."""
    ok = np.ones(X.shape[0], dtype=bool) if feasible is None else np.asarray(feasible, bool)
    models: dict[str, Any] = {}
    parts_of, ratio_of = components or {}, ratios or {}

    def one(y: np.ndarray, rows: np.ndarray, how: str, label: str) -> dict[str, Any]:
        z = _forward(y[rows], how)
        shift, scale = 0.0, 1.0
        if family == "mlp":
            shift, scale = float(z.mean()), float(z.std()) or 1.0
        fitted = est.fit(family, X[rows], (z - shift) / scale, hparams, seed)
        if tick is not None:
            tick(label)
        return {
            "transform": how,
            "y_shift": shift,
            "y_scale": scale,
            "estimator": est.export(family, fitted),
        }

    with _threads(n_threads):
        for t, y in Y.items():
            if t in ratio_of:
                models[t] = {"ratio": dict(ratio_of[t])}
                continue
            rows = ok & np.isfinite(y)
            parts = parts_of.get(t)
            if parts:
                for v in parts.values():
                    rows &= np.isfinite(v)
                models[t] = {
                    "components": {
                        c: one(v, rows, _component_transform(v[rows]), f"{t}/{c}")
                        for c, v in parts.items()
                    }
                }
            else:
                models[t] = one(y, rows, choose_transform(y[rows]), t)
        feas = None
        if not ok.all():
            feas = est.export(family, est.fit(family, X, ok.astype(float), hparams, seed))
            if tick is not None:
                tick("feasibility")
    return models, feas


def _cross_validate(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    ok: np.ndarray,
    family: str,
    hparams: Mapping[str, Any],
    seed: int,
    folds: int,
    directions: Mapping[str, str],
    n_threads: int,
    top_k: int,
    components: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    progress: Any = None,
    ratios: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    from sklearn.model_selection import KFold

    rows = np.flatnonzero(ok)
    oof = {t: np.full(X.shape[0], np.nan) for t in Y}
    splits = KFold(folds, shuffle=True, random_state=seed).split(rows)
    for fold, (tr, te) in enumerate(splits, start=1):
        parts = {t: {c: v[rows[tr]] for c, v in p.items()} for t, p in (components or {}).items()}
        models, _ = fit_payload_models(
            X[rows[tr]],
            {t: y[rows[tr]] for t, y in Y.items()},
            family,
            hparams,
            seed,
            None,
            n_threads,
            parts,
            _ticker(progress, f"fold {fold}/{folds}"),
            ratios,
        )
        proxy_part = Proxy.__new__(Proxy)
        proxy_part.payload = {"models": models}
        proxy_part.predictors = _predictors(models)
        pred = proxy_part.predict_features(X[rows[te]])
        for t in Y:
            oof[t][rows[te]] = pred[t]
    report: dict[str, Any] = {
        "method": f"{folds}-fold cross-validation",
        "n": int(ok.sum()),
        "targets": {},
    }
    for t, y in Y.items():
        m = ok & np.isfinite(y)
        report["targets"][t] = quality(y[m], oof[t][m], directions.get(t, "min"), top_k)
    return report


def train_proxy(
    run_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    env_id: str | None = None,
    targets: Sequence[str] | None = None,
    model: str = "hist-gbm",
    hparams: Mapping[str, Any] | None = None,
    seed: int = 0,
    cv: int = 5,
    min_rows: int = MIN_ROWS,
    n_threads: int = 1,
    top_k: int = 10,
    derived: bool = True,
    sum_components: bool = True,
    progress: bool | None = False,
    derive_ratios: bool = True,
) -> Proxy:
    """Train a proxy on logged runs.

    Args:
        run_dirs: Run directories of one env (see :func:`load_training_data`).
        env_id: Expected env id; default the runs' own.
        targets: Metrics to predict; default the env's report metrics (its latency, energy,
            area or accuracy), ``["all"]`` every metric of the source cost model.
        model: ``"hist-gbm"``, ``"rf"`` or ``"mlp"``.
        hparams: Overrides of :data:`archgym.proxy.DEFAULT_HPARAMS`.
        seed: Seed of the models and of the cross-validation split.
        cv: Folds of the cross-validation stored in the file (0 skips it).
        min_rows: Fewest feasible rows accepted.
        n_threads: Threads of scikit-learn/BLAS while fitting (1 is reproducible and safe on
            a shared machine).
        top_k: ``k`` of the top-k recall in the stored report.
        derived: Use the derived features registered for the space (see
            :mod:`archgym.proxy._derived`), if any.
        sum_components: Predict a target that is the sum of other recorded metrics of its
            unit as the sum of one model per part (see :func:`find_components`).
        derive_ratios: Predict a target that the records show to be another target times a
            power of a design parameter (``latency_s = cycles / clock``) from that target's
            prediction, instead of fitting it (see :mod:`archgym.proxy._ratio`); a target
            summed from parts is never the derived one.
        progress: A progress bar on stderr, one step per fitted model (per target or
            component, per cross-validation fold): ``True`` always, ``None`` only on a
            terminal, ``False`` (default) never.

    Raises:
        ConfigError / StoreError: Bad runs (see :func:`load_training_data`), unknown model or
            hyperparameter, a target the source model does not declare.
    """
    from archgym.store import package_versions

    hp = est.hparams_for(model, hparams)
    if cv == 1 or cv < 0:
        raise ConfigError(f"cv must be 0 (no cross-validation) or >= 2 folds, but got {cv}")
    every = targets is not None and list(targets) == ["all"]
    if every:
        targets = None
    data = load_training_data(run_dirs, env_id, targets, min_rows)
    envs = _build_envs(data)
    declared = {m.name: m for m in envs[0].cost_model.metrics}
    if targets is None and not every:  # the metrics searches read: the env's report metrics
        report = getattr(envs[0], "report_metrics", ()) or ()
        targets = [m for m in report if m in declared and m in data.frame.columns] or None
    if targets is None:
        targets = [m for m in declared if m in data.frame.columns]
    unknown = [t for t in targets if t not in declared]
    if unknown:
        raise ConfigError(
            f"target(s) {unknown} are not metrics of the source cost model "
            f"{data.source.get('name')!r}; it declares {list(declared)}"
        )
    if not targets:
        raise ConfigError("no target metrics to train on; pass --target")
    use_features = len(envs) > 1
    if use_features:
        rest = {
            json_key({k: v for k, v in kw.items() if k != "workload"}) for kw in data.env_kwargs
        }
        feats = [workload_features(e.workload) for e in envs]
        if len(rest) > 1 or any(f is None for f in feats):
            raise ConfigError(
                f"the runs use different env settings {data.env_kwargs}; a proxy can only tell "
                "runs apart by their workload (of GEMM layers): train one proxy per setting"
            )
    derived_key = FeatureEncoder(data.space_spec, "auto" if derived else None).derived
    X = _design_matrix(data, envs, use_features, derived_key)
    frame = data.frame
    ok = frame["feasible"].astype(bool).to_numpy()
    Y = {t: frame[t].to_numpy(dtype=float) for t in targets}
    components = {}
    if sum_components:
        for t in targets:
            parts = find_components(frame, t, envs[0].cost_model.metrics, ok & np.isfinite(Y[t]))
            if parts:
                components[t] = {c: frame[c].to_numpy(dtype=float) for c in parts}
    ratios: dict[str, Any] = {}
    if derive_ratios:
        numeric = FeatureEncoder(data.space_spec, derived_key).numeric_features()
        for t in targets:
            if t in components or any(r["of"] == t for r in ratios.values()):
                continue
            fitted = [u for u in targets if u != t and u not in ratios]
            spec = find_ratio(frame, t, fitted, numeric, ok & np.isfinite(Y[t]))
            if spec is not None:
                ratios[t] = spec
    per_pass = n_fits(Y, components, ratios)
    bar = progress_bar(per_pass * (1 + cv) + int(not ok.all()), progress, "proxy train")
    try:
        models, feas = fit_payload_models(
            X, Y, model, hp, seed, ok, n_threads, components, _ticker(bar, "final model"), ratios
        )
        directions = {t: declared[t].direction for t in targets}
        cv_report = (
            _cross_validate(
                X,
                Y,
                ok,
                model,
                hp,
                seed,
                cv,
                directions,
                n_threads,
                top_k,
                components,
                bar,
                ratios,
            )
            if cv
            else None
        )
    finally:
        if bar is not None:
            bar.close()
    infeasible_reasons = frame.loc[~ok, "reason"].value_counts().head(3).to_dict()
    wl_feats = [workload_features(e.workload) for e in envs]
    payload = {
        "env_id": data.env_id,
        "space_fingerprint": data.fingerprint,
        "space": data.space_spec,
        "source": data.source,
        "env_kwargs": data.env_kwargs,
        "metrics": [
            {
                "name": t,
                "unit": declared[t].unit,
                "direction": declared[t].direction,
                "description": declared[t].description,
            }
            for t in targets
        ],
        "targets": list(targets),
        "workload": {
            "names": data.workloads,
            "use_features": use_features,
            "features": None if any(f is None for f in wl_feats) else wl_feats,
        },
        "training_runs": [os.path.abspath(r) for r in data.runs],
        "n_rows": int(len(frame)),
        "n_feasible": int(ok.sum()),
        "infeasible_reasons": {str(k): int(v) for k, v in infeasible_reasons.items()},
        "derived_features": derived_key,
        "components": {t: list(p) for t, p in components.items()},
        "features": list(FeatureEncoder(data.space_spec, derived_key).feature_names)
        + (list(WORKLOAD_FEATURES) if use_features else []),
        "model": {"family": model, "hyperparameters": hp, "seed": seed},
        "models": models,
        "feasibility": feas,
        "cv": cv_report,
        "packages": package_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return Proxy(payload)


def json_key(obj: Any) -> str:
    """Canonical JSON text of ``obj`` (for set membership)."""
    import json

    return json.dumps(obj, sort_keys=True, default=str)
