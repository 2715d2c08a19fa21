"""Opaque continuation tokens and query-parameter parsing shared by the APIs.

A token carries the offset and the simulated instant of the first page (the snapshot): later
pages are computed at that same instant, so a run that finishes between two page requests does
not move and appear twice or not at all. Real services keep such cursors server-side; an
encoded snapshot gives the same guarantee without state.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from connectors.simulator.http import BadRequest
from connectors.simulator.timefmt import parse_instant


def encode(offset: int, snapshot: datetime, scope: str = "") -> str:
    raw = json.dumps({"o": offset, "s": snapshot.isoformat(), "k": scope}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, scope: str = "") -> tuple[int, datetime]:
    """(offset, snapshot) from a token this simulator issued for ``scope``."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, snapshot = int(raw["o"]), parse_instant(raw["s"])
        if raw.get("k", "") != scope or offset < 0:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError):
        raise BadRequest("The continuation token is not valid.") from None
    return offset, snapshot


def integer(
    value: str | None, name: str, *, default: int | None = None, low: int = 0, high: int | None = None
) -> int:
    """A bounded integer query parameter; missing and no default means it is required."""
    if value is None or value == "":
        if default is None:
            raise BadRequest(f"The query parameter {name} is required.")
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"The query parameter {name} must be an integer, got {value!r}.") from None
    if number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"The query parameter {name} must be {bounds}, got {number}.")
    return number
