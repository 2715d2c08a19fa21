"""Counts that read naturally: "1 notification", "2 notifications". Pure."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it needs (``plural`` for irregular words)."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
