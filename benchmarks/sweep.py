"""Sweep throughput and archgym's own overhead, as CPU of the whole process tree.

    python benchmarks/sweep.py --n 200 --repeat 3        # local pool, Dask (started), Dask (running)
    python benchmarks/sweep.py --n 1000 --executors local

Every sweep runs in a fresh child process, as ``archgym sweep`` does (a process forks its
pool's workers, or starts one forkserver with the preload of its first pool; a later sweep
would inherit either and hide its start-up). In each:

1. *Sweep*, first, while the process is as ``archgym sweep`` has it when it opens the
   executor (archgym imported, the sweep file loaded, no experiment run: numba not
   imported, no workload table built): all ``--n`` experiments through
   ``archgym.sweep.run_sweep``. The CPU of the whole process tree (this process, the pool
   or cluster processes, a forkserver; sampled with psutil on entry, every 0.2 s once the
   executor is open, and just before shutdown) is set against the work:

   * *in situ, by paired replay*: each experiment of a task, in its worker, is paired with
     a replay of itself as bare work (envs built once per task, as the task builds them;
     the same agent, seed and budget; ``ask -> evaluate -> tell``, no runner, no store),
     right before or right after it, alternating. Overhead = the tree's CPU less
     the replays, less the work: runner, store, executor, worker and cluster start-up,
     scheduler, this process; given as a share of the work (the issue's definition), in us
     per evaluation, split into the share inside the tasks (runner + store) and the CPU
     outside them. The local pool's forked workers inherit the replay from this process,
     which installs it before the fork and removes it from itself after; forkserver and
     Dask workers install it when they import this file as ``__mp_main__``. (Until
     2026-12-02 the work was timed by per-call timers around ``ask``/``evaluate``/``tell``;
     in situ they cost 4-16 us per call against 1.4-2.1 us calibrated hot, which charged
     8-40 us per evaluation of timer to the overhead; until that afternoon whole tasks
     were paired, too few pairs for Dask's larger tasks: see :data:`_PAIRS`.)
   * *numba as work* (local pool, forked workers only; the figure held to the target):
     the same, with numba's start-up (``archgym.sweep._preload.NUMBA_STARTUP_CPU_S``:
     import and first compiled call, paid once in the sweep process for all workers)
     counted as cost-model work rather than overhead. The workers' cost models compile past
     25,000 design x layer evaluations per process (``archgym._kernels``), i.e. after ~1,200
     ResNet-18 evaluations, so a bare script running the same experiments pays this
     start-up inside its cost model too (once): it is part of the bare work "agent plus
     cost model". The strict figure, with it as overhead, is printed beside.
   * *serial baseline*: overhead = tree CPU / (n x work) - 1, with the work of step 2
     measured after the sweep. On the shared 2-core machine this baseline is measured in one
     process while the sweep ran two: it moved by 20-40 % between runs, more than the
     overhead it measures.

   Executors: ``local`` (archgym's pool), ``dask`` (a LocalCluster started by the sweep, its
   start-up counted) and ``dask-running`` (a LocalCluster started before the measurement,
   as a Dask user's ``--address`` cluster is: only the CPU its processes spend during the
   sweep counts; its workers were started with archgym preloaded, like ``dask worker
   --preload archgym.sweep._preload``). A running cluster spends CPU while it waits
   (heartbeats, monitors: 1.3 % of a core for 2 workers on the development machine), and
   the replays hold its workers about as long again as the sweep: that idle CPU, the rate
   measured for 2 s before the sweep times the replays' CPU per worker, is taken out too
   (``replay_idle_cpu_s``; the figure without it is ``overhead_fraction_uncorrected``). Target (issue 16): <= 10 % of the work (median). The
   wall time printed includes the replays.
2. *Work, serially*: on a sample of the experiments, the bare loop a hand-written script would
   run (build env and agent, ``ask -> evaluate -> tell`` for the budget), as CPU time
   (``time.process_time``); then the same experiments through ``run_experiment`` with a
   sweep task's run store (buffered, not fsynced). Their difference is the runner + store.
3. *ArchGym scale*: CPU minutes of 21,000 experiments x 100 evaluations, extrapolated from the
   tree CPU per experiment (experiments are independent and alike in cost on average).

Each figure is repeated ``--repeat`` times (min and median printed); the wall clock is
printed beside, since on a loaded machine it measures the load. Prints one JSON object.
The experiments are a lottery-style mix of the cheap agents (random-walk, ga, aco, random)
on archgym/Accelerator-v2 (ResNet-18, EDP), budget ``--budget``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _timing import fail, load_line, positive_int

TOML = """
[sweep]
name = "bench"
budget = {budget}
seeds = {seeds}
objective = "edp"

[[envs]]
id = "archgym/Accelerator-v2"
kwargs = {{ workload = "resnet18" }}
label = "accel"

[[agents]]
name = "random-walk"
samples = 8
random = {{ explore = {{ low = 0.0, high = 0.5 }}, patience = {{ low = 5, high = 200, log = true }} }}

[[agents]]
name = "ga"
samples = 6
random = {{ population_size = {{ low = 4, high = 64, log = true }}, mutation_prob = {{ low = 0.05, high = 1.0 }} }}

[[agents]]
name = "aco"
samples = 5
random = {{ ant_count = {{ low = 2, high = 64, log = true }}, greediness = {{ low = 0.0, high = 0.9 }} }}

[[agents]]
name = "random"
"""
SETTINGS = 8 + 6 + 5 + 1
KINDS = ("local", "dask", "dask-running")
#: Seconds a running cluster's idle CPU is sampled before its sweep.
IDLE_S = 2.0
#: The run store of a sweep task (archgym.sweep._driver.run_item): the run written into the
#: sweep's shards when it ends (and the task keeps the best design only: ``summary="best"``).
TASK_STORE = {"shard": True}


def _pure(exp: Any, env: Any = None) -> None:
    """The bare work of one experiment, as a hand-written script runs it: build the env
    (unless given) and the agent as the runner builds them, then ``ask -> evaluate ->
    tell`` for the budget."""
    from archgym.runner import _build

    env, agent = _build(exp, env)
    done = 0
    while done < exp.budget:
        designs = agent.ask(1)
        res = env.evaluate(designs)
        agent.tell(res.designs, res)
        done += 1


# -- in-situ accounting: paired replay ----------------------------------------------------
# Each experiment of a task, in its worker, is paired with a replay of itself as bare work
# (:func:`_pure`: the same agent, seed and budget, no runner, no store; the replays build
# their own envs, once per env and task, as the task does), run right before or right after
# it (alternating), each replay timed by two CPU-clock reads. The work is measured in the
# same process, under the same load and at the same time as the task, so a load that changes
# during the sweep hits both alike, and no timer sits inside the work. The task's own CPU is
# its run_items call's less its replays'. (Until the afternoon of 2026-12-02 a whole task
# was paired with a replay of the whole task: with Dask's larger tasks, 4 per worker at 200
# experiments, the few pairs left one run's figure 10-20 points from the next. Until that
# morning the work was timed by per-call timers around ask/evaluate/tell, which cost 4-16 us
# per call in situ against 1.4-2.1 us calibrated in a hot loop and put 8-40 us of timer cost
# per evaluation into the overhead.) The replays' CPU is taken out of the tree's CPU.
_PAIRS = [0]
#: The replays of the task running in this process: their envs and their CPU seconds.
_REPLAY: dict[str, Any] = {"envs": {}, "work": 0.0}


def _replay(item: dict[str, Any], envs: dict[str, Any]) -> None:
    """One experiment as bare work, timed into ``_REPLAY``, run in the task's env (``envs``,
    as :func:`~archgym.sweep._driver.run_item` keeps them) once the task has built it. The
    replays build their own env once per env and task, as a bare script would (timed as
    work; the task times its own build), but run in the task's: experiments replayed in
    another env instance than the task's alternated between two envs' tables, which made
    both a third slower."""
    from archgym.runner import Experiment
    from archgym.sweep._driver import _env_key

    clock = time.process_time
    c = clock()
    exp = Experiment(**item["experiment"])
    key = item.get("env_key") or _env_key(item["experiment"])
    own = _REPLAY["envs"]
    if key not in own:
        own[key] = exp.make_env()
    _pure(exp, envs[key][0] if key in envs else own[key])
    _REPLAY["work"] += clock() - c


def _install_paired_replay() -> Any:
    """Wrap :func:`archgym.sweep._driver.run_item` so that each experiment is also replayed
    as bare work, and :func:`~archgym.sweep._driver.run_items` so that each task reports its
    own CPU and its replays'; returns a function that removes the wrappers again (the sweep
    process installs them before a fork pool forks its workers, which keep them, then
    removes them from itself)."""
    import archgym.sweep._driver as driver

    run_items, run_item = driver.run_items, driver.run_item

    def accounted_run_item(
        item: Any, run_dir: Any, envs: Any = None, retry: bool = False, layout: str = "shards"
    ) -> Any:
        _PAIRS[0] += 1
        envs = {} if envs is None else envs
        if _PAIRS[0] % 2 == 0:
            _replay(item, envs)
            return run_item(item, run_dir, envs, retry, layout)
        out = run_item(item, run_dir, envs, retry, layout)
        _replay(item, envs)
        return out

    def accounted_run_items(
        items: Any, run_dirs: Any, retry: bool = False, layout: str = "shards"
    ) -> Any:
        _REPLAY["envs"], _REPLAY["work"] = {}, 0.0
        c = time.process_time()
        out = run_items(items, run_dirs, retry, layout)
        total = time.process_time() - c
        work = _REPLAY["work"]
        out[0]["bench_task_cpu_s"] = total - work
        out[0]["bench_work_cpu_s"] = work
        return out

    driver.run_item = accounted_run_item  # type: ignore[assignment]
    driver.run_items = accounted_run_items  # type: ignore[assignment]

    def undo() -> None:
        driver.run_items = run_items  # type: ignore[assignment]
        driver.run_item = run_item  # type: ignore[assignment]

    return undo


if __name__ == "__mp_main__":  # a sweep worker (or the forkserver that forks them)
    _install_paired_replay()


def _in_situ(sweep_dir: Path) -> tuple[float, float]:
    """Sums over the tasks of (task CPU, replayed bare work CPU) from results.jsonl."""
    task = work = 0.0
    for line in (sweep_dir / "results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        task += rec.get("bench_task_cpu_s", 0.0)
        work += rec.get("bench_work_cpu_s", 0.0)
    return task, work


class TreeCPU:
    """CPU seconds of this process and all its descendants, sampled on entry, every
    ``period_s`` by a thread started by :meth:`watch`, and by :meth:`stop` (a pool's workers
    are children of a forkserver, a Dask worker of its nanny: none is reaped by this
    process, so ``RUSAGE_CHILDREN`` would miss them). The thread starts once the executor
    is open: a local pool forks its workers only while its process runs one thread, and a
    process that starts after entry counts from its creation, whenever it is first seen."""

    def __init__(self, period_s: float = 0.2) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._seen: dict[tuple[int, float], float] = {}
        self.sampler_cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(period_s,), daemon=True)

    def _sample(self) -> None:
        ps = self._psutil
        for p in [self._me, *self._me.children(recursive=True)]:
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    key = (p.pid, p.create_time())
                    self._seen[key] = t.user + t.system
            except (ps.NoSuchProcess, ps.AccessDenied, ps.ZombieProcess):
                continue

    def _loop(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self._sample()
        self.sampler_cpu_s = time.thread_time()  # this thread's own CPU, not the sweep's

    def __enter__(self) -> TreeCPU:
        self._sample()
        self.start = dict(self._seen)
        return self

    def watch(self) -> None:
        """Start sampling every ``period_s`` (catches processes that exit before :meth:`stop`)."""
        self._thread.start()

    def stop(self) -> float:
        """Sample once more, stop, and return the tree's CPU seconds since ``__enter__``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sample()
        used = sum(v - self.start.get(k, 0.0) for k, v in self._seen.items())
        return used - self.sampler_cpu_s

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


def _stats(xs: list[float], nd: int = 4) -> dict[str, float]:
    return {"min": round(min(xs), nd), "median": round(statistics.median(xs), nd)}


_PER_RUN = (
    "tree_cpu_s",
    "work_cpu_s",
    "overhead_fraction",
    "overhead_numba_as_work_fraction",
    "overhead_us_per_evaluation",
    "inside_tasks_fraction",
    "cpu_s_outside_tasks",
    "overhead_fraction_uncorrected",
)


def _merge(runs: list[dict[str, Any]], budget: int) -> dict[str, Any]:
    """One report from the child processes' raw figures: min/median per figure."""
    out: dict[str, Any] = {k: v for k, v in runs[0].items() if k != "executors"}
    out["load_end"] = runs[-1]["load_end"]
    for key in ("work_cpu_s_per_experiment", "runner_store_cpu_s_per_experiment"):
        out[key] = _stats([r[key] for r in runs], 5)
    out["runner_store_overhead_fraction"] = _stats(
        [r["runner_store_overhead_fraction"] for r in runs]
    )
    out["executors"] = {}
    n = out["experiments"]
    for kind in dict.fromkeys(k for r in runs for k in r["executors"]):
        skipped = [r["executors"][kind] for r in runs if isinstance(r["executors"].get(kind), str)]
        if skipped:
            out["executors"][kind] = skipped[0]
            continue
        raw: dict[str, list[float]] = {}
        for r in runs:
            for key, vals in r["executors"].get(kind, {}).items():
                if isinstance(vals, list):
                    raw.setdefault(key, []).extend(vals)
                else:
                    out.setdefault("worker_start_method", {})[kind] = vals
        rep = {key: _stats(vals, 2 if key.endswith("_s") else 5) for key, vals in raw.items()}
        # each run's own figures too (the min and median above are per figure, not per run)
        rep["runs"] = [
            {k: round(raw[k][i], 4) for k in _PER_RUN if k in raw}
            for i in range(len(raw["tree_cpu_s"]))
        ]
        med = statistics.median
        for key in ("overhead_fraction", "overhead_numba_as_work_fraction"):
            if key in raw:
                rep[f"{key}_target_le_0.10"] = "met" if med(raw[key]) <= 0.1 else "NOT met"
        per_exp = min(raw["tree_cpu_s"]) / n
        rep["cpu_s_per_experiment"] = round(per_exp, 5)
        rep["archgym_scale_21000x100_cpu_min"] = round(21000 * per_exp / 60 * 100 / budget, 1)
        rep["archgym_scale_21000x100_min_on_2_cores"] = round(
            21000 * per_exp / 60 / 2 * 100 / budget, 1
        )
        out["executors"][kind] = rep
    return out


def _one_sweep(kind: str, spec: Any, d: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run the sweep once on ``kind`` and measure it (raw figures, lists of one value)."""
    from archgym.sweep import open_executor, run_sweep

    n_items = len(spec.items)
    undo = _install_paired_replay() if kind == "local" else None  # inherited by forked workers
    cluster = None
    idle_rate = 0.0
    if kind == "dask-running":  # a cluster already running when the sweep starts
        cluster = open_executor("dask", workers=args.workers)
        opened = cluster.__enter__()
        time.sleep(1.0)  # settled
        with TreeCPU() as idle:  # the cluster's CPU while it waits (heartbeats, monitors)
            time.sleep(IDLE_S)
            idle_rate = idle.stop() / IDLE_S
    t0 = time.perf_counter()
    method = ""
    try:
        with TreeCPU() as tree:
            with contextlib.ExitStack() as stack:
                ex = (
                    opened
                    if cluster is not None
                    else stack.enter_context(open_executor(kind, workers=args.workers))
                )
                method = getattr(ex, "start_method", "")
                if undo is not None:
                    undo()
                preload = sys.modules.get("archgym.sweep._preload")
                numba_s = (
                    getattr(preload, "NUMBA_STARTUP_CPU_S", None) if method == "fork" else None
                )
                tree.watch()
                res = run_sweep(spec, d, ex, progress=None)
                used = tree.stop()  # before shutdown: the workers still exist
    finally:
        if cluster is not None:
            cluster.__exit__(None, None, None)
    wall = time.perf_counter() - t0
    if res.n_failed:
        fail(f"{res.n_failed} experiments failed on {kind}: {res.failures[:2]}")
    task_cpu, work_cpu = _in_situ(d)
    if work_cpu <= 0:
        fail("the workers reported no work: was the paired replay installed in them?")
    # the tree's CPU less the replays, and less what a running cluster spends idling while
    # the replays hold its workers (wall time the sweep alone would not have taken: the
    # replays' CPU shared by the workers, times the cluster's idle rate measured before)
    replay_idle = idle_rate * work_cpu / args.workers
    swept = used - work_cpu - replay_idle
    over = swept - work_cpu
    per_eval = 1e6 / n_items / args.budget
    extra: dict[str, Any] = {}
    if numba_s is not None:  # numba's start-up, paid in this process for the forked workers
        extra = {
            "numba_startup_cpu_s": [numba_s],
            "overhead_numba_as_work_fraction": [(over - numba_s) / (work_cpu + numba_s)],
            "overhead_numba_as_work_us_per_evaluation": [(over - numba_s) * per_eval],
        }
    return {
        "tree_cpu_s": [swept],
        "work_cpu_s": [work_cpu],
        "sweep_wall_s": [wall],
        "overhead_fraction": [over / work_cpu],
        "overhead_us_per_evaluation": [over * per_eval],
        "inside_tasks_fraction": [(task_cpu - work_cpu) / work_cpu],
        "cpu_s_outside_tasks": [swept - task_cpu],
        "worker_start_method": method,
        **(
            {
                "cluster_idle_cpu_s_per_s": [idle_rate],
                "replay_idle_cpu_s": [replay_idle],
                "overhead_fraction_uncorrected": [(over + replay_idle) / work_cpu],
            }
            if kind == "dask-running"
            else {}
        ),
        **extra,
    }


WARM = """
from archgym.registry import make, make_agent
env = make("archgym/Accelerator-v2", workload="resnet18", objective="edp")
agent = make_agent("random", env.space, seed=0)
env.evaluate(agent.ask(400))  # compiles the batch kernel: from the on-disk cache if warm
for _ in range(2):
    env.evaluate(agent.ask(1))  # and the lone-design one, now that numba runs
"""


def _warm_kernel_cache() -> float:
    """Fill numba's on-disk cache of the cost model's kernels, in a separate interpreter,
    and return its CPU seconds (~1 s warm; 6-7 s when the kernels were compiled: once per
    install or kernel change, see bench_compile.py). Without it the first sweep's workers
    would compile them inside ``evaluate``, counted as work."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-c", WARM], capture_output=True, text=True)
    if proc.returncode:
        fail(f"warming the kernel cache failed: {proc.stderr.strip()[-800:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=positive_int, default=400, help="experiments (rounded up)")
    ap.add_argument("--budget", type=positive_int, default=100)
    ap.add_argument("--workers", type=positive_int, default=2)
    ap.add_argument("--repeat", type=positive_int, default=1, help="sweeps per executor")
    ap.add_argument(
        "--sample", type=positive_int, default=24, help="experiments timed serially for the work"
    )
    ap.add_argument(
        "--executors",
        default="local,dask,dask-running",
        help="comma-separated: local, dask (a cluster started by the sweep, counted), "
        "dask-running (a cluster already running: only its CPU during the sweep counts)",
    )
    ap.add_argument("--keep", default=None, help="keep the sweep directories here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    kinds = [k.strip() for k in args.executors.split(",") if k.strip()]
    if not kinds or any(k not in KINDS for k in kinds):
        fail(
            f"--executors takes a comma-separated list of {', '.join(KINDS)}; got {args.executors!r}"
        )
    try:
        import psutil  # noqa: F401
    except ImportError:
        fail("psutil is needed to measure the CPU of the worker processes: pip install psutil")
    if not args.child:
        # every sweep in a fresh process, as `archgym sweep` runs: a process starts one
        # forkserver, with the preload of its first pool, and shares it with later pools,
        # whose start-up would then be missing from their figures
        warm_s = _warm_kernel_cache()
        runs = []
        for kind in kinds:
            for _ in range(args.repeat):
                argv = [sys.executable, __file__, *sys.argv[1:], "--executors", kind]
                proc = subprocess.run(
                    [*argv, "--repeat", "1", "--child"], capture_output=True, text=True
                )
                if proc.returncode:
                    fail(f"the {kind} run failed: {proc.stderr.strip()[-800:]}")
                runs.append(json.loads(proc.stdout))
        merged = _merge(runs, args.budget)
        merged["kernel_cache_warmup_cpu_s"] = round(warm_s, 2)
        print(json.dumps(merged, indent=1))
        return

    from archgym.runner import run_experiment
    from archgym.sweep import load_sweep

    seeds = -(-args.n // SETTINGS)
    spec = load_sweep("bench.toml", text=TOML.format(budget=args.budget, seeds=seeds))
    items = spec.items
    root = Path(args.keep or tempfile.mkdtemp(prefix="archgym-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "experiments": len(items),
        "budget": args.budget,
        "workers": args.workers,
        "load_start": load_line(),
    }
    out["executors"] = {}
    # 1. the sweep first, in a process as `archgym sweep` has it when it opens the executor
    # (archgym imported, the sweep file loaded, no experiment run yet: numba not imported,
    # no workload table built), so that what the sweep process itself does for its workers
    # (a fork pool's preload) is counted as it would be for a user
    for kind in kinds:
        if kind.startswith("dask"):
            try:
                import distributed  # noqa: F401
            except ImportError:
                out["executors"][kind] = "skipped: dask[distributed] not installed"
                continue
        d = root / kind
        shutil.rmtree(d, ignore_errors=True)
        out["executors"][kind] = _one_sweep(kind, spec, d, args)
    # 2. the work per experiment, serially, after the sweep (sample spread over agents and
    # settings): the serial baseline, and the runner + store measured around the same loop
    step = max(1, len(items) // args.sample)
    sample = [it.experiment for it in items[::step]][: args.sample]
    for exp in sample[:4]:
        _pure(exp)  # warm caches (workload tables, imports)
    t = time.process_time()
    for exp in sample:
        _pure(exp)
    w_after = (time.process_time() - t) / len(sample)
    work: list[float] = []
    stored: list[float] = []
    for i, exp in enumerate(sample):  # interleaved, so a changing load hits both alike
        t = time.process_time()
        _pure(exp)
        work.append(time.process_time() - t)
        t = time.process_time()
        run_experiment(exp, out=root / "serial" / str(i), store_options=TASK_STORE, summary="best")
        stored.append(time.process_time() - t)
    w = statistics.fmean(work)
    out["work_cpu_s_per_experiment"] = round(w, 5)
    out["runner_store_cpu_s_per_experiment"] = round(statistics.fmean(stored), 5)
    out["runner_store_overhead_fraction"] = round(1 - w / statistics.fmean(stored), 4)
    for rep in out["executors"].values():
        if isinstance(rep, dict):
            base = (w_after + w) / 2
            rep["serial_work_cpu_s_per_experiment"] = [base]
            rep["serial_baseline_overhead_fraction"] = [
                rep["tree_cpu_s"][0] / len(items) / base - 1
            ]
    out["load_end"] = load_line()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
