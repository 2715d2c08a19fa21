"""Building blocks of the config model: durations, time zones, patterns, listen addresses and
the strict base model every section derives from."""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}
#: The longest duration any setting takes. Longer values are mistakes (``1e300``, ``.inf``) that
#: would overflow a timedelta or make a wait that never ends.
MAX_DURATION = timedelta(days=366)


def parse_duration(value: Any) -> Any:
    """Seconds or ``30s``/``5m``/``4h``/``1d``, from zero to 366 days: a negative interval made the
    scheduler spin on one core, and ``1e300`` or ``.inf`` overflowed with a traceback."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 4h, 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 4h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        return value
    if not 0 <= seconds <= MAX_DURATION.total_seconds():  # also false for NaN
        raise ValueError(f"{value!r} is out of range: give 0 to {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def check_positive(value: timedelta) -> timedelta:
    """An interval or a timeout of zero would run its job in a tight loop (or never wait at all)."""
    if value <= timedelta(0):
        raise ValueError("must be more than 0 (e.g. 30s, 5m)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: A period something runs on, or a timeout: more than zero.
Interval = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(check_positive)]
#: Sends per second (or minute) to one destination: positive and finite (0 would never send).
Rate = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
Port = Annotated[int, Field(ge=1, le=65535)]


def check_not_empty(value: SecretStr | None) -> SecretStr | None:
    """An empty credential (``${T:-}`` with T unset) would leave what it protects open."""
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("is empty; set a value or leave the setting out")
    return value


Credential = Annotated[SecretStr, AfterValidator(check_not_empty)]


def check_pattern(pattern: str) -> str:
    """A ``re:...`` value must compile here, not in the middle of a cycle; globs cannot be wrong."""
    if pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


def check_timezone(name: str) -> str:
    """An IANA zone that exists on this machine (or in the tzdata package); suggests the closest name."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, available_timezones(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (an IANA name such as 'Europe/Amsterdam')"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name


def parse_timestamp(value: Any) -> Any:
    """ISO 8601 with a time zone; YAML may already have made a datetime of an unquoted value."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time (e.g. 2030-01-01T00:00:00Z)") from None
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError("give a time zone, e.g. 2030-01-01T00:00:00Z or 2030-01-01T01:00:00+01:00")
    return value


def check_listen(value: str) -> str:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6), port 0-65535: the health server binds it at start."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535 or (":" in host and not host.startswith("[")):
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464)")
    return value


def check_base_url(value: str | None) -> str | None:
    """An address people open in a browser: http(s), a host, no query; kept without a final ``/``."""
    if value is None or not value.strip():
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  # a port that is no number raises here
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// address with a host")
    if parts.query or parts.fragment:
        raise ValueError("a base address takes no ?query or #fragment")
    return value.strip().rstrip("/")


def check_resend(value: timedelta) -> timedelta:
    """Alertmanager re-posting: far above a busy loop, and a missed post or two must not end an alert."""
    if not timedelta(seconds=5) <= value <= timedelta(minutes=15):
        raise ValueError("must be between 5s and 15m (default 60s)")
    return value


Pattern = Annotated[str, AfterValidator(check_pattern)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
#: An ISO 8601 time with a time zone (a naive time would be compared with UTC at run time and fail).
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
Severity = Literal["critical", "high", "medium", "low", "info"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NameFilterConfig(Strict):
    """Globs (``Finance*``) or regular expressions written ``re:...``."""

    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
