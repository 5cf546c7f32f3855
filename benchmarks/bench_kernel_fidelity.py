"""Fidelity of the kernel cost models on held-out shapes, per GPU and per path.

    python benchmarks/bench_kernel_fidelity.py                  # both GPUs, 5 folds
    python benchmarks/bench_kernel_fidelity.py --gpu H200-SXM --objective residual
    python benchmarks/bench_kernel_fidelity.py --pick max-median   # kernel-learned@6's pick
    python benchmarks/bench_kernel_fidelity.py --dataset mygpu.csv.gz --gpu MYGPU

Grouped K-fold by shape: in each fold the analytical calibration
(:func:`archgym.envs.kernel.calibrate.fit_calibration`) and the learned model are fitted on the
training shapes only, then predict the held-out shapes. Printed per GPU:

* per path (``backend/family/precision``): median and p90 ``|predicted / measured - 1|``;
* Triton tile configs, per (shape, op, precision, pattern) group of >= 20 timed configs:
  per-group Spearman of predicted vs measured time (the learned model: of its ranking key
  ``pick_s``, the order it picks by; its |error| is of ``latency_s``); top-1 hit (the model's
  pick is the measured best); top-5 hit (the measured best is among the model's 5 best); regret
  of the pick (``measured(pick) / measured best - 1``: median, p90, worst);
* baselines: a random config (expected regret of a uniform pick) and the best fixed config
  (the tile config with the lowest mean log slowdown on the training shapes; on a group
  where it was not timed, the best-scored fixed config that was);
* the repeat-to-repeat floor (H200): the 8 fastest configs of each group were timed again
  (``kernels_h200_repeat.parquet``); printed are the spread of the two timings and the regret
  that picking the first timing's best costs under the second timing -- a regret of that
  size is measurement noise, not a model error;
* feasibility confusion of the rules on all records;
* prediction throughput of both models (designs/s; CPU time and wall, 3 repeats).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from archgym.envs.kernel.analytical import KernelAnalyticalCostModel, path_keys
from archgym.envs.kernel.calibrate import (
    REGISTER_PARAMS,
    SHIPPED_REGISTERS,
    fit_calibration,
    predict_rows,
    shipped_params,
)
from archgym.envs.kernel.constraints import check_designs
from archgym.envs.kernel.dataset import DATASETS, load_dataset, trusted_rows
from archgym.envs.kernel.env import _gpu_from_spec
from archgym.envs.kernel.gpus import get_gpu
from archgym.envs.kernel.learned import (
    PICKS,
    KernelLearnedCostModel,
    _predict,
    fit_kernel_model,
)
from archgym.envs.kernel.measure.plan import point_workload

TILE = ("block_m", "block_n", "block_k", "group_m", "num_warps", "num_stages", "split_k")
ROWS = (
    "op", "m", "n", "k", "groups", "backend", "precision", "sparsity", "density", "sparse_block",
    *TILE,
)  # fmt: skip


def _register_params(
    gpu: str, registers: str = "", int4_rate: bool | None = None
) -> dict[str, tuple[float, float, float]]:
    """The constants a fold's calibration fits: those of the register term ``registers``
    (default ``gpu``'s shipped one), with ``int4_rate`` held at 1 if ``int4_rate`` (default:
    ``gpu``'s shipped choice, ``calibrate.SHIPPED_INT4_RATE``)."""
    return shipped_params(gpu, registers or None, int4_rate)


def heldout_predictions(  # type: ignore[no-untyped-def]
    frame,
    gpu,
    folds,
    objective,
    seed=0,
    max_iter=300,
    pick="ranked",
    registers="",
    int4_rate=None,
    jobs=1,
):
    """Trusted timed rows with held-out ``ana`` and ``lrn`` predictions, the learned model's
    ranking key ``pick`` and a ``fold``; ``jobs`` folds fitted at once (processes)."""
    from sklearn.model_selection import GroupKFold

    spec = get_gpu(gpu)
    df = trusted_rows(frame).copy()
    df["ana"], df["lrn"], df["pick"], df["fold"] = np.nan, np.nan, np.nan, -1
    params = _register_params(spec.name, registers, int4_rate)
    splits = list(GroupKFold(n_splits=folds).split(df, groups=df["shape"]))
    tasks = [
        (df.iloc[tr], df.iloc[te], spec, objective, seed, max_iter, pick, params)
        for tr, te in splits
    ]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(jobs, folds)) as pool:
            results = list(pool.map(_fold, tasks))
    else:
        results = [_fold(t) for t in tasks]
    fit_s = []
    for i, ((_, te), (ana, lat, key, fit)) in enumerate(zip(splits, results, strict=True)):
        index = df.index[te]
        df.loc[index, "ana"], df.loc[index, "lrn"], df.loc[index, "pick"] = ana, lat, key
        df.loc[index, "fold"] = i
        fit_s.append(fit)
    df["path"] = path_keys(df["backend"], df["sparsity"], df["precision"], df["op"])
    return df, fit_s


def _fold(task: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One fold: calibration and learned model fitted on ``train``; ``test``'s analytical and
    learned latency, ranking key, and the fit's wall seconds."""
    train, test, spec, objective, seed, max_iter, pick, params = task
    t0 = time.perf_counter()
    calib = fit_calibration(train, spec, seed=seed, params=params)
    model = fit_kernel_model(
        train, spec, objective, seed, max_iter=max_iter, calib=calib, pick=pick
    )
    fit = time.perf_counter() - t0
    lat, key = _predict(model, {c: test[c].to_numpy() for c in ROWS}, spec)
    return predict_rows(test, spec, calib), lat, key, fit


def error_table(df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name in ("ana", "lrn"):
        e = (df[name] / df["latency_s"] - 1).abs() * 100
        g = e.groupby(df["path"])
        out[f"{name} med %"] = g.median()
        out[f"{name} p90 %"] = g.quantile(0.9)
    out["rows"] = df.groupby("path").size()
    return pd.DataFrame(out).round(1)


def fixed_config_scores(train: pd.DataFrame) -> dict[str, list[tuple]]:
    """Per precision, tile configs sorted by mean log slowdown over the training groups."""
    out: dict[str, list[tuple]] = {}
    for prec, part in train.groupby("precision"):
        slow = np.log(part["latency_s"]) - np.log(
            part.groupby(["shape", "op", "sparsity"])["latency_s"].transform("min")
        )
        n_groups = part.groupby(["shape", "op", "sparsity"]).ngroups
        agg = slow.groupby([part[c] for c in TILE]).agg(["mean", "size"])
        agg = agg[agg["size"] >= max(1, n_groups // 2)]  # timed on at least half the groups
        out[str(prec)] = list(agg.sort_values("mean").index)
    return out


def ranking(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One row per held-out Triton group: Spearman, hits, regrets, baselines."""
    from scipy.stats import spearmanr

    tri = df[df["backend"] == "triton"]
    rows = []
    for fold, part in tri.groupby("fold"):
        fixed = fixed_config_scores(tri[tri["fold"] != fold])
        for key, grp in part.groupby(["shape", "op", "precision", "sparsity"]):
            if len(grp) < 20:
                continue
            meas = grp["latency_s"].to_numpy()
            best = meas.min()
            rec = {"group": "|".join(map(str, key)), "precision": key[2], "configs": len(grp)}
            for name in ("ana", "lrn"):
                # the learned model picks by its ranking key where there is one
                pred = grp["pick" if name == "lrn" and "pick" in grp else name].to_numpy()
                order = np.argsort(pred, kind="stable")
                rec[f"{name}_rho"] = spearmanr(pred, meas).statistic
                rec[f"{name}_top1"] = meas[order[0]] == best
                rec[f"{name}_top5"] = best in meas[order[:5]]
                rec[f"{name}_regret"] = meas[order[0]] / best - 1
                rec[f"{name}_ties"] = int(np.sum(np.isclose(pred, pred[order[0]], rtol=1e-9)))
            rec["random_regret"] = float(np.mean(meas / best - 1))
            tiles = list(grp[list(TILE)].itertuples(index=False, name=None))
            pick = next((c for c in fixed.get(key[2], []) if c in tiles), None)
            rec["fixed_regret"] = (
                meas[tiles.index(pick)] / best - 1 if pick is not None else float("nan")
            )
            rows.append(rec)
    return pd.DataFrame(rows)


def repeat_floor(frame: pd.DataFrame, repeat_path: str) -> str:
    """The repeat spread and the noise floor of the regret (see the module docstring)."""
    from pathlib import Path

    if not Path(repeat_path).exists():
        return ""
    again = pd.read_parquet(repeat_path)
    key = ["shape", "op", "precision", "sparsity", *TILE]
    first = frame[frame["feasible"]].drop_duplicates(key).set_index(key)["latency_s"]
    both = (
        again[again["feasible"]]
        .set_index(key)[["latency_s"]]
        .rename(columns={"latency_s": "again"})
    )
    both["first"] = first.reindex(both.index)
    both = both.dropna().reset_index()
    spread = (both["again"] / both["first"] - 1).abs() * 100
    floor = (
        both.groupby(["shape", "op", "precision"]).apply(
            lambda g: g["again"].iloc[int(np.argmin(g["first"].to_numpy()))] / g["again"].min() - 1,
            include_groups=False,
        )
        * 100
    )
    return (
        f"repeat floor ({len(both)} points timed twice, {len(floor)} groups): |second/first - 1| "
        f"median {spread.median():.2f} %, p90 {spread.quantile(0.9):.2f} %; regret of the first "
        f"timing's best under the second: median {floor.median():.1f} %, p90 "
        f"{floor.quantile(0.9):.1f} %, worst {floor.max():.1f} %"
    )


def feasibility(frame: pd.DataFrame, gpu: str) -> dict[str, int]:
    spec = get_gpu(gpu)
    acc = np.zeros(len(frame), dtype=bool)
    for _, grp in frame.groupby(["op", "m", "n", "k", "groups"]):
        ok, _ = check_designs(
            {c: grp[c].to_numpy() for c in grp.columns}, point_workload(grp.iloc[0]), spec
        )
        acc[frame.index.get_indexer(grp.index)] = ok
    ran = frame["feasible"].astype(bool).to_numpy()
    return {
        "accepted_ran": int((acc & ran).sum()),
        "accepted_failed": int((acc & ~ran).sum()),
        "rejected_ran": int((~acc & ran).sum()),
        "rejected_failed": int((~acc & ~ran).sum()),
    }


def throughput(gpu: str, dataset: str, n: int = 100_000) -> dict[str, tuple[float, float]]:
    """designs/s of both models on ``n`` Triton designs of one workload: (best, median)."""
    from archgym.envs.kernel.env import kernel_space, kernel_workload

    space = kernel_space("gemm")
    rng = np.random.default_rng(0)
    designs = space.sample(rng, n)
    cols = {k: np.asarray([d[k] for d in designs]) for k in designs[0]}
    wl = kernel_workload("llama-7b.ffn_up@2048")
    out = {}
    models = {
        "analytical": KernelAnalyticalCostModel(gpu),
        "learned": KernelLearnedCostModel(gpu, dataset=dataset),
    }
    models["learned"].evaluate_columns({k: v[:10] for k, v in cols.items()}, wl)  # fit first
    for name, model in models.items():
        rates = []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            model.evaluate_columns(cols, wl)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rates.append((n / wall, n / max(cpu, 1e-9)))
        wall_rates = sorted(r[0] for r in rates)
        cpu_rates = sorted(r[1] for r in rates)
        out[name] = (wall_rates[-1], float(np.median(wall_rates)), float(np.median(cpu_rates)))
    return out


def report(
    gpu: str,
    dataset: str,
    folds: int,
    objective: str,
    max_iter: int = 300,
    groups_out: str = "",
    pick: str = "ranked",
    registers: str = "",
    int4_rate: bool | None = None,
    jobs: int = 1,
) -> None:
    frame = load_dataset(dataset, gpu)
    df, fit_s = heldout_predictions(
        frame, gpu, folds, objective, 0, max_iter, pick, registers, int4_rate, jobs
    )
    reg = registers or SHIPPED_REGISTERS.get(gpu, "physical")
    rate = "int4_rate" in _register_params(gpu, registers, int4_rate)
    print(f"\n=== {gpu}: {len(df)} trusted timed rows, {df['shape'].nunique()} shapes, "
          f"{folds}-fold by shape, learned objective {objective!r}, pick {pick!r}, "
          f"register term {reg!r}{', int4 rate' if rate else ''} "
          f"(fit per fold: {np.median(fit_s):.1f} s wall)")  # fmt: skip
    print("\n|error| on held-out shapes (ana = analytical, lrn = learned):")
    print(error_table(df).to_string())
    r = ranking(df)
    if groups_out:
        r.to_csv(groups_out.replace("{gpu}", gpu), index=False)
    print(f"\nTriton tile ranking, {len(r)} held-out groups of >= 20 configs:")
    for name, label in (("lrn", "learned"), ("ana", "analytical")):
        reg = r[f"{name}_regret"] * 100
        print(
            f"  {label:10s} Spearman median {r[f'{name}_rho'].median():.3f}; top-1 "
            f"{100 * r[f'{name}_top1'].mean():.0f} %, top-5 {100 * r[f'{name}_top5'].mean():.0f} %; "
            f"regret median {reg.median():.1f} %, p90 {reg.quantile(0.9):.1f} %, worst {reg.max():.1f} %; "
            f"tied minima median {r[f'{name}_ties'].median():.0f}"
        )
    for name, label in (("random", "random config"), ("fixed", "best fixed config")):
        reg = r[f"{name}_regret"] * 100
        print(
            f"  {label:18s} regret median {reg.median():.1f} %, p90 {reg.quantile(0.9):.1f} %, worst {reg.max():.1f} %"
        )
    print("  per precision (learned): " + ", ".join(
        f"{p} rho {g['lrn_rho'].median():.2f} regret {100 * g['lrn_regret'].median():.1f} %"
        for p, g in r.groupby("precision")))  # fmt: skip
    lrn_err = (df["lrn"] / df["latency_s"] - 1).abs()
    tri = df["backend"] == "triton"
    print(f"  learned median |error|: Triton {100 * lrn_err[tri].median():.1f} %, vendor "
          f"{100 * lrn_err[~tri].median():.1f} %")  # fmt: skip
    floor = repeat_floor(frame, dataset.replace(".parquet", "_repeat.parquet"))
    if floor:
        print("  " + floor)
    conf = feasibility(frame, gpu)
    ran = conf["accepted_ran"] + conf["rejected_ran"]
    print(f"\nfeasibility rules on all {len(frame)} records: {conf}; rejected that ran "
          f"{100 * conf['rejected_ran'] / max(ran, 1):.2f} %, accepted that failed {conf['accepted_failed']}")  # fmt: skip
    for name, (best, med, cpu) in throughput(gpu, dataset).items():
        print(f"prediction throughput {name}: {best:,.0f} designs/s best wall, {med:,.0f} median wall, "
              f"{cpu:,.0f} median CPU (100,000 designs, 3 repeats)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="append", default=[], help="GPU key (repeatable)")
    ap.add_argument("--dataset", default="", help="records file (default: the GPU's shipped one)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--objective", default="residual", choices=("residual", "weighted", "ranked"))
    ap.add_argument("--pick", default="ranked", choices=PICKS, help="the learned model's pick")
    ap.add_argument(
        "--registers",
        default="",
        choices=("", *REGISTER_PARAMS),
        help="the register term of each fold's calibration (default: the GPU's shipped one)",
    )
    ap.add_argument(
        "--int4-rate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="each fold's calibration with (or without) the vendor int4 path as a constant rate "
        "(default: the GPU's shipped choice, calibrate.SHIPPED_INT4_RATE)",
    )
    ap.add_argument("--jobs", type=int, default=1, help="folds fitted at once (processes)")
    ap.add_argument("--throughput-only", action="store_true", help="skip the K-fold figures")
    ap.add_argument("--max-iter", type=int, default=300, help="boosting iterations")
    ap.add_argument(
        "--groups-out",
        default="",
        metavar="CSV",
        help="write the per-group ranking table ({gpu} in the name becomes the GPU)",
    )
    ap.add_argument(
        "--gpu-spec",
        default="",
        metavar="FILE.json",
        help="GPUSpec fields of a GPU missing from the spec table (registered for this run)",
    )
    args = ap.parse_args(argv)
    if args.gpu_spec:
        _gpu_from_spec(args.gpu_spec)
    unknown = [g for g in args.gpu if g not in DATASETS]
    if unknown and not args.dataset:
        ap.error(f"--gpu {unknown} ships no data ({sorted(DATASETS)} do); give --dataset FILE")
    for gpu in args.gpu or sorted(DATASETS):
        data = args.dataset or str(DATASETS[gpu])
        if args.throughput_only:
            for name, (best, med, cpu) in throughput(gpu, data).items():
                print(f"{gpu} prediction throughput {name}: {best:,.0f} designs/s best wall, "
                      f"{med:,.0f} median wall, {cpu:,.0f} median CPU (100,000 designs, 3 repeats)")  # fmt: skip
            continue
        report(
            gpu,
            data,
            args.folds,
            args.objective,
            args.max_iter,
            args.groups_out,
            args.pick,
            args.registers,
            args.int4_rate,
            args.jobs,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
