"""The outbox and the sign-in look-up queue in PostgreSQL, shared by every replica.

Rows and states are the SQLite store's (``sqlite_outbox``). Several replicas drain one outbox,
so a row must be sent by one of them only: ``mark_sending`` is a claim. It stamps ``sending_at``
only if no other attempt is under way (``sending_at`` empty, or older than ``claim_for``: its
replica died mid-send), locking the row with ``FOR UPDATE SKIP LOCKED`` so that a replica racing
for the same row skips it at once instead of waiting for the winner to commit; the loser gets
False and leaves the row alone. ``due`` leaves out rows claimed less than ``claim_for`` ago.

What can still be sent twice: a row whose replica died after the destination took it and before
the outcome was recorded. It waits ``claim_for``, then another replica sends it again with the
same idempotency key. A claimed row stays pending, so later rows of the same incident and sink
keep waiting behind it: order per incident holds across replicas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from enricher.core.signin import Lookup
from enricher.notification import Notification
from enricher.store.base import Backlog, OutboxRow, OutboxState, iter_due
from enricher.store.sqlite_signins import LookupState, lookup_from, lookup_json

_COLUMNS = "id, sink, body, state, attempts, created_at, next_at, last_error, sending_at, updated_at"
_DUE = (
    f"SELECT {_COLUMNS} FROM outbox o WHERE state = 'pending' AND next_at <= %s{{sink}} "
    "AND (sending_at IS NULL OR sending_at <= %s) AND NOT EXISTS (SELECT 1 FROM outbox p "
    "WHERE p.state = 'pending' AND p.sink = o.sink AND p.incident_id = o.incident_id AND p.id < o.id) "
    "ORDER BY id LIMIT %s"
)


class PgOutbox:
    """Mixed into ``PostgresStore``, which provides ``_run``, ``_many``, ``transaction`` and ``claim_for``."""

    claim_for: timedelta

    def _run(self, sql: str, args: Sequence[object] | None = None) -> Any:
        raise NotImplementedError

    def _many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def enqueue(self, notification: Notification, sinks: Sequence[str], now: datetime) -> int:
        body = json.dumps(notification.to_dict(), ensure_ascii=False)
        added = 0
        with self.transaction():
            for sink in sinks:
                added += self._run(
                    "INSERT INTO outbox (notification_id, sink, incident_id, body, created_at, next_at, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (notification.id, sink, notification.incident_id, body, now, now, now),
                ).rowcount
        return added

    def due(self, now: datetime, limit: int = 200, *, sink: str | None = None) -> list[OutboxRow]:
        stale = now - self.claim_for
        if sink is None:
            rows = self._run(_DUE.format(sink=""), (now, stale, limit))
        else:
            rows = self._run(_DUE.format(sink=" AND sink = %s"), (now, sink, stale, limit))
        return list(iter_due([_row(r) for r in rows]))

    def mark_sending(self, row_id: int, now: datetime) -> bool:
        """Claim the row for one attempt (False: another replica is sending it, or it is done)."""
        return (
            self._run(
                "UPDATE outbox SET sending_at = %s, updated_at = %s WHERE id = (SELECT id FROM outbox "
                "WHERE id = %s AND state = 'pending' AND (sending_at IS NULL OR sending_at <= %s) "
                "FOR UPDATE SKIP LOCKED)",
                (now, now, row_id, now - self.claim_for),
            ).rowcount
            > 0
        )

    def defer_sink(self, sink: str, until: datetime) -> int:
        return self._run(
            "UPDATE outbox SET next_at = %s WHERE sink = %s AND state = 'pending' AND next_at < %s",
            (until, sink, until),
        ).rowcount

    def mark_delivered(self, row_id: int, now: datetime, detail: str = "") -> None:
        self._finish(row_id, "delivered", now, detail)

    def mark_retry(self, row_id: int, next_at: datetime, error: str) -> None:
        self._run(
            "UPDATE outbox SET attempts = attempts + 1, next_at = %s, updated_at = %s, last_error = %s, "
            "sending_at = NULL WHERE id = %s",
            (next_at, next_at, error[:500], row_id),
        )

    def mark_dead(self, row_id: int, now: datetime, error: str) -> None:
        self._finish(row_id, "dead", now, error)

    def _finish(self, row_id: int, state: OutboxState, now: datetime, detail: str) -> None:
        self._run(
            "UPDATE outbox SET state = %s, attempts = attempts + 1, updated_at = %s, last_error = %s, "
            "sending_at = NULL WHERE id = %s",
            (state, now, detail[:500], row_id),
        )

    def outbox(self, *, state: OutboxState | None = None, limit: int = 1000) -> list[OutboxRow]:
        if state:
            rows = self._run(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = %s ORDER BY id LIMIT %s", (state, limit)
            )
        else:
            rows = self._run(f"SELECT {_COLUMNS} FROM outbox ORDER BY id LIMIT %s", (limit,))
        return [_row(r) for r in rows]

    def outbox_of(self, incident_id: str) -> list[OutboxRow]:
        rows = self._run(f"SELECT {_COLUMNS} FROM outbox WHERE incident_id = %s ORDER BY id", (incident_id,))
        return [_row(r) for r in rows]

    def outbox_depth(self) -> dict[str, int]:
        return {sink: b.depth for sink, b in self.backlog().items()}

    def backlog(self) -> dict[str, Backlog]:
        rows = self._run(
            "SELECT sink, COUNT(*), MIN(created_at), MIN(next_at) FROM outbox WHERE state = 'pending' GROUP BY sink"
        )
        return {sink: Backlog(int(n), oldest, next_at) for sink, n, oldest, next_at in rows}

    # -- sign-in look-ups --------------------------------------------------------------------------

    def queue_lookup(self, lookup: Lookup) -> bool:
        return (
            self._run(
                "INSERT INTO signin_lookups VALUES (%s, %s, 'waiting', %s, %s) ON CONFLICT DO NOTHING",
                (lookup.incident_id, lookup.tenant, lookup.next_at, lookup_json(lookup)),
            ).rowcount
            > 0
        )

    def due_lookups(self, tenant: str, now: datetime, limit: int = 100) -> list[Lookup]:
        rows = self._run(
            "SELECT body FROM signin_lookups WHERE state = 'waiting' AND tenant = %s AND next_at <= %s "
            "ORDER BY next_at LIMIT %s",
            (tenant, now, limit),
        )
        return [lookup_from(body) for (body,) in rows]

    def save_lookup(self, lookup: Lookup, state: LookupState) -> None:
        self._run(
            "UPDATE signin_lookups SET state = %s, next_at = %s, body = %s WHERE incident_id = %s",
            (state, lookup.next_at, lookup_json(lookup), lookup.incident_id),
        )

    def lookup_state(self, incident_id: str) -> LookupState | None:
        row = self._run("SELECT state FROM signin_lookups WHERE incident_id = %s", (incident_id,)).fetchone()
        return row[0] if row else None


def _row(r: tuple[Any, ...]) -> OutboxRow:
    row_id, sink, body, state, attempts, created, next_at, error, sending, updated = r
    return OutboxRow(
        id=int(row_id),
        notification=Notification.from_dict(json.loads(body)),
        sink=sink,
        attempts=int(attempts),
        created_at=created,
        next_at=next_at,
        state=state,
        last_error=error,
        sending_at=sending,
        finished_at=updated if state != "pending" else None,
    )
