"""Reports: a small real sweep -> summary table, PNGs and one self-contained HTML page."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest

from archgym.report import load_sweep_data, make_report
from archgym.sweep import load_sweep, run_sweep

SINGLE = """\
[sweep]
budget = 15
seeds = 2
objective = "edp"
[[envs]]
id = "archgym/Systolic-v0"
kwargs = { workload = "resnet18" }
label = "r18"
[[agents]]
name = "random"
[[agents]]
name = "random-walk"
grid = { explore = [0.0, 0.5] }
"""

MULTI = """\
[sweep]
budget = 15
seeds = 1
objective = ["latency_s", "energy_j"]
[[envs]]
id = "archgym/Systolic-v0"
kwargs = { workload = "resnet18" }
label = "r18"
[[agents]]
name = "random"
[[agents]]
name = "tpe"
"""


def _sweep(tmp: Path, text: str) -> Path:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        res = run_sweep(load_sweep("e.toml", text=text), tmp, ex, progress=None)
    assert res.n_failed == 0
    return tmp


def test_single_objective_report(tmp_path: Path) -> None:
    d = _sweep(tmp_path / "s", SINGLE)
    data = load_sweep_data(d)
    assert len(data.runs) == 6 and set(data.runs["status"]) == {"complete"}
    # normalised quality: 1.0 for the run that found the env's best, (0, 1] for all
    q = data.runs["quality"]
    assert q.max() == pytest.approx(1.0) and (q > 0).all() and (q <= 1).all()
    # best-so-far curves are non-increasing and end at the run's final value
    for rid, (x, y) in data.curves.items():
        assert len(x) == 15
        ok = ~np.isnan(y)
        assert (np.diff(y[ok]) <= 0).all()
        fin = data.runs.set_index("id").loc[rid, "final"]
        assert y[-1] == pytest.approx(fin)
    paths = make_report(d, tmp_path / "rep")
    for name in ("summary", "settings", "runs", "convergence", "lottery", "html"):
        assert paths[name].exists() and paths[name].stat().st_size > 0
    assert "pareto" not in paths  # single objective: no front plot
    png = paths["lottery"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import pandas as pd

    summary = pd.read_csv(paths["summary"])
    assert list(summary["agent"]) == ["random", "random-walk"]
    assert list(summary["settings"]) == [1, 2] and list(summary["runs"]) == [2, 4]
    html = paths["html"].read_text()
    imgs = re.findall(r"src='data:image/png;base64,([^']+)'", html)
    assert len(imgs) == 2 and base64.b64decode(imgs[0])[:4] == b"\x89PNG"
    assert "http://" not in html and "https://" not in html  # opens offline


def test_multi_objective_report_has_pareto(tmp_path: Path) -> None:
    d = _sweep(tmp_path / "s", MULTI)
    data = load_sweep_data(d)
    assert data.runs["multi"].all() and data.labels["r18"] == ["min:latency_s", "min:energy_j"]
    assert data.runs["quality"].max() == pytest.approx(1.0)
    paths = make_report(d, tmp_path / "rep")
    assert paths["pareto"].exists()


def test_report_of_missing_dir(tmp_path: Path) -> None:
    from archgym.errors import StoreError

    with pytest.raises(StoreError, match="no such sweep directory"):
        load_sweep_data(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no sweep.json and no runs"):
        load_sweep_data(tmp_path / "empty")
