"""``archgym describe``, the accepted-options error of ``archgym.make`` and the one-line
descriptions of ``archgym list``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import archgym
from archgym.commands.describe import describe_env
from archgym.env_options import env_options
from archgym.errors import ConfigError


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archgym.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_describe_systolic_lists_options_space_metrics_objective_and_cost_model() -> None:
    d = describe_env("archgym/Systolic-v0")
    opts = {o["name"]: o for o in d["options"]}
    # factory options with their defaults, and DSEEnv's own that the factory forwards
    assert opts["workload"]["default"] == "resnet18"
    assert (
        opts["bandwidth_mode"]["default"] == "limited" and "ideal" in opts["bandwidth_mode"]["doc"]
    )
    assert opts["float_bins"]["via"] == "DSEEnv"
    assert "resnet18" in d["workload"]["accepted"] and "bert_base" in d["workload"]["accepted"]
    space = d["design_space"]
    # 7 * 7 * 3 * 8**3 * 7 * 6 = 3,161,088 combinations (rows, cols, dataflow, 3 SRAMs, bw, clock)
    assert space["size"] == 7 * 7 * 3 * 8**3 * 7 * 6
    rows = next(p for p in space["params"] if p["name"] == "rows")
    assert rows["values"] == [4, 8, 16, 32, 64, 128, 256]
    units = {m["name"]: m["unit"] for m in d["metrics"]}
    assert units["latency_s"] == "s" and units["energy_j"] == "J"
    assert d["objective"]["objectives"] == ["edp"]
    assert d["cost_model"]["name"] == "systolic-analytical"


def test_describe_shows_conditions_of_a_conditional_space() -> None:
    d = describe_env("archgym/NAS-v0")
    conditional = [p for p in d["design_space"]["params"] if p.get("active_if")]
    assert conditional, "NAS-v0 has per-block parameters active only with enough blocks"
    accuracy = next(o for o in d["options"] if o["name"] == "accuracy")
    assert accuracy["default"] == "table" and '"train"' in accuracy["doc"]


def test_describe_cli_text_and_json() -> None:
    out = cli("describe", "archgym/Systolic-v0")
    assert out.returncode == 0, out.stderr
    assert "Design space 'systolic'" in out.stdout and "Default objective: edp" in out.stdout
    js = cli("describe", "archgym/Systolic-v0", "--json", "--env-opt", "workload=bert_base")
    assert js.returncode == 0, js.stderr
    d = json.loads(js.stdout)
    assert d["workload"]["current"] == "bert_base"


def test_misspelt_env_option_names_the_accepted_keys_with_did_you_mean() -> None:
    with pytest.raises(ConfigError) as err:
        archgym.make("archgym/Systolic-v0", wrkload="resnet18")
    msg = str(err.value)
    assert "'wrkload'" in msg and "did you mean 'workload'" in msg and "bandwidth_mode" in msg
    out = cli("run", "--env-opt", "wrkload=resnet18", "--budget", "2", "--quiet")
    assert out.returncode == 2 and "did you mean 'workload'" in out.stderr
    assert "Traceback" not in out.stderr


def test_env_options_of_a_factory_without_kwargs_are_its_own() -> None:
    def factory(workload: str = "a", scale: int = 2) -> None:
        """Build it.

        Args:
            workload: ``"a"`` or ``"b"``.
            scale: Size
                multiplier (1-4).
        """

    opts = env_options(factory)
    assert [(o["name"], o["default"]) for o in opts[:2]] == [("workload", "a"), ("scale", 2)]
    assert opts[1]["doc"] == "Size multiplier (1-4)."
    # archgym.make applies what the factory does not take
    assert [(o["name"], o["via"]) for o in opts[2:]] == [
        ("objective", "archgym"),
        ("constraints", "archgym"),
    ]


def test_list_says_what_nas_accepts() -> None:
    desc = archgym.list_envs()["archgym/NAS-v0"].description
    assert "(table, live, proxy)" not in desc and "accuracy=train" in desc
