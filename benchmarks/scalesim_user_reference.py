"""Regenerate ``tests/data/scalesim_user_bw.json``: SCALE-Sim 3.0.0 in its bandwidth-limited
``InterfaceBandwidth: USER`` mode, for the layers and DRAM bandwidths that
``tests/test_accelerator_bandwidth.py`` pins the accelerator model's latency against.

Run from the repo root with archgym's Python; SCALE-Sim runs in a separate interpreter that has
``scalesim==3.0.0`` (default ``/tmp/simvenv/bin/python``)::

    python benchmarks/scalesim_user_reference.py [--sim-python PATH] [--out PATH]

How SCALE-Sim 3.0.0 models a limited DRAM bandwidth (``single_layer_sim.py``,
``memory/double_buffered_scratchpad_mem.py``, ``memory/read_buffer.py``): in USER mode the
ifmap and filter read buffers fetch from DRAM at ``[layout] IfmapSRAMBankBandwidth`` /
``FilterSRAMBankBandwidth`` words per cycle (not the ``Bandwidth`` field, which only sets the
ofmap write bandwidth), so this script sets all three to the same value ``B``. Each read buffer
is double buffered (half active, half prefetch); a demand that misses the active half waits for
the next prefetch, and the layer's cycle count is the last ofmap write.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The backend's SCALE-Sim run (config template, topology, report parsing), in USER mode.
from archgym.cost_models.scalesim_backend import CFG, scalesim_job  # noqa: E402

#: Counts recorded per layer, in the order of the pinned file.
_COUNTS = ("stall_cycles", "dram_ifmap_reads", "dram_filter_reads", "dram_ofmap_writes",
           "sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_writes")  # fmt: skip

#: (rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb) configurations.
CONFIGS = [
    (16, 16, "os", 64, 64, 32),
    (16, 16, "ws", 64, 64, 32),
    (16, 16, "is", 64, 64, 32),
    (32, 32, "ws", 16, 16, 8),
    # Operands fit, small ofmap buffers: stalls come from ofmap write-back.
    (16, 16, "os", 256, 256, 4),
    (16, 16, "ws", 256, 256, 8),
    (32, 32, "is", 256, 256, 8),
]
BANDWIDTHS = [1, 2, 4, 8, 16]

#: Small conv / GEMM layers (SCALE-Sim conv rows): name, ifmap_h, ifmap_w, fh, fw, C, K, stride.
LAYERS = [
    ("conv3x3_c8", 18, 18, 3, 3, 8, 16, 1),
    ("conv3x3s2_c16", 17, 17, 3, 3, 16, 32, 2),
    ("conv1x1_c32", 14, 14, 1, 1, 32, 64, 1),
    ("gemm_128x64x96", 128, 96, 1, 96, 1, 64, 1),
    ("fc_1x256x512", 1, 512, 1, 512, 1, 256, 1),
]


def _run(cfg: tuple, bw: int) -> list[dict]:
    rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb = cfg
    fields = {"rows": rows, "cols": cols, "dataflow": dataflow, "ifmap_kb": ifmap_kb,
              "filter_kb": filter_kb, "ofmap_kb": ofmap_kb, "bw": bw}  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        reports = scalesim_job(d, {**fields, "mode": "USER"}, [list(layer) for layer in LAYERS])
    seconds = time.perf_counter() - t0
    return [
        {
            "layer": list(layer),
            **fields,
            "total_cycles": int(rep["cycles"]),
            **{k: int(rep[k]) for k in _COUNTS},
            "scalesim_seconds_per_layer": seconds / len(LAYERS),
        }
        for layer, rep in zip(LAYERS, reports, strict=True)
    ]


def worker() -> None:
    """Read jobs (JSON on stdin), run SCALE-Sim, print results (JSON on stdout)."""
    jobs = json.load(sys.stdin)
    results = [r for job in jobs for r in _run(tuple(job["cfg"]), job["bw"])]
    from importlib.metadata import version

    json.dump({"results": results, "scalesim_version": version("scalesim")}, sys.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-python", default="/tmp/simvenv/bin/python")
    ap.add_argument("--out", default="tests/data/scalesim_user_bw.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker()
        return 0
    jobs = [{"cfg": list(c), "bw": b} for c in CONFIGS for b in BANDWIDTHS]
    t0 = time.perf_counter()
    procs = []
    for w in range(args.workers):
        p = subprocess.Popen(
            [args.sim_python, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(p)
        p.stdin.write(json.dumps(jobs[w :: args.workers]))  # type: ignore[union-attr]
        p.stdin.close()  # type: ignore[union-attr]
    outs = []
    for p in procs:
        stdout = p.stdout.read()  # type: ignore[union-attr]
        if p.wait():
            raise SystemExit(f"SCALE-Sim worker failed with exit code {p.returncode}")
        outs.append(json.loads(stdout))
    results = [r for o in outs for r in o["results"]]
    results.sort(key=lambda r: (r["layer"][0], r["dataflow"], r["rows"], r["bw"]))
    doc = {
        "generator": "benchmarks/scalesim_user_reference.py",
        "scalesim_version": outs[0]["scalesim_version"],
        "mode": "InterfaceBandwidth: USER; Bandwidth = IfmapSRAMBankBandwidth = "
        "FilterSRAMBankBandwidth = bw",
        "config_template": CFG.replace("{mode}", "USER"),
        "word_bytes": 1,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "entries": results,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(results)} entries to {args.out} in {doc['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
