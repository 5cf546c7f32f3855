"""Axis labels with units for objective labels (``"min:energy_j"`` -> ``"energy (J)"``).

Metric names carry their unit as a suffix (house style): ``_s`` seconds, ``_j`` joules,
``_mm2`` square millimetres, ``_w`` watts, ``_bytes`` bytes. A product of metrics multiplies
the units; ``edp`` is the energy-delay product in J·s. Maximised objectives (``max:...``) are
stored negated (minimisation form); :func:`display_sign` undoes that for plotting.
"""

from __future__ import annotations

__all__ = ["axis_label", "display_sign", "unit_of"]

_UNITS = {
    "_s": "s",
    "_j": "J",
    "_mm2": "mm²",
    "_w": "W",
    "_bytes": "B",
    "_words": "words",
    "_hz": "Hz",
}
_NAMES = {"latency": "latency", "energy": "energy", "area": "area", "power": "power"}


def unit_of(metric: str) -> tuple[str, str]:
    """``(quantity, unit)`` of a metric name, e.g. ``("energy", "J")``; unit ``""`` if none."""
    for suffix, unit in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if metric.endswith(suffix) and len(metric) > len(suffix):
            base = metric[: -len(suffix)]
            return base.replace("_", " "), unit
    return metric.replace("_", " "), ""


def display_sign(label: str) -> float:
    """``-1`` for a maximised objective (stored negated), else ``+1``."""
    return -1.0 if label.startswith("max:") else 1.0


def axis_label(label: str, prefix: str = "") -> str:
    """A plot label with units for an objective label.

    ``"edp"`` -> ``"EDP (J·s)"``; ``"min:energy_j"`` -> ``"energy (J)"``;
    ``"max:accuracy"`` -> ``"accuracy"``; ``"energy_j*latency_s"`` -> ``"energy × latency
    (J·s)"``; weighted sums and targets keep their spec (they have no single unit).
    """
    text = label.split(":", 1)[1] if label[:4] in ("min:", "max:") else label
    if text.lower() == "edp":
        return f"{prefix}EDP (J·s)"
    if ":" in text or "=" in text:  # weighted:/target: specs
        return f"{prefix}{text}"
    parts = [unit_of(p.strip()) for p in text.split("*")]
    quantity = " × ".join(q for q, _ in parts)
    units = "·".join(u for _, u in parts if u)
    return f"{prefix}{quantity}" + (f" ({units})" if units else "")
