"""CLI: the README commands, JSON output, and one clear line (no traceback) per bad input."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archgym.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_default_run_prints_best_design_and_pareto_table() -> None:
    out = cli("run", "--quiet", "--budget", "40")
    assert out.returncode == 0, out.stderr
    assert (
        "Best design" in out.stdout
        and "Pareto front over latency_s, energy_j, area_mm2" in out.stdout
    )


def test_plain_run_does_not_import_pandas_or_pyarrow(tmp_path: Path) -> None:
    # importing them was about half the CPU of a 200-evaluation run; only commands that
    # show or load tables of many runs need them
    code = (
        "import sys; from archgym.cli import main; "
        f"rc = main(['run', '--quiet', '--agent', 'random', '--budget', '20', '--out', {str(tmp_path / 'r')!r}]); "
        "print(rc, sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Pareto front over" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def test_run_json_show_and_list(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    out = cli(
        "run",
        "--env",
        "archgym/Systolic-v0",
        "--agent",
        "random",
        "--budget",
        "30",
        "--seed",
        "0",
        "--out",
        str(run_dir),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (
        data["n_evaluations"] == 30
        and data["status"] == "complete"
        and data["best"]["design"]["rows"] > 0
    )
    shown = cli("show", str(run_dir), "--json")
    assert shown.returncode == 0, shown.stderr
    s = json.loads(shown.stdout)
    assert s["best"] == data["best"] and s["manifest"]["agent"] == "random"
    text = cli("show", str(run_dir))
    assert "Best design" in text.stdout and "records.jsonl" in text.stdout
    listed = cli("list")
    assert (
        listed.returncode == 0
        and "archgym/Systolic-v0" in listed.stdout
        and "random-walk" in listed.stdout
    )


def test_agent_options_are_passed_and_checked(tmp_path: Path) -> None:
    ok = cli(
        "run",
        "--env",
        "archgym/Systolic-v0",
        "--agent",
        "tpe",
        "--agent-opt",
        "n_startup_trials=5",
        "--budget",
        "8",
        "--out",
        str(tmp_path / "r"),
        "--quiet",
    )
    assert ok.returncode == 0, ok.stderr
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["agent_hparams"]["n_startup_trials"] == 5


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "--env", "archgym/Systolik-v0"], 2, "Did you mean 'archgym/Systolic-v0'"),
        (["run", "--agent", "tpee", "--budget", "3"], 2, "Did you mean 'tpe'"),
        (["run", "--objective", "latncy_s", "--budget", "3"], 2, "Did you mean 'latency_s'"),
        (["run", "--budget", "0"], 2, "must be a positive integer, but got 0"),
        (["run", "--budget", "ten"], 2, "must be a positive integer, but got 'ten'"),
        (
            ["run", "--agent", "tpe", "--agent-opt", "n_startup=3", "--budget", "3"],
            2,
            "no hyperparameter 'n_startup'",
        ),
        (
            ["run", "--agent", "tpe", "--agent-opt", "n_startup_trials=abc", "--budget", "3"],
            2,
            "must be of type int",
        ),
        (["run", "--agent-opt", "oops", "--budget", "3"], 2, "key=value"),
        (["run", "--resume", "--budget", "3"], 2, "--resume needs --out"),
        (["show", "/nonexistent/run"], 3, "not an archgym run directory"),
    ],
)
def test_bad_input_is_one_clear_line(args, code, message) -> None:
    out = cli(*args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("sub", "reason"),
    [("", "File exists"), ("run", "Not a directory")],
    ids=["out-is-a-file", "out-under-a-file"],
)
def test_out_that_cannot_be_a_directory(tmp_path: Path, sub: str, reason: str) -> None:
    # Fails for root too (CI runs as root, which a chmod-ed directory would not stop).
    f = tmp_path / "file"
    f.write_text("x")
    target = f / sub if sub else f
    out = cli("run", "--budget", "3", "--out", str(target), "--quiet")
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert f"archgym: error: cannot write the run directory {target}: {reason}" in out.stderr
    assert "Traceback" not in out.stderr
    assert f.read_text() == "x"  # the file is left as it was


def test_permission_denied_on_out_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Root ignores directory modes, so the OS refusal is raised for one path in-process
    # (exactly what mkdir raises in a read-only directory) and the CLI's handling is checked.
    from archgym.cli import main

    target = tmp_path / "ro" / "run"
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self == target:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert main(["run", "--budget", "3", "--out", str(target), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert f"cannot write the run directory {target}: Permission denied" in err
    assert not target.exists()


def test_existing_run_needs_resume_and_corrupt_records_are_reported(tmp_path: Path) -> None:
    run = tmp_path / "r"
    assert cli("run", "--budget", "5", "--out", str(run), "--quiet").returncode == 0
    again = cli("run", "--budget", "5", "--out", str(run), "--quiet")
    assert again.returncode == 3 and "pass --resume" in again.stderr
    lines = (run / "records.jsonl").read_text().splitlines(keepends=True)
    lines[2] = "{broken\n"
    (run / "records.jsonl").write_text("".join(lines))
    shown = cli("show", str(run))
    assert shown.returncode == 3 and "line 3 is corrupt" in shown.stderr
    assert (run / "records.jsonl").read_text().count("\n") == 5  # nothing rewritten or lost


def test_resume_with_only_out_continues_the_recorded_experiment(tmp_path: Path) -> None:
    run = tmp_path / "r"
    first = cli(
        "run",
        "--env",
        "archgym/Systolic-v0",
        "--agent",
        "random-walk",
        "--seed",
        "7",
        "--budget",
        "10",
        "--out",
        str(run),
        "--quiet",
    )
    assert first.returncode == 0, first.stderr
    more = cli("run", "--out", str(run), "--resume", "--budget", "25", "--json")
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["n_evaluations"] == 25
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["agent"] == "random-walk" and manifest["seed"] == 7 and manifest["budget"] == 25


def test_show_survives_an_env_that_cannot_be_rebuilt(tmp_path: Path) -> None:
    run = tmp_path / "r"
    assert (
        cli(
            "run",
            "--env",
            "archgym/Systolic-v0",
            "--agent",
            "random",
            "--budget",
            "5",
            "--out",
            str(run),
            "--quiet",
        ).returncode
        == 0
    )
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["experiment"]["env_kwargs"] = {"cost_model": "proxy:/nonexistent/proxy.json"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    shown = cli("show", str(run))
    assert shown.returncode == 0, shown.stderr
    assert "cannot rebuild the env" in shown.stderr and "Best design" in shown.stdout
