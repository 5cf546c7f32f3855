"""Versions that mean something: outputs on a fixed seeded sample are pinned per
(cost model, version) and per env id in ``tests/data/fingerprints.json``.

A change of a cost model's outputs without a version bump fails here, naming what to bump;
after a bump, ``python tests/update_fingerprints.py`` records the new version's outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archgym.registry import list_cost_models
from tests.fingerprint_cases import COST_MODEL_CASES, NOT_FINGERPRINTED, cases

PINNED = json.loads((Path(__file__).parent / "data" / "fingerprints.json").read_text())
FIX = "then run `python tests/update_fingerprints.py` and commit tests/data/fingerprints.json"


@pytest.fixture(scope="module")
def now() -> dict[str, dict[str, str]]:
    return cases()


def test_every_registered_cost_model_is_fingerprinted_or_excused() -> None:
    missing = set(list_cost_models()) - set(COST_MODEL_CASES) - set(NOT_FINGERPRINTED)
    assert not missing, f"add {sorted(missing)} to tests/fingerprint_cases.py COST_MODEL_CASES"


def test_cost_model_outputs_match_their_version(now: dict[str, dict[str, str]]) -> None:
    pinned = PINNED["cost_models"]
    for key, fp in now["cost_models"].items():
        name = key.split("@")[0]
        if key not in pinned:
            old = sorted(k for k in pinned if k.split("@")[0] == name)
            pytest.fail(f"cost model {key} has no pinned outputs (pinned: {old}); if you "
                        f"bumped its version on purpose, {FIX}")  # fmt: skip
        assert fp == pinned[key], (
            f"the outputs of cost model {key} changed without a version bump; bump "
            f"{name!r}'s `version` (and the id -vN of every env whose results change), {FIX}"
        )


def test_env_results_match_their_id(now: dict[str, dict[str, str]]) -> None:
    pinned = PINNED["envs"]
    for env_id, fp in now["envs"].items():
        if env_id not in pinned:
            pytest.fail(f"env {env_id} has no pinned results; if it is new or a new -vN, {FIX}")
        assert fp == pinned[env_id], (
            f"the results of {env_id} (space, default objective or rewards) changed; register "
            f"it as the next -vN (keep or retire the old id), {FIX}"
        )


def test_updating_the_fingerprints_keeps_history_and_refuses_a_silent_change() -> None:
    # the command test failures point to: it must add new versions without dropping the
    # pinned ones (a rewrite lost @3-@7), and must not overwrite a pinned version's outputs
    from tests.update_fingerprints import merged

    pinned = {"cost_models": {"m@1": "aa", "m@2": "bb"}, "envs": {"e-v0": "cc"}}
    out = merged(pinned, {"cost_models": {"m@2": "bb", "m@3": "dd"}, "envs": {"e-v1": "ee"}})
    assert out == {
        "cost_models": {"m@1": "aa", "m@2": "bb", "m@3": "dd"},
        "envs": {"e-v0": "cc", "e-v1": "ee"},
    }
    with pytest.raises(SystemExit, match=r"cost_models: m@2.*bump"):
        merged(pinned, {"cost_models": {"m@2": "zz"}, "envs": {}})
    with pytest.raises(SystemExit, match="envs: e-v0"):
        merged(pinned, {"cost_models": {}, "envs": {"e-v0": "zz"}})
