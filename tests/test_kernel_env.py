"""archgym/Kernel-v1 on CPU with the analytical model."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.envs.kernel import kernel_space, kernel_workload, make_kernel_env
from archgym.envs.kernel.space import KernelWorkload, named_workload
from archgym.errors import ConfigError
from archgym.registry import make


def test_make_and_step():
    env = make("archgym/Kernel-v1", workload="llama-7b.ffn_up@512", op="spmm", backend="any")
    env.reset(seed=0)
    res = env.evaluate(
        [
            {"backend": "torch", "precision": "fp16", "sparsity": "2:4"},
            {
                "backend": "triton",
                "precision": "fp16",
                "sparsity": "block",
                "density": 0.25,
                "sparse_block": 64,
                "block_m": 128,
                "block_n": 128,
                "block_k": 64,
                "group_m": 8,
                "num_warps": 4,
                "num_stages": 3,
                "split_k": 1,
            },
            {
                "backend": "triton",
                "precision": "fp16",
                "sparsity": "2:4",
                "block_m": 64,
                "block_n": 64,
                "block_k": 64,
                "group_m": 8,
                "num_warps": 4,
                "num_stages": 3,
                "split_k": 1,
            },
        ]
    )
    rows = list(res.evals.rows())
    assert rows[0]["feasible"] and rows[1]["feasible"] and not rows[2]["feasible"]
    assert "backend='torch'" in rows[2]["reason"]


def test_space_and_workloads():
    space = kernel_space()
    designs = space.sample(np.random.default_rng(0), 5)
    assert designs == kernel_space().sample(np.random.default_rng(0), 5)
    wl = kernel_workload("gpt2.qkv@64")
    ref = named_workload("gpt2.qkv", 64)
    assert (wl.op, wl.m, wl.n, wl.k) == (ref.op, ref.m, ref.n, ref.k)
    assert wl.name == "gpt2.qkv@64 (gemm MxNxK 2304x64x768)"  # named in the run header
    assert kernel_workload({"op": "gemm", "m": 64, "n": 64, "k": 64}).k == 64
    wl = kernel_workload("mixtral.expert_up@128")
    assert wl.op == "grouped_gemm" and wl.groups == 8


def test_bad_workloads_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown layer 'llama-9b.qkv'"):
        kernel_workload("llama-9b.qkv@16")
    with pytest.raises(ConfigError, match="positive integer"):
        KernelWorkload("gemm", 0, 16, 16)
    with pytest.raises(ConfigError, match="op must be one of"):
        KernelWorkload("conv", 16, 16, 16)
    with pytest.raises(ConfigError, match="unknown GPU"):
        make_kernel_env(gpu="V100")


def test_default_space_fixes_the_backend_to_triton():
    # the vendor library picks its own tiles: offered only when asked for
    assert kernel_space("gemm")["backend"].values == ("triton",)
    assert kernel_space("gemm", backend="any")["backend"].values == ("triton", "torch")
    assert kernel_space("spmm")["sparsity"].values == ("block",)
    with pytest.raises(ConfigError, match="backend must be one of"):
        kernel_space("gemm", backend="cublas")


def test_run_summary_shows_active_parameters_only():
    from archgym.runner import Experiment, run_experiment

    res = run_experiment(
        Experiment(env="archgym/Kernel-v1", agent="random", budget=20, seed=0), out=None
    )
    # dense GEMM: density and sparse_block are inactive, so never part of the design shown
    assert "density" not in res.best["design"] and "sparse_block" not in res.best["design"]
    assert "block_m" in res.best["design"]
    assert res.workload.startswith("llama-7b.ffn_up@2048 (gemm") and res.hardware == "H100-SXM"


@pytest.mark.slow  # fits a learned model at first use (~30 s on a busy 2-core machine)
def test_a_new_gpu_from_a_spec_file_and_its_own_records(tmp_path):
    # the README's new-GPU flow: a GPU missing from the spec table, described in JSON, and
    # the learned model trained on "its" records (here: real H200 rows of 3 shapes, relabelled
    # as the user's device name, as `archgym measure kernels --gpu` writes it)
    import json

    from archgym.envs.kernel.dataset import DATASETS, load_dataset

    spec = {"name": "MY-GPU", "sms": 132, "clock_ghz": 1.98, "hbm_tbps": 4.8, "l2_mb": 50.0,
            "peak_tflops": {"fp16": 989.4, "bf16": 989.4, "fp8": 1978.9, "int8": 1978.9},
            "smem_per_sm_kb": 228.0, "smem_per_block_kb": 227.0}  # fmt: skip
    (tmp_path / "mygpu.json").write_text(json.dumps(spec))
    rows = load_dataset(DATASETS["H200-SXM"])
    rows = rows[rows["shape"].isin(["llama-7b.ffn_up@512", "llama-7b.qkv@2048", "gpt2.qkv@4096"])]
    rows = rows.assign(gpu="NVIDIA MY GPU")
    rows.to_csv(tmp_path / "mygpu.csv.gz", index=False, compression="gzip")
    env = make(
        "archgym/Kernel-v1",
        gpu_spec=str(tmp_path / "mygpu.json"),
        cost_model="learned",
        dataset=str(tmp_path / "mygpu.csv.gz"),
    )
    assert env.cost_model.gpu.name == "MY-GPU"
    env.reset(seed=0)
    res = env.evaluate(env.space.sample(np.random.default_rng(0), 8))
    lat = np.asarray([r["latency_s"] for r in res.evals.rows() if r["feasible"]])
    assert len(lat) and np.all((lat > 1e-6) & (lat < 1.0))
    with pytest.raises(ConfigError, match="JSON file of GPUSpec fields"):
        make("archgym/Kernel-v1", gpu_spec=str(tmp_path / "missing.json"))


def test_gpu_spec_file_registers_the_gpu(tmp_path):
    import json

    spec = {"name": "MY-GPU2", "sms": 100, "clock_ghz": 1.5, "hbm_tbps": 2.0, "l2_mb": 40.0,
            "peak_tflops": {"fp16": 400.0, "bf16": 400.0}, "smem_per_sm_kb": 164.0,
            "smem_per_block_kb": 163.0}  # fmt: skip
    (tmp_path / "g.json").write_text(json.dumps(spec))
    env = make("archgym/Kernel-v1", gpu_spec=str(tmp_path / "g.json"))
    assert env.cost_model.gpu.sms == 100
    # no fp8 tensor cores in this spec: fp8 designs are infeasible with the reason
    d = {**env.space.sample(np.random.default_rng(0), 1)[0], "precision": "fp8"}
    row = next(iter(env.evaluate([d]).evals.rows()))
    assert not row["feasible"] and "no fp8" in row["reason"]


def test_measure_calibrate_takes_a_gpu_spec_file(tmp_path):
    # the README's new-GPU flow calibrates a GPU missing from the spec table from the CLI;
    # catches `archgym measure calibrate --gpu MY-GPU` having no way to describe it (it
    # failed with "unknown GPU" and pointed at --env-opt, which the command does not take)
    import json

    from archgym.cli import main
    from archgym.envs.kernel.dataset import DATASETS, load_dataset

    spec = {"name": "MY-GPU3", "sms": 132, "clock_ghz": 1.98, "hbm_tbps": 3.35, "l2_mb": 50.0,
            "peak_tflops": {"fp16": 989.4, "bf16": 989.4, "fp8": 1978.9, "int8": 1978.9},
            "smem_per_sm_kb": 228.0, "smem_per_block_kb": 227.0}  # fmt: skip
    (tmp_path / "g.json").write_text(json.dumps(spec))
    rows = load_dataset(DATASETS["H100-SXM"])
    rows = rows[rows["shape"].isin(sorted(rows["shape"].unique())[:4])].assign(gpu="MY-GPU3")
    rows.to_csv(tmp_path / "g.csv.gz", index=False, compression="gzip")
    out = tmp_path / "cal.json"
    args = ["measure", "calibrate", str(tmp_path / "g.csv.gz"), "--gpu", "MY-GPU3", "--folds", "2"]
    assert main([*args, "--gpu-spec", str(tmp_path / "g.json"), "--out", str(out)]) == 0
    assert "MY-GPU3" in json.loads(out.read_text())


def _small_records(tmp_path, gpu="H100-SXM"):
    from archgym.envs.kernel.dataset import DATASETS, load_dataset

    rows = load_dataset(DATASETS[gpu])
    rows = rows[rows["shape"].isin(sorted(rows["shape"].unique())[:4])]
    rows.to_csv(tmp_path / "g.csv.gz", index=False, compression="gzip")
    return tmp_path / "g.csv.gz"


def test_measure_calibrate_writes_into_the_current_directory(tmp_path, monkeypatch, capsys):
    # catches the CLI writing into the installed package's calibration.json without --out
    # (it breaks "writes only where told" and fails on a read-only install)
    import json

    from archgym.cli import main
    from archgym.envs.kernel.analytical import CALIBRATION_FILE

    shipped = CALIBRATION_FILE.read_bytes()
    data = _small_records(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["measure", "calibrate", str(data), "--gpu", "H100-SXM", "--folds", "2"]) == 0
    assert CALIBRATION_FILE.read_bytes() == shipped
    written = json.loads((tmp_path / "calibration.json").read_text())
    assert "H100-SXM" in written
    # its provenance is the command that wrote it, not the maintainers' script
    fitted_with = written["H100-SXM"]["fitted_with"]
    assert (
        fitted_with.startswith("archgym measure calibrate ")
        and "--out calibration.json" in fitted_with
    )
    assert "--env-opt calibration=calibration.json" in capsys.readouterr().out


def test_env_takes_a_calibration_file(tmp_path):
    # the file's constants are the analytical model's (launch overhead doubled: every
    # latency grows); a copy of the shipped file gives the shipped figures and, for the
    # learned model, the stored arrays (the key hashes the constants, not the path)
    import json
    import shutil

    from archgym.envs.kernel.analytical import CALIBRATION_FILE
    from archgym.proxy._estimators import Predictor

    table = json.loads(CALIBRATION_FILE.read_text())
    table["H100-SXM"]["params"]["launch_s"] *= 2
    (tmp_path / "mine.json").write_text(json.dumps(table))
    shutil.copyfile(CALIBRATION_FILE, tmp_path / "copy.json")
    designs = kernel_space("gemm").sample(np.random.default_rng(0), 16)

    def latency(**kw):
        env = make("archgym/Kernel-v1", gpu="H100-SXM", **kw)
        return np.asarray(env.evaluate(designs).evals.metrics["latency_s"])

    base = latency()
    mine = latency(calibration=str(tmp_path / "mine.json"))
    ok = np.isfinite(base)
    assert ok.sum() > 5 and (mine[ok] > base[ok]).all()
    np.testing.assert_array_equal(latency(calibration=str(tmp_path / "copy.json"))[ok], base[ok])
    env = make("archgym/Kernel-v1", gpu="H100-SXM", cost_model="learned",
                       calibration=str(tmp_path / "copy.json"))  # fmt: skip
    assert isinstance(env.cost_model.model.booster, Predictor)


def test_bad_calibration_file_names_the_file_and_the_fix(tmp_path):
    (tmp_path / "other.json").write_text('{"MY-GPU": {"params": {}}}')
    for bad in (tmp_path / "other.json", tmp_path / "missing.json"):
        with pytest.raises(ConfigError, match=f"{bad.name}.*archgym measure calibrate"):
            make("archgym/Kernel-v1", gpu="H100-SXM", calibration=str(bad))
    with pytest.raises(ConfigError, match="measure.*drop the option"):
        make("archgym/Kernel-v1", cost_model="measure", calibration="x.json")
