"""GPU spec table (archgym.envs.kernel.gpus)."""

from __future__ import annotations

import pytest

from archgym.envs.kernel.gpus import GPUS, get_gpu, gpu_from_device_name, register_gpu
from archgym.errors import ConfigError


def test_known_gpus_and_datasheet_numbers():
    h100 = get_gpu("h100-sxm")  # case-insensitive
    assert h100.sms == 132 and h100.peak_tflops["fp16"] == pytest.approx(989.4)
    assert h100.peak_tflops["fp8"] == pytest.approx(2 * 989.4, rel=1e-3)
    assert get_gpu("A100-SXM").hbm_tbps == pytest.approx(2.039)
    assert "fp8" not in get_gpu("A100-SXM").peak_tflops


def test_unknown_gpu_lists_known_names():
    with pytest.raises(ConfigError, match=r"unknown GPU 'B300'.*A100-SXM.*H100-SXM.*register_gpu"):
        get_gpu("B300")


def test_register_gpu_from_dict_roundtrip():
    spec = get_gpu("H100-SXM").to_dict()
    spec["name"] = "test-gpu"
    try:
        register_gpu(spec)
        assert get_gpu("test-gpu").sms == 132
        with pytest.raises(ConfigError, match="already registered"):
            register_gpu(spec)
        with pytest.raises(ConfigError, match="fields of GPUSpec"):
            register_gpu({"name": "x"})
    finally:
        GPUS.pop("test-gpu", None)


def test_device_name_mapping():
    assert gpu_from_device_name("NVIDIA H100 80GB HBM3") == "H100-SXM"
    assert gpu_from_device_name("Some GPU") == "Some GPU"
