"""A third-party archgym env: a 'widget' whose cost is a known quadratic bowl."""

import numpy as np

from archgym.cost_model import CostModel, Evaluations, Metric
from archgym.env import DSEEnv
from archgym.space import DesignSpace, Integer


class WidgetCostModel(CostModel):
    name = "widget"
    version = "1"
    metrics = (Metric("cost_j", "J", "min", "(x - 3)^2 + (y - 5)^2 + 1"),)

    def evaluate_columns(self, columns, workload):
        x = columns["x"].astype(float)
        y = columns["y"].astype(float)
        return Evaluations(
            {"cost_j": (x - 3) ** 2 + (y - 5) ** 2 + 1}, np.ones(len(x), bool), [""] * len(x)
        )


def make_widget_env(objective="cost_j", constraints=(), **kwargs):
    space = DesignSpace([Integer("x", 0, 9), Integer("y", 0, 9)], name="widget")
    return DSEEnv(space, WidgetCostModel(), None, objective, constraints, **kwargs)
