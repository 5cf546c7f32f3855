"""The summary table and the single self-contained HTML page of a report."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from archgym.report._data import SweepData

__all__ = ["summary_table", "best_settings", "write_html", "format_hparams"]


def format_hparams(text: str) -> str:
    """Hyperparameters (JSON) as ``key=value, ...`` with floats to 4 significant digits
    (``learning_rate=0.0123``, not ``0.012345678901234``); ``(defaults)`` when empty."""
    try:
        hp = json.loads(text)
    except (TypeError, ValueError):
        return str(text)
    if not isinstance(hp, dict) or not hp:
        return "(defaults)"

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return str(v)

    return ", ".join(f"{k}={fmt(v)}" for k, v in sorted(hp.items()))


def summary_table(data: SweepData) -> Any:
    """One row per (env, agent): settings, runs, complete/failed, final quality over all its
    runs (median and interquartile range) and over its best setting, its best objective value
    (single objective) or hypervolume (multi), and the median wall time per run."""
    import pandas as pd

    rows = []
    for (env, agent), g in data.runs.groupby(["env", "agent"]):
        done = g[g["status"] == "complete"]
        per = done.groupby("setting")["quality"].median()
        multi = bool(g["multi"].iloc[0])
        rows.append(
            {
                "env": env,
                "agent": agent,
                "settings": g["setting"].nunique(),
                "runs": len(g),
                "complete": len(done),
                "failed/missing": len(g) - len(done),
                "quality median": done["quality"].median(),
                "quality IQR": done["quality"].quantile(0.75) - done["quality"].quantile(0.25),
                "best-setting quality": per.max() if len(per) else float("nan"),
                "worst-setting quality": per.min() if len(per) else float("nan"),
                ("best hypervolume" if multi else "best objective"): done["final"].max()
                if multi
                else done["final"].min(),
                "median wall_s": g["wall_s"].median(),
            }
        )
    return pd.DataFrame(rows)


def best_settings(data: SweepData) -> Any:
    """Per (env, agent), the hyperparameters of its best and worst setting."""
    import pandas as pd

    rows = []
    done = data.runs[data.runs["status"] == "complete"]
    for (env, agent), g in done.groupby(["env", "agent"]):
        per = g.groupby("setting").agg(quality=("quality", "median"), hparams=("hparams", "first"))
        if per["hparams"].nunique() < 2:
            continue
        b, w = per["quality"].idxmax(), per["quality"].idxmin()
        rows.append(
            {
                "env": env,
                "agent": agent,
                "best setting": format_hparams(per.loc[b, "hparams"]),
                "best quality": per.loc[b, "quality"],
                "worst setting": format_hparams(per.loc[w, "hparams"]),
                "worst quality": per.loc[w, "quality"],
            }
        )
    return pd.DataFrame(rows)


def _header(data: SweepData, meta: dict[str, Any]) -> str:
    """The page's opening facts as a short table, then any warnings."""
    status = ", ".join(f"{v} {k}" for k, v in sorted(meta.get("status", {}).items()))
    runs = data.runs
    facts = [
        ("Sweep", str(meta.get("sweep", ""))),
        ("Runs", f"{meta.get('runs', len(runs))} ({status})"),
        ("Envs", ", ".join(sorted(runs["env"].unique()))),
        ("Agents", ", ".join(sorted(runs["agent"].unique()))),
        ("Seeds per setting", str(runs.groupby(["env", "agent", "setting"]).size().max())),
    ]
    if "objective" in runs:
        objs = sorted({str(o) for o in runs["objective"].dropna().unique()})
        facts.append(("Objectives", "; ".join(objs)))
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in facts
    )
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in data.warnings)
    return f"<table>{rows}</table>" + (f"<ul class='warn'>{warn}</ul>" if warn else "")


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}p.note{color:#555;max-width:60em}ul.warn{color:#a15c00}"""


def write_html(
    path: Path,
    data: SweepData,
    tables: dict[str, Any],
    images: dict[str, tuple[Path, str]],
    meta: dict[str, Any],
) -> Path:
    """Write one HTML file holding the tables and every PNG inline (base64): it opens
    offline and can be mailed as a single file."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>archgym report: "
        f"{html.escape(data.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>archgym report: {html.escape(data.name)}</h1>",
        _header(data, meta),
    ]
    for title, df in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(
            df.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="-")
            if len(df)
            else "<p>(none)</p>"
        )
    for title, (png, note) in images.items():
        b64 = base64.b64encode(png.read_bytes()).decode()
        parts.append(
            f"<h2>{html.escape(title)}</h2><p class='note'>{html.escape(note)}</p>"
            f"<img alt='{html.escape(title)}' src='data:image/png;base64,{b64}'>"
        )
    parts.append("</body></html>\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
