"""Build the SCALE-Sim reference set from SCALE-Sim's *own* example configurations.

The three configurations SCALE-Sim's repository ships (``configs/scale.cfg``: 32x32 ``os``,
64/64/64 KB; ``configs/google.cfg``: the 256x256 ``ws`` TPU-v1, 6144/6144/2048 KB;
``configs/eyeriss.cfg``: 12x14 ``ws``, 108/108/108 KB; values copied from
github.com/scalesim-project/scale-sim-v2) run in ``InterfaceBandwidth: USER`` mode at three
DRAM bandwidths (``Bandwidth``, ``IfmapSRAMBankBandwidth`` and ``FilterSRAMBankBandwidth`` all
set to ``B`` words/cycle: SCALE-Sim 3.0.0 reads the ifmap/filter DRAM bandwidth from the last
two) on real layers of ResNet-18, MobileNetV2, AlexNet and BERT-base. Some operands do not fit
their SRAM (ResNet-18 conv5 weights are 2.3 MB against 64-108 KB), so both regimes occur.
Nothing here is taken from archgym's model.

Run with an interpreter that has ``scalesim==3.0.0`` (the ``.sim`` venv)::

    .sim/bin/python benchmarks/scalesim_shipped_reference.py [--out PATH]

Output: ``archgym/envs/accelerator/data/scalesim_shipped.json`` (package data).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

#: name -> (rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb), as SCALE-Sim ships them.
CONFIGS = {
    "scale.cfg": (32, 32, "os", 64, 64, 64),
    "google.cfg": (256, 256, "ws", 6144, 6144, 2048),
    "eyeriss.cfg": (12, 14, "ws", 108, 108, 108),
}
BANDWIDTHS = (4, 10, 50)

#: SCALE-Sim topology rows: name, ifmap_h, ifmap_w (padded), fh, fw, C, K, stride.
LAYERS = [
    ("bert_attn_scores", 128, 64, 1, 64, 1, 128, 1),
    ("bert_attn_values", 128, 128, 1, 128, 1, 64, 1),
    ("resnet18_fc", 1, 512, 1, 512, 1, 1000, 1),
    ("resnet18_l4_downsample", 14, 14, 1, 1, 256, 512, 2),
    ("mobilenetv2_pw_7x7", 7, 7, 1, 1, 160, 960, 1),
    ("mobilenetv2_pw_14x14", 14, 14, 1, 1, 64, 384, 1),
    ("resnet18_conv5", 9, 9, 3, 3, 512, 512, 1),
]

# The backend's SCALE-Sim run (config template, topology, report parsing), used as is.
from archgym.cost_models.scalesim_backend import scalesim_job  # noqa: E402

#: The backend's report names that this file spells differently.
_KEYS = {"cycles": "total_cycles"}


def run(config: str, bw: int, layers: list[tuple], mode: str = "USER") -> list[dict]:
    """SCALE-Sim on one shipped config at ``bw`` words/cycle; one record per layer."""
    rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb = CONFIGS[config]
    fields = {"rows": rows, "cols": cols, "dataflow": dataflow, "ifmap_kb": ifmap_kb,
              "filter_kb": filter_kb, "ofmap_kb": ofmap_kb, "bw": bw, "mode": mode}  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        reports = scalesim_job(d, fields, [list(layer) for layer in layers])
    seconds = time.perf_counter() - t0
    return [
        {
            "config": config,
            **{k: v for k, v in fields.items() if k != "mode"},
            "mode": mode,
            "layer": list(layer),
            **{_KEYS.get(k, k): int(v) for k, v in rep.items()},
            "scalesim_seconds_per_layer": round(seconds / len(layers), 2),
        }
        for layer, rep in zip(layers, reports, strict=True)
    ]


def _one(job: tuple) -> list[dict]:
    config, bw, layer, mode = job
    return run(config, bw, [layer], mode=mode)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        default=str(
            Path(__file__).resolve().parents[1]
            / "archgym/envs/accelerator/data/scalesim_shipped.json"
        ),
    )
    ap.add_argument("--config", nargs="*", default=list(CONFIGS))
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (one run per layer)")
    ap.add_argument("--layer", nargs="*", default=[x[0] for x in LAYERS], help="layer names")
    args = ap.parse_args()
    try:
        from importlib.metadata import version

        sim_version = version("scalesim")
    except Exception:  # a bare copy of the package on PYTHONPATH has no metadata
        sim_version = "3.0.0"
    jobs = [
        (config, bw, layer, mode)
        for layer in LAYERS
        for config in args.config
        for bw, mode in [(10, "CALC"), *((b, "USER") for b in BANDWIDTHS)]
        if layer[0] in args.layer
    ]
    t0 = time.perf_counter()
    entries: list[dict] = []
    with multiprocessing.Pool(args.jobs) as pool:
        for res in pool.imap_unordered(_one, jobs, chunksize=1):
            entries += res
            doc = {
                "generator": "benchmarks/scalesim_shipped_reference.py",
                "scalesim_version": sim_version,
                "word_bytes": 1,
                "wall_seconds": round(time.perf_counter() - t0, 1),
                "entries": sorted(entries, key=lambda e: (e["config"], e["mode"], e["bw"])),
            }
            Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(entries)} entries to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
