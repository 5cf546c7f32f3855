"""``archgym validate accelerator --against scalesim|zigzag``: per-layer errors, side by side.

By default the command compares the analytical model with the simulator's stored reference
output (``tests/data/scalesim_user_bw.json``, ``tests/data/zigzag_energy.json``; regenerate them
with ``benchmarks/scalesim_user_reference.py`` / ``benchmarks/zigzag_reference.py``). With
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

__all__ = ["add_parser", "validate_scalesim", "validate_zigzag", "zigzag_summary"]

_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


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


def validate_zigzag(entries: list[dict], layers: list[str] | None = None) -> list[dict]:
    """Model (ZigZag-configured: no NoC level) vs ZigZag entries."""
    from archgym.envs.accelerator.model import AcceleratorCostModel
    from archgym.workloads import Layer

    model = AcceleratorCostModel("ideal", energy_pj={"noc": 0.0})
    out = []
    for e in entries:
        name, m, n, k = e["layer"]
        if layers and name not in layers:
            continue
        d = e["design"]
        cols = {key: np.array([v]) for key, v in d.items()}
        per, ok, why = model.evaluate_layers(cols, Layer.gemm(name, m, n, k))
        energy = sum(per[f"energy_{lv}_j"][0, 0] for lv in ("mac", "rf", "noc", "buffer", "dram"))
        on_chip = energy - per["energy_dram_j"][0, 0]
        zz_on_chip = e["energy_pj"] - e.get("dram_energy_pj", np.nan)
        out.append(
            {
                "layer": name,
                "cfg": f"{d['dataflow']} {d['rows']}x{d['cols']} {d['gbuf_kb']}KiB",
                "sim_energy_pj": e["energy_pj"],
                "model_energy_pj": energy * 1e12,
                "energy_err": energy * 1e12 / e["energy_pj"] - 1,
                "sim_onchip_pj": zz_on_chip,
                "model_onchip_pj": on_chip * 1e12,
                "onchip_err": on_chip * 1e12 / zz_on_chip - 1,
                "sim_cycles": e["cycles"],
                "model_cycles": float(per["cycles"][0, 0]),
            }
        )
    return out


def zigzag_summary(rows: list[dict]) -> dict[str, float]:
    """Aggregate errors of :func:`validate_zigzag` rows (energy, on-chip energy, Spearman)."""
    err = np.abs([r["energy_err"] for r in rows])
    chip = np.abs([r["onchip_err"] for r in rows])
    per_layer = []
    for name in dict.fromkeys(r["layer"] for r in rows):
        sub = [r for r in rows if r["layer"] == name]
        if len(sub) >= 3:
            per_layer.append(
                _spearman(
                    np.array([r["sim_cycles"] for r in sub]),
                    np.array([r["model_cycles"] for r in sub]),
                )
            )
    return {
        "energy_within_10pct": int((err <= 0.10).sum()),
        "energy_median_err": float(np.median(err)),
        "energy_max_err": float(err.max()),
        "onchip_within_10pct": int((chip <= 0.10).sum()),
        "onchip_median_err": float(np.nanmedian(chip)),
        "spearman_all": _spearman(
            np.array([r["sim_cycles"] for r in rows]), np.array([r["model_cycles"] for r in rows])
        ),
        "spearman_per_layer_mean": float(np.mean(per_layer)) if per_layer else float("nan"),
        "spearman_per_layer_min": float(np.min(per_layer)) if per_layer else float("nan"),
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def cmd_validate(args: argparse.Namespace) -> int:
    from archgym.errors import ConfigError

    if args.live:
        return _live(args)
    default = "scalesim_user_bw.json" if args.against == "scalesim" else "zigzag_energy.json"
    path = Path(args.data) if args.data else _DATA / default
    if not path.exists():
        print(
            f"reference data {path} not found; regenerate it with "
            f"benchmarks/{args.against}_{'user_' if args.against == 'scalesim' else ''}"
            f"reference.py or pass --live"
        )
        return 2
    entries = json.loads(path.read_text())["entries"]
    known = sorted({str(e["layer"][0]) for e in entries})
    unknown = sorted(set(args.layers or ()) - set(known))
    if unknown:
        raise ConfigError(
            f"--layers: {unknown} are not layers of the reference data {path.name}; "
            f"its layers are: {', '.join(known)}"
        )
    if args.against == "scalesim":
        rows = validate_scalesim(entries, args.layers)
        w = [16, 20, 10, 8, 10, 10, 8, 5]
        print(
            _row(
                ["layer", "config", "sim cyc", "stall", "model cmp", "model cyc", "err %", "fits"],
                w,
            )
        )
        for r in rows:
            print(
                _row(
                    [
                        r["layer"],
                        r["cfg"],
                        r["sim_cycles"],
                        r["sim_stall"],
                        f"{r['model_compute']:.0f}",
                        f"{r['model_cycles']:.0f}",
                        f"{100 * r['err']:+.1f}",
                        "yes" if r["fits"] else "no",
                    ],
                    w,
                )
            )
        err = np.abs([r["err"] for r in rows])
        fits = np.array([r["fits"] for r in rows])
        stall = np.array([r["sim_stall"] > 0 for r in rows])
        print(
            f"{len(rows)} rows: |err| <= 5 % in {(err <= 0.05).sum()}, median "
            f"{100 * np.median(err):.1f} %, max {100 * err.max():.1f} %"
        )
        if fits.any():
            print(
                f"read operands fit the SRAM half (the modelled regime): {fits.sum()} rows, "
                f"{(err[fits] <= 0.05).sum()} within 5 %; of them {(fits & stall).sum()} "
                f"bandwidth-stalled, {((err <= 0.05) & fits & stall).sum()} within 5 %, "
                f"max {100 * err[fits].max():.1f} %"
            )
    else:
        rows = validate_zigzag(entries, args.layers)
        w = [22, 22, 11, 11, 7, 11, 11, 7, 8, 9]
        print(
            _row(
                [
                    "layer",
                    "design",
                    "zz pJ",
                    "model pJ",
                    "err %",
                    "zz chip pJ",
                    "mdl chip pJ",
                    "err %",
                    "zz cyc",
                    "model cyc",
                ],
                w,
            )
        )
        for r in rows:
            print(
                _row(
                    [
                        r["layer"],
                        r["cfg"],
                        f"{r['sim_energy_pj']:.4g}",
                        f"{r['model_energy_pj']:.4g}",
                        f"{100 * r['energy_err']:+.1f}",
                        f"{r['sim_onchip_pj']:.4g}",
                        f"{r['model_onchip_pj']:.4g}",
                        f"{100 * r['onchip_err']:+.1f}",
                        f"{r['sim_cycles']:.0f}",
                        f"{r['model_cycles']:.0f}",
                    ],
                    w,
                )
            )
        s = zigzag_summary(rows)
        print(
            f"{len(rows)} rows: energy |err| <= 10 % in {s['energy_within_10pct']}, median "
            f"{100 * s['energy_median_err']:.1f} %, max {100 * s['energy_max_err']:.1f} %; "
            f"on-chip energy (no DRAM) |err| <= 10 % in {s['onchip_within_10pct']}, median "
            f"{100 * s['onchip_median_err']:.1f} %"
        )
        print(
            f"latency Spearman over all (layer, design) rows {s['spearman_all']:.3f}; across "
            f"designs per layer: mean {s['spearman_per_layer_mean']:.3f}, "
            f"min {s['spearman_per_layer_min']:.3f}"
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
