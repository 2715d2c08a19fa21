"""Lenient timestamp parsing for every API's format (see azure-apis.md section 8).

Power BI: ``2017-06-13T09:25:43.153Z``; ADF: 7 fractional digits; Fabric: no zone (UTC);
Entra: ``2016-01-09 02:02:12Z`` with a space. All become aware UTC datetimes; garbage becomes None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TS = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$", re.IGNORECASE)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    m = _TS.match(value.strip())
    if not m:
        return None
    date, clock, fraction, zone = m.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    suffix = "+00:00" if not zone or zone.upper() == "Z" else zone
    try:
        parsed = datetime.fromisoformat(f"{date}T{clock}.{micro}{suffix}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """UTC with a Z, the form every API accepts in filters and bodies."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
