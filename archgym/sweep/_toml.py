"""Read a TOML file and locate its keys by line, so errors can name the line they are about.

``tomllib`` (Python 3.11+) or its backport ``tomli`` parses; neither reports where a *valid*
key sits, so :func:`key_lines` scans the source text once for table headers and ``key =``
lines and maps every key path to its line. Keys inside inline tables or arrays share the
line of the key that holds them; :meth:`Located.line` walks up the path until it finds one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archgym.errors import ConfigError

__all__ = ["SweepFileError", "Located", "load_toml", "key_lines"]

Path_ = tuple[str | int, ...]


class SweepFileError(ConfigError):
    """An experiment file is malformed or breaks a rule; the message names file, line and field.

    Attributes:
        file: The file (or ``"<string>"``).
        line: 1-based line number, or ``None`` when the field is absent from the file.
        field: Dotted field path, e.g. ``agents[1].grid.explore``.
    """

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file, self.line, self.field = file, line, field
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def _tomllib() -> Any:
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    return tomllib


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(source: str) -> dict[Path_, int]:
    """Map each key path (``("agents", 1, "grid", "explore")``) to its 1-based line.

    Array-of-tables headers (``[[agents]]``) count their occurrences to index the path.
    Lines inside multi-line strings may be misread; that only makes a line number less exact.
    """
    lines: dict[Path_, int] = {}
    counts: dict[Path_, int] = {}
    table: Path_ = ()
    for no, raw in enumerate(source.splitlines(), start=1):
        m = _HEADER.match(raw)
        if m and not _KEY.match(raw):
            names = _split_key(m.group(2))
            # resolve earlier array-of-tables parents to their current index
            path: list[str | int] = []
            for name in names:
                path.append(name)
                key = tuple(path)
                if key in counts and len(path) < len(names):
                    path.append(counts[key] - 1)
            key = tuple(path)
            if m.group(1) == "[[":
                counts[key] = counts.get(key, 0) + 1
                lines.setdefault(key, no)
                key = (*key, counts[key] - 1)
            lines[key] = no
            table = key
            continue
        k = _KEY.match(raw)
        if k:
            lines[table + tuple(_split_key(k.group(1)))] = no
    return lines


@dataclass
class Located:
    """A parsed TOML document with the line of every key."""

    data: dict[str, Any]
    lines: dict[Path_, int]
    file: str

    def line(self, path: Path_) -> int | None:
        """Line of ``path`` or of its nearest ancestor present in the file."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return None

    def error(self, path: Path_, message: str) -> SweepFileError:
        """A :class:`SweepFileError` about the field at ``path``."""
        return SweepFileError(self.file, self.line(path), field_name(path), message)


def field_name(path: Path_) -> str:
    """``("agents", 1, "grid")`` -> ``agents[1].grid``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def load_toml(source: str | Path, text: str | None = None) -> Located:
    """Parse a TOML file (or ``text``, labelled ``source``).

    Raises:
        SweepFileError: The file is missing, unreadable or not valid TOML (with the line).
    """
    name = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SweepFileError(name, None, "", "no such experiment file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SweepFileError(name, None, "", f"cannot read it ({exc})") from None
    tomllib = _tomllib()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"line (\d+)", msg)
        raise SweepFileError(
            name, int(m.group(1)) if m else None, "", f"not valid TOML ({msg})"
        ) from None
    return Located(data, key_lines(text), name)
