"""A new domain is one new package under ``archgym/envs/`` and nothing else.

The test writes such a package (space, cost model, factory, registration) into a temporary
directory that is put on ``archgym.envs.__path__`` -- exactly where the registry looks for
domains -- and checks, each in a fresh process, that the env, its cost model and the CLI
find it without any other change.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

DOMAIN = textwrap.dedent(
    '''
    """Widget-v0: the smallest complete domain."""
    import numpy as np

    from archgym.cost_model import CostModel, Evaluations, Metric
    from archgym.env import DSEEnv
    from archgym.registry import register, register_cost_model
    from archgym.space import DesignSpace, Integer


    class WidgetCostModel(CostModel):
        name = "widget"
        version = "1"
        metrics = (Metric("cost_j", "J", "min", "(x - 3)^2 + (y - 5)^2 + 1"),)
        design_params = frozenset({"x", "y"})

        def evaluate_columns(self, columns, workload):
            x, y = columns["x"].astype(float), columns["y"].astype(float)
            return Evaluations({"cost_j": (x - 3) ** 2 + (y - 5) ** 2 + 1},
                               np.ones(len(x), bool), [""] * len(x))


    def make_widget_env(workload=None, cost_model=None, **kwargs):
        space = DesignSpace([Integer("x", 0, 9), Integer("y", 0, 9)], name="widget")
        return DSEEnv(space, cost_model or WidgetCostModel(), workload, **kwargs)


    register("archgym/Widget-v0", make_widget_env, "a quadratic widget",
             report_metrics=("cost_j",), default_cost_model="widget")
    register_cost_model("widget", WidgetCostModel, "the widget's bowl")
    '''
)


def _run(root: Path, code: str) -> str:
    # as if the package were in archgym/envs/ when archgym is imported
    prelude = (
        f"import archgym.envs; archgym.envs.__path__.append({str(root)!r})\n"
        "archgym.registry.load_builtin_envs()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_new_package_under_envs_is_a_complete_domain(tmp_path: Path) -> None:
    (tmp_path / "widget").mkdir()
    (tmp_path / "widget" / "__init__.py").write_text(DOMAIN)
    # the cost model resolves by name in a fresh process (the registry loads the domains)
    assert _run(tmp_path, "import archgym; print(archgym.make_cost_model('widget').name)") == (
        "widget\n"
    )
    listed = json.loads(_run(tmp_path, "from archgym.cli import main; main(['list', '--json'])"))
    assert "archgym/Widget-v0" in json.dumps(listed)
    out = _run(tmp_path, """
        import json, gymnasium, archgym
        env = gymnasium.make("archgym/Widget-v0")
        from archgym.testing import check_env
        check_env(archgym.make("archgym/Widget-v0"))
        res = archgym.run_experiment(archgym.Experiment(
            env="archgym/Widget-v0", agent="random", budget=100, seed=0))
        print(json.dumps(res.best))
    """)  # fmt: skip
    best = json.loads(out.strip().splitlines()[-1])
    x, y = best["design"]["x"], best["design"]["y"]
    assert best["metrics"]["cost_j"] == (x - 3) ** 2 + (y - 5) ** 2 + 1  # the domain's own model
    assert best["metrics"]["cost_j"] <= 2  # 100 random draws land next to the minimum (3, 5)
