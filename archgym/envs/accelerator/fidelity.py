"""Compare Accelerator-v2 with its peers on the shipped reference set (package data).

The reference set (``archgym/envs/accelerator/data/``) holds peer runs configured as their
authors ship them: ``zigzag_shipped.json`` (ZigZag 3.9.1 on its own hardware descriptions,
mappings and ONNX workloads; ``benchmarks/zigzag_shipped_reference.py``) and
``scalesim_shipped.json`` (SCALE-Sim 3.0.0 on its own example configurations in CALC and USER
modes; ``benchmarks/scalesim_shipped_reference.py``). Each peer description goes through the
importer (:mod:`archgym.envs.accelerator.peers`) -- the model mirrors the peer -- and the model's
per-layer latency and energy per level are compared with the peer's.

Used by ``archgym validate accelerator``, ``benchmarks/bench_accelerator_fidelity.py`` and
the tests.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

from archgym.envs.accelerator.peers import from_scalesim, from_zigzag
from archgym.errors import ConfigError
from archgym.workloads import Layer, Workload

__all__ = [
    "load_reference",
    "zigzag_layer",
    "zigzag_rows",
    "zigzag_summary",
    "scalesim_rows",
    "scalesim_summary",
    "spearman",
]

LEVELS = ("mac", "rf", "buffer", "dram")


def load_reference(name: str) -> dict[str, Any]:
    """A reference file shipped in ``archgym.envs.accelerator/data`` (e.g. ``zigzag_shipped``)."""
    try:
        text = resources.files("archgym.envs.accelerator").joinpath(f"data/{name}.json").read_text()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no reference data {name!r} in archgym/envs/accelerator/data; "
            "expected zigzag_shipped or scalesim_shipped"
        ) from exc
    return json.loads(text)


def zigzag_layer(rec: dict[str, Any]) -> Layer:
    """The archgym layer of a ZigZag reference record (loop sizes + stride)."""
    ls = rec["loop_sizes"]
    g = int(ls.get("G", 1))
    s = int(rec.get("stride", 1))
    fy, fx = int(ls.get("FY", 1)), int(ls.get("FX", 1))
    oy, ox = int(ls.get("OY", 1)), int(ls.get("OX", 1))
    b = int(ls.get("B", 1))
    c, k = int(ls.get("C", 1)), int(ls.get("K", 1))
    name = str(rec["layer"])
    if fy == fx == oy == ox == 1:
        return Layer.gemm(name, m=b, n=k * g, k=c)
    return Layer(
        name,
        "conv",
        (oy - 1) * s + fy,
        (ox - 1) * s + fx,
        fy,
        fx,
        c * g,
        k * g,
        stride=s,
        groups=g,
        repeat=b,
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:  # undefined for a constant input
        return float("nan")
    return float(spearmanr(a, b).statistic)


def zigzag_rows(ref: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Per-(architecture, layer) comparison rows and the architectures the importer refused
    (name -> the importer's reason)."""
    rows: list[dict[str, Any]] = []
    refused: dict[str, str] = {}
    for key, run in ref["runs"].items():
        arch = key.split("/")[0]
        try:
            imp = from_zigzag(ref["hardware"][arch], ref["mapping"][arch])
        except ConfigError as exc:
            refused[arch] = str(exc)
            continue
        model = imp.cost_model()
        layers = [zigzag_layer(r) for r in run["layers"]]
        cols = {k: np.array([v]) for k, v in imp.design.items()}
        per, feasible, reasons = model.evaluate_layers(cols, Workload(key, tuple(layers)))
        if not feasible[0]:
            refused[arch] = f"imported design infeasible: {reasons[0]}"
            continue
        for j, rec in enumerate(run["layers"]):
            peer = {lv: 0.0 for lv in LEVELS}
            peer["mac"] = rec["mac_energy_pj"]
            for op, levels in rec["mem_energy_pj"].items():
                mem_op = {"I": "I1", "W": "I2", "O": "O"}[op]
                for lv_name, e in levels:
                    peer[imp.peer_levels[f"{mem_op}:{lv_name}"]] += e
            model_lv = {lv: float(per[f"energy_{lv}_j"][0, j]) * 1e12 for lv in LEVELS}
            model_lv["buffer"] += float(per["energy_noc_j"][0, j]) * 1e12
            rows.append(
                {
                    "arch": arch,
                    "network": key.split("/")[1],
                    "layer": rec["layer"],
                    "sim_energy_pj": rec["energy_pj"],
                    "model_energy_pj": sum(model_lv.values()),
                    "sim_cycles": rec["cycles"],
                    "model_cycles": float(per["cycles"][0, j]),
                    **{f"sim_{lv}_pj": peer[lv] for lv in LEVELS},
                    **{f"model_{lv}_pj": model_lv[lv] for lv in LEVELS},
                }
            )
    for r in rows:
        r["energy_err"] = r["model_energy_pj"] / r["sim_energy_pj"] - 1
        r["cycles_err"] = r["model_cycles"] / r["sim_cycles"] - 1
        on_sim = r["sim_energy_pj"] - r["sim_dram_pj"]
        on_model = r["model_energy_pj"] - r["model_dram_pj"]
        r["on_chip_err"] = on_model / on_sim - 1 if on_sim > 0 else float("nan")
        for lv in LEVELS:
            s = r[f"sim_{lv}_pj"]
            r[f"{lv}_err"] = r[f"model_{lv}_pj"] / s - 1 if s > 0 else float("nan")
    return rows, refused


def _rank_within(rows: list[dict[str, Any]], sim: str, model: str) -> list[float]:
    by_layer: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by_layer.setdefault((r["network"], r["layer"]), []).append(r)
    out = []
    for group in by_layer.values():
        if len(group) >= 3:
            out.append(
                spearman(np.array([g[sim] for g in group]), np.array([g[model] for g in group]))
            )
    return [x for x in out if np.isfinite(x)]


def zigzag_summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The issue's ZigZag figures: share of rows within 10 % / 25 %, median and p90 error,
    per-level median |error|, within-layer Spearman of the architectures (energy, latency)."""
    if not rows:
        return {"rows": 0}
    err = np.abs([r["energy_err"] for r in rows])
    out: dict[str, float] = {
        "rows": len(rows),
        "energy_within_10pct": float(np.mean(err <= 0.10)),
        "energy_within_25pct": float(np.mean(err <= 0.25)),
        "energy_median_err": float(np.median(err)),
        "energy_p90_err": float(np.percentile(err, 90)),
        "on_chip_median_err": float(np.nanmedian(np.abs([r["on_chip_err"] for r in rows]))),
        "cycles_median_err": float(np.median(np.abs([r["cycles_err"] for r in rows]))),
    }
    for lv in LEVELS:
        e = np.abs([r[f"{lv}_err"] for r in rows])
        out[f"{lv}_median_err"] = float(np.nanmedian(e)) if np.isfinite(e).any() else float("nan")
    for what, sim, model in (
        ("energy", "sim_energy_pj", "model_energy_pj"),
        ("latency", "sim_cycles", "model_cycles"),
    ):
        rho = _rank_within(rows, sim, model)
        out[f"{what}_spearman_median"] = float(np.median(rho)) if rho else float("nan")
        out[f"{what}_spearman_min"] = float(np.min(rho)) if rho else float("nan")
    return out


def _scalesim_cfg(e: dict[str, Any], mode: str) -> dict[str, dict[str, Any]]:
    return {
        "general": {"run_name": e["config"]},
        "architecture_presets": {
            "ArrayHeight": e["rows"],
            "ArrayWidth": e["cols"],
            "IfmapSramSzkB": e["ifmap_kb"],
            "FilterSramSzkB": e["filter_kb"],
            "OfmapSramSzkB": e["ofmap_kb"],
            "Bandwidth": e["bw"],
            "Dataflow": e["dataflow"],
            "MemoryBanks": 1,
        },
        "run_presets": {"InterfaceBandwidth": mode},
    }


def _probe_evidence() -> dict[tuple[str, str], float]:
    """(config, layer) -> the largest share of a read operand's array reads that SCALE-Sim
    served from addresses it never fetched (``benchmarks/scalesim_refetch_probe.py``)."""
    try:
        probe = load_reference("scalesim_refetch_probe")
    except ConfigError:
        return {}
    out = {}
    for rec in probe["records"]:
        shares = [
            rec[op]["reads_never_fetched"] / rec[op]["reads"]
            for op in ("ifmap", "filter")
            if op in rec and rec[op]["reads"]
        ]
        out[(rec["config"], rec["layer"])] = max(shares, default=0.0)
    return out


def scalesim_rows(ref: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-(config, bandwidth, mode, layer) rows: SCALE-Sim's cycles against the model's,
    each config imported by :func:`~archgym.envs.accelerator.peers.from_scalesim`. ``fits``
    says whether both read operands fit half their SRAM (SCALE-Sim's prefetch regime);
    ``never_fetched`` is the share of a read operand's array reads SCALE-Sim served from
    addresses it never fetched from DRAM (NaN where the pair was not probed)."""
    evidence = _probe_evidence()
    rows = []
    for e in ref["entries"]:
        imp = from_scalesim(_scalesim_cfg(e, e["mode"]))
        name, ih, iw, fh, fw, c, k, s = e["layer"]
        layer = Layer(name, "conv", ih, iw, fh, fw, c, k, stride=s)
        cols = {key: np.array([v]) for key, v in imp.design.items()}
        per, feasible, reasons = imp.cost_model().evaluate_layers(cols, layer)
        if not feasible[0]:
            raise ConfigError(f"SCALE-Sim config {e['config']} infeasible in the model: {reasons}")
        m, kk, n = layer.m, layer.k, layer.n
        fits = m * kk <= e["ifmap_kb"] * 512 and kk * n <= e["filter_kb"] * 512
        rows.append(
            {
                "config": e["config"],
                "mode": e["mode"],
                "bw": e["bw"],
                "layer": name,
                "fits": bool(fits),
                "sim_cycles": e["total_cycles"],
                "sim_stall_cycles": e["stall_cycles"],
                "model_cycles": float(per["cycles"][0, 0]),
                "model_compute_cycles": float(per["compute_cycles"][0, 0]),
                "sim_dram_reads": e["dram_ifmap_reads"] + e["dram_filter_reads"],
                "array_reads": float(per["sram_read_words"][0, 0]),
                # DRAM reads of a read-only operand beyond what the array reads from the SRAM:
                # words fetched and never used (SCALE-Sim 3.0.0's prefetch of a non-fitting
                # operand; see AcceleratorCostModel's _scalesim_user_cycles)
                "overfetch": max(
                    e["dram_ifmap_reads"] / max(e["sram_ifmap_reads"], 1),
                    e["dram_filter_reads"] / max(e["sram_filter_reads"], 1),
                ),
                "never_fetched": evidence.get((e["config"], name), float("nan")),
            }
        )
    for r in rows:
        r["cycles_err"] = r["model_cycles"] / r["sim_cycles"] - 1
    return rows


def scalesim_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stall-free equality (CALC) and USER-mode latency within 5 %, by regime.

    Where an operand does not fit, the model re-fetches it once per pass of the dataflow
    (:func:`~archgym.envs.accelerator.model._scalesim_user_cycles`). Rows where SCALE-Sim
    reads a non-fitting operand from DRAM more often than its array reads it (``overfetch`` >
    1.05) are excluded from the regime figures and named in ``user_excluded``: a buffer that
    fetches more words than the array reads fetched words it never used, and the probe
    (``never_fetched``, ``benchmarks/scalesim_refetch_probe.py``) shows SCALE-Sim serving
    most of those reads from addresses it never fetched -- its DRAM count, which sets its
    stall time there, is not the traffic of the data the array reads.
    ``user_non_fitting_all_within_5pct`` is the regime's figure with no row excluded."""
    calc = [r for r in rows if r["mode"] == "CALC"]
    user = [r for r in rows if r["mode"] == "USER"]
    out: dict[str, Any] = {
        "calc_rows": len(calc),
        "calc_exact": float(np.mean([r["model_cycles"] == r["sim_cycles"] for r in calc]))
        if calc
        else float("nan"),
        "user_rows": len(user),
        "user_stalled_rows": sum(r["sim_stall_cycles"] > 0 for r in user),
    }
    bad = [r for r in user if not r["fits"] and r["overfetch"] > 1.05]
    out["user_overfetch_rows"] = len(bad)
    out["user_overfetch_min_ratio"] = min((r["overfetch"] for r in bad), default=float("nan"))
    out["user_overfetch_max_ratio"] = max((r["overfetch"] for r in bad), default=float("nan"))
    probed = [r["never_fetched"] for r in bad if np.isfinite(r["never_fetched"])]
    out["user_excluded_probed_rows"] = len(probed)
    out["user_excluded_never_fetched_min"] = min(probed, default=float("nan"))
    out["user_excluded_never_fetched_max"] = max(probed, default=float("nan"))
    out["user_excluded"] = [f"{r['config']} bw={r['bw']} {r['layer']}" for r in bad]
    nf = [r for r in user if not r["fits"]]
    out["user_non_fitting_all_rows"] = len(nf)
    out["user_non_fitting_all_within_5pct"] = (
        float(np.mean([abs(r["cycles_err"]) <= 0.05 for r in nf])) if nf else float("nan")
    )
    for regime, sel in (("fitting", True), ("non_fitting", False)):
        rs = [r for r in user if r["fits"] == sel and r not in bad]
        out[f"user_{regime}_rows"] = len(rs)
        out[f"user_{regime}_within_5pct"] = (
            float(np.mean([abs(r["cycles_err"]) <= 0.05 for r in rs])) if rs else float("nan")
        )
        st = [r for r in rs if r["sim_stall_cycles"] > 0]
        out[f"user_{regime}_stalled_within_5pct"] = (
            float(np.mean([abs(r["cycles_err"]) <= 0.05 for r in st])) if st else float("nan")
        )
    return out
