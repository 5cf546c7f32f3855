"""``archgym run``/``show`` summaries that explain themselves: one default, the objective and
its value, outcome counts with reasons, the cost model, a non-zero exit when nothing was
admissible, every library objective spec on the CLI, and small CLI affordances."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archgym.cli import main
from archgym.outcomes import count_outcomes


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archgym.cli", *args], capture_output=True, text=True, timeout=300
    )


def _json_run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_plain_run_equals_run_with_the_default_env(capsys: pytest.CaptureFixture[str]) -> None:
    plain = _json_run(["run", "--budget", "12"], capsys)
    explicit = _json_run(["run", "--env", "archgym/Systolic-v0", "--budget", "12"], capsys)
    for key in ("best", "pareto", "objective", "cost_model", "outcomes"):
        assert plain[key] == explicit[key], key
    assert plain["objective"]["objectives"] == ["edp"]


def test_summary_states_objective_value_counts_and_cost_model() -> None:
    out = cli("run", "--quiet", "--budget", "15", "--constraint", "area_mm2 <= 20")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Objective: edp; constraints: area_mm2 <= 20; cost model systolic-analytical v" in text
    assert "Evaluations: 15: " in text and "admissible" in text
    best = next(line for line in text.splitlines() if line.startswith("Best design"))
    assert "edp = " in best and float(best.split("edp = ")[1]) > 0


def test_run_with_no_admissible_design_exits_1_naming_the_constraint() -> None:
    out = cli("run", "--quiet", "--budget", "6", "--constraint", "area_mm2 <= 1e-9")
    assert out.returncode == 1
    assert "no admissible design in 6 evaluations" in out.stderr
    assert "'area_mm2 <= 1e-09'" in out.stderr and "never met" in out.stderr
    assert "broke 'area_mm2 <= 1e-09': 6 of 6 feasible designs" in out.stdout


def test_count_outcomes_by_hand() -> None:
    class Obj:
        constraints = ("area_mm2 <= 5", "latency_s <= 1")

    recs = [
        {"feasible": False, "reason": "too big", "violation": ["inf", "inf"], "admissible": False},
        {"feasible": False, "reason": "too big", "violation": ["inf", "inf"], "admissible": False},
        {"feasible": False, "reason": "odd", "violation": ["inf", "inf"], "admissible": False},
        {"feasible": True, "reason": "", "violation": [0.0, 0.5], "admissible": False},
        {"feasible": True, "reason": "", "violation": [0.0, 0.0], "admissible": True},
    ]
    c = count_outcomes(recs, Obj())
    assert (c["n"], c["feasible"], c["infeasible"], c["admissible"], c["inadmissible"]) == (
        5,
        2,
        3,
        1,
        1,
    )
    assert c["infeasible_reasons"] == [["too big", 2], ["odd", 1]]
    assert c["constraints"] == {"area_mm2 <= 5": 0, "latency_s <= 1": 1}
    assert c["never_met"] == []


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        ("weighted:latency_s=1,energy_j=0.5", "weighted:latency_s=1,energy_j=0.5"),
        ("target:latency_s=1e-3,area_mm2=5", "target:latency_s=1e-3,area_mm2=5"),
        ("energy_j*latency_s", "energy_j*latency_s"),
        ("max:utilization", "max:utilization"),
    ],
)
def test_cli_accepts_every_objective_spec(
    spec: str, label: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _json_run(["run", "--budget", "5", "--objective", spec], capsys)
    assert d["objective"]["objectives"] == [label]
    assert d["best"] is not None


def test_weighted_objective_value_matches_the_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    d = _json_run(
        ["run", "--budget", "5", "--objective", "weighted:latency_s=1,energy_j=0.5"], capsys
    )
    m = d["best"]["metrics"]
    (value,) = d["best"]["objective"].values()
    assert value == pytest.approx(m["latency_s"] + 0.5 * m["energy_j"], rel=1e-12)


def test_malformed_objective_string_is_a_usage_error() -> None:
    out = cli("run", "--budget", "2", "--objective", "weighted:latency_s")
    assert out.returncode == 2 and "metric=number" in out.stderr


def test_objective_help_documents_the_string_forms() -> None:
    out = cli("run", "--help")
    text = " ".join(out.stdout.split())
    assert "weighted:latency_s=1,energy_j=0.5" in text and "target:" in text


def test_version_flag() -> None:
    import archgym

    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"archgym {archgym.__version__}"


def test_show_json_reports_total_wall_time_and_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "r"
    assert main(["run", "--budget", "6", "--batch-size", "2", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert (
        main(
            ["run", "--budget", "10", "--batch-size", "2", "--out", str(run), "--resume", "--quiet"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["show", str(run), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    recs = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    sessions, last, total = 0, 0.0, 0.0
    for r in recs:  # two sessions: t_s restarts on resume
        if r["t_s"] < last:
            sessions, total = sessions + 1, total + last
        last = r["t_s"]
    assert d["wall_s"] == pytest.approx(round(total + last, 4)) and d["wall_s"] > 0
    assert d["outcomes"]["n"] == 10


def test_show_on_a_sweep_directory_points_to_report(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    (sweep / "exp-0").mkdir(parents=True)
    (sweep / "results.jsonl").write_text("")
    (sweep / "exp-0" / "manifest.json").write_text("{}")
    out = cli("show", str(sweep))
    assert out.returncode == 2
    assert "sweep directory" in out.stderr and f"archgym report {sweep}" in out.stderr


def test_interrupt_hint_fits_the_command() -> None:
    import argparse

    from archgym.cli import _interrupt_hint

    ns = argparse.Namespace
    assert "--resume" in _interrupt_hint(ns(command="run", out="runs/a"))
    assert "runs/a" in _interrupt_hint(ns(command="run", out="runs/a"))
    memory = _interrupt_hint(ns(command="run", out=None))
    assert "--resume" not in memory and "nothing was kept" in memory
    assert "--resume" not in _interrupt_hint(ns(command="proxy", out="p.json"))


def test_load_runs_names_objective_columns_after_the_objective(tmp_path: Path) -> None:
    import archgym

    for spec in ("edp", "max:utilization"):
        assert (
            main(
                [
                    "run",
                    "--budget",
                    "4",
                    "--objective",
                    spec,
                    "--out",
                    str(tmp_path / spec),
                    "--quiet",
                ]
            )
            == 0
        )
    df = archgym.load_runs(tmp_path)
    assert {"obj:edp", "obj:max:utilization"} <= set(df.columns)
    edp = df[df["run"].str.endswith("edp")]
    # minimisation form, as recorded: edp = energy * latency; utilization negated
    np.testing.assert_allclose(edp["obj:edp"], edp["energy_j"] * edp["latency_s"], rtol=1e-12)
    util = df[df["run"].str.endswith("max:utilization")]
    np.testing.assert_allclose(util["obj:max:utilization"], -util["utilization"], rtol=1e-12)


def test_install_hint_fits_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archgym._imports import install_hint, optional_import
    from archgym.errors import MissingDependencyError

    root = Path(__file__).resolve().parents[1]  # tests run from a source checkout
    monkeypatch.chdir(root)
    assert install_hint("report") == 'pip install -e ".[report]"'
    monkeypatch.chdir(tmp_path)
    assert install_hint("report") == f'pip install -e "{root}[report]"'
    with pytest.raises(MissingDependencyError, match=r"pip install -e .*\[nope\]"):
        optional_import("archgym_no_such_module", "nope")
