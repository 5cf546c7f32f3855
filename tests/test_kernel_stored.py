"""The learned kernel models shipped as arrays: current with the shipped data, predicting
exactly what the fitted model predicts, used only under their key."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from archgym.envs.kernel.analytical import KernelAnalyticalCostModel
from archgym.envs.kernel.calibrate import ROW_COLUMNS
from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows
from archgym.envs.kernel.gpus import GPUS, get_gpu
from archgym.envs.kernel.learned import (
    MAX_ITER,
    RANKER_PARAMS,
    KernelLearnedCostModel,
    _Fitted,
    fit_kernel_model,
    predict_latency,
    predict_pick,
    stored_key,
)
from archgym.envs.kernel.stored import lightgbm_export, load_fitted, stored_path
from archgym.errors import ConfigError
from archgym.proxy._estimators import Predictor

DEFAULTS = (0, "residual", "ranked")  # seed, objective, pick of KernelLearnedCostModel


@pytest.mark.parametrize("gpu", sorted(DATASETS))
def test_stored_arrays_are_current(gpu):
    # fails when a shipped dataset, the calibration, the reduction constants, the GPU's spec
    # or the learned or analytical model's version changed and the arrays were not rewritten
    with np.load(stored_path(gpu), allow_pickle=False) as z:
        key = str(z["key"])
    assert key == stored_key(DATASETS[gpu], gpu, *DEFAULTS), (
        f"{stored_path(gpu).name} is stale: run python benchmarks/store_kernel_models.py"
    )


def _stored_equals_fitted(gpu: str) -> None:
    frame = load_dataset(DATASETS[gpu], gpu)
    fitted = fit_kernel_model(frame, gpu, "residual", 0, MAX_ITER, pick="ranked")
    mean, median, ranker = load_fitted(stored_path(gpu), stored_key(DATASETS[gpu], gpu, *DEFAULTS))
    stored = _Fitted(mean, "residual", fitted.calib, median, ranker)
    rows = trusted_rows(frame)
    cols = {c: rows[c].to_numpy() for c in ROW_COLUMNS}
    spec = get_gpu(gpu)
    # the proxy's tree walk adds the same leaf values in scikit-learn's order: bit-equal
    np.testing.assert_array_equal(
        predict_latency(stored, cols, spec), predict_latency(fitted, cols, spec)
    )
    # the ranker's arrays (from LightGBM's text model, 17 digits) walk as LightGBM predicts
    np.testing.assert_array_equal(
        predict_pick(stored, cols, spec), predict_pick(fitted, cols, spec)
    )


def test_stored_h100_model_predicts_as_the_fitted_one():
    _stored_equals_fitted("H100-SXM")  # 4,192 shipped timed rows, every path


@pytest.mark.slow
def test_stored_h200_model_predicts_as_the_fitted_one():
    _stored_equals_fitted("H200-SXM")  # ~93,000 rows; the fit takes ~45 s of CPU


def test_default_model_loads_the_arrays_and_a_copy_of_the_file_too(tmp_path):
    model = KernelLearnedCostModel("H100-SXM")
    assert isinstance(model.model.booster, Predictor)
    assert isinstance(model.model.median, Predictor)
    assert isinstance(model.model.ranker, Predictor)  # tree arrays, no LightGBM import
    # the key hashes the file's bytes, not its name: an identical copy uses the arrays
    copy = tmp_path / "mine.parquet"
    shutil.copyfile(DATASETS["H100-SXM"], copy)
    assert isinstance(KernelLearnedCostModel("H100-SXM", dataset=copy).model.booster, Predictor)


def test_changed_data_or_settings_change_the_key(tmp_path, monkeypatch):
    base = stored_key(DATASETS["H100-SXM"], "H100-SXM", *DEFAULTS)
    frame = pd.read_parquet(DATASETS["H100-SXM"])
    frame.loc[frame.index[0], "latency_s"] *= 1.01  # one re-timed point
    changed = tmp_path / "changed.parquet"
    frame.to_parquet(changed, index=False)
    assert stored_key(changed, "H100-SXM", *DEFAULTS) != base
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", 1, "residual", "max-median") != base
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", 0, "weighted", "max-median") != base
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", 0, "residual", "mean") != base
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", 0, "residual", "max-median") != base
    # the ranker's settings are in the key (catches a key of the boosters' settings only)
    monkeypatch.setitem(RANKER_PARAMS, "weight", 0.05)
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", *DEFAULTS) != base
    monkeypatch.setitem(RANKER_PARAMS, "weight", 0.02)
    # the GPU's spec is a feature: a spec replaced by the user must not load the shipped arrays
    # (catches a key of the GPU's name only, which used them for any H100-SXM spec)
    spec = get_gpu("H100-SXM")
    monkeypatch.setitem(GPUS, "H100-SXM", replace(spec, l2_mb=spec.l2_mb / 2))
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", *DEFAULTS) != base
    monkeypatch.setitem(GPUS, "H100-SXM", spec)
    # ...and so is the analytical model's latency: its version is in the key
    monkeypatch.setattr(KernelAnalyticalCostModel, "version", "0")
    assert stored_key(DATASETS["H100-SXM"], "H100-SXM", *DEFAULTS) != base
    # no model is stored under another key; a missing file is no model either
    assert load_fitted(stored_path("H100-SXM"), "0" * 64) is None
    assert load_fitted(tmp_path / "none.npz", base) is None


def test_an_unreadable_store_is_refused_naming_the_file_and_the_fix(tmp_path):
    # numpy's own error for a Git LFS pointer says the file holds pickled data and suggests
    # allow_pickle=True; catches that message (or a BadZipFile traceback) reaching the user
    base = stored_key(DATASETS["H100-SXM"], "H100-SXM", *DEFAULTS)
    pointer = tmp_path / "learned_h100-sxm.npz"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(stored_path("H100-SXM").read_bytes()[:1000])
    for bad in (pointer, truncated):
        with pytest.raises(ConfigError, match=f"{bad.name}.*store_kernel_models.py") as err:
            load_fitted(bad, base)
        assert "allow_pickle" not in str(err.value)


def test_a_user_dataset_is_fitted_at_first_use(tmp_path):
    h200 = load_dataset(DATASETS["H200-SXM"], "H200-SXM")
    small = h200[h200["shape"].isin(["llama-7b.ffn_up@512", "bert-base.ffn_up@4096"])]
    path = tmp_path / "mygpu.csv.gz"
    small.to_csv(path, index=False, compression="gzip")
    fitted = KernelLearnedCostModel("H200-SXM", dataset=path).model
    assert not isinstance(fitted.booster, Predictor)  # a scikit-learn booster, fitted now


def test_stored_ranker_needs_no_lightgbm_and_a_fit_names_the_fix(monkeypatch):
    # the stored ranker is tree arrays (its import costs over a second of first use); fitting
    # pick="ranked" without LightGBM fails at once naming the fix, not as a bare
    # ModuleNotFoundError after the boosters' fit
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    key = stored_key(DATASETS["H100-SXM"], "H100-SXM", *DEFAULTS)
    assert isinstance(load_fitted(stored_path("H100-SXM"), key)[2], Predictor)
    with pytest.raises(ConfigError, match="pip install lightgbm.*max-median"):
        fit_kernel_model(load_dataset(DATASETS["H100-SXM"]), "H100-SXM")


def test_lightgbm_text_model_as_tree_arrays_hand_built():
    # two trees, LightGBM's text layout (child ~j is leaf j); the walk goes left on x <= t
    # and adds the trees from 0: x0 = 0.5 -> 1.0 + 0.25; x0 = 2 and x1 = 9 -> -1.0 + 0.25;
    # x1 = 3 -> 0.5 + 0.25 (tree 2 is a single leaf)
    text = (
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\n\n"
        "Tree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=0 1\nthreshold=1 5\n"
        "decision_type=2 2\nleft_child=-1 -2\nright_child=1 -3\nleaf_value=1 0.5 -1\n"
        "is_linear=0\nshrinkage=1\n\n\n"
        "Tree=1\nnum_leaves=1\nnum_cat=0\nleaf_value=0.25\nis_linear=0\nshrinkage=1\n\n\n"
        "end of trees\n"
    )
    x = np.array([[0.5, 9.0], [2.0, 9.0], [2.0, 3.0], [1.0, 5.0]])
    got = Predictor(lightgbm_export(text)).predict(x)
    assert got.tolist() == [1.25, -0.75, 0.75, 1.25]
    with pytest.raises(ConfigError, match="missing-value rule"):
        lightgbm_export(text.replace("decision_type=2 2", "decision_type=2 8"))
