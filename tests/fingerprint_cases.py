"""What the version fingerprints cover: every registered env, and every registered cost model
on the env (and env options) it serves. Shared by ``test_versions.py`` and
``update_fingerprints.py``."""

from __future__ import annotations

from typing import Any

#: Cost-model name -> (env id, env kwargs) whose space and workload exercise it.
COST_MODEL_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "systolic-analytical": ("archgym/Systolic-v0", {}),
    "accelerator-analytical": ("archgym/Accelerator-v2", {}),
    "mapping-analytical": ("archgym/Mapping-v2", {}),
    "kernel-analytical": ("archgym/Kernel-v1", {}),
    "kernel-learned": ("archgym/Kernel-v1", {"cost_model": "learned"}),
    "nas": ("archgym/NAS-v0", {}),
    "codesign": ("archgym/CoDesign-v1", {}),
}

#: Further cases of a cost model, pinned as ``name@version/label``: the kernel models on the
#: H200, whose calibration, data and stored model differ from the H100 default's.
EXTRA_CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "H200-SXM": ("kernel-analytical", "archgym/Kernel-v1", {"gpu": "H200-SXM"}),
    "H200-SXM learned": (
        "kernel-learned",
        "archgym/Kernel-v1",
        {"gpu": "H200-SXM", "cost_model": "learned"},
    ),
}

#: Registered cost models that cannot run in the default test environment, and why.
NOT_FINGERPRINTED = {
    "kernel-measure": "times kernels on a CUDA GPU",
    "scalesim": "an external simulator (pinned by its own reference data)",
    "zigzag": "an external simulator (pinned by its own reference data)",
    "proxy": "a file trained by the user (its checksum pins it)",
}


def cases() -> dict[str, Any]:
    """``{"cost_models": {"name@version": fp}, "envs": {env_id: fp}}`` computed now."""
    from archgym.registry import list_envs, make
    from archgym.testing._fingerprint import cost_model_fingerprint, env_fingerprint

    out: dict[str, dict[str, str]] = {"cost_models": {}, "envs": {}}
    for env_id in sorted(list_envs()):
        if not env_id.startswith("archgym/"):
            continue
        out["envs"][env_id] = env_fingerprint(make(env_id))
    for name, (env_id, kwargs) in COST_MODEL_CASES.items():
        env = make(env_id, **kwargs)
        model = env.cost_model
        assert model.name == name, f"{env_id} {kwargs} builds {model.name!r}, not {name!r}"
        key = f"{model.name}@{model.version}"
        out["cost_models"][key] = cost_model_fingerprint(model, env.space, env.workload)
    for label, (name, env_id, kwargs) in EXTRA_CASES.items():
        env = make(env_id, **kwargs)
        model = env.cost_model
        assert model.name == name, f"{env_id} {kwargs} builds {model.name!r}, not {name!r}"
        key = f"{model.name}@{model.version}/{label.split()[0]}"
        out["cost_models"][key] = cost_model_fingerprint(model, env.space, env.workload)
    return out
