"""Reports fit for a paper: monotone best-so-far curves (also when a seed finds its first
admissible design late), hypervolume normalised to <= 1, runs of one env with different
objectives kept apart with a warning, axis labels with units, rounded hyperparameters, and a
readable HTML header."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archgym.report import load_sweep_data, make_report
from archgym.report._html import format_hparams
from archgym.report._labels import axis_label, display_sign
from archgym.runner import Experiment, run_experiment


def _run(root: Path, name: str, seed: int, **kw: object) -> None:
    exp = Experiment(env="archgym/Systolic-v0", agent="random", budget=12, seed=seed, **kw)
    run_experiment(exp, out=root / name)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    for s in range(3):
        _run(root, f"edp-{s}", s, objective="edp")
    # area <= 8: seed 1's first design is inadmissible and its first admissible one is worse
    # than seed 0's best (96 ms vs 72 ms), so a NaN-skipping median of the two would rise
    for s in range(2):
        _run(root, f"lat-{s}", s, objective="latency_s", constraints=["area_mm2 <= 8"])
    for s in range(2):
        _run(root, f"multi-{s}", s, objective=["latency_s", "energy_j", "area_mm2"])
    return root


def test_runs_with_different_objectives_are_grouped_apart_with_a_warning(mixed: Path) -> None:
    data = load_sweep_data(mixed)
    groups = set(data.runs["env"])
    assert groups == {
        "Systolic-v0 [edp]",
        "Systolic-v0 [min:latency_s s.t. area_mm2 <= 8]",
        "Systolic-v0 [min:latency_s, min:energy_j, min:area_mm2]",
    }
    assert len(data.warnings) == 1 and "3 different objectives" in data.warnings[0]
    assert data.labels["Systolic-v0 [edp]"] == ["edp"]


def test_hypervolume_is_normalised_to_at_most_one(mixed: Path) -> None:
    data = load_sweep_data(mixed)
    multi = data.runs[data.runs["multi"]]
    for rid in multi["id"]:
        _, y = data.curves[rid]
        assert (y >= 0).all() and (y <= 1.0 + 1e-12).all()
        assert (np.diff(y) >= -1e-12).all()  # more points never shrink it


def test_plotted_best_so_far_medians_are_monotone(mixed: Path) -> None:
    """The plotted median over seeds treats 'nothing admissible yet' as worst, so it never
    rises (NaN-skipping medians did when a seed with a worse value joined late)."""
    from archgym.report import _plots

    data = load_sweep_data(mixed)
    captured: list[tuple[object, np.ndarray]] = []
    import matplotlib.axes

    real_plot = matplotlib.axes.Axes.plot

    def plot(self: object, x: object, y: object, *a: object, **k: object) -> object:
        captured.append((self, np.asarray(y, float)))
        return real_plot(self, x, y, *a, **k)

    matplotlib.axes.Axes.plot = plot  # type: ignore[method-assign]
    try:
        _plots.plot_convergence(data, mixed / "conv.png")
    finally:
        matplotlib.axes.Axes.plot = real_plot  # type: ignore[method-assign]
    titled = [(str(ax.get_title()), y) for ax, y in captured]  # type: ignore[attr-defined]
    single = [(t, y) for t, y in titled if "[min:latency_s s.t." in t or "[edp]" in t]
    assert single
    for _title, y in single:
        ok = y[~np.isnan(y)]
        assert (np.diff(ok) <= 0).all()


def test_curve_with_a_late_admissible_seed_by_hand() -> None:
    # seed A: admissible from eval 1 (value 1.0); seed B: inadmissible until eval 3 (5.0)
    a = np.array([1.0, 1.0, 1.0])
    b = np.array([np.inf, np.inf, 5.0])
    med = np.median(np.vstack([a, b]), axis=0)  # what the plot does: inf = nothing yet
    assert med.tolist() == [np.inf, np.inf, 3.0]  # no rise from 1.0 to 3.0 as nanmedian gave
    assert np.nanmedian(np.vstack([a, [np.nan, np.nan, 5.0]]), axis=0).tolist() == [1, 1, 3]


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("edp", "EDP (J·s)"),
        ("min:energy_j", "energy (J)"),
        ("min:latency_s", "latency (s)"),
        ("area_mm2", "area (mm²)"),
        ("max:accuracy", "accuracy"),
        ("energy_j*latency_s", "energy × latency (J·s)"),
    ],
)
def test_axis_labels_carry_units(label: str, text: str) -> None:
    assert axis_label(label) == text


def test_maximised_objectives_are_shown_unnegated() -> None:
    assert display_sign("max:accuracy") == -1.0 and display_sign("min:latency_s") == 1.0


def test_hyperparameters_are_rounded() -> None:
    text = json.dumps({"learning_rate": 0.012345678901234, "n": 5, "grid": [0.333333333]})
    assert format_hparams(text) == "grid=[0.3333], learning_rate=0.01235, n=5"
    assert format_hparams("{}") == "(defaults)"


def test_html_header_is_a_readable_table_not_json(mixed: Path, tmp_path: Path) -> None:
    paths = make_report(mixed, tmp_path / "rep")
    page = paths["html"].read_text()
    head = page[page.index("<h1>") : page.index("<h2>")]
    assert "<table>" in head and "Seeds per setting" in head and "{&quot;" not in head
    assert "different objectives" in head  # the grouping warning is on the page
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["warnings"]
