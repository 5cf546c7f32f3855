"""Evidence for the SCALE-Sim USER rows the fidelity figures exclude: what SCALE-Sim 3.0.0's read
buffer fetches from DRAM against what it serves to the array, when an operand does not fit.

SCALE-Sim's ``memory/read_buffer.py`` keeps two things apart: the *hit window* (which addresses
it treats as resident, a circular window over the operand's prefetch matrix that
``new_prefetch`` advances) and the *fetch requests* (the DRAM reads it counts and times). On
every ``new_prefetch`` call the request starts at ``next_line_prefetch_idx``, which the
previous call set to ``num_lines % rows`` or ``(num_lines + 1) % rows`` -- a constant, not the
previous start plus ``num_lines`` -- so every call re-requests the same lines while the hit
window moves on. This script wraps the read buffer's methods (no other change), runs SCALE-Sim
on each shipped (config, layer) pair of ``archgym/envs/accelerator/data/scalesim_shipped.json``
whose operand does not fit its SRAM, and records per read buffer:

* ``words_fetched``: addresses in its DRAM requests (SCALE-Sim's "DRAM ... Reads" also
  count the empty slots of a padded request line);
* ``distinct_fetched``: distinct addresses among them;
* ``reads``: array reads served (hits);
* ``reads_never_fetched``: reads served from an address that no DRAM request ever brought in;
* ``prefetch_start_lines``: the distinct start lines of ``new_prefetch`` requests.

A physical buffer cannot serve a word it never fetched, so a non-zero ``reads_never_fetched``
shows SCALE-Sim's DRAM count (and the stalls it times from it) is not the traffic of the data
the array reads. Run with the simulator's interpreter (the ``.sim`` venv), about 20 CPU-minutes::

    .sim/bin/python benchmarks/scalesim_refetch_probe.py [--bw 10] [--out PATH]

Output: ``archgym/envs/accelerator/data/scalesim_refetch_probe.json`` (package data, read by
:func:`archgym.envs.accelerator.fidelity.scalesim_summary`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

from archgym.cost_models.scalesim_backend import CFG

DATA = Path(__file__).resolve().parents[1] / "archgym" / "envs" / "accelerator" / "data"


def _non_fitting_pairs(ref: dict) -> list[tuple[dict, list]]:
    """(config entry, layer) pairs whose ifmap or filter operand exceeds half its SRAM."""
    seen, out = set(), []
    for e in ref["entries"]:
        name, ih, iw, fh, fw, c, k, s = e["layer"]
        oh, ow = (ih - fh) // s + 1, (iw - fw) // s + 1
        m, kk, n = oh * ow, fh * fw * c, k
        fits = m * kk <= e["ifmap_kb"] * 512 and kk * n <= e["filter_kb"] * 512
        key = (e["config"], name)
        if e["mode"] == "USER" and not fits and key not in seen:
            seen.add(key)
            out.append((e, e["layer"]))
    return out


def probe(entry: dict, layer: list, bw: int) -> dict:
    """Run SCALE-Sim once with its read buffers instrumented; counts per operand."""
    from scalesim import scale_sim
    from scalesim.memory import read_buffer as rb

    stats: dict[int, dict] = {}
    orig = {
        name: getattr(rb.read_buffer, name)
        for name in ("new_prefetch", "prefetch_active_buffer", "active_buffer_hit")
    }

    def state(buf: object) -> dict:
        return stats.setdefault(
            id(buf), {"fetched": set(), "words": 0, "reads": 0, "never": 0, "starts": set()}
        )

    def record(buf: object, first_row: int) -> None:
        st = state(buf)
        new = buf.trace_matrix[first_row:, 1:]
        st["words"] += int((new != -1).sum())
        st["fetched"].update(new[new != -1].ravel().tolist())

    def new_prefetch(self):  # noqa: ANN001, ANN202
        state(self)["starts"].add(int(self.next_line_prefetch_idx))
        before = self.trace_matrix.shape[0]
        orig["new_prefetch"](self)
        record(self, before)

    def prefetch_active_buffer(self, start_cycle):  # noqa: ANN001, ANN202
        out = orig["prefetch_active_buffer"](self, start_cycle)
        record(self, 0)
        return out

    def active_buffer_hit(self, addr):  # noqa: ANN001, ANN202
        hit = orig["active_buffer_hit"](self, addr)
        if hit:
            st = state(self)
            st["reads"] += 1
            st["never"] += addr not in st["fetched"]
        return hit

    rb.read_buffer.new_prefetch = new_prefetch
    rb.read_buffer.prefetch_active_buffer = prefetch_active_buffer
    rb.read_buffer.active_buffer_hit = active_buffer_hit
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg, topo, lay = (os.path.join(tmp, f) for f in ("c.cfg", "t.csv", "l.csv"))
            Path(cfg).write_text(
                CFG.format(
                    rows=entry["rows"],
                    cols=entry["cols"],
                    ifmap_kb=entry["ifmap_kb"],
                    filter_kb=entry["filter_kb"],
                    ofmap_kb=entry["ofmap_kb"],
                    bw=bw,
                    dataflow=entry["dataflow"],
                    mode="USER",
                )
            )
            Path(topo).write_text(
                "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                "Num Filter, Strides,\n" + ", ".join(str(v) for v in layer) + ",\n"
            )
            Path(lay).write_text("Layer name,\n")
            with contextlib.redirect_stdout(io.StringIO()):
                sim = scale_sim.scalesim(
                    save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=lay
                )
                sim.run_scale(top_path=os.path.join(tmp, "out"))
    finally:
        for name, fn in orig.items():
            setattr(rb.read_buffer, name, fn)
    # the ifmap buffer is created first, then the filter buffer
    out = {}
    for operand, st in zip(("ifmap", "filter"), stats.values(), strict=False):
        out[operand] = {
            "words_fetched": st["words"],
            "distinct_fetched": len(st["fetched"]),
            "reads": st["reads"],
            "reads_never_fetched": st["never"],
            "prefetch_start_lines": sorted(st["starts"]),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bw", type=int, default=10, help="DRAM words/cycle (10: the middle one)")
    ap.add_argument("--out", type=Path, default=DATA / "scalesim_refetch_probe.json")
    args = ap.parse_args()
    import scalesim

    ref = json.loads((DATA / "scalesim_shipped.json").read_text())
    records = []
    for entry, layer in _non_fitting_pairs(ref):
        t0 = time.process_time()
        rec = {"config": entry["config"], "layer": layer[0], "bw": args.bw}
        rec.update(probe(entry, layer, args.bw))
        rec["cpu_seconds"] = round(time.process_time() - t0, 1)
        records.append(rec)
        print(json.dumps(rec), flush=True)
    args.out.write_text(
        json.dumps(
            {
                "generator": "benchmarks/scalesim_refetch_probe.py",
                "scalesim_version": getattr(scalesim, "__version__", "3.0.0"),
                "records": records,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
