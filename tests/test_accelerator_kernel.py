"""The Accelerator model's compiled kernel against its numpy reference (``layer_costs``).

``AcceleratorCostModel.evaluate_columns`` runs a numba kernel for the default array in the
limited and ideal modes; the numpy ``layer_costs`` serves per-layer figures, the SCALE-Sim
mode, wired arrays and the Mapping env. Both must give the same floats, reasons and
feasibility, so a physics change made to one of them only fails here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from archgym.envs.accelerator.model import AcceleratorCostModel, ArrayWiring
from archgym.workloads import Layer, Workload, get

MODELS = {
    "limited": {},
    "ideal": {"bandwidth_mode": "ideal"},
    "overlap-shared": {"array": ArrayWiring(fold_overlap=True, dram_ports="shared")},
    "energy-table": {
        "energy_pj": {"rf": 0.3, "buffer_w_r": 2.0, "stage_i": 0.1, "dram_w": 100.0, "mac": 0.5}
    },
}


def _random_designs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Designs over the whole range the model accepts, many of them unbuildable (bad sizes,
    unknown names, buffers too small for a tile, register files too small for a layer)."""

    def pick(values: list[float]) -> np.ndarray:
        return rng.choice(np.array(values, dtype=float), n)

    return {
        "rows": pick([1, 2, 8, 12, 16, 32, 128, 0, 2.5, np.nan]),
        "cols": pick([1, 4, 16, 20, 32, 128, -1]),
        "rf_bytes": pick([1, 2, 4, 8, 16, 64, 512, 0]),
        "gbuf_kb": pick([0.25, 1, 16, 64, 256, 4096, -2]),
        "gbuf_banks": pick([1, 2, 4, 16, 1.5]),
        "noc_bw_bytes": pick([4, 16, 64, 1e12, 0]),
        "dram_bw_bytes": pick([1, 4, 16, 256, 0]),
        "dataflow": rng.choice(["os", "ws", "is", "rs", "xx"], n, p=[0.24] * 4 + [0.04]),
        "precision": rng.choice(["int8", "int4", "fp16", "bf8"], n, p=[0.32] * 3 + [0.04]),
        "tech_nm": pick([45, 28, 16, 7, 10, 0]),
        "clock_mhz": pick([200, 1000, 1500.5]),
        "psum_bits": pick([0, 0, 8, 16, 32, -1]),
    }


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.reasons == b.reasons
    np.testing.assert_array_equal(a.feasible, b.feasible)
    assert list(a.metrics) == list(b.metrics)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("workload", ["resnet18", "mobilenet_v2", "bert_base", "llama7b_decode"])
def test_kernel_equals_layer_costs(kind: str, workload: str) -> None:
    # Catches any divergence of the kernel from the numpy physics, bit for bit (the kernel
    # sums over layers in numpy's pairwise order).
    model = AcceleratorCostModel(**MODELS[kind])
    cols = _random_designs(np.random.default_rng(5), 400)
    fast = model.evaluate_columns(cols, workload)
    ref = model._evaluate_numpy(cols, workload)
    assert 0 < fast.feasible.sum() < len(fast)
    assert any(r.startswith("layer ") for r in ref.reasons)  # register files too small
    _assert_same(fast, ref)


def test_kernel_equals_layer_costs_beyond_128_layers() -> None:
    # numpy sums more than 128 values by halves; the kernel must follow it there too.
    base = get("resnet18").layers
    layers = [replace(x, name=f"{x.name}_{r}") for r in range(8) for x in base]  # 168 layers
    wl = Workload("resnet18x8", tuple(layers))
    model = AcceleratorCostModel()
    cols = _random_designs(np.random.default_rng(9), 100)
    _assert_same(model.evaluate_columns(cols, wl), model._evaluate_numpy(cols, wl))


def test_lone_designs_equal_their_rows_of_a_batch() -> None:
    # Catches a lone-design path (scalar reads, codes) that drifts from the batched one.
    model = AcceleratorCostModel()
    cols = _random_designs(np.random.default_rng(2), 150)
    batch = model.evaluate(cols, "resnet18")
    for i in range(len(batch)):
        one = model.evaluate({k: v[i : i + 1] for k, v in cols.items()}, "resnet18")
        assert one.reasons == [batch.reasons[i]]
        for k, v in one.metrics.items():
            np.testing.assert_array_equal(v, batch.metrics[k][i : i + 1], err_msg=k)


def test_defaults_fill_left_out_columns_like_the_numpy_path() -> None:
    model = AcceleratorCostModel()
    cols = {"rows": np.array([8.0, 16.0]), "dataflow": np.array(["os", "rs"])}
    _assert_same(model.evaluate_columns(cols, "resnet18"), model._evaluate_numpy(cols, "resnet18"))
    one = {"cols": np.array([32])}
    _assert_same(model.evaluate_columns(one, "resnet18"), model._evaluate_numpy(one, "resnet18"))


def test_pairwise_sum_is_numpys() -> None:
    from archgym.envs.systolic._kernel import pairwise_sum

    rng = np.random.default_rng(0)
    for n in [*range(0, 140), 255, 256, 1000, 4097]:
        x = rng.random(n) * 10.0 ** rng.integers(-20, 5, n)
        assert pairwise_sum(x, 0, n) == x.sum(), n


def test_single_layer_workload() -> None:
    layer = Layer("conv", "conv", 58, 58, 3, 3, channels=64, num_filters=64)
    model = AcceleratorCostModel()
    cols = _random_designs(np.random.default_rng(1), 50)
    _assert_same(model.evaluate_columns(cols, layer), model._evaluate_numpy(cols, layer))


def test_a_batch_of_columns_the_model_does_not_read_gives_one_row_per_design() -> None:
    # Columns it does not read still count designs (every read column a default). Catches the
    # lone-design path taking such a batch for one design: evaluate() then raised BackendError
    # ("returned 1 rows for 3 designs").
    model = AcceleratorCostModel()
    ev = model.evaluate({"note": np.arange(3.0)}, "resnet18")
    lone = model.evaluate({"note": [0.0]}, "resnet18")
    assert len(ev) == 3
    for i in range(3):
        assert ev.floats(i) == lone.floats(0)
    mixed = model.evaluate({"rows": np.array([8, 16]), "note": ["a", "b"]}, "resnet18")
    assert len(mixed) == 2 and mixed.floats(0) != mixed.floats(1)


def test_no_columns_or_empty_columns_give_no_rows_and_a_lone_design_equals_its_batch_row() -> None:
    # The lone-design fast path fills left-out columns with defaults; catches it turning an
    # empty column dict (every column a default) into one design, and a lone design of list
    # columns or of left-out columns that differs from its row of a batch.
    model = AcceleratorCostModel()
    assert len(model.evaluate_columns({}, "resnet18")) == 0
    assert len(model.evaluate_columns({"rows": np.array([], dtype=int)}, "resnet18")) == 0
    cols = {
        "rows": np.array([16, 8]),
        "dataflow": np.array(["ws", "xx"]),
        "gbuf_kb": np.array([64, 0]),
    }
    batch = model.evaluate_columns(cols, "resnet18")
    assert batch.feasible.tolist() == [True, False]
    for i in range(2):
        for one in (
            {k: v[i : i + 1] for k, v in cols.items()},
            {k: [v[i].item()] for k, v in cols.items()},
        ):
            ev = model.evaluate_columns(one, "resnet18")  # type: ignore[arg-type]
            assert ev.reasons == [batch.reasons[i]]
            np.testing.assert_array_equal(
                list(ev.floats(0).values()), list(batch.floats(i).values())
            )


def test_attributes_changed_after_construction_are_used_as_before_the_kernel() -> None:
    # energy_pj and bandwidth_mode are public attributes, read at every evaluation by the
    # numpy path and reported by describe(); the kernel path cached the energy overrides at
    # the first evaluation, so a changed table went unused while the manifest showed it.
    cols = {"rows": np.array([16.0, 8.0]), "cols": np.array([16.0, 32.0])}
    model = AcceleratorCostModel()
    model.evaluate(cols, "resnet18")
    model.energy_pj["mac"] = 50.0
    model.bandwidth_mode = "ideal"
    fresh = AcceleratorCostModel("ideal", energy_pj={"mac": 50.0})
    _assert_same(model.evaluate(cols, "resnet18"), fresh.evaluate(cols, "resnet18"))
    assert model.describe() == fresh.describe()
