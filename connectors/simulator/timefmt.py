"""Time formats, one function per wire format (reference section 8), and duration parsing.

The formats differ on purpose, because the real APIs differ and connectors must cope:
Power BI uses milliseconds and ``Z``; ADF, Synapse and Graph use 7 fractional digits and ``Z``;
Fabric uses 7 digits and no zone at all; the Entra ``timestamp`` uses a space instead of ``T``.
Python keeps microseconds, so the 7th digit is derived from the others (it carries no meaning;
parsing drops it and gets the exact instant back).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_OFFSET = re.compile(r"^([+-])(.+)$")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

Instant = datetime | float  # an aware datetime, or epoch seconds (how runs keep time)


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC) if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def micros(value: Instant) -> int:
    """Whole microseconds since the epoch: the precision every format and comparison uses."""
    if isinstance(value, datetime):
        return (_utc(value) - EPOCH) // _MICRO
    return round(value * 1_000_000)


def _split(value: Instant) -> tuple[str, int]:
    seconds, us = divmod(micros(value), 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)), us


def powerbi(value: Instant) -> str:
    """``2017-06-13T09:25:43.153Z``"""
    base, us = _split(value)
    return f"{base}.{us // 1000:03d}Z"


def powerbi_offset(value: Instant, offset_hours: int = -7) -> str:
    """``2019-04-30T21:35:15.867-07:00`` (dataset ``createdDate`` carries an offset)."""
    base, us = _split(micros(value) / 1_000_000 + offset_hours * 3600)
    sign = "-" if offset_hours < 0 else "+"
    return f"{base}.{us // 1000:03d}{sign}{abs(offset_hours):02d}:00"


def ticks(value: Instant) -> str:
    """``2024-06-22T06:35:00.7812154``: 7 fractional digits, no zone (Fabric)."""
    base, us = _split(value)
    return f"{base}.{us:06d}{(us * 7 + 3) % 10}"


def ticks_z(value: Instant) -> str:
    """``2018-06-16T00:37:44.6257014Z`` (ADF, Synapse, Graph)."""
    return ticks(value) + "Z"


def entra(value: Instant) -> str:
    """``2016-01-09 02:02:12Z`` (Entra error ``timestamp`` and the ``Timestamp:`` line)."""
    base, _ = _split(value)
    return base.replace("T", " ") + "Z"


def us_clock(dt: datetime) -> str:
    """``6/14/2026 3:56:57 PM``: the US format of Fabric 429 and ARM expired-token texts."""
    dt = _utc(dt)
    hour = dt.hour % 12 or 12
    half = "AM" if dt.hour < 12 else "PM"
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {half}"


def parse_instant(text: str) -> datetime:
    """Parse a client-supplied ISO 8601 instant leniently; naive values are UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    return _utc(datetime.fromisoformat(value))


def parse_duration(text: str) -> timedelta:
    """``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, ``"45s"``."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"not a duration (use e.g. 15m, 2h, 1d, 1h30m): {text!r}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_offset(text: str) -> timedelta:
    """``"-2h"`` or ``"+30m"``: a signed duration relative to the clock start."""
    match = _OFFSET.match(text.strip())
    if match is None:
        raise ValueError(f"not an offset (use e.g. -2h or +30m): {text!r}")
    delta = parse_duration(match.group(2))
    return -delta if match.group(1) == "-" else delta
