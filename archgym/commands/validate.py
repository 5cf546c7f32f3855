"""``archgym validate accelerator --against scalesim|zigzag``: per-layer and per-level errors.

By default the command compares Accelerator-v2 with the peer reference set shipped in the
package (``archgym/envs/accelerator/data/``: ZigZag 3.9.1 on its own hardware descriptions,
mappings and ResNet-18; SCALE-Sim 3.0.0 on its own example configurations, CALC and USER; made by
``benchmarks/zigzag_shipped_reference.py`` and ``benchmarks/scalesim_shipped_reference.py``).
Each peer configuration reaches the model through the importers of
:mod:`archgym.envs.accelerator.peers`. ``--json`` prints the rows and the summary as JSON. With
``--live`` it runs the simulator now through the ``scalesim``/``zigzag`` backend (the extra must
be installed) on ``--layers`` of ``--workload``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from archgym.commands._args import count

__all__ = ["add_parser", "validate_scalesim"]


def add_parser(subparsers: Any) -> None:
    """Register ``archgym validate ...`` on the CLI's subparsers."""
    p = subparsers.add_parser("validate", help="compare a model with a peer simulator")
    p.add_argument("target", choices=["accelerator"], help="the model to validate")
    p.add_argument(
        "--against",
        required=True,
        choices=["scalesim", "zigzag"],
        help="reference simulator to compare with",
    )
    p.add_argument(
        "--layers",
        nargs="*",
        default=None,
        help="layer names to keep (reference mode) or run (live mode)",
    )
    p.add_argument("--data", default=None, help="reference JSON (default: the shipped one)")
    p.add_argument("--live", action="store_true", help="run the simulator now")
    p.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    p.add_argument("--workload", default="resnet18", help="workload of --live runs")
    p.add_argument("--rows", type=count(1, 65_536), default=16, help="PE array rows")
    p.add_argument("--cols", type=count(1, 65_536), default=16, help="PE array columns")
    p.add_argument("--dataflow", default="ws", help="dataflow: os, ws or is")
    p.set_defaults(func=cmd_validate)


def _row(cells: list[Any], widths: list[int]) -> str:
    return "  ".join(
        str(c).rjust(w) if i else str(c).ljust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=False))
    )


def validate_scalesim(entries: list[dict], layers: list[str] | None = None) -> list[dict]:
    """Model vs SCALE-Sim USER-mode entries: one row per (layer, config, bandwidth)."""
    from archgym.envs.accelerator.model import AcceleratorCostModel
    from archgym.workloads import Layer

    model = AcceleratorCostModel("scalesim")
    out = []
    for e in entries:
        name = e["layer"][0]
        if layers and name not in layers:
            continue
        lay = Layer(name, "conv", *e["layer"][1:])
        cols = {
            "rows": np.array([e["rows"]]),
            "cols": np.array([e["cols"]]),
            "dataflow": np.array([e["dataflow"]]),
            "ifmap_sram_kb": np.array([e["ifmap_kb"]]),
            "filter_sram_kb": np.array([e["filter_kb"]]),
            "ofmap_sram_kb": np.array([e["ofmap_kb"]]),
            "dram_bw_bytes": np.array([float(e["bw"])]),
        }
        per, ok, why = model.evaluate_layers(cols, lay)
        out.append(
            {
                "layer": name,
                "cfg": f"{e['dataflow']} {e['rows']}x{e['cols']} bw={e['bw']}",
                "sim_cycles": e["total_cycles"],
                "sim_stall": e["stall_cycles"],
                "model_compute": float(per["compute_cycles"][0, 0]),
                "model_cycles": float(per["cycles"][0, 0]),
                "err": float(per["cycles"][0, 0]) / e["total_cycles"] - 1,
                "fits": bool(
                    lay.m * lay.k <= e["ifmap_kb"] * 512 and lay.k * lay.n <= e["filter_kb"] * 512
                ),
            }
        )
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    from archgym.envs.accelerator import fidelity as fd
    from archgym.errors import ConfigError

    if args.live:
        return _live(args)
    name = f"{args.against}_shipped"
    if args.data:
        path = Path(args.data)
        if not path.exists():
            print(f"reference data {path} not found; omit --data for the shipped set")
            return 2
        ref = json.loads(path.read_text())
    else:
        ref = fd.load_reference(name)
    if args.against == "scalesim":
        rows: list[dict] = fd.scalesim_rows(ref)
    else:
        rows, refused = fd.zigzag_rows(ref)
    known = sorted({str(r["layer"]) for r in rows})
    unknown = sorted(set(args.layers or ()) - set(known))
    if unknown:
        raise ConfigError(
            f"--layers: {unknown} are not layers of the {args.against} reference data; "
            f"its layers are: {', '.join(known)}"
        )
    if args.layers:
        rows = [r for r in rows if r["layer"] in set(args.layers)]
    if args.against == "scalesim":
        summary = fd.scalesim_summary(rows)
        if args.json:
            print(json.dumps({"summary": summary, "rows": rows}, indent=1, default=float))
            return 0
        w = [12, 5, 4, 24, 5, 9, 8, 10, 7, 6]
        head = ["config", "mode", "bw", "layer", "fits", "sim cyc", "stall", "model cyc"]
        print(_row([*head, "err %", "ovf"], w))
        for r in rows:
            cells = [r["config"], r["mode"], r["bw"], r["layer"], "yes" if r["fits"] else "no"]
            cells += [r["sim_cycles"], r["sim_stall_cycles"], f"{r['model_cycles']:.0f}"]
            print(_row([*cells, f"{100 * r['cycles_err']:+.1f}", f"{r['overfetch']:.2f}"], w))
        print(
            f"stall-free (CALC) cycles equal on {summary['calc_exact']:.0%} of "
            f"{summary['calc_rows']}; USER within 5 %: fitting "
            f"{summary['user_fitting_within_5pct']:.0%} of {summary['user_fitting_rows']}, "
            f"non-fitting {summary['user_non_fitting_within_5pct']:.0%} of "
            f"{summary['user_non_fitting_rows']}; {summary['user_overfetch_rows']} rows excluded "
            f"where SCALE-Sim reads a non-fitting operand from DRAM more often than its array "
            f"reads it (ovf > 1); with none excluded, non-fitting "
            f"{summary['user_non_fitting_all_within_5pct']:.0%} of "
            f"{summary['user_non_fitting_all_rows']}"
        )
        return 0
    summary = fd.zigzag_summary(rows)
    if args.json:
        print(json.dumps({"summary": summary, "refused": refused, "rows": rows}, indent=1))
        return 0
    w = [20, 30, 10, 7, 7, 7, 7, 7, 7]
    print(_row(["arch", "layer", "zz pJ", "err %", "mac", "rf", "buffer", "dram", "cyc"], w))
    for r in rows:
        errs = [f"{100 * r[k + '_err']:+.1f}" for k in ("energy", "mac", "rf", "buffer", "dram")]
        cells = [r["arch"], r["layer"][-30:], f"{r['sim_energy_pj']:.4g}", *errs]
        print(_row([*cells, f"{100 * r['cycles_err']:+.1f}"], w))
    for arch, why in refused.items():
        print(f"not imported: {arch}: {why}")
    print(
        f"{summary['rows']} rows: energy within 10 % {summary['energy_within_10pct']:.0%}, "
        f"within 25 % {summary['energy_within_25pct']:.0%}, median "
        f"{summary['energy_median_err']:.1%}; per level median |err|: "
        + ", ".join(f"{lv} {summary[lv + '_median_err']:.1%}" for lv in fd.LEVELS)
    )
    print(
        f"within-layer Spearman of the architectures: energy median "
        f"{summary['energy_spearman_median']:.2f} (min {summary['energy_spearman_min']:.2f}), "
        f"latency median {summary['latency_spearman_median']:.2f} "
        f"(min {summary['latency_spearman_min']:.2f})"
    )
    return 0


def _live(args: argparse.Namespace) -> int:
    from archgym.envs.accelerator.model import AcceleratorCostModel, as_workload
    from archgym.errors import ConfigError
    from archgym.registry import make_cost_model
    from archgym.workloads import Workload

    wl = as_workload(args.workload)
    if args.layers:
        unknown = sorted(set(args.layers) - {x.name for x in wl.layers})
        if unknown:
            raise ConfigError(
                f"--layers: {unknown} are not layers of {wl.name}; its layers are: "
                f"{', '.join(x.name for x in wl.layers)}"
            )
        wl = Workload(wl.name, tuple(x for x in wl.layers if x.name in set(args.layers)))
    sim = make_cost_model(args.against)
    design = {
        "rows": np.array([args.rows]),
        "cols": np.array([args.cols]),
        "dataflow": np.array([args.dataflow]),
    }
    model = AcceleratorCostModel(
        "ideal", energy_pj={"noc": 0.0} if args.against == "zigzag" else None
    )
    w = [24, 12, 12, 8]
    print(_row(["layer", f"{args.against} cyc", "model cyc", "err %"], w))
    for layer in wl.layers:
        ev = sim.evaluate(design, layer)
        mine = model.evaluate(design, layer)
        if not ev.feasible[0]:
            print(_row([layer.name, "failed", "", ev.reasons[0]], w))
            continue
        s, m = ev.metrics["cycles"][0], mine.metrics["cycles"][0]
        print(_row([layer.name, f"{s:.0f}", f"{m:.0f}", f"{100 * (m / s - 1):+.1f}"], w))
    return 0
