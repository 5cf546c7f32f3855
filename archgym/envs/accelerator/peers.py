"""Import a peer simulator's hardware description as an Accelerator-v2 design + energy table.

The conversion goes one way: the peer's description (a ZigZag hardware YAML with its mapping,
or a SCALE-Sim ``.cfg``) becomes a design of :class:`~archgym.envs.accelerator.model.
AcceleratorCostModel` and, for ZigZag, the per-access energies of its memories. The model then
mirrors the peer; the peer is never configured to mirror the model. A user with a ZigZag or
SCALE-Sim configuration can evaluate and search around it directly::

    imp = from_zigzag("tpu_like.yaml", mapping="tpu_like.yaml")
    model = imp.cost_model()
    model.evaluate({k: [v] for k, v in imp.design.items()}, "resnet18")

What a peer can say that Accelerator-v2 cannot (in-memory computing, an array that unrolls three
loop roles at once, a register shared by two operands, ...) is a :class:`~archgym.errors.
ConfigError` naming the field and the reason.

ZigZag's cost units (``zigzag/hardware/architecture/memory_instance.py``, ``cost_model/
cost_model.py``): ``r_cost``/``w_cost`` are pJ per access of ``bandwidth_max`` bits (an access
moves ``bandwidth_max`` bits when data move in bulk, ``bandwidth_min`` bits for a single word), so
the energy per byte is ``cost / (bandwidth_max / 8)``; ``unit_energy`` is pJ per MAC.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archgym.envs.accelerator.tables import PSUM_BITS
from archgym.errors import ConfigError

__all__ = ["ImportedAccelerator", "from_zigzag", "from_scalesim"]

#: ZigZag loop dimension -> its role in the im2col GEMM (M output pixels, N filters, K reduction).
_ROLE = {"OX": "m", "OY": "m", "B": "m", "K": "n", "C": "k", "FX": "k", "FY": "k"}
#: The pair of roles unrolled over (array rows, array columns) -> dataflow (table in model.py).
_DATAFLOW = {("k", "n"): "ws", ("m", "n"): "os", ("k", "m"): "is"}
_OPS = {"I1": "i", "I2": "w", "O": "o"}


@dataclass(frozen=True)
class ImportedAccelerator:
    """A peer's hardware as an Accelerator-v2 design.

    Attributes:
        design: Design columns for :class:`~archgym.envs.accelerator.model.AcceleratorCostModel`.
        energy_pj: Its per-access energy table (:data:`~archgym.envs.accelerator.tables.
            ENERGY_KEYS`, pJ per byte; empty for SCALE-Sim, which has no energy model).
        bandwidth_mode: ``"ideal"`` for SCALE-Sim CALC, ``"scalesim"`` for its USER mode,
            ``"limited"`` for ZigZag.
        source: The peer and the name of its description.
        notes: What the conversion approximated, one line each.
        peer_levels: ``"<operand>:<peer level>"`` -> the model's level it is compared with.
        array: How the peer's array is built (:class:`~archgym.envs.accelerator.model.
            ArrayWiring`); ``None`` for SCALE-Sim, whose array is the model's default.
    """

    design: dict[str, Any]
    energy_pj: dict[str, float] = field(default_factory=dict)
    bandwidth_mode: str = "limited"
    source: str = ""
    notes: tuple[str, ...] = ()
    peer_levels: dict[str, str] = field(default_factory=dict)
    array: Any = None

    def cost_model(self) -> Any:
        """An :class:`~archgym.envs.accelerator.model.AcceleratorCostModel` with this table
        and array wiring (:class:`~archgym.envs.accelerator.model.ArrayWiring`)."""
        from archgym.envs.accelerator.model import AcceleratorCostModel

        return AcceleratorCostModel(self.bandwidth_mode, energy_pj=self.energy_pj, array=self.array)


def _load_yaml(obj: Any, what: str) -> Any:
    import yaml

    if isinstance(obj, (dict, list)):
        return obj
    text = str(obj)
    if "\n" not in text and Path(text).exists():
        text = Path(text).read_text()
    elif "\n" not in text:
        raise ConfigError(f"{what}: {obj!r} is neither an existing file nor YAML text")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what}: not valid YAML ({exc})") from exc


def _per_byte(mem: Mapping[str, Any], cost: str, name: str) -> float:
    ports = mem.get("ports") or []
    bws = [float(p.get("bandwidth_max", 0)) for p in ports if p.get("bandwidth_max")]
    if not bws:
        raise ConfigError(f"ZigZag memory level `{name}` has no port with bandwidth_max")
    return float(mem.get(cost, 0.0)) / (max(bws) / 8.0)


def from_zigzag(
    hardware: Any, mapping: Any = None, mapping_name: str = "default"
) -> ImportedAccelerator:
    """Convert a ZigZag 3.9 hardware description (and its mapping) to Accelerator-v2.

    Args:
        hardware: Path to a ZigZag hardware YAML, its text, or the parsed dict.
        mapping: Path/text/list of the ZigZag mapping file; its ``mapping_name`` entry's
            ``spatial_mapping`` sets the array shape and the dataflow. Required unless the
            hardware is a plain 2-D array (then ``D1`` is taken as ``K`` and ``D2`` as ``C``,
            ZigZag's ``default.yaml``).
        mapping_name: Entry of the mapping file to use.

    Returns:
        The design (rows, cols, dataflow, rf_bytes, gbuf_kb, gbuf_banks, noc_bw_bytes,
        dram_bw_bytes, precision int8, tech_nm 45, psum_bits) and the energy table: MAC
        ``unit_energy``; per operand, the per-PE register (absent: 0, the operand is read from
        the buffer), the first shared level (the buffer the array reads), every further on-chip
        level as a staging level, the top level as DRAM. Its ``array`` carries the memories
        level by level (:class:`~archgym.envs.accelerator.loopnest.Hierarchy`), from which
        the model counts the shared on-chip levels' energy instead of the buffer/staging
        entries (:func:`~archgym.envs.accelerator.loopnest.level_energy_pj`).

    Raises:
        ConfigError: Something Accelerator-v2 cannot represent; the message names the field.
    """
    hw = _load_yaml(hardware, "ZigZag hardware")
    if not isinstance(hw, dict) or "memories" not in hw or "operational_array" not in hw:
        raise ConfigError("ZigZag hardware must have `memories` and `operational_array`")
    name = str(hw.get("name", "zigzag"))
    oa = hw["operational_array"]
    if oa.get("is_imc"):
        raise ConfigError(
            f"ZigZag hardware {name!r}: operational_array.is_imc is set (in-memory computing); "
            "Accelerator-v2 models digital PE arrays"
        )
    prec = oa.get("input_precision", [8, 8])
    if list(prec) != [8, 8]:
        raise ConfigError(
            f"ZigZag hardware {name!r}: operational_array.input_precision {prec} is not [8, 8]; "
            "the importer maps int8 arrays only"
        )
    dims = [str(d) for d in oa["dimensions"]]
    sizes = dict(zip(dims, (int(s) for s in oa["sizes"]), strict=True))
    notes: list[str] = []

    # -- spatial unrolling -> rows, cols, dataflow ---------------------------------------------
    if mapping is None:
        if len(dims) != 2:
            raise ConfigError(
                f"ZigZag hardware {name!r} has {len(dims)} array dimensions; pass its mapping"
            )
        spatial: dict[str, list[list[str]]] = {
            dims[0]: [["K", str(sizes[dims[0]])]],
            dims[1]: [["C", str(sizes[dims[1]])]],
        }
    else:
        entries = _load_yaml(mapping, "ZigZag mapping")
        entry = next((e for e in entries or [] if e.get("name") == mapping_name), None)
        if entry is None or "spatial_mapping" not in entry:
            raise ConfigError(
                f"ZigZag mapping has no entry {mapping_name!r} with a spatial_mapping "
                "(spatial_mapping_hint alone leaves the unrolling to ZigZag's search)"
            )
        spatial = {
            str(d): [str(x).replace(" ", "").split(",") for x in v]
            for d, v in entry["spatial_mapping"].items()
        }
    unroll: dict[str, int] = {}
    unrolled: list[tuple[str, str, int]] = []  # (array dimension, loop, factor)
    for d, loops in spatial.items():
        if d not in sizes:
            raise ConfigError(f"ZigZag mapping: spatial_mapping.{d} is not an array dimension")
        for loop, n in loops:
            role = _ROLE.get(loop)
            if role is None:
                raise ConfigError(
                    f"ZigZag mapping: spatial_mapping.{d} unrolls {loop}; Accelerator-v2 maps "
                    f"conv/GEMM loops {sorted(_ROLE)} only"
                )
            f = min(int(n), sizes[d])
            if int(n) > sizes[d]:
                notes.append(f"{d}: {loop} unrolled {n} clipped to the array size {sizes[d]}")
            unroll[role] = unroll.get(role, 1) * f
            unrolled.append((d, loop, f))
    roles = tuple(r for r in ("k", "m", "n") if r in unroll and unroll[r] > 1)
    if len(roles) != 2:
        got = {r: unroll[r] for r in roles}
        raise ConfigError(
            f"ZigZag mapping for {name!r}: spatial_mapping unrolls {len(roles)} GEMM roles "
            f"{got} (m: OX/OY/B, n: K, k: C/FX/FY); Accelerator-v2's 2-D array unrolls "
            "exactly two: its access model has one role per array dimension, so folding two "
            "roles onto one dimension would count the cycles but not the traffic (an operand "
            "multicast along one role and private along the other)"
        )
    df = _DATAFLOW[roles] if roles in _DATAFLOW else _DATAFLOW[(roles[1], roles[0])]
    rows_role, cols_role = {"ws": ("k", "n"), "os": ("m", "n"), "is": ("k", "m")}[df]
    unused = 1
    for s in sizes.values():
        unused *= s
    if unused != unroll[rows_role] * unroll[cols_role]:
        notes.append(
            f"array of {unused} MACs, {unroll[rows_role] * unroll[cols_role]} used by the "
            "spatial mapping (the design is the used part)"
        )

    # -- memory hierarchy -> RF / buffer / staging / DRAM per operand ---------------------------
    mems = hw["memories"]
    per_op: dict[str, list[str]] = {op: [] for op in _OPS}
    for mname, mem in mems.items():
        ops = [str(o) for o in mem.get("operands", [])]
        for o in ops:
            if o not in _OPS:
                raise ConfigError(f"ZigZag memory level `{mname}` holds unknown operand {o!r}")
            per_op[o].append(mname)
    energy: dict[str, float] = {"mac": float(oa.get("unit_energy", 0.0)), "noc": 0.0}
    rf_bytes, buf_levels, psum_bits = 0.0, set(), 16
    peer_levels: dict[str, str] = {}
    dram_name = None
    for o, levels in per_op.items():
        op = _OPS[o]
        if not levels:
            raise ConfigError(f"ZigZag hardware {name!r}: no memory level holds operand {o}")
        top = levels[-1]
        if dram_name not in (None, top) or float(mems[top]["size"]) < 2**30:
            raise ConfigError(
                f"ZigZag memory level `{top}` is the top level of {o} but not one off-chip DRAM "
                "shared by all operands; Accelerator-v2 has one DRAM"
            )
        dram_name = top
        peer_levels[f"{o}:{top}"] = "dram"
        on_chip = levels[:-1]
        all_dims = set(dims)
        rf = [lv for lv in on_chip if set(mems[lv].get("served_dimensions") or []) != all_dims]
        if len(rf) > 1:
            raise ConfigError(
                f"ZigZag memory levels {rf} are all per-PE levels of {o}; Accelerator-v2 has one "
                "register file per operand"
            )
        if rf:
            lv = rf[0]
            if len(mems[lv]["operands"]) > 1:
                raise ConfigError(
                    f"ZigZag memory level `{lv}` is shared across {len(mems[lv]['operands'])} "
                    "operands; Accelerator-v2 has per-operand registers"
                )
            if on_chip.index(lv) != 0:
                raise ConfigError(f"ZigZag memory level `{lv}` (per-PE) sits above a shared one")
            peer_levels[f"{o}:{lv}"] = "rf"
            r, w = _per_byte(mems[lv], "r_cost", lv), _per_byte(mems[lv], "w_cost", lv)
            energy[f"rf_{op}"] = (r + w) / 2
            rf_bytes = max(rf_bytes, float(mems[lv]["size"]) / 8)
            if o == "O":
                bw = min(float(p["bandwidth_min"]) for p in mems[lv]["ports"])
                psum_bits = max(int(bw), 8)
        else:
            energy[f"rf_{op}"] = 0.0
            notes.append(f"{o} has no per-PE register: read from the buffer (rf_{op} = 0)")
        shared = on_chip[len(rf) :]
        if not shared:
            if not rf:
                raise ConfigError(
                    f"ZigZag hardware {name!r}: {o} has no on-chip level at all; "
                    "Accelerator-v2 stages every operand on chip"
                )
            for rw in "rw":
                energy[f"buffer_{op}_{rw}"] = 0.0
            energy[f"stage_{op}"] = 0.0
            notes.append(f"{o}: DRAM feeds its per-PE register directly (no buffer energy)")
            continue
        buf = shared[0]
        buf_levels.add(buf)
        peer_levels.update({f"{o}:{lv}": "buffer" for lv in shared})
        energy[f"buffer_{op}_r"] = _per_byte(mems[buf], "r_cost", buf)
        energy[f"buffer_{op}_w"] = _per_byte(mems[buf], "w_cost", buf)
        energy[f"stage_{op}"] = sum(
            _per_byte(mems[lv], "r_cost", lv) + _per_byte(mems[lv], "w_cost", lv)
            for lv in shared[1:]
        )
        if shared[1:]:
            notes.append(
                f"{o}: {shared[1:]} staged above {buf}: their energy counted from the loop nest "
                "(ArrayWiring.hierarchy)"
            )
    assert dram_name is not None
    energy["dram_r"] = _per_byte(mems[dram_name], "r_cost", dram_name)
    energy["dram_w"] = _per_byte(mems[dram_name], "w_cost", dram_name)
    gbuf_bits = sum(float(mems[b]["size"]) for b in buf_levels)
    # each distinct buffer level has its own read port: the array's feed bandwidth is their sum
    buf_bw = sum(max(float(p["bandwidth_max"]) for p in mems[b]["ports"]) for b in buf_levels)
    dram_bw = max(float(p["bandwidth_max"]) for p in mems[dram_name]["ports"])
    design = {
        "rows": unroll[rows_role],
        "cols": unroll[cols_role],
        "dataflow": df,
        "rf_bytes": max(rf_bytes, 1.0),
        "gbuf_kb": gbuf_bits / 8 / 1024,
        # banks of 16 B (tables.GBUF_BANK_WIDTH_BYTES) giving the buffer's port width
        "gbuf_banks": max(int(buf_bw / 8 // 16), 1),
        "noc_bw_bytes": buf_bw / 8,
        "dram_bw_bytes": dram_bw / 8,
        "precision": "int8",
        "tech_nm": 45,
        "clock_mhz": 1000.0,
        "psum_bits": psum_bits,
    }
    from archgym.envs.accelerator.model import ArrayWiring

    # The array is wired to the mapping's loops (ZigZag's spatial_mapping), is not systolic
    # (its operands are multicast along served_dimensions; the next stationary tile loads under
    # the current one), and the DRAM has the ports the YAML gives it: shared by all operands
    # when one port serves them all (every shipped architecture).
    loop_unroll: dict[str, int] = {}
    for _, loop, f in unrolled:
        loop_unroll[loop] = loop_unroll.get(loop, 1) * f
    dram_ops = [
        {str(a).replace(" ", "").split(",")[0] for a in p.get("allocation", [])}
        for p in mems[dram_name]["ports"]
    ]
    one_port = any(len(ops) > 1 for ops in dram_ops)
    array = ArrayWiring(
        spatial_unroll=loop_unroll,
        fold_overlap=True,
        dram_ports="shared" if one_port else "per_operand",
        # buffers move partial sums in bulk at their data width, the int8 default (16 bits,
        # also ZigZag's workload precision); psum_bits above is the register's port width,
        # which a per-PE register access costs whole
        hierarchy=_hierarchy(mems, tuple(unrolled), sizes, PSUM_BITS["int8"]),
    )
    return ImportedAccelerator(
        design, energy, "limited", f"zigzag:{name}", tuple(notes), peer_levels, array
    )


def _hierarchy(
    mems: Mapping[str, Any],
    unrolled: tuple[tuple[str, str, int], ...],
    sizes: Mapping[str, int],
    psum_bits: int,
) -> Any:
    """The ZigZag memories level by level (:class:`~archgym.envs.accelerator.loopnest.
    Hierarchy`): capacity, per-bit energy over the widest port, the array dimensions each
    instance serves, and the spatial unrolling ``unrolled`` (``(dimension, loop, factor)``,
    factors clipped to the array); operands at 8 bits, partial sums at ``psum_bits``, final
    outputs at 8 bits."""
    from archgym.envs.accelerator.loopnest import Hierarchy, MemLevel

    levels = []
    for name, mem in mems.items():
        bw = max(float(p["bandwidth_max"]) for p in mem["ports"])
        levels.append(
            MemLevel(
                name=str(name),
                operands=tuple(_OPS[str(o)] for o in mem["operands"]),
                capacity_bits=float(mem["size"]),
                r_pj_per_bit=float(mem.get("r_cost", 0.0)) / bw,
                w_pj_per_bit=float(mem.get("w_cost", 0.0)) / bw,
                served=tuple(str(x) for x in mem.get("served_dimensions") or ()),
            )
        )
    return Hierarchy(tuple(levels), unrolled, tuple(str(d) for d in sizes), (8, 8, psum_bits, 8))


_SCALESIM_KNOWN = {
    "architecture_presets": {
        "arrayheight",
        "arraywidth",
        "ifmapsramszkb",
        "filtersramszkb",
        "ofmapsramszkb",
        "ifmapoffset",
        "filteroffset",
        "ofmapoffset",
        "bandwidth",
        "dataflow",
        "memorybanks",
        "readrequestbuffer",
        "writerequestbuffer",
    },
}


def from_scalesim(cfg: Any) -> ImportedAccelerator:
    """Convert a SCALE-Sim 2/3 ``.cfg`` (path, text or dict of sections) to Accelerator-v2.

    ``ArrayHeight``/``ArrayWidth`` -> ``rows``/``cols``; ``Dataflow``; the three SRAM sizes ->
    ``ifmap_sram_kb``/``filter_sram_kb``/``ofmap_sram_kb`` (read by the ``"scalesim"``
    bandwidth mode) and their sum as ``gbuf_kb``; ``Bandwidth`` (words/cycle, one byte each)
    -> ``dram_bw_bytes``; ``MemoryBanks`` -> ``gbuf_banks``; ``InterfaceBandwidth: CALC`` ->
    ``bandwidth_mode="ideal"``, ``USER`` -> ``"scalesim"``. SCALE-Sim has no energy model: the
    table is empty (archgym's defaults, :mod:`archgym.envs.accelerator.tables`).

    Raises:
        ConfigError: A field Accelerator-v2 cannot represent (sparsity, a non-systolic
            dataflow, a bad number); the message names it.
    """
    cp = configparser.ConfigParser()
    if isinstance(cfg, Mapping):
        cp.read_dict({s: {k: str(v) for k, v in sec.items()} for s, sec in cfg.items()})
    else:
        text = str(cfg)
        if "\n" not in text:
            if not Path(text).exists():
                raise ConfigError(f"SCALE-Sim config: {cfg!r} is neither a file nor cfg text")
            text = Path(text).read_text()
        try:
            cp.read_string(text)
        except configparser.Error as exc:
            raise ConfigError(f"SCALE-Sim config: not a valid .cfg ({exc})") from exc
    if "architecture_presets" not in cp:
        raise ConfigError("SCALE-Sim config has no [architecture_presets] section")
    arch = cp["architecture_presets"]
    unknown = sorted(set(arch) - _SCALESIM_KNOWN["architecture_presets"])
    if unknown:
        raise ConfigError(f"SCALE-Sim config: [architecture_presets] {unknown} not understood")

    def num(key: str, default: float | None = None) -> float:
        if key.lower() not in arch:
            if default is None:
                raise ConfigError(f"SCALE-Sim config: [architecture_presets] {key} is missing")
            return default
        try:
            v = float(arch[key].strip())
        except ValueError as exc:
            raise ConfigError(
                f"SCALE-Sim config: {key} must be a number, got {arch[key]!r}"
            ) from exc
        if v <= 0:
            raise ConfigError(f"SCALE-Sim config: {key} must be > 0, got {v:g}")
        return v

    df = arch.get("dataflow", "").strip().lower()
    if df not in ("os", "ws", "is"):
        raise ConfigError(
            f"SCALE-Sim config: Dataflow {df!r} is not one of os, ws, is (SCALE-Sim's systolic "
            "dataflows)"
        )
    if "sparsity" in cp and cp["sparsity"].get("sparsitysupport", "false").strip().lower() in (
        "true",
        "1",
    ):
        raise ConfigError(
            "SCALE-Sim config: [sparsity] SparsitySupport is true; Accelerator-v2 is dense"
        )
    mode = "CALC"
    if "run_presets" in cp:
        mode = cp["run_presets"].get("interfacebandwidth", "CALC").strip().upper()
    if mode not in ("CALC", "USER"):
        raise ConfigError(f"SCALE-Sim config: InterfaceBandwidth {mode!r} is not CALC or USER")
    kb = {op: num(f"{op.capitalize()}SramSzkB") for op in ("ifmap", "filter", "ofmap")}
    bw = num("Bandwidth", 10.0)
    if mode == "USER" and "layout" in cp:
        # SCALE-Sim 3.0.0 reads the ifmap/filter DRAM bandwidth from [layout]
        for key in ("ifmapsrambankbandwidth", "filtersrambankbandwidth"):
            if key in cp["layout"] and float(cp["layout"][key]) != bw:
                raise ConfigError(
                    f"SCALE-Sim config: [layout] {key} = {cp['layout'][key]} differs from "
                    f"Bandwidth = {bw:g}; Accelerator-v2 has one DRAM bandwidth per port"
                )
    design = {
        "rows": int(num("ArrayHeight")),
        "cols": int(num("ArrayWidth")),
        "dataflow": df,
        "gbuf_kb": sum(kb.values()),
        "gbuf_banks": int(num("MemoryBanks", 1.0)),
        "ifmap_sram_kb": kb["ifmap"],
        "filter_sram_kb": kb["filter"],
        "ofmap_sram_kb": kb["ofmap"],
        "dram_bw_bytes": bw,
        "precision": "int8",
    }
    name = cp["general"].get("run_name", "scalesim") if "general" in cp else "scalesim"
    return ImportedAccelerator(
        design,
        {},
        "ideal" if mode == "CALC" else "scalesim",
        f"scalesim:{name.strip()}",
        ("SCALE-Sim has no energy model: archgym's default per-access energies",),
    )
