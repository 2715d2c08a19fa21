"""What happens to a failure after detection: incidents, routes, silences, maintenance windows and
inhibition rules (with the Alertmanager matcher language they use)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    model_validator,
)

from enricher.config.base import (
    Duration,
    Interval,
    Pattern,
    Severity,
    Strict,
    Timestamp,
    TimeZone,
)

# -- incidents, routing, silences -----------------------------------------------------------------

Label = Literal["tenant", "source", "container", "item", "code"]


class FlappingConfig(Strict):
    changes: int = Field(default=4, ge=2)
    window: Interval = timedelta(hours=1)


class IncidentConfig(Strict):
    group_by: tuple[Label, ...] = ("tenant", "source", "item", "code")
    group_wait: Duration = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)
    flapping: FlappingConfig = FlappingConfig()


class Match(Strict):
    """Each field is one value or a list; strings are globs or ``re:...``. All given fields must match."""

    severity: tuple[Severity, ...] | None = None
    category: tuple[Pattern, ...] | None = None
    code: tuple[Pattern, ...] | None = None
    source: tuple[Pattern, ...] | None = None
    tenant: tuple[Pattern, ...] | None = None
    workspace: tuple[Pattern, ...] | None = None
    item: tuple[Pattern, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _listify(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)] for k, v in data.items()
            }
        return data


class RouteConfig(Strict):
    match: Match = Match()
    sinks: tuple[str, ...] = Field(min_length=1)
    #: Keep looking at later routes after this one matched.
    continue_: bool = Field(default=False, alias="continue")


class SilenceConfig(Strict):
    match: Match
    ends_at: Timestamp
    comment: str = ""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class MaintenanceWindow(Strict):
    name: str
    timezone: TimeZone = "UTC"
    weekdays: tuple[Weekday, ...] = _WEEKDAYS
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    match: Match = Match()


#: The labels a notification carries (``notification.labels_of``): what matchers may name.
LabelName = Literal["severity", "category", "code", "source", "tenant", "workspace", "item"]
LABEL_NAMES: tuple[str, ...] = LabelName.__args__  # type: ignore[attr-defined]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


@dataclass(frozen=True, slots=True)
class Matcher:
    """One Alertmanager matcher, parsed: ``label``, ``op`` (``=``, ``!=``, ``=~``, ``!~``), ``value``."""

    label: str
    op: str
    value: str


def parse_matcher(text: str) -> Matcher:
    """``severity="critical"``, ``code=~"53.*"``, ``workspace!="Sandbox"``, as Alertmanager writes
    them (the value quoted or bare). A regular expression must match the whole value, as in
    Alertmanager; a ``code`` compared with ``=``/``!=`` may carry the ``AADSTS`` prefix."""
    m = _MATCHER.match(text)
    if m is None:
        raise ValueError(f'{text!r} is not a matcher (e.g. severity="critical", code=~"53.*")')
    label, op, raw = m.groups()
    if label not in LABEL_NAMES:
        close = difflib.get_close_matches(label, LABEL_NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{text!r}: no label {label!r} ({hint}labels: {', '.join(LABEL_NAMES)})")
    value = _unquote(text, raw)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: not a regular expression ({exc})") from None
    elif label == "code" and value.lower().startswith("aadsts"):
        value = value[6:]
    return Matcher(label, op, value)


def _unquote(text: str, raw: str) -> str:
    if not raw.startswith('"'):
        if '"' in raw:
            raise ValueError(f"{text!r}: a quote inside an unquoted value")
        return raw
    if len(raw) < 2 or not raw.endswith('"'):
        raise ValueError(f"{text!r}: the value's closing quote is missing")
    out, chars = [], iter(raw[1:-1])
    for ch in chars:
        if ch == '"':
            raise ValueError(f"{text!r}: an unescaped quote inside the value")
        if ch == "\\":
            nxt = next(chars, "")
            if nxt not in _ESCAPES:
                raise ValueError(f"{text!r}: unknown escape \\{nxt}")
            out.append(_ESCAPES[nxt])
        else:
            out.append(ch)
    return "".join(out)


def check_matcher(text: str) -> str:
    parse_matcher(text)
    return text


MatcherText = Annotated[str, AfterValidator(check_matcher)]


class InhibitRule(Strict):
    """Alertmanager's shape: while an open incident matches every ``source_matchers`` entry, a
    notification matching every ``target_matchers`` entry is held back, if both have the same value
    for each ``equal`` label. A notification matching both sides is never held by one that does too."""

    source_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    target_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    equal: tuple[LabelName, ...] = ()
