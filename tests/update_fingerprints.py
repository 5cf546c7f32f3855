"""Rewrite ``tests/data/fingerprints.json`` after a deliberate change of results.

Bump the changed cost model's ``version`` (and the env id's ``-vN`` when an env's results
change) first; then run ``python tests/update_fingerprints.py`` and commit the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fingerprint_cases import cases  # noqa: E402

if __name__ == "__main__":
    path = Path(__file__).resolve().parent / "data" / "fingerprints.json"
    path.write_text(json.dumps(cases(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}")
