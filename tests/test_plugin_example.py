"""The README's plugin example is the tested one in tests/plugin_pkg: it registers, describes
itself, passes archgym's conformance suite, and gets objectives and constraints from archgym
although its factory takes neither."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import archgym
from archgym.registry import register
from archgym.testing import check_env

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "plugin_pkg"


@pytest.fixture(scope="module")
def widget() -> str:
    sys.path.insert(0, str(PLUGIN))
    try:
        import archgym_demo_plugin as mod
    finally:
        sys.path.remove(str(PLUGIN))
    env_id = "demotest/Widget-v0"
    if env_id not in archgym.list_envs():
        register(env_id, mod.make_widget_env, source="archgym-demo-plugin")
    return env_id


def test_readme_shows_the_tested_plugin_verbatim() -> None:
    code = (PLUGIN / "archgym_demo_plugin" / "__init__.py").read_text()
    readme = (ROOT / "README.md").read_text()
    assert code.strip() in readme, "README's plugin example differs from tests/plugin_pkg"
    assert '"demo/Widget-v0" = "archgym_demo_plugin:make_widget_env"' in readme
    assert "check_env(" in readme


def test_plugin_passes_the_conformance_suite(widget: str) -> None:
    report = check_env(widget)
    assert report is not None


def test_objective_and_constraints_reach_a_factory_that_takes_neither(widget: str) -> None:
    env = archgym.make(widget, objective="max:cost_j", constraints=["cost_j <= 10"])
    assert env.objective.labels == ("max:cost_j",)
    assert [str(c) for c in env.objective.constraints] == ["cost_j <= 10"]
    res = env.evaluate([{"x": 3, "y": 5}, {"x": 9, "y": 9}])  # costs 1 and 36 + 16 + 1 = 53
    assert res.evals.metrics["cost_j"].tolist() == [1.0, 53.0]
    assert res.admissible.tolist() == [True, False]


def test_plugin_description_comes_from_its_factory_docstring() -> None:
    from archgym.registry import Spec

    spec = Spec("demo/Widget-v0", "archgym_demo_plugin:make_widget_env", "(plugin from demo)")
    sys.path.insert(0, str(PLUGIN))
    try:
        spec.load()
    finally:
        sys.path.remove(str(PLUGIN))
    assert spec.description.startswith("Widget: two integer knobs x, y in 0..9")
