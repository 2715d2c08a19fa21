"""The outbox half of :class:`~enricher.store.SQLiteStore`: one row per (notification, sink).

A row is ``pending`` until its sink answered for good (``delivered``) or gave up (``dead``).
Before each attempt the worker stamps ``sending_at`` and commits; the outcome clears it. A row
found with ``sending_at`` set after a restart is the only kind that may already have reached its
destination (the process died between the send and the record), which is what makes the
guarantee at-least-once with a window of one row per sink, re-sent with the same idempotency key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from enricher.notification import Notification
from enricher.store.base import Backlog, OutboxRow, OutboxState, iter_due

_DUE = (
    "SELECT * FROM outbox o{index} WHERE state = 'pending' AND next_at <= ?{sink} AND NOT EXISTS (SELECT 1 "
    "FROM outbox p WHERE p.state = 'pending' AND p.sink = o.sink AND p.incident_id = o.incident_id "
    "AND p.id < o.id) ORDER BY id LIMIT ?"
)


class OutboxTable:
    """Mixed into SQLiteStore, which provides ``_run`` and ``transaction``."""

    def _run(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def enqueue(self, notification: Notification, sinks: Sequence[str], now: datetime) -> int:
        body = json.dumps(notification.to_dict(), ensure_ascii=False)
        at = now.isoformat()
        added = 0
        with self.transaction():
            for sink in sinks:
                cur = self._run(
                    "INSERT OR IGNORE INTO outbox (notification_id, sink, incident_id, body, created_at, next_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (notification.id, sink, notification.incident_id, body, at, at, at),
                )
                added += cur.rowcount
        return added

    def due(self, now: datetime, limit: int = 200, *, sink: str | None = None) -> list[OutboxRow]:
        if sink is None:
            rows = self._run(_DUE.format(index="", sink=""), (now.isoformat(), limit)).fetchall()
        else:
            # a sink's worker walks its own pending rows in order (migration 7), never the others'
            query = _DUE.format(index=" INDEXED BY outbox_sink_pending", sink=" AND sink = ?")
            rows = self._run(query, (now.isoformat(), sink, limit)).fetchall()
        return list(iter_due([_row(r) for r in rows]))

    def mark_sending(self, row_id: int, now: datetime) -> bool:
        """Always True: one daemon per state directory (``state.lock``), so nobody else sends its rows."""
        self._run(
            "UPDATE outbox SET sending_at = ?, updated_at = ? WHERE id = ?",
            (now.isoformat(),) * 2 + (row_id,),
        )
        return True

    def defer_sink(self, sink: str, until: datetime) -> int:
        at = until.isoformat()
        return self._run(
            "UPDATE outbox SET next_at = ? WHERE sink = ? AND state = 'pending' AND next_at < ?",
            (at, sink, at),
        ).rowcount

    def mark_delivered(self, row_id: int, now: datetime, detail: str = "") -> None:
        self._finish(row_id, "delivered", now, detail)

    def mark_retry(self, row_id: int, next_at: datetime, error: str) -> None:
        self._run(
            "UPDATE outbox SET attempts = attempts + 1, next_at = ?, updated_at = ?, last_error = ?, "
            "sending_at = NULL WHERE id = ?",
            (next_at.isoformat(), next_at.isoformat(), error[:500], row_id),
        )

    def mark_dead(self, row_id: int, now: datetime, error: str) -> None:
        self._finish(row_id, "dead", now, error)

    def _finish(self, row_id: int, state: OutboxState, now: datetime, detail: str) -> None:
        self._run(
            "UPDATE outbox SET state = ?, attempts = attempts + 1, updated_at = ?, last_error = ?, "
            "sending_at = NULL WHERE id = ?",
            (state, now.isoformat(), detail[:500], row_id),
        )

    def outbox(self, *, state: OutboxState | None = None, limit: int = 1000) -> list[OutboxRow]:
        if state:
            rows = self._run(
                "SELECT * FROM outbox WHERE state = ? ORDER BY id LIMIT ?", (state, limit)
            ).fetchall()
        else:
            rows = self._run("SELECT * FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [_row(r) for r in rows]

    def outbox_of(self, incident_id: str) -> list[OutboxRow]:
        rows = self._run("SELECT * FROM outbox WHERE incident_id = ? ORDER BY id", (incident_id,))
        return [_row(r) for r in rows.fetchall()]

    def outbox_depth(self) -> dict[str, int]:
        return {sink: b.depth for sink, b in self.backlog().items()}

    def backlog(self) -> dict[str, Backlog]:
        rows = self._run(
            "SELECT sink, COUNT(*), MIN(created_at), MIN(next_at) FROM outbox WHERE state = 'pending' GROUP BY sink"
        ).fetchall()
        return {
            sink: Backlog(int(n), datetime.fromisoformat(oldest), datetime.fromisoformat(next_at))
            for sink, n, oldest, next_at in rows
        }


def _row(r: tuple[object, ...]) -> OutboxRow:
    row_id, _nid, sink, _iid, body, state, attempts, created, next_at, updated, error, sending = r
    return OutboxRow(
        id=int(str(row_id)),
        notification=Notification.from_dict(json.loads(str(body))),
        sink=str(sink),
        attempts=int(str(attempts)),
        created_at=datetime.fromisoformat(str(created)),
        next_at=datetime.fromisoformat(str(next_at)),
        state=str(state),  # type: ignore[arg-type]
        last_error=str(error),
        sending_at=datetime.fromisoformat(str(sending)) if sending else None,
        finished_at=datetime.fromisoformat(str(updated)) if state != "pending" else None,
    )
