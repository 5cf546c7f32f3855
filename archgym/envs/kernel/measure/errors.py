"""How a failed measurement's exception becomes a record's ``reason``."""

from __future__ import annotations

__all__ = ["ERROR_TEXT_LIMIT", "error_text"]

ERROR_TEXT_LIMIT = 1600
"""Most characters of an exception kept in a record's ``reason`` (see :func:`error_text`)."""


def error_text(exc: BaseException, limit: int = ERROR_TEXT_LIMIT) -> str:
    """``"<Type>: <message>"`` of ``exc``, complete when short, else its head and its tail.

    Compiler errors (Triton's ``CompilationError``) print the failing source lines first and
    the cause last, so a long text keeps its first 300 characters and its last
    ``limit - 300``, joined by ``" [...] "``; the cause is never cut off.
    """
    text = f"{type(exc).__name__}: {str(exc).strip()}"
    if len(text) <= limit:
        return text
    return text[:300] + " [...] " + text[-(limit - 300) :]
