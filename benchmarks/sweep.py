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

   * *in situ* (the figure held to the target): the workers time exactly the work (building
     envs and agents, ``ask``, ``evaluate``, ``tell``) while the sweep runs, in the same
     processes and under the same load. Overhead = every CPU-second of the tree not spent in
     the agents and the cost model: runner, store, executor, worker and cluster start-up,
     scheduler, this process. The timers' own cost (two ``process_time`` reads per call, a
     system call of ~1.6 us here, calibrated in each worker) is printed and taken out. It is
     split into the share inside the tasks (runner + store) and the CPU outside them, and
     given in us per evaluation. The local pool's forked workers inherit the timers from
     this process, which installs them before the fork and removes them from itself after;
     forkserver and Dask workers install them when they import this file as
     ``__mp_main__``.
   * *numba as work* (local pool, forked workers only): the same, with numba's start-up
     (``archgym.sweep._preload.NUMBA_STARTUP_CPU_S``: import and first compiled call, paid
     once in the sweep process for all workers) counted as cost-model work rather than
     overhead. The workers' cost models compile past 25,000 design x layer evaluations per
     process (``archgym._kernels``), i.e. after ~1,200 ResNet-18 evaluations, so a serial
     script running the same experiments pays this start-up too (once); both figures are
     printed, the first is the strict one.
   * *serial baseline*: overhead = 1 - n x work / tree CPU, with the work of step 2
     measured after the sweep. On the shared 2-core machine this baseline is measured in one
     process while the sweep ran two: it moved by 20-40 % between runs, more than the
     overhead it measures.

   Executors: ``local`` (archgym's pool), ``dask`` (a LocalCluster started by the sweep, its
   start-up counted) and ``dask-running`` (a LocalCluster started before the measurement,
   as a Dask user's ``--address`` cluster is: only the CPU its processes spend during the
   sweep counts; its workers were started with archgym preloaded, like ``dask worker
   --preload archgym.sweep._preload``). Target (issue 16): <= 10 % (median).
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
#: The run store of a sweep task (archgym.sweep._driver.run_item): buffered, not fsynced
#: (and the task keeps the best design only: ``summary="best"``).
TASK_STORE = {"buffered": True, "durable": False}


def _pure(exp: object) -> None:
    from archgym.registry import make_agent

    env = exp.make_env()  # type: ignore[attr-defined]
    agent = make_agent(
        exp.agent,
        env.space,
        seed=exp.seed,
        n_objectives=1,  # type: ignore[attr-defined]
        n_constraints=0,
        **exp.agent_kwargs,
    )  # type: ignore[attr-defined]
    done = 0
    while done < exp.budget:  # type: ignore[attr-defined]
        designs = agent.ask(1)
        res = env.evaluate(designs)
        agent.tell(res.designs, res)
        done += 1


# -- in-situ accounting ------------------------------------------------------------------
# In the workers, the CPU spent in the bare work (building the env and the agent, ask,
# evaluate, tell) is summed by timers around exactly those calls, and each task reports it
# with its own CPU next to its results (results.jsonl). This measures the work in the same
# processes, at the same time and under the same load as the sweep itself, so the overhead
# is not at the mercy of a load that changes between a serial baseline and the sweep (on
# the shared machine the baseline moved by 20-40 % within minutes). The timers' own cost
# (two clock reads per call) counts as overhead. The workers import this file as
# ``__mp_main__`` (the forkserver preloads ``__main__``), which installs the timers there.
_WORK = [0.0, 0]  # CPU seconds in the work, timed calls


def _timed(fn: Any) -> Any:
    clock = time.process_time

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            _WORK[0] += clock() - t
            _WORK[1] += 1

    return wrapper


def _timer_cost_s() -> float:
    """CPU seconds one timed call adds (two ``process_time`` reads, a system call of ~1.6 us
    on the development VM, and the wrapper): min over 5 rounds of 2,000 calls."""
    bare, timed = (lambda: None), _timed(lambda: None)
    best = []
    for _ in range(5):
        c = time.process_time()
        for _ in range(2000):
            timed()
        mid = time.process_time()
        for _ in range(2000):
            bare()
        best.append(((mid - c) - (time.process_time() - mid)) / 2000)
    return max(min(best), 0.0)


def _install_work_timers() -> Any:
    """Install the timers; returns a function that removes them again (the sweep process
    installs them before a fork pool forks its workers, which keep them, then removes them
    from itself)."""
    import archgym.runner as runner
    import archgym.sweep._driver as driver
    from archgym.env import DSEEnv

    saved = [
        (DSEEnv, "evaluate", DSEEnv.evaluate),
        (runner.Experiment, "make_env", runner.Experiment.make_env),
        (runner, "make_agent", runner.make_agent),
        (driver, "run_items", driver.run_items),
    ]

    def undo() -> None:
        for owner, name, value in saved:
            setattr(owner, name, value)

    DSEEnv.evaluate = _timed(DSEEnv.evaluate)  # type: ignore[method-assign]
    runner.Experiment.make_env = _timed(runner.Experiment.make_env)  # type: ignore[method-assign]
    make_agent = runner.make_agent

    def timed_make_agent(*args: Any, **kwargs: Any) -> Any:
        agent = _timed(make_agent)(*args, **kwargs)
        agent.ask, agent.tell = _timed(agent.ask), _timed(agent.tell)
        return agent

    runner.make_agent = timed_make_agent  # type: ignore[assignment]
    run_items = driver.run_items

    def accounted_run_items(items: Any, run_dirs: Any) -> Any:
        c, w, k = time.process_time(), _WORK[0], _WORK[1]
        out = run_items(items, run_dirs)
        out[0]["bench_task_cpu_s"] = time.process_time() - c
        out[0]["bench_work_cpu_s"] = _WORK[0] - w
        out[0]["bench_timed_calls"] = _WORK[1] - k
        out[0]["bench_timer_cost_s"] = _TIMER_COST[0]
        return out

    driver.run_items = accounted_run_items  # type: ignore[assignment]
    _TIMER_COST[0] = _timer_cost_s()
    return undo


_TIMER_COST = [0.0]


if __name__ == "__mp_main__":  # a sweep worker (or the forkserver that forks them)
    _install_work_timers()


def _in_situ(sweep_dir: Path) -> tuple[float, float, float]:
    """Sums over the tasks of (CPU, work CPU, the timers' own CPU) from results.jsonl."""
    task = work = timers = 0.0
    for line in (sweep_dir / "results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        task += rec.get("bench_task_cpu_s", 0.0)
        work += rec.get("bench_work_cpu_s", 0.0)
        timers += rec.get("bench_timed_calls", 0) * rec.get("bench_timer_cost_s", 0.0)
    return task, work, timers


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
    "in_situ_overhead_without_timers_fraction",
    "in_situ_overhead_numba_as_work_fraction",
    "in_situ_overhead_us_per_evaluation",
    "in_situ_inside_tasks_without_timers_fraction",
    "cpu_s_outside_tasks",
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
        rep["target_overhead_le_0.10"] = (
            "met" if med(raw["overhead_fraction"]) <= 0.1 else "NOT met"
        )
        rep["in_situ_target_le_0.10"] = (
            "met" if med(raw["in_situ_overhead_without_timers_fraction"]) <= 0.1 else "NOT met"
        )
        if "in_situ_overhead_numba_as_work_fraction" in raw:
            rep["in_situ_numba_as_work_target_le_0.10"] = (
                "met" if med(raw["in_situ_overhead_numba_as_work_fraction"]) <= 0.1 else "NOT met"
            )
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
    undo = _install_work_timers() if kind == "local" else None  # inherited by forked workers
    cluster = None
    if kind == "dask-running":  # a cluster already running when the sweep starts
        cluster = open_executor("dask", workers=args.workers)
        opened = cluster.__enter__()
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
    task_cpu, work_cpu, timer_cpu = _in_situ(d)
    if work_cpu <= 0:
        fail("the workers reported no work: were the timers installed in them?")
    net = 1 - work_cpu / (used - timer_cpu)
    per_eval = 1e6 / n_items / args.budget
    extra: dict[str, Any] = {}
    if numba_s is not None:  # numba's start-up, paid in this process for the forked workers
        extra = {
            "numba_startup_cpu_s": [numba_s],
            "in_situ_overhead_numba_as_work_fraction": [
                1 - (work_cpu + numba_s) / (used - timer_cpu)
            ],
            "in_situ_overhead_numba_as_work_us_per_evaluation": [
                (used - timer_cpu - work_cpu - numba_s) * per_eval
            ],
        }
    return {
        "tree_cpu_s": [used],
        "sweep_wall_s": [wall],
        "in_situ_overhead_fraction": [1 - work_cpu / used],
        "in_situ_timers_fraction": [timer_cpu / used],
        "in_situ_overhead_without_timers_fraction": [net],
        "in_situ_overhead_us_per_evaluation": [(used - timer_cpu - work_cpu) * per_eval],
        "in_situ_inside_tasks_without_timers_fraction": [1 - work_cpu / (task_cpu - timer_cpu)],
        "cpu_s_outside_tasks": [used - task_cpu],
        "worker_start_method": method,
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
            rep["work_cpu_s_per_experiment_after_it"] = [base]
            rep["overhead_fraction"] = [1 - len(items) * base / rep["tree_cpu_s"][0]]
    out["load_end"] = load_line()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
