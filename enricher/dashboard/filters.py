"""The dashboard's filters, read from a URL query so a view can be shared as a link.

The page and both API endpoints take the same parameters. Each of ``source``, ``severity``,
``code`` and ``workspace`` takes one or more values (repeat the parameter; the first three also
take comma-separated values, workspace names may contain commas): an incident matches when it
matches any value of each filter given. ``range`` is how far
back to look (``24h``, ``7d``, ``30d``; default ``7d``): an incident is in the range while it is
open or when its last failure falls within it. Bad values are a :class:`FilterError` (HTTP 400).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from connectors.records import Source
from enricher.core.kb_schema import SEVERITIES

#: every source a run or pushed alert can carry (an unknown one is a 400, not an empty list)
SOURCES = tuple(s.value for s in Source)
DEFAULT_RANGE = "7d"
#: The choices the page offers; any ``<n>h`` or ``<n>d`` from 1 hour to 366 days is accepted.
RANGES = ("24h", "7d", "30d", "90d")
MAX_RANGE = timedelta(days=366)
_RANGE_RX = re.compile(r"^(\d{1,4})([hd])$")
_CODE_RX = re.compile(r"^(?:aadsts)?(\d{1,8})$", re.IGNORECASE)
_MAX_VALUES = 50
MAX_QUERY = 200


class FilterError(ValueError):
    """A query parameter that cannot be understood; the message names it."""


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    workspaces: tuple[str, ...] = ()
    range: str = DEFAULT_RANGE
    q: str = ""

    @property
    def span(self) -> timedelta:
        number, unit = _split_range(self.range)
        return timedelta(hours=number) if unit == "h" else timedelta(days=number)

    def as_dict(self) -> dict[str, object]:
        """The filters as the API echoes them back."""
        return {
            "source": list(self.sources),
            "severity": list(self.severities),
            "code": list(self.codes),
            "workspace": list(self.workspaces),
            "range": self.range,
            "q": self.q,
        }

    def query(self, **changes: str | None) -> str:
        """The URL query for these filters, ``changes`` replacing one filter each (``None`` drops it)."""
        values: dict[str, list[str]] = {
            "source": [",".join(self.sources)],
            "severity": [",".join(self.severities)],
            "code": [",".join(self.codes)],
            "workspace": list(self.workspaces),
            "range": [] if self.range == DEFAULT_RANGE else [self.range],
            "q": [self.q],
        }
        for key, value in changes.items():
            values[key] = [value] if value else []
        return urlencode({k: [x for x in v if x] for k, v in values.items() if any(v)}, doseq=True)


def parse_filters(query: Mapping[str, Sequence[str]]) -> Filters:
    """``{"severity": ["high,critical"], "range": ["30d"]}`` -> ``Filters(...)``."""
    severities = _values(query, "severity", lower=True)
    for severity in severities:
        if severity not in SEVERITIES:
            raise FilterError(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    sources = _values(query, "source", lower=True)
    for source in sources:
        if source not in SOURCES:
            raise FilterError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    codes = []
    for code in _values(query, "code"):
        match = _CODE_RX.match(code)
        if not match:
            raise FilterError(f"code: {code!r} is not an AADSTS code (digits, optionally after AADSTS)")
        codes.append(match.group(1))
    return Filters(
        sources=sources,
        severities=severities,
        codes=tuple(dict.fromkeys(codes)),
        workspaces=_values(query, "workspace", split=False),
        range=_range(query),
        q=_q(query),
    )


def _q(query: Mapping[str, Sequence[str]]) -> str:
    given = [v.strip() for v in query.get("q", ()) if v.strip()]
    text = " ".join(given[-1].split()) if given else ""
    if len(text) > MAX_QUERY:
        raise FilterError(f"q: at most {MAX_QUERY} characters")
    return text


def _values(
    query: Mapping[str, Sequence[str]], name: str, *, lower: bool = False, split: bool = True
) -> tuple[str, ...]:
    found: list[str] = []
    for raw in query.get(name, ()):
        found.extend(p.strip() for p in (raw.split(",") if split else [raw]) if p.strip())
    if len(found) > _MAX_VALUES:
        raise FilterError(f"{name}: at most {_MAX_VALUES} values")
    return tuple(dict.fromkeys(v.lower() if lower else v for v in found))


def _range(query: Mapping[str, Sequence[str]]) -> str:
    given = [v.strip().lower() for v in query.get("range", ()) if v.strip()]
    if not given:
        return DEFAULT_RANGE
    value = given[-1]
    number, unit = _split_range(value)
    span = timedelta(hours=number) if unit == "h" else timedelta(days=number)
    if number < 1 or span > MAX_RANGE:
        raise FilterError(f"range: {value!r} must be between 1h and {MAX_RANGE.days}d")
    return value


def _split_range(value: str) -> tuple[int, str]:
    match = _RANGE_RX.match(value)
    if not match:
        raise FilterError(f"range: {value!r} is not like 24h, 7d or 30d")
    return int(match.group(1)), match.group(2)
