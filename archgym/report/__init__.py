"""Reports of sweeps: a per-agent summary table, convergence curves, Pareto fronts and
ArchGym's hyperparameter-lottery plot, as PNGs, CSVs and one self-contained HTML page.

::

    from archgym.report import make_report
    paths = make_report("runs/quickstart", "report/quickstart")   # {"html": ..., "lottery": ...}

Needs matplotlib (``pip install "archgym[report]"``). See :mod:`archgym.report._data` for how
run quality is measured and normalised.
"""

from __future__ import annotations

from pathlib import Path

from archgym.report._data import SweepData, load_sweep_data
from archgym.report._html import best_settings, summary_table, write_html
from archgym.report._plots import plot_convergence, plot_lottery, plot_pareto

__all__ = [
    "make_report",
    "load_sweep_data",
    "SweepData",
    "summary_table",
    "best_settings",
    "plot_convergence",
    "plot_lottery",
    "plot_pareto",
]

_NOTES = {
    "convergence": plot_convergence.__doc__,
    "lottery": plot_lottery.__doc__,
    "pareto": plot_pareto.__doc__,
}


def make_report(sweep_dir: str | Path, out: str | Path) -> dict[str, Path]:
    """Write ``summary.csv``, ``settings.csv``, ``runs.csv``, the PNGs and ``report.html``.

    Returns:
        Name -> path of every file written.

    Raises:
        StoreError: ``sweep_dir`` holds no runs.
        MissingDependencyError: matplotlib is missing.
    """
    import json

    out_p = Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    data = load_sweep_data(sweep_dir)
    table = summary_table(data)
    settings = best_settings(data)
    written: dict[str, Path] = {}
    for name, df in (("summary", table), ("settings", settings), ("runs", data.runs)):
        written[name] = out_p / f"{name}.csv"
        df.to_csv(written[name], index=False)
    images = {}
    for name, fn in (
        ("convergence", plot_convergence),
        ("lottery", plot_lottery),
        ("pareto", plot_pareto),
    ):
        png = fn(data, out_p / f"{name}.png")
        if png is not None:
            written[name] = png
            note = " ".join((_NOTES[name] or "").split())
            images[name.capitalize()] = (png, note)
    counts = data.runs["status"].value_counts().to_dict()
    meta = {"sweep": str(sweep_dir), "runs": len(data.runs), "status": counts}
    written["html"] = write_html(
        out_p / "report.html",
        data,
        {"Summary per env and agent": table, "Best and worst hyperparameter setting": settings},
        images,
        meta,
    )
    (out_p / "report.json").write_text(
        json.dumps({**{k: str(v) for k, v in written.items()}, "warnings": data.warnings}, indent=1)
    )
    return written
