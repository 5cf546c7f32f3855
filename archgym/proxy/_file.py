"""The proxy file: JSON, no code, with a SHA-256 of its payload.

Layout::

    {"format": "archgym-proxy", "format_version": 1, "sha256": "<hex>", "payload": {...}}

``sha256`` is the hash of the payload serialised canonically (``sort_keys``, compact
separators). Loading parses JSON only (arrays are base64 numbers, see
:mod:`archgym.proxy._estimators`), so a shared proxy file cannot run code; a truncated file
fails to parse and a modified one fails the hash, each with an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from archgym.errors import StoreError

__all__ = ["FORMAT", "FORMAT_VERSION", "write_payload", "read_payload", "payload_sha256"]

FORMAT = "archgym-proxy"
FORMAT_VERSION = 1


def _canonical(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def payload_sha256(payload: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``payload``."""
    return hashlib.sha256(_canonical(payload)).hexdigest()


def write_payload(path: str | os.PathLike[str], payload: dict[str, Any]) -> str:
    """Write a proxy file atomically; returns the payload's SHA-256.

    Raises:
        StoreError: The file cannot be written.
    """
    p = Path(path)
    sha = payload_sha256(payload)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "sha256": sha, "payload": payload}
    try:
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        os.replace(tmp, p)
    except OSError as exc:
        raise StoreError(f"cannot write the proxy file {p}: {exc.strerror or exc}") from None
    return sha


def read_payload(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """Read and verify a proxy file; returns ``(payload, sha256)``.

    Raises:
        StoreError: Missing or unreadable file, not JSON (e.g. truncated), not a proxy file,
            an unsupported format version, or a payload whose SHA-256 does not match
            (modified or corrupted); the message names the file.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise StoreError(
            f"proxy file {p} does not exist; train one with `archgym proxy train`"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot read the proxy file {p}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"proxy file {p} is not valid JSON ({exc}); it may be truncated or corrupted: "
            "copy it again or retrain"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(f'{p} is not an archgym proxy file (no "format": "{FORMAT}")')
    if doc.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"proxy file {p} has format_version {doc.get('format_version')!r}; this archgym reads "
            f"version {FORMAT_VERSION}: retrain the proxy with this archgym"
        )
    payload = doc.get("payload")
    sha = payload_sha256(payload)
    if sha != doc.get("sha256"):
        raise StoreError(
            f"proxy file {p} failed its integrity check: the payload's SHA-256 is {sha[:16]}..., "
            f"the file records {str(doc.get('sha256'))[:16]}...; it was modified or corrupted "
            "after training: copy it again or retrain"
        )
    if not isinstance(payload, dict):
        raise StoreError(f"proxy file {p} has no payload object")
    return payload, sha
