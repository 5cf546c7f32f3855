"""Accelerator-v2 fidelity against peers configured as their authors ship them, and its speed.

Prints every figure of issue 12 from the shipped reference set (package data made by
``benchmarks/zigzag_shipped_reference.py`` and ``benchmarks/scalesim_shipped_reference.py``)::

    python benchmarks/bench_accelerator_fidelity.py [--json] [--rows]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from archgym.envs.accelerator.fidelity import (
    load_reference,
    scalesim_rows,
    scalesim_summary,
    zigzag_rows,
    zigzag_summary,
)
from archgym.envs.accelerator.loopnest import level_energy_pj
from archgym.envs.accelerator.model import AcceleratorCostModel
from archgym.workloads import as_workload


def speed(n: int = 20000, repeats: int = 5) -> dict[str, float]:
    """(design x layer) evaluations per second of CPU time on ResNet-18."""
    rng = np.random.default_rng(0)
    wl = as_workload("resnet18", "accelerator")
    cols = {
        "rows": rng.choice([8, 16, 32, 64], n),
        "cols": rng.choice([8, 16, 32, 64], n),
        "rf_bytes": rng.choice([64, 128, 256], n),
        "gbuf_kb": rng.choice([256, 512, 1024], n),
        "dataflow": rng.choice(["ws", "os", "is", "rs"], n),
    }
    model = AcceleratorCostModel()
    model.evaluate(cols, wl)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        model.evaluate(cols, wl)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    evals = n * len(wl.layers)
    return {
        "design_layer_evals": evals,
        "evals_per_cpu_s_best": evals / min(cpu),
        "evals_per_cpu_s_median": evals / statistics.median(cpu),
        "wall_s_median": statistics.median(wall),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rows", action="store_true", help="print every comparison row")
    args = ap.parse_args()
    level_energy_pj.cache_clear()
    c0, w0 = time.process_time(), time.perf_counter()
    zrows, refused = zigzag_rows(load_reference("zigzag_shipped"))
    z_cpu, z_wall = time.process_time() - c0, time.perf_counter() - w0
    srows = scalesim_rows(load_reference("scalesim_shipped"))
    archs = sorted({r["arch"] for r in zrows})
    out = {
        "zigzag": zigzag_summary(zrows),
        # per architecture and per network (AlexNet was held out while the buffer model was made)
        "zigzag_buffer_median_err_by_arch": {
            a: float(np.median([abs(r["buffer_err"]) for r in zrows if r["arch"] == a]))
            for a in archs
        },
        "zigzag_by_network": {
            n: zigzag_summary([r for r in zrows if r["network"] == n])
            for n in sorted({r["network"] for r in zrows})
        },
        # the imported peers' loop-nest search (cold: empty cache), all rows
        "zigzag_rows_cpu_s_cold": z_cpu,
        "zigzag_rows_wall_s_cold": z_wall,
        "zigzag_refused": refused,
        "scalesim": scalesim_summary(srows),
        "speed": speed(),
    }
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    if args.rows:
        for r in zrows:
            print(
                f"zigzag {r['arch']:<20} {r['layer'][-28:]:<28} E {r['energy_err']:+.3f} "
                f"cyc {r['cycles_err']:+.3f} "
                + " ".join(f"{lv} {r[lv + '_err']:+.3f}" for lv in ("mac", "rf", "buffer", "dram"))
            )
        for r in srows:
            print(
                f"scalesim {r['config']:<12} {r['mode']} bw={r['bw']:<3} {r['layer']:<24} "
                f"fits={r['fits']!s:<5} sim {r['sim_cycles']:>8} (stall {r['sim_stall_cycles']:>7}) "
                f"model {r['model_cycles']:>10.0f} err {r['cycles_err']:+.3f} "
                f"overfetch {r['overfetch']:.2f} never-fetched {r['never_fetched']:.2f}"
            )
    z, s = out["zigzag"], out["scalesim"]
    nets = sorted({r["network"] for r in zrows})
    print(f"ZigZag 3.9.1, shipped hardware + mappings + ONNX {nets}: {z['rows']} rows")
    print(f"  refused by the importer: {sorted(refused)}")
    print(
        f"  energy within 10 %: {z['energy_within_10pct']:.0%} (target >= 80 %); within 25 %: "
        f"{z['energy_within_25pct']:.0%} (target 100 %); median {z['energy_median_err']:.1%}, "
        f"p90 {z['energy_p90_err']:.1%}; on-chip median {z['on_chip_median_err']:.1%}"
    )
    print(
        "  per level, median |error| (target <= 15 %): "
        + ", ".join(f"{lv} {z[lv + '_median_err']:.1%}" for lv in ("mac", "rf", "buffer", "dram"))
    )
    print(
        "  buffer median |error| by architecture: "
        + ", ".join(f"{a} {e:.1%}" for a, e in out["zigzag_buffer_median_err_by_arch"].items())
    )
    for net, zn in out["zigzag_by_network"].items():
        print(
            f"  {net} ({zn['rows']} rows): energy within 10 % {zn['energy_within_10pct']:.0%}, "
            f"within 25 % {zn['energy_within_25pct']:.0%}; per level "
            + ", ".join(
                f"{lv} {zn[lv + '_median_err']:.1%}" for lv in ("mac", "rf", "buffer", "dram")
            )
        )
    print(
        f"  all ZigZag rows evaluated in {out['zigzag_rows_cpu_s_cold']:.1f} CPU-s "
        f"({out['zigzag_rows_wall_s_cold']:.1f} s wall), loop-nest search cache cold"
    )
    print(
        f"  within-layer Spearman of the architectures (target >= 0.9): energy median "
        f"{z['energy_spearman_median']:.2f} min {z['energy_spearman_min']:.2f}; latency median "
        f"{z['latency_spearman_median']:.2f} min {z['latency_spearman_min']:.2f}; latency "
        f"median |error| {z['cycles_median_err']:.1%}"
    )
    print(f"SCALE-Sim 3.0.0, shipped configs: {s['calc_rows']} CALC rows, {s['user_rows']} USER")
    print(f"  stall-free cycles equal: {s['calc_exact']:.0%} (target 100 %)")
    print(
        f"  USER rows excluded, SCALE-Sim over-fetch (DRAM reads of a non-fitting operand / its "
        f"SRAM reads >= {s['user_overfetch_min_ratio']:.2f}): {s['user_overfetch_rows']}"
    )
    print(
        f"    over-fetch {s['user_overfetch_min_ratio']:.2f}-{s['user_overfetch_max_ratio']:.2f}x "
        f"the array's reads; probed on {s['user_excluded_probed_rows']} of them "
        f"(benchmarks/scalesim_refetch_probe.py): SCALE-Sim served "
        f"{s['user_excluded_never_fetched_min']:.0%}-{s['user_excluded_never_fetched_max']:.0%} "
        f"of the operand's array reads from addresses it never fetched"
    )
    for name in s["user_excluded"]:
        print(f"    excluded: {name}")
    for reg in ("fitting", "non_fitting"):
        print(
            f"  USER {reg}: {s[f'user_{reg}_rows']} rows, within 5 %: "
            f"{s[f'user_{reg}_within_5pct']:.0%} (target >= 90 %); stalled rows within 5 %: "
            f"{s[f'user_{reg}_stalled_within_5pct']:.0%}"
        )
    print(
        f"  USER non-fitting with no row excluded: {s['user_non_fitting_all_rows']} rows, within "
        f"5 %: {s['user_non_fitting_all_within_5pct']:.0%} (the model re-fetches a non-fitting "
        f"operand once per pass of the dataflow)"
    )
    sp = out["speed"]
    print(
        f"speed: {sp['evals_per_cpu_s_best']:.3g} (design x layer) evals per CPU-s best, "
        f"{sp['evals_per_cpu_s_median']:.3g} median (target >= 1e6), "
        f"{sp['design_layer_evals']} evals, wall median {sp['wall_s_median']:.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
