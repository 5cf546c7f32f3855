"""Read a shipped (or user-built) NAS table and look designs up in it.

A table is a Parquet file with one row per (architecture, sparsity, weight_bits, scope): the
architecture's parameters and ``key`` (:func:`archgym.envs.nas.arch.arch_key`), its dense
measurements, the compression setting and the measured ``val_accuracy``/``test_accuracy``
after compression (NaN with a ``reason`` where the setting is infeasible). A JSON sidecar and
the Parquet schema metadata (``b"archgym"``) describe how it was built.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import BackendError

__all__ = ["NASTable", "load_table", "default_table_path", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = (
    "key",
    "sparsity",
    "weight_bits",
    "scope",
    "feasible",
    "reason",
    "val_accuracy",
    "test_accuracy",
    "params",
    "macs",
    "effective_macs",
    "weight_bytes",
    "dense_val_accuracy",
    "val_accuracy_seed2",
)
DATA_DIR = Path(__file__).resolve().parent / "data"


def default_table_path(task: str) -> Path:
    """The shipped table of ``task`` (``archgym/envs/nas/data/<task>.parquet``)."""
    return DATA_DIR / f"{task}.parquet"


class NASTable:
    """An in-memory NAS table with an exact-match index.

    Attributes:
        path: The file it was read from.
        df: The rows (pandas DataFrame).
        meta: Build metadata (task, oracle config, seeds, versions, command, date, noise).
    """

    def __init__(self, path: Path, df: Any, meta: dict[str, Any]) -> None:
        self.path = path
        self.df = df
        self.meta = meta
        keys = zip(
            df["key"].to_numpy(),
            df["sparsity"].to_numpy(),
            df["weight_bits"].to_numpy(),
            df["scope"].to_numpy(),
            strict=True,
        )
        self._index = {(k, s, int(b), c): i for i, (k, s, b, c) in enumerate(keys)}
        self.keys = frozenset(df["key"].unique())

    def __len__(self) -> int:
        return len(self.df)

    def lookup(self, key: str, sparsity: str, weight_bits: int, scope: str) -> int | None:
        """Row position of an exact (architecture, compression) match, or ``None``."""
        return self._index.get((key, sparsity, int(weight_bits), scope))

    def column(self, name: str) -> np.ndarray:
        """A column as a numpy array."""
        return self.df[name].to_numpy()


@lru_cache(maxsize=8)
def _load(path_str: str, mtime: float) -> NASTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path_str)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise BackendError(
            f"NAS table {path} is not a readable Parquet file ({exc}); it may be truncated or "
            "corrupt. Restore it from the archgym package or rebuild it with "
            "`archgym nas build-table --out PATH`."
        ) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise BackendError(
            f"NAS table {path} lacks required column(s) {missing}; it was not written by "
            "`archgym nas build-table`. Rebuild it with that command."
        )
    raw = (table.schema.metadata or {}).get(b"archgym", b"{}")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BackendError(f"NAS table {path}: its metadata is not valid JSON ({exc}).") from exc
    return NASTable(path, table.to_pandas(), meta)


def load_table(path: str | Path) -> NASTable:
    """Read a NAS table (cached per path and modification time).

    Raises:
        BackendError: The file is missing, unreadable, corrupt or lacks required columns; the
            message names the file and how to rebuild it.
    """
    path = Path(path)
    if not path.is_file():
        raise BackendError(
            f"NAS table {path} does not exist. Use a shipped table "
            f"({', '.join(str(p.name) for p in sorted(DATA_DIR.glob('*.parquet')))} in {DATA_DIR}) "
            "or build one with `archgym nas build-table --task digits --out PATH`."
        )
    return _load(str(path.resolve()), path.stat().st_mtime)
