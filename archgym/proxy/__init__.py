"""Proxy (surrogate) cost models trained from logged runs.

A user who ran slow evaluations trains a proxy from those records, checks its quality, and
searches on it::

    from archgym.proxy import train_proxy, evaluate_proxy, Proxy, format_report
    proxy = train_proxy("runs/sweep", targets=["latency_s", "energy_j"], model="hist-gbm")
    proxy.save("proxies/systolic.json")                    # JSON + SHA-256, no pickle
    print(format_report(evaluate_proxy(Proxy.load("proxies/systolic.json"), "runs/held-out")))
    env = archgym.make("archgym/Systolic-v0", cost_model="proxy:proxies/systolic.json")

Modules: :mod:`~archgym.proxy._features` (design and workload features),
:mod:`~archgym.proxy._derived` (physically motivated features an env declares),
:mod:`~archgym.proxy._estimators` (scikit-learn fit, export to arrays, prediction),
:mod:`~archgym.proxy._walk` (the compiled tree walk, numba, imported at the first tree
prediction), :mod:`~archgym.proxy._ratio` (targets derived from another target),
:mod:`~archgym.proxy._data` (checked training data), :mod:`~archgym.proxy._proxy` (train,
predict, save, load), :mod:`~archgym.proxy._file` (the verified file format),
:mod:`~archgym.proxy._quality` and :mod:`~archgym.proxy._evaluate` (reports),
:mod:`~archgym.proxy._active` (active learning). The cost model ``proxy:FILE`` lives in
:mod:`archgym.cost_models.proxy`.
"""

from archgym.proxy._active import ActiveResult, acquire
from archgym.proxy._data import MIN_ROWS, TrainingData, load_training_data
from archgym.proxy._derived import register_derived_features
from archgym.proxy._estimators import DEFAULT_HPARAMS, FAMILIES
from archgym.proxy._evaluate import evaluate_proxy, measure_speed
from archgym.proxy._features import FeatureEncoder, workload_features
from archgym.proxy._proxy import Proxy, choose_transform, find_components, train_proxy
from archgym.proxy._quality import DEFINITIONS, format_report, quality

__all__ = [
    "ActiveResult",
    "DEFAULT_HPARAMS",
    "DEFINITIONS",
    "FAMILIES",
    "FeatureEncoder",
    "MIN_ROWS",
    "Proxy",
    "TrainingData",
    "acquire",
    "choose_transform",
    "evaluate_proxy",
    "find_components",
    "format_report",
    "load_training_data",
    "measure_speed",
    "quality",
    "register_derived_features",
    "train_proxy",
    "workload_features",
]
