"""Build the ZigZag reference set from ZigZag's *own* shipped inputs.

Every hardware description that ZigZag 3.9.1 ships in its wheel
(``zigzag/inputs/hardware/*.yaml``, the digital ones), each with the mapping file ZigZag ships
for it (``zigzag/inputs/mapping/<name>.yaml``), runs the ONNX networks ZigZag ships
(``zigzag/inputs/workload/*.onnx``). Nothing is taken from archgym's model: the constants, array
shapes, memory hierarchies and spatial unrollings are the ZigZag authors'. Per layer it records
the layer's loop sizes, ZigZag's latency (``latency_total2``, ``ideal_cycle``), total energy,
MAC energy and the energy of every memory level of every operand (with the level's name).

Run with an interpreter that has ``zigzag-dse==3.9.1`` (the ``.sim`` venv of ``.ci/simulators``)::

    .sim/bin/python benchmarks/zigzag_shipped_reference.py \
        [--arch tpu_like ...] [--network resnet18 ...] [--out PATH]

The output is package data (``archgym/envs/accelerator/data/zigzag_shipped.json``) read by
``archgym validate accelerator --against zigzag`` and ``benchmarks/bench_accelerator_fidelity.py``.
Runs are merged into an existing output file, keyed by (arch, network).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import tempfile
import time
from pathlib import Path

#: The shipped digital architectures and the mapping file ZigZag ships for each.
ARCHS = {
    "tpu_like": "tpu_like",
    "edge_tpu_like": "edge_tpu_like",
    "eyeriss_like": "default",
    "meta_prototype": "meta_prototype_like",
    "ascend_like": "ascend_like",
    "tesla_npu_like": "tesla_npu_like",
    "generic_array_cacti": "default",
}
NETWORKS = ("resnet18", "mobilenetv2", "alexnet")
OUT = Path(__file__).resolve().parents[1] / "archgym/envs/accelerator/data/zigzag_shipped.json"


def _record(arch: str, network: str, cme: object) -> dict[str, object]:
    layer = cme.layer  # type: ignore[attr-defined]
    links = layer.memory_operand_links
    levels: dict[str, list[list[object]]] = {}
    for op, energies in cme.mem_energy_breakdown.items():  # type: ignore[attr-defined]
        mem_op = links.layer_to_mem_op(op)
        names = [lv.name for lv in cme.mem_hierarchy_dict[mem_op]]  # type: ignore[attr-defined]
        levels[str(op)] = [[n, float(e)] for n, e in zip(names, energies, strict=True)]
    return {
        "arch": arch,
        "network": network,
        "layer": str(layer.name),
        "layer_type": str(layer.type),
        "loop_sizes": {str(k): int(v) for k, v in layer.layer_dim_sizes.data.items()},
        "precision": {str(k): int(v) for k, v in layer.operand_precision.data.items()},
        "spatial_mapping": str(cme.spatial_mapping),  # type: ignore[attr-defined]
        "temporal_mapping": str(cme.temporal_mapping),  # type: ignore[attr-defined]
        "energy_pj": float(cme.energy_total),  # type: ignore[attr-defined]
        "mac_energy_pj": float(cme.mac_energy),  # type: ignore[attr-defined]
        "mem_energy_pj": levels,
        "cycles": float(cme.latency_total2),  # type: ignore[attr-defined]
        "ideal_cycles": float(cme.ideal_cycle),  # type: ignore[attr-defined]
        "macs": int(layer.total_mac_count),
    }


def run(arch: str, network: str) -> list[dict[str, object]]:
    """ZigZag on one shipped (architecture, network); one record per layer."""
    import zigzag
    from zigzag import api

    base = Path(zigzag.__file__).parent / "inputs"
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, _, cmes = api.get_hardware_performance_zigzag(
                str(base / "workload" / f"{network}.onnx"),
                str(base / "hardware" / f"{arch}.yaml"),
                str(base / "mapping" / f"{ARCHS[arch]}.yaml"),
                opt="energy",
                dump_folder=os.path.join(tmp, "out"),
                loma_show_progress_bar=False,
                lpf_limit=6,
            )
    strides = onnx_strides(base / "workload" / f"{network}.onnx")
    recs = [_record(arch, network, cme) for cme, _ in cmes[0][1]]
    for r in recs:
        r["stride"] = strides.get(str(r["layer"]), 1)
    return recs


def onnx_strides(path: Path) -> dict[str, int]:
    """Stride of every Conv node of an ONNX model (ZigZag's loop sizes do not carry it)."""
    import onnx

    out = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        for att in node.attribute:
            if att.name == "strides":
                out[node.name] = int(att.ints[0])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="*", default=list(ARCHS))
    ap.add_argument("--network", nargs="*", default=["resnet18"])
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    doc.update(
        {
            "generator": "benchmarks/zigzag_shipped_reference.py",
            "zigzag_version": "3.9.1",
            "search": "LOMA, opt=energy, lpf_limit=6, shipped hardware/mapping/workload",
        }
    )
    import yaml
    import zigzag

    base = Path(zigzag.__file__).parent / "inputs"
    # the peers' own descriptions, so that the importer can run without ZigZag installed
    doc["hardware"] = {
        a: yaml.safe_load((base / "hardware" / f"{a}.yaml").read_text()) for a in ARCHS
    }
    doc["mapping"] = {
        a: yaml.safe_load((base / "mapping" / f"{m}.yaml").read_text()) for a, m in ARCHS.items()
    }
    for arch in args.arch:
        for network in args.network:
            t0 = time.perf_counter()
            recs = run(arch, network)
            sec = time.perf_counter() - t0
            doc["runs"][f"{arch}/{network}"] = {"seconds": round(sec, 1), "layers": recs}
            out.write_text(json.dumps(doc, indent=1) + "\n")
            print(f"{arch}/{network}: {len(recs)} layers in {sec:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
