"""The sign-in event behind a failed run, read from the Graph sign-in log (reference section 6).

A run failure names a code and often a correlation ID; the sign-in log names the cause: which
Conditional Access policy and grant control, from which IP, location and device, for which user
or service principal. ``SigninFinder.find`` takes a batch of queries and answers each with a
``SignIn`` or nothing (not there yet: Entra writes sign-ins minutes after they happen).

Which log to read depends on who signed in, because Graph splits the log by event type:

* ``interactiveUser``: v1.0 ``auditLogs/signIns`` returns these, and only these.
* ``nonInteractiveUser`` (a stored OAuth refresh token redeemed by a refresh, no person present),
  ``servicePrincipal`` (a client secret or certificate) and ``managedIdentity``: v1.0 never
  returns them and beta returns them only when asked for by ``signInEventTypes``; a v1.0
  correlation-ID search for an unattended job therefore finds nothing.

Graph reporting allows about 5 requests per 10 seconds per app and tenant. Every request waits
for ``RateGate``; correlation IDs are batched into one ``or`` filter per event type, so a burst of
failures costs a few requests, not one per failure and type.

What the app may not read is a value, not an error: ``Missing.LICENCE`` (403
``Authentication_RequestFromNonPremiumTenantOrB2CTenant``), ``Missing.AUDIT_LOG`` (403 without
``AuditLog.Read.All``) stop the look-up; ``Missing.POLICY_READ`` (no ``Policy.Read.All``: Graph
omits ``appliedConditionalAccessPolicies``) only costs the policy names.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from connectors.errors import ApiError, ConnectorError
from connectors.graph import GraphClient
from connectors.signin_records import SignIn, signin_of

__all__ = ["Batch", "EventType", "Missing", "RateGate", "SignIn", "SigninFinder", "SigninQuery", "kinds_for"]


class EventType(StrEnum):
    INTERACTIVE = "interactiveUser"
    NON_INTERACTIVE = "nonInteractiveUser"
    SERVICE_PRINCIPAL = "servicePrincipal"
    MANAGED_IDENTITY = "managedIdentity"


class Missing(StrEnum):
    LICENCE = "licence"
    AUDIT_LOG = "AuditLog.Read.All"
    POLICY_READ = "Policy.Read.All"


def kinds_for(principal: str) -> tuple[EventType, ...]:
    """The logs to search, likeliest first, for a code whose credential belongs to ``principal``
    (``app``: a secret, certificate or managed identity; anything else: a user's credential, which
    a scheduled refresh redeems non-interactively but a person may have typed in)."""
    if principal == "app":
        return (EventType.SERVICE_PRINCIPAL, EventType.MANAGED_IDENTITY)
    return (EventType.INTERACTIVE, EventType.NON_INTERACTIVE)


@dataclass(frozen=True, slots=True)
class SigninQuery:
    key: str  # the caller's name for it (an incident id)
    code: int
    at: datetime  # when the run failed (the error's timestamp if it printed one)
    kinds: tuple[EventType, ...]
    correlation_id: str | None = None
    app_id: str | None = None


@dataclass
class Batch:
    found: dict[str, SignIn] = field(default_factory=dict)
    missing: set[Missing] = field(default_factory=set)
    requests: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """The log cannot be read at all (no licence or no permission): stop asking."""
        return bool(self.missing & {Missing.LICENCE, Missing.AUDIT_LOG})


class RateGate:
    """At most ``limit`` requests per ``per`` seconds; ``wait`` sleeps (through ``sleep``, so a
    stopping daemon can cut it short) until the next request may go. Graph starts its window when
    a request arrives, later than we count it from, so each wait is ``margin`` seconds longer."""

    def __init__(
        self,
        limit: int = 5,
        per: float = 10.0,
        *,
        margin: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit, self.per, self.margin = limit, per, margin
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self.per:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                self._sleep(self._sent[0] + self.per + self.margin - now)
                self._sent.popleft()
                now = self._clock()
            self._sent.append(now)


class SigninFinder:
    """Answers batches of queries against one tenant's sign-in log."""

    def __init__(
        self,
        graph: GraphClient,
        gate: RateGate | None = None,
        *,
        window: timedelta = timedelta(minutes=10),
        per_request: int = 10,
    ) -> None:
        self.graph = graph
        self.gate = gate or RateGate()
        self.window = window
        self.per_request = per_request

    def find(self, queries: Sequence[SigninQuery], max_requests: int) -> Batch:
        """Found sign-ins by query key; at most ``max_requests`` requests (the rest waits)."""
        batch = Batch()
        for kind, flt, planned in self._plan(queries):
            if batch.requests >= max_requests or batch.refused:
                break
            wanted = [q for q in planned if q.key not in batch.found]
            if not wanted:
                continue
            records = self._ask(kind, flt, batch)
            for record in records:
                if "appliedConditionalAccessPolicies" not in record:
                    batch.missing.add(Missing.POLICY_READ)
                for q in wanted:
                    if q.key not in batch.found and _matches(q, record):
                        batch.found[q.key] = signin_of(record, kind.value)
        return batch

    def _plan(self, queries: Sequence[SigninQuery]) -> Iterable[tuple[EventType, str, list[SigninQuery]]]:
        """Requests in order: batches of correlation IDs per event type, then one per query
        without an ID (app id + code + a window around the failure)."""
        by_id = [q for q in queries if q.correlation_id]
        for kind in EventType:
            chosen = [q for q in by_id if kind in q.kinds]
            for start in range(0, len(chosen), self.per_request):
                part = chosen[start : start + self.per_request]
                ids = " or ".join(f"correlationId eq '{_safe(q.correlation_id or '')}'" for q in part)
                yield kind, f"{self._span(part)} and ({ids})", part
        for q in queries:
            if q.correlation_id:
                continue
            for kind in q.kinds:
                terms = [self._span([q]), f"status/errorCode eq {q.code}"]
                if q.app_id:
                    terms.append(f"appId eq '{_safe(q.app_id)}'")
                yield kind, " and ".join(terms), [q]

    def _span(self, queries: Sequence[SigninQuery]) -> str:
        low = min(q.at for q in queries) - self.window
        high = max(q.at for q in queries) + self.window
        return f"createdDateTime ge {_instant(low)} and createdDateTime le {_instant(high)}"

    def _ask(self, kind: EventType, flt: str, batch: Batch) -> list[dict[str, Any]]:
        # v1.0 answers interactive user sign-ins only; the other three exist only on beta, and
        # only when named in signInEventTypes (beta without it is interactive-only as well)
        beta = kind is not EventType.INTERACTIVE
        if beta:
            flt = f"{flt} and signInEventTypes/any(t: t eq '{kind.value}')"
        self.gate.wait()
        batch.requests += 1
        try:
            return self.graph.signins(flt, top=100, beta=beta, limit=100)
        except ApiError as exc:
            text = str(exc)
            if "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in text:
                batch.missing.add(Missing.LICENCE)
            elif exc.status == 403:
                batch.missing.add(Missing.AUDIT_LOG)
            else:
                batch.errors.append(text)
            return []
        except ConnectorError as exc:
            batch.errors.append(str(exc))
            return []


def _matches(q: SigninQuery, record: dict[str, Any]) -> bool:
    if q.correlation_id:
        return str(record.get("correlationId", "")).lower() == q.correlation_id.lower()
    status = record.get("status")
    if not isinstance(status, dict):
        return False
    return status.get("errorCode") == q.code and (
        not q.app_id or str(record.get("appId", "")).lower() == q.app_id.lower()
    )


def _safe(value: str) -> str:
    return value.replace("'", "")


def _instant(moment: datetime) -> str:
    """Whole seconds: Graph filters take ``2025-04-02T06:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
