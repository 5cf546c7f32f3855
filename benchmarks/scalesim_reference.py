"""Regenerate ``tests/data/scalesim_calc.json``: SCALE-Sim 3.0.0's own numbers for the layers
that ``tests/test_systolic_model.py`` pins :class:`SystolicCostModel` against.

Run from the repo root with archgym's Python; SCALE-Sim itself runs in a separate
interpreter that has ``scalesim==3.0.0`` (default ``/tmp/simvenv/bin/python``)::

    python benchmarks/scalesim_reference.py [--sim-python PATH] [--out PATH]

The script picks the layers (via ``archgym.workloads``), then re-invokes itself under the
simulator's Python with ``--worker``; the worker writes a config, a conv topology CSV and an
empty layout CSV per (dataflow, array shape), runs ``scalesim.scale_sim.scalesim`` with
``InterfaceBandwidth: CALC`` (stall-free), and parses COMPUTE_REPORT.csv and
DETAILED_ACCESS_REPORT.csv. Some layers are real layers of ResNet-18/ResNet-50/BERT-base;
others keep a real layer's spatial size, kernel and stride with channels divided by 8-16
(named ``.../cN``), because SCALE-Sim materialises whole operand matrices in Python loops
and full-size layers take minutes each.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CFG = """[general]
run_name = ref

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    {ifmap_kb}
FilterSramSzkB:   {filter_kb}
OfmapSramSzkB:    {ofmap_kb}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : {bandwidth}
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""

ARRAYS = [(8, 32), (32, 8), (16, 16), (12, 20), (128, 128)]
DATAFLOWS = ["os", "ws", "is"]
SRAM = {"ifmap_kb": 6144, "filter_kb": 6144, "ofmap_kb": 2048}  # SCALE-Sim's configs/scale.cfg

COMPUTE_KEYS = {
    "Total Cycles": "total_cycles",
    "Stall Cycles": "stall_cycles",
    "Compute Util %": "compute_util_pct",
    "Overall Util %": "overall_util_pct",
    "Mapping Efficiency %": "mapping_eff_pct",
}
DETAIL_KEYS = {
    "SRAM IFMAP Reads": "sram_ifmap_reads",
    "SRAM Filter Reads": "sram_filter_reads",
    "SRAM OFMAP Writes": "sram_ofmap_writes",
    "DRAM IFMAP Reads": "dram_ifmap_reads",
    "DRAM Filter Reads": "dram_filter_reads",
    "DRAM OFMAP Writes": "dram_ofmap_writes",
}


def pick_layers() -> list[dict]:
    """The reference layers as SCALE-Sim conv rows (one instance each)."""
    from archgym.workloads import Layer, get

    def real(wl: str, name: str) -> Layer:
        layer = next(x for x in get(wl).layers if x.name == name)
        return Layer(
            f"{wl}.{name}",
            layer.kind,
            layer.ifmap_h,
            layer.ifmap_w,
            layer.filter_h,
            layer.filter_w,
            layer.channels // layer.groups,
            layer.n,
            layer.stride,
        )

    def scaled(wl: str, name: str, div: int) -> Layer:
        x = next(x for x in get(wl).layers if x.name == name)
        if x.kind == "gemm":
            return Layer.gemm(f"{wl}.{name}/c{div}", x.m, x.n // div, x.k // div)
        return Layer(
            f"{wl}.{name}/c{div}",
            "conv",
            x.ifmap_h,
            x.ifmap_w,
            x.filter_h,
            x.filter_w,
            x.channels // div,
            x.num_filters // div,
            x.stride,
        )

    layers = [
        real("bert_base", "block.attn_scores"),  # one head: M=128, N=128, K=64
        real("bert_base", "block.attn_values"),  # one head: M=128, N=64, K=128
        real("resnet18", "layer4.0.downsample"),  # 1x1/2, 256->512 on 14x14
        real("resnet18", "fc"),  # M=1, N=1000, K=512
        scaled("resnet18", "layer1.0.conv1", 8),  # 3x3 on 58x58, 8->8
        scaled("resnet50", "layer2.0.conv2", 16),  # 3x3/2 on 58x58, 8->8
        scaled("resnet50", "layer3.0.conv3", 8),  # 1x1 on 14x14, 32->128
        scaled("resnet50", "layer4.0.conv2", 16),  # 3x3/2 on 16x16, 32->32
        scaled("bert_base", "block.ffn_up", 8),  # M=128, N=384, K=96
    ]
    return [
        {
            "name": x.name,
            "kind": x.kind,
            "ifmap_h": x.ifmap_h,
            "ifmap_w": x.ifmap_w,
            "filter_h": x.filter_h,
            "filter_w": x.filter_w,
            "channels": x.channels,
            "num_filters": x.num_filters,
            "stride": x.stride,
        }
        for x in layers
    ]


def _run_scalesim(layers: list[dict], rows: int, cols: int, dataflow: str) -> list[dict]:
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory() as d:
        cfg, topo, lay = (os.path.join(d, f) for f in ("c.cfg", "t.csv", "l.csv"))
        Path(cfg).write_text(
            CFG.format(rows=rows, cols=cols, dataflow=dataflow, mode="CALC", bandwidth=10, **SRAM)
        )
        lines = [
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
            "Channels, Num Filter, Strides,"
        ]
        for i, x in enumerate(layers):
            lines.append(
                f"L{i}, {x['ifmap_h']}, {x['ifmap_w']}, {x['filter_h']}, "
                f"{x['filter_w']}, {x['channels']}, {x['num_filters']}, {x['stride']},"
            )
        Path(topo).write_text("\n".join(lines) + "\n")
        Path(lay).write_text("Layer name,\n")
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(
                save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=lay
            )
            sim.run_scale(top_path=os.path.join(d, "out"))
        seconds = time.perf_counter() - t0
        out: list[dict] = [{} for _ in layers]
        for report, keys in (
            ("COMPUTE_REPORT", COMPUTE_KEYS),
            ("DETAILED_ACCESS_REPORT", DETAIL_KEYS),
        ):
            with open(os.path.join(d, "out", "ref", report + ".csv")) as f:
                table = list(csv.reader(f))
            header = [h.strip() for h in table[0]]
            for i, row in enumerate(table[1:]):
                for h, v in zip(header, row, strict=False):
                    if h in keys:
                        val = float(v)
                        out[i][keys[h]] = (
                            int(val) if val.is_integer() and "pct" not in keys[h] else val
                        )
    for o in out:
        o["scalesim_seconds_per_layer"] = seconds / len(layers)
    return out


def worker() -> None:
    """Read jobs (JSON on stdin), run SCALE-Sim, print results (JSON on stdout)."""
    jobs = json.load(sys.stdin)
    results = []
    for job in jobs:
        res = _run_scalesim(job["layers"], job["rows"], job["cols"], job["dataflow"])
        for layer, r in zip(job["layers"], res, strict=True):
            results.append(
                {
                    "layer": layer,
                    "rows": job["rows"],
                    "cols": job["cols"],
                    "dataflow": job["dataflow"],
                    **r,
                }
            )
    from importlib.metadata import version

    json.dump({"results": results, "scalesim_version": version("scalesim")}, sys.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-python", default="/tmp/simvenv/bin/python")
    ap.add_argument("--out", default="tests/data/scalesim_calc.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker()
        return 0
    layers = pick_layers()
    jobs = [
        {"layers": layers, "rows": r, "cols": c, "dataflow": df}
        for (r, c) in ARRAYS
        for df in DATAFLOWS
    ]
    t0 = time.perf_counter()
    procs = []
    for w in range(args.workers):
        p = subprocess.Popen(
            [args.sim_python, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append((p, jobs[w :: args.workers]))
    outs = []
    for p, part in procs:
        stdout, _ = p.communicate(json.dumps(part))
        if p.returncode:
            raise SystemExit(f"SCALE-Sim worker failed with exit code {p.returncode}")
        outs.append(json.loads(stdout))
    results = [r for o in outs for r in o["results"]]
    results.sort(key=lambda r: (r["layer"]["name"], r["dataflow"], r["rows"], r["cols"]))
    doc = {
        "generator": "benchmarks/scalesim_reference.py",
        "scalesim_version": outs[0]["scalesim_version"],
        "mode": "InterfaceBandwidth: CALC (stall-free)",
        "config_template": CFG,
        "sram_kb": SRAM,
        "word_bytes": 1,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "entries": results,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(results)} entries to {args.out} in {doc['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
