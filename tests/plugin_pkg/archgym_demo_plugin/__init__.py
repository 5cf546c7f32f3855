"""A third-party archgym env: a 'widget' whose cost is a known quadratic bowl."""

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.space import DesignSpace, Integer


class WidgetCostModel(CostModel):
    """A widget's cost: a quadratic bowl, 1 J at its minimum (x=3, y=5)."""

    name = "widget"
    version = "1"  # bump whenever the outputs change
    metrics = (Metric("cost_j", "J", "min", "(x - 3)^2 + (y - 5)^2 + 1"),)

    def evaluate_columns(self, columns, workload):
        """Vectorised: one array per design parameter in, one array per metric out."""
        x = columns["x"].astype(float)
        y = columns["y"].astype(float)
        cost = (x - 3) ** 2 + (y - 5) ** 2 + 1
        feasible = np.ones(len(x), dtype=bool)  # every widget can be built
        return Evaluations({"cost_j": cost}, feasible, [""] * len(x))


def widget_space():
    """Two integer knobs, 0..9 each (100 designs)."""
    return DesignSpace([Integer("x", 0, 9), Integer("y", 0, 9)], name="widget")


def make_widget_env(mode="one-step"):
    """Widget: two integer knobs x, y in 0..9; cost_j is a quadratic bowl (minimum at 3, 5)."""
    # objective= and constraints= are applied by archgym.make (default: the first metric)
    return DSEEnv(widget_space(), WidgetCostModel(), workload=None, mode=mode)
