"""Plots of a sweep: convergence, hyperparameter lottery, Pareto fronts (matplotlib, Agg).

Each function writes one PNG and returns its path, or ``None`` when the sweep has nothing to
draw for it. Figures are drawn on an Agg canvas through matplotlib's object API (no pyplot,
no backend switch), so a report never changes a user's matplotlib setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archgym.report._data import SweepData
from archgym.report._labels import axis_label, display_sign

__all__ = ["plot_convergence", "plot_lottery", "plot_pareto"]


def _plt() -> Any:
    """matplotlib's object API on an Agg canvas: no pyplot, no global backend change."""
    from archgym._imports import optional_import

    optional_import("matplotlib", "report")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return Figure, FigureCanvasAgg


def _grid(plt: Any, n: int, w: float = 5.0, h: float = 3.8) -> tuple[Any, list[Any]]:
    figure_cls, canvas_cls = plt
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    # constrained layout keeps titles, the suptitle, labels and legends inside the figure
    fig = figure_cls(figsize=(w * cols, h * rows), layout="constrained")
    canvas_cls(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _suptitle(fig: Any, text: str) -> None:
    """A figure title wrapped to the figure's width (never clipped on one-panel figures)."""
    import textwrap

    width = max(30, int(fig.get_figwidth() * 10.5))
    fig.suptitle(textwrap.fill(text, width), fontsize=11)


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path


def _colors(agents: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {a: cmap(i % 10) for i, a in enumerate(agents)}


def plot_convergence(data: SweepData, path: Path) -> Path | None:
    """Best-so-far against evaluations, per env: for each agent its best hyperparameter
    setting (median over seeds, band = 25-75 % over seeds) and, dashed, the median over all
    its settings and seeds. Multi-objective envs show normalised hypervolume instead."""
    runs = data.runs[data.runs["id"].isin(list(data.curves))]
    if runs.empty:
        return None
    plt = _plt()
    envs = sorted(runs["env"].unique())
    colors = _colors(sorted(data.runs["agent"].unique()))
    fig, axes = _grid(plt, len(envs))
    for ax, env in zip(axes, envs, strict=True):
        er = runs[runs["env"] == env]
        multi = bool(er["multi"].iloc[0])
        label = (data.labels.get(env) or ["objective"])[0]
        sign = 1.0 if multi else display_sign(label)
        for agent, ar in er.groupby("agent"):
            best_setting = ar.groupby("setting")["quality"].median().idxmax()

            def stack(
                ids: Any, fill: float = 0.0 if multi else np.inf
            ) -> tuple[np.ndarray, np.ndarray]:
                cs = [data.curves[i] for i in ids]
                n = min(len(c[1]) for c in cs)
                ys = np.vstack([c[1][:n] for c in cs])
                # a run with nothing admissible yet is worst-so-far (+inf in minimisation
                # form, hypervolume 0), so each quantile over seeds of these monotone curves
                # is monotone too; NaN would drop that seed and let the median jump back
                return cs[0][0][:n], np.where(np.isnan(ys), fill, ys)

            x, ys = stack(ar[ar["setting"] == best_setting]["id"])
            with np.errstate(all="ignore"), _quiet():
                med = _shown(np.median(ys, axis=0), sign)
                lo = _shown(np.percentile(ys, 25, axis=0, method="lower"), sign)
                hi = _shown(np.percentile(ys, 75, axis=0, method="higher"), sign)
                xa, ya = stack(ar["id"])
                med_all = _shown(np.median(ya, axis=0), sign)
            c = colors[agent]
            ax.plot(x, med, color=c, lw=2, label=f"{agent} (best setting, {len(ys)} seeds)")
            ax.fill_between(x, lo, hi, color=c, alpha=0.2, lw=0)
            if ar["setting"].nunique() > 1:
                ax.plot(
                    xa,
                    med_all,
                    color=c,
                    lw=1,
                    ls="--",
                    label=f"{agent} (all {ar['setting'].nunique()} settings)",
                )
        ax.set_title(env, fontsize=10)
        ax.set_xlabel("evaluations")
        if multi:
            k = len(data.labels.get(env) or [])
            ax.set_ylabel(f"hypervolume / 1.1^{k} (higher is better)")
        else:
            better = "higher" if sign < 0 else "lower"
            ax.set_ylabel(f"{axis_label(label, 'best ')} so far ({better} is better)")
            vals = sign * np.concatenate([data.curves[i][1] for i in er["id"]])
            if np.nanmin(vals) > 0:
                _log_axis(ax, ax.yaxis, np.nanmax(vals) / np.nanmin(vals))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    hv_note = (
        "; hypervolume of log10 objectives min-max scaled over the env, reference 1.1 each"
        if runs["multi"].any()
        else ""
    )
    _suptitle(
        fig, f"{data.name}: convergence (median over seeds, band = interquartile range{hv_note})"
    )
    return _save(fig, path)


def _shown(y: np.ndarray, sign: float) -> np.ndarray:
    """A curve in display units: maximised objectives un-negated, ``inf`` (nothing
    admissible yet) as a gap."""
    return np.where(np.isinf(y), np.nan, sign * y)


class _quiet:
    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


def plot_lottery(data: SweepData, path: Path) -> Path | None:
    """ArchGym's hyperparameter lottery: per env and agent, the distribution over its
    hyperparameter settings of the final normalised quality (median over seeds). A tall box
    means the agent's result depends on the ticket (its tuning); 1.0 = the best any run found."""
    runs = data.runs[data.runs["status"] == "complete"]
    if runs.empty:
        return None
    plt = _plt()
    envs = sorted(runs["env"].unique())
    agents = sorted(data.runs["agent"].unique())
    colors = _colors(agents)
    fig, axes = _grid(plt, len(envs), w=max(4.0, 1.3 * len(agents) + 1.5))
    rng = np.random.default_rng(0)  # jitter only
    for ax, env in zip(axes, envs, strict=True):
        er = runs[runs["env"] == env]
        per = er.groupby(["agent", "setting"])["quality"].median().reset_index()
        present = [a for a in agents if a in set(per["agent"])]
        groups = [per[per["agent"] == a]["quality"].to_numpy() for a in present]
        box = ax.boxplot(
            groups, positions=range(len(present)), widths=0.6, showfliers=False, patch_artist=True
        )
        for patch, a in zip(box["boxes"], present, strict=True):
            patch.set_facecolor(colors[a])
            patch.set_alpha(0.35)
        for k, (a, g) in enumerate(zip(present, groups, strict=True)):
            ax.scatter(k + rng.uniform(-0.18, 0.18, len(g)), g, s=12, color=colors[a], zorder=3)
            ax.annotate(
                f"n={len(g)}\nspread {np.ptp(g):.2f}",
                (k, 1.02),
                ha="center",
                va="bottom",
                fontsize=7,
                annotation_clip=False,
            )
        ax.set_xticks(range(len(present)))
        ax.set_xticklabels(present, rotation=20, ha="right")
        ax.set_ylim(0, 1.15)
        multi = bool(er["multi"].iloc[0])
        ax.set_ylabel(
            "final quality: hypervolume / best" if multi else "final quality: best found / this run"
        )
        ax.set_title(env, pad=24, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    _suptitle(
        fig, f"{data.name}: hyperparameter lottery (each dot = one setting, median over seeds)"
    )
    return _save(fig, path)


def plot_pareto(data: SweepData, path: Path) -> Path | None:
    """Per multi-objective env, each agent's Pareto front pooled over all its runs, for each
    pair of the first three objectives (log axes)."""
    from archgym.pareto import pareto_mask

    runs = data.runs[data.runs["multi"] & data.runs["id"].isin(list(data.points))]
    if runs.empty:
        return None
    plt = _plt()
    panels = []
    for env in sorted(runs["env"].unique()):
        labels = data.labels.get(env, [])
        k = len(labels)
        pairs = [(0, 1)] if k == 2 else [(0, 1), (0, 2), (1, 2)][: max(1, min(3, k))]
        panels += [(env, p) for p in pairs]
    colors = _colors(sorted(data.runs["agent"].unique()))
    fig, axes = _grid(plt, len(panels), w=4.6)
    for ax, (env, (a, b)) in zip(axes, panels, strict=True):
        er = runs[runs["env"] == env]
        labels = data.labels.get(env, [])
        shown: list[np.ndarray] = []
        for agent, ar in er.groupby("agent"):
            pts = np.vstack([data.points[i] for i in ar["id"]]) if len(ar) else np.zeros((0, 2))
            if not len(pts):
                continue
            signs = np.array([display_sign(labels[j]) if j < len(labels) else 1.0 for j in (a, b)])
            p2 = pts[:, [a, b]]
            front = p2[pareto_mask(p2)]
            front = front[np.argsort(front[:, 0])]
            p2, front = p2 * signs, front * signs  # display units
            ax.scatter(p2[:, 0], p2[:, 1], s=3, color=colors[agent], alpha=0.08)
            ax.step(
                front[:, 0], front[:, 1], where="post", color=colors[agent], lw=1.5, label=agent
            )
            ax.scatter(front[:, 0], front[:, 1], s=10, color=colors[agent])
            shown.append(p2)
        both = np.vstack(shown) if shown else np.ones((1, 2))
        for col, (axis, j) in enumerate(((ax.xaxis, a), (ax.yaxis, b))):
            v = both[:, col]
            if (v > 0).all():
                _log_axis(ax, axis, float(v.max() / v.min()), above=10.0)
            name = labels[j] if j < len(labels) else f"obj_{j}"
            axis.set_label_text(axis_label(name))
        ax.set_title(env, fontsize=10)
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=7)
    _suptitle(
        fig,
        f"{data.name}: Pareto fronts (all runs of each agent pooled; each panel one pair of "
        "objectives, better towards lower latency, energy, area)",
    )
    return _save(fig, path)


def _log_axis(ax: Any, axis: Any, ratio: float, above: float = 100.0) -> None:
    """Log scale when the values span more than ``above`` (``ratio`` = max / min), with
    at most five labelled decades and no minor labels (they overlap); linear otherwise."""
    from matplotlib.ticker import LogLocator, NullFormatter

    if not ratio > above:
        return
    if axis is ax.xaxis:
        ax.set_xscale("log")
    else:
        ax.set_yscale("log")
    axis.set_major_locator(LogLocator(base=10, numticks=5))
    axis.set_minor_formatter(NullFormatter())
