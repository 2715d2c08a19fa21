"""What every connector shares: the contract, the poll result, fan-out and the self-sign-in record.

A connector is stateless apart from caches: ``poll(now, cursor)`` returns run records and the next
cursor (small, JSON-able watermarks). Overlapping windows may return a run twice; the daemon's store
drops runs it has seen with the same status, so a connector can always err on the side of reading
more. A failure of one item (a container, a dataset) is reported in ``errors`` and does not stop
the others; its watermark stays put so the next cycle retries it.

``errors`` are repeated every cycle (they decide the poll's health); ``notices`` are the problems
reported for the first time: each (kind, item) once, until that item works again. A refused
optional call (history the app may not read) is a notice without an error: the data already read
still counts and the poll stays healthy.
"""

from __future__ import annotations

import fnmatch
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from connectors.errors import ApiError, AuthError, ConnectorError
from connectors.records import RunRecord, RunStatus, Source

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Notice:
    """A problem of one item, reported once: ``kind`` is a short word for metrics (``refused``,
    ``timeout``, ``link_loop``, ``page_cap``...), ``item`` names what it happened to."""

    kind: str
    item: str
    message: str


class Ledger:
    """The problems a connector has reported and not yet seen cleared (thread-safe).

    Kept by the connector across polls, so a problem that recurs every cycle is reported once.
    """

    def __init__(self) -> None:
        self._open: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def first(self, kind: str, item: str) -> bool:
        """True the first time (kind, item) is reported since it last cleared."""
        with self._lock:
            if (kind, item) in self._open:
                return False
            self._open.add((kind, item))
            return True

    def clear(self, item: str) -> None:
        """``item`` worked: a later problem of it is news again."""
        with self._lock:
            self._open = {key for key in self._open if key[1] != item}


@dataclass
class Poll:
    records: list[RunRecord] = field(default_factory=list)
    cursor: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    auth_error: AuthError | None = None
    notices: list[Notice] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger, repr=False)
    #: monotonic time after which no further item is started (see :func:`fan_out`)
    until: float = math.inf

    def problem(self, kind: str, item: str, message: str, *, error: bool = True) -> None:
        """Record a problem of ``item``: an error of this poll unless ``error`` is False, and a
        notice the first time it is seen."""
        if error:
            self.errors.append(f"{item}: {message}")
        if self.ledger.first(kind, item):
            self.notices.append(Notice(kind, item, message))

    def worked(self, item: str) -> None:
        self.ledger.clear(item)


class Connector(Protocol):
    source: Source
    name: str

    def poll(self, now: datetime, cursor: Mapping[str, str]) -> Poll: ...


@dataclass(frozen=True)
class Identity:
    """Who the connector signs in as: needed to report the daemon's own sign-in failures."""

    tenant: str
    tenant_id: str
    client_id: str


def self_record(identity: Identity, scope: str, now: datetime, error: AuthError | None) -> RunRecord:
    """The daemon's own sign-in as a run: failed with Entra's text, or succeeded (resolving it)."""
    status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    return RunRecord(
        source=Source.SELF,
        tenant=identity.tenant,
        container_id=identity.client_id,
        container_name="aadsts-enricher",
        item_id=scope,
        item_name=f"own sign-in for {scope.removesuffix('/.default')}",
        item_type="token",
        run_id=f"self:{scope}",
        status=status,
        raw_status=status.value,
        started_at=now,
        ended_at=now,
        unattended=True,
        error_text=error.message if error else "",
        extra={"tenant_id": identity.tenant_id, "client_id": identity.client_id},
    )


def guarded_poll(
    identity: Identity,
    scope: str,
    now: datetime,
    cursor: dict[str, str],
    body: Callable[[Poll], None],
    ledger: Ledger | None = None,
    deadline: float = math.inf,
) -> Poll:
    """Run ``body`` and always finish with the record of the daemon's own sign-in for ``scope``.

    An AuthError anywhere (azure-identity could not get a token) ends the poll and becomes a failed
    ``self`` run carrying Entra's text; any other ConnectorError is an error of this poll.
    """
    poll = Poll(cursor=cursor, ledger=ledger or Ledger(), until=time.monotonic() + deadline)
    try:
        body(poll)
    except AuthError as exc:
        poll.auth_error = exc
    except ConnectorError as exc:
        poll.problem(kind_of(exc), "poll", str(exc))
    if poll.auth_error:
        poll.problem("auth", "sign-in", str(poll.auth_error))
    else:
        poll.worked("sign-in")
    poll.records.append(self_record(identity, scope, now, poll.auth_error))
    return poll


def fan_out(
    fn: Callable[[T], R], items: Sequence[T], workers: int, until: float = math.inf
) -> list[tuple[T, R | ConnectorError]]:
    """``fn`` over ``items`` with up to ``workers`` threads; a ConnectorError is a result, not a crash.

    An item not yet started when the monotonic clock passes ``until`` (the poll's deadline) is not
    asked for: its result is an ApiError of kind ``deadline``, so one slow host cannot hold a poll
    for hours, and the item (whose watermark stays) is read next cycle."""

    def guarded(item: T) -> R | ConnectorError:
        if time.monotonic() > until:
            return ApiError("poll", "not polled: the poll ran past its deadline", kind="deadline")
        try:
            return fn(item)
        except ConnectorError as exc:
            return exc

    if workers <= 1 or len(items) <= 1:
        return [(item, guarded(item)) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(zip(items, pool.map(guarded, items), strict=True))


def collect(
    poll: Poll, results: Iterable[tuple[T, R | ConnectorError]], what: Callable[[T], str]
) -> list[tuple[T, R]]:
    """Successful results; failures become problems of their item (the first auth failure goes to
    ``auth_error``)."""
    ok = []
    for item, result in results:
        if isinstance(result, AuthError):
            poll.auth_error = poll.auth_error or result
        elif isinstance(result, ConnectorError):
            poll.problem(kind_of(result), what(item), str(result))
        else:
            poll.worked(what(item))
            ok.append((item, result))
    return ok


def bounded(pages: Iterable[T], poll: Poll, item: str) -> Iterator[T]:
    """The pages of one listing. A listing that loops or runs past the page cap ends early: what was
    read so far is kept, and the stop is a problem of ``item``."""
    try:
        yield from pages
    except ApiError as exc:
        if exc.kind not in ("link_loop", "page_cap"):
            raise
        poll.problem(exc.kind, item, str(exc))


def kind_of(error: ConnectorError) -> str:
    """The metric word for a failure: the ApiError's kind, else ``error``."""
    return error.kind if isinstance(error, ApiError) else "error"


def refused(error: ConnectorError) -> bool:
    """A 403 or 404: the caller may not read this (or it is not there for the caller)."""
    return isinstance(error, ApiError) and error.status in (403, 404)


@dataclass(frozen=True)
class NameFilter:
    """Include/exclude by name with globs (``Finance*``) or, written ``re:...``, regular expressions."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __call__(self, name: str) -> bool:
        if self.include and not any(_match(p, name) for p in self.include):
            return False
        return not any(_match(p, name) for p in self.exclude)


def _match(pattern: str, name: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: payloads from outside are never trusted."""
    return value if isinstance(value, dict) else {}


def lower_keys(obj: Mapping[str, object]) -> dict[str, object]:
    """Power BI spells some keys with a capital first letter in the spec; read them case-insensitively."""
    return {k.lower(): v for k, v in obj.items()}
