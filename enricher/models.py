"""Vocabulary of the core: what detection finds and what enrichment makes of it.

Frozen, slotted dataclasses: they are created by the thousand per second in the hot path and
passed between pure functions, so they must be cheap and must not change under anyone's feet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from connectors.records import RunRecord


class How(StrEnum):
    """How a code was found in the text, strongest evidence first."""

    LITERAL = "literal"  # AADSTS53003 in the text
    ERROR_CODES = "error_codes"  # "error_codes": [53003] of a token-endpoint error body
    ERROR_URI = "error_uri"  # https://login.microsoftonline.com/error?code=53003
    SIGNIN = "signin_status"  # a sign-in log record's status.errorCode: 53003
    BROKER = "broker"  # a broker/WAM log's server_error_code: 53003
    TELEMETRY = "telemetry"  # the x-ms-clitelem response header: 1,53003,0,...


@dataclass(frozen=True, slots=True)
class Finding:
    """One AADSTS code read from a text, with the identifiers printed near it."""

    code: str
    how: How
    span: tuple[int, int]
    excerpt: str
    trace_id: str | None = None
    correlation_id: str | None = None
    timestamp: str | None = None
    error: str | None = None
    suberror: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inferred:
    """A code guessed from a message signature phrase, because the code itself was missing."""

    code: str
    phrase: str
    span: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Detection:
    findings: tuple[Finding, ...] = ()
    inferred: tuple[Inferred, ...] = ()
    primary: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)

    @property
    def primary_finding(self) -> Finding | None:
        return next((f for f in self.findings if f.code == self.primary), None)

    def first(self, attr: str) -> str | None:
        """The primary finding's value of ``attr``, else the first finding that has one."""
        if len(self.findings) == 1:  # the usual case, asked several times per run
            value = getattr(self.findings[0], attr)
            return str(value) if value else None
        primary = self.primary_finding
        value = getattr(primary, attr) if primary else None
        if value:
            return str(value)
        return next((str(getattr(f, attr)) for f in self.findings if getattr(f, attr)), None)

    def __bool__(self) -> bool:
        return bool(self.findings or self.inferred)


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class FixStep:
    step: str
    command: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A failed run explained: what the code means, how bad it is and what to do.

    ``fingerprint`` identifies the problem (tenant + source + item + primary code) so repeated
    failures of the same item with the same code fold into one incident.
    """

    fingerprint: str
    code: str
    codes: tuple[str, ...]
    known: bool
    name: str
    title: str
    short: str
    severity: str
    severity_reason: str
    category: str
    summary: str
    causes: tuple[str, ...]
    fixes: tuple[FixStep, ...]
    context_note: str | None
    links: tuple[Link, ...]
    transient: bool
    needs_user: bool
    inferred: bool
    run: RunRecord
    detection: Detection = field(compare=False)
    correlation_id: str | None = None
    trace_id: str | None = None
    timestamp: str | None = None
