"""Registry: did-you-mean errors, versioned ids, lazy entry-point plugins (a real installed package)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import archgym
from archgym.errors import ConfigError, RegistryError
from archgym.registry import list_agents, list_envs, make, make_agent, register

PLUGIN = Path(__file__).parent / "plugin_pkg"


def test_unknown_env_suggests_the_closest() -> None:
    with pytest.raises(
        RegistryError,
        match=r"unknown env 'archgym/Systolik-v0'\. Did you mean 'archgym/Systolic-v0'",
    ):
        make("archgym/Systolik-v0")


def test_unknown_agent_suggests_the_closest() -> None:
    space = archgym.make("archgym/Systolic-v0").space
    with pytest.raises(RegistryError, match="Did you mean 'random'"):
        make_agent("randon", space)


def test_ids_must_be_versioned() -> None:
    with pytest.raises(RegistryError, match="namespace/Name-vN"):
        register("mylab/Widget", lambda: None)


def test_duplicate_registration_is_refused(clean_registry) -> None:
    register("test/Dup-v0", "tests.conftest:bowl_space")
    with pytest.raises(RegistryError, match="already registered"):
        register("test/Dup-v0", "tests.conftest:BowlCostModel")


def test_registry_snapshot_removes_what_was_registered_inside() -> None:
    import gymnasium

    from archgym.registry import list_cost_models, register_agent, register_cost_model
    from tests.conftest import BowlCostModel, registry_snapshot

    before = set(list_envs()), set(list_agents()), set(list_cost_models())
    with registry_snapshot():
        register("test/Snapshot-v0", "tests.conftest:bowl_space")
        register_agent("test-snapshot-agent", "archgym.agents.random_search:RandomAgent")
        register_cost_model("test-snapshot-model", BowlCostModel)
        assert "test/Snapshot-v0" in list_envs() and "test/Snapshot-v0" in gymnasium.registry
        assert "test-snapshot-agent" in list_agents()
        assert "test-snapshot-model" in list_cost_models()
    assert (set(list_envs()), set(list_agents()), set(list_cost_models())) == before
    assert "test/Snapshot-v0" not in gymnasium.registry


def test_bad_factory_argument_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"archgym/Systolic-v0 has no option 'no_such_option'; accepted options: workload",
    ):
        make("archgym/Systolic-v0", no_such_option=1)


def test_builtins_are_listed() -> None:
    assert "archgym/Systolic-v0" in list_envs()
    assert {"random", "random-walk", "tpe"} <= set(list_agents())


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the demo plugin package for real (pip, no network) into a private directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(PLUGIN),
        ],
        check=True,
        capture_output=True,
    )
    return target


def _cli(args: list[str], site: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "archgym.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_third_party_env_via_entry_point_runs_from_the_cli(
    plugin_site: Path, tmp_path: Path
) -> None:
    listed = _cli(["list", "--json"], plugin_site)
    assert listed.returncode == 0, listed.stderr
    assert "demo/Widget-v0" in json.loads(listed.stdout)["envs"]
    out = tmp_path / "widget"
    run = _cli(
        [
            "run",
            "--env",
            "demo/Widget-v0",
            "--agent",
            "random",
            "--budget",
            "100",
            "--seed",
            "0",
            "--out",
            str(out),
            "--json",
        ],
        plugin_site,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["n_evaluations"] == 100
    best = result["best"]
    x, y = best["design"]["x"], best["design"]["y"]
    assert best["metrics"]["cost_j"] == (x - 3) ** 2 + (y - 5) ** 2 + 1  # the plugin's own model
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 100
    assert best["metrics"]["cost_j"] == min(r["metrics"]["cost_j"] for r in records)
