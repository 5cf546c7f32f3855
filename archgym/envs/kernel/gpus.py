"""GPU specification table used by the kernel cost models.

Figures are the vendor's datasheet numbers (boost clock, dense tensor-core peaks; the 2:4
sparse peak is twice the dense one on Ampere and Hopper):

* H100 SXM5: NVIDIA H100 Tensor Core GPU datasheet and the Hopper architecture whitepaper
  (132 SMs, 989 TFLOP/s fp16/bf16, 1979 fp8/int8, 3.35 TB/s HBM3, 50 MB L2, 228 KB shared
  memory per SM of which 227 KB per block, 64 K registers per SM, 700 W).
* H200 SXM: the H200 datasheet (H100's compute with 4.8 TB/s HBM3e, 700 W).
* A100 SXM4 80 GB: NVIDIA A100 datasheet and Ampere whitepaper (108 SMs, 312 TFLOP/s
  fp16/bf16, 624 int8, no fp8, 2.04 TB/s, 40 MB L2, 164 KB shared memory per SM of which
  163 KB per block, 400 W).

Users add their own GPU with :func:`register_gpu` (a :class:`GPUSpec` or a JSON-like dict).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from archgym.errors import ConfigError

__all__ = ["GPUSpec", "GPUS", "get_gpu", "register_gpu", "gpu_from_device_name"]


@dataclass(frozen=True)
class GPUSpec:
    """Peak capabilities of one GPU.

    Attributes:
        name: Key in :data:`GPUS`, e.g. ``"H100-SXM"``.
        sms: Streaming multiprocessors.
        clock_ghz: Boost clock.
        peak_tflops: Dense tensor-core peak per precision (``fp16``, ``bf16``, ``fp8``,
            ``int8``; TOP/s for int8). A precision missing here is not supported.
        sparse_speedup: Peak ratio of 2:4 sparse over dense tensor cores (2.0 on sm80+).
        hbm_tbps: DRAM bandwidth in TB/s.
        l2_mb: L2 cache size in MB.
        smem_per_sm_kb: Shared memory per SM in KiB.
        smem_per_block_kb: Most shared memory one thread block may use, in KiB.
        regs_per_sm: 32-bit registers per SM.
        max_threads_per_sm: Resident threads per SM.
        tdp_w: Board power limit in W.
        idle_w: Power drawn when idle, in W (used by the energy model).
        mma_k: Tensor-core instruction K per operand width in bytes (mma.m16n8k16 for 2-byte
            types, m16n8k32 for 1-byte types).
    """

    name: str
    sms: int
    clock_ghz: float
    peak_tflops: dict[str, float]
    hbm_tbps: float
    l2_mb: float
    smem_per_sm_kb: float
    smem_per_block_kb: float
    regs_per_sm: int = 65536
    max_threads_per_sm: int = 2048
    tdp_w: float = 700.0
    idle_w: float = 70.0
    sparse_speedup: float = 2.0
    mma_k: dict[int, int] = field(default_factory=lambda: {2: 16, 1: 32})

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, accepted back by :func:`register_gpu`."""
        return asdict(self)


GPUS: dict[str, GPUSpec] = {}


def register_gpu(spec: GPUSpec | dict[str, Any], overwrite: bool = False) -> GPUSpec:
    """Add a GPU to :data:`GPUS`.

    Args:
        spec: A :class:`GPUSpec` or a dict of its fields (e.g. loaded from JSON).
        overwrite: Replace an existing entry of the same name.

    Raises:
        ConfigError: Missing/unknown fields, or the name is taken and ``overwrite`` is False.
    """
    if isinstance(spec, dict):
        try:
            spec = GPUSpec(**spec)
        except TypeError as exc:
            raise ConfigError(
                f"a GPU spec dict must have the fields of GPUSpec ({exc}); see "
                "archgym.envs.kernel.gpus.GPUSpec"
            ) from exc
    if spec.name in GPUS and not overwrite:
        raise ConfigError(
            f"GPU {spec.name!r} is already registered; pass overwrite=True to replace it."
        )
    GPUS[spec.name] = spec
    return spec


register_gpu(
    GPUSpec(
        name="H100-SXM",
        sms=132,
        clock_ghz=1.98,
        peak_tflops={"fp16": 989.4, "bf16": 989.4, "fp8": 1978.9, "int8": 1978.9},
        hbm_tbps=3.35,
        l2_mb=50.0,
        smem_per_sm_kb=228.0,
        smem_per_block_kb=227.0,
        tdp_w=700.0,
        idle_w=70.0,
    )
)
# The H200 is the H100's GH100 die with HBM3e: same SMs, clocks, caches and peaks, 4.8 TB/s.
_H100 = GPUS["H100-SXM"]
register_gpu(
    replace(_H100, name="H200-SXM", hbm_tbps=4.8, peak_tflops=dict(_H100.peak_tflops),
            mma_k=dict(_H100.mma_k))
)  # fmt: skip
register_gpu(
    GPUSpec(
        name="A100-SXM",
        sms=108,
        clock_ghz=1.41,
        peak_tflops={"fp16": 312.0, "bf16": 312.0, "int8": 624.0},
        hbm_tbps=2.039,
        l2_mb=40.0,
        smem_per_sm_kb=164.0,
        smem_per_block_kb=163.0,
        tdp_w=400.0,
        idle_w=50.0,
    )
)


def get_gpu(name: str | GPUSpec) -> GPUSpec:
    """Look a GPU up by name (case-insensitive); a :class:`GPUSpec` passes through.

    Raises:
        ConfigError: Unknown name; the message lists the known GPUs and how to add one.
    """
    if isinstance(name, GPUSpec):
        return name
    for key, spec in GPUS.items():
        if key.lower() == str(name).lower():
            return spec
    raise ConfigError(
        f"unknown GPU {name!r}; known GPUs: {', '.join(sorted(GPUS))}. Describe yours "
        "(SMs, clock, HBM TB/s, L2, peak TFLOP/s per precision, shared memory) with "
        "archgym.envs.kernel.gpus.register_gpu({...GPUSpec fields...}), or on the CLI with "
        "--env-opt gpu_spec=FILE.json holding those fields (`archgym measure calibrate`: "
        "--gpu-spec FILE.json)."
    )


def gpu_from_device_name(device_name: str) -> str:
    """Map ``torch.cuda.get_device_name()`` (e.g. ``"NVIDIA H100 80GB HBM3"``) to a key.

    Returns the key of :data:`GPUS`, or ``device_name`` unchanged when no entry matches.
    """
    s = device_name.upper()
    for tag, key in (("H200", "H200-SXM"), ("H100", "H100-SXM"), ("A100", "A100-SXM")):
        if tag in s:
            return key
    return device_name
