"""Add the fingerprints of new cost-model versions and env ids to
``tests/data/fingerprints.json`` after a deliberate change of results.

Bump the changed cost model's ``version`` (and the env id's ``-vN`` when an env's results
change) first; then run ``python tests/update_fingerprints.py`` and commit the file. Pinned
entries are kept (the outputs of every version ever shipped stay recorded); a pinned
``name@version`` or env id whose outputs changed is refused, naming what to bump, since
overwriting it would hide the change the pin exists to catch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fingerprint_cases import cases  # noqa: E402


def merged(pinned: dict[str, dict[str, str]], now: dict[str, dict[str, str]]) -> dict[str, Any]:
    """``pinned`` with the entries of ``now`` it lacks.

    Raises:
        SystemExit: An entry of ``now`` is pinned with other outputs.
    """
    out = {part: dict(pinned.get(part, {})) for part in ("cost_models", "envs")}
    changed = [
        f"{part}: {key}"
        for part in out
        for key, fp in now[part].items()
        if key in out[part] and out[part][key] != fp
    ]
    if changed:
        raise SystemExit(
            f"outputs changed under pinned names: {changed}; bump the cost model's `version` "
            "(or register the env as the next -vN), then run this again"
        )
    for part in out:
        out[part].update(now[part])
    return out


if __name__ == "__main__":
    path = Path(__file__).resolve().parent / "data" / "fingerprints.json"
    pinned = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(merged(pinned, cases()), indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}")
