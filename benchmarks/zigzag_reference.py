"""Regenerate ``tests/data/zigzag_energy.json``: ZigZag 3.9.1's energy and latency for the
layers and designs that ``tests/test_backends_zigzag_data.py`` compares the accelerator model
against.

Run from the repo root; ZigZag runs in an interpreter that has ``zigzag-dse==3.9.1`` and
archgym's dependencies (default ``/tmp/simvenv/bin/python``, with ``PYTHONPATH`` set to the
repo)::

    python benchmarks/zigzag_reference.py [--sim-python PATH] [--out PATH]

Each design is written by :func:`archgym.cost_models.zigzag_backend.zigzag_inputs` with the
accelerator model's own per-access energies and the dataflow's spatial unrolling; ZigZag's LOMA
search picks the minimum-energy temporal mapping.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DESIGNS = [
    {"rows": 16, "cols": 16, "dataflow": "ws", "rf_bytes": 64, "gbuf_kb": 256, "gbuf_banks": 4},
    {"rows": 16, "cols": 16, "dataflow": "os", "rf_bytes": 64, "gbuf_kb": 256, "gbuf_banks": 4},
    {"rows": 8, "cols": 32, "dataflow": "is", "rf_bytes": 64, "gbuf_kb": 256, "gbuf_banks": 4},
    {"rows": 32, "cols": 32, "dataflow": "ws", "rf_bytes": 64, "gbuf_kb": 64, "gbuf_banks": 1},
    {"rows": 8, "cols": 8, "dataflow": "ws", "rf_bytes": 128, "gbuf_kb": 128, "gbuf_banks": 2},
    {"rows": 32, "cols": 16, "dataflow": "os", "rf_bytes": 32, "gbuf_kb": 128, "gbuf_banks": 4},
    {"rows": 16, "cols": 32, "dataflow": "is", "rf_bytes": 64, "gbuf_kb": 512, "gbuf_banks": 8},
    {"rows": 64, "cols": 64, "dataflow": "ws", "rf_bytes": 64, "gbuf_kb": 1024, "gbuf_banks": 16},
]
#: (name, M, N, K): GEMMs of real layers, channels scaled down where the layer is large.
LAYERS = [
    ("bert.attn_scores", 128, 128, 64),
    ("bert.attn_values", 128, 64, 128),
    ("bert.ffn_up/8", 128, 384, 96),
    ("bert.qkv/8", 128, 96, 96),
    ("resnet18.fc", 1, 1000, 512),
    ("resnet18.l1.conv/8", 3136, 8, 72),
    ("resnet18.l4.down", 49, 512, 256),
    ("resnet50.l3.conv3/8", 196, 128, 32),
    ("resnet50.l4.conv2/16", 49, 32, 288),
    ("mobilenet.pw/4", 784, 48, 8),
    ("vit.proj/8", 197, 96, 96),
    ("gpt2.lm/64", 64, 784, 12),
]


def worker() -> None:
    from archgym.cost_models.zigzag_backend import zigzag_job

    jobs = json.load(sys.stdin)
    out = []
    for design in jobs:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            res = zigzag_job(d, design, [(n, m, nn, k, 1) for n, m, nn, k in LAYERS])
        sec = (time.perf_counter() - t0) / len(LAYERS)
        for (name, m, n, k), r in zip(LAYERS, res, strict=False):
            out.append(
                {"design": design, "layer": [name, m, n, k], **r, "zigzag_seconds_per_layer": sec}
            )
    json.dump(out, sys.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-python", default="/tmp/simvenv/bin/python")
    ap.add_argument("--out", default="tests/data/zigzag_energy.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker()
        return 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    t0 = time.perf_counter()
    procs = []
    for w in range(args.workers):
        p = subprocess.Popen(
            [args.sim_python, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        p.stdin.write(json.dumps(DESIGNS[w :: args.workers]))  # type: ignore[union-attr]
        p.stdin.close()  # type: ignore[union-attr]
        procs.append(p)
    results = []
    for p in procs:
        text = p.stdout.read()  # type: ignore[union-attr]
        if p.wait():
            raise SystemExit(f"ZigZag worker failed with exit code {p.returncode}")
        results += json.loads(text)
    from importlib.metadata import version  # noqa: F401  (version printed by the worker env)

    doc = {
        "generator": "benchmarks/zigzag_reference.py",
        "zigzag_version": "3.9.1",
        "search": "LOMA, opt=energy, lpf_limit=6",
        "word_bytes": 1,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "entries": results,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(results)} entries to {args.out} in {doc['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
