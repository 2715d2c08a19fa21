"""The queue of sign-in look-ups (``enricher.core.signin``), kept so a restart neither loses nor repeats one.

One row per incident: ``waiting`` until the sign-in is found (``found``) or its window ends
(``expired``). A row is never queued twice, so an incident is explained, and announced, once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal

from enricher.core.signin import Lookup

LookupState = Literal["waiting", "found", "expired"]

#: Migration 8: the sign-in look-up queue, read per tenant in due order.
SIGNIN_LOOKUPS = """
    CREATE TABLE signin_lookups (
        incident_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, state TEXT NOT NULL,
        next_at TEXT NOT NULL, body TEXT NOT NULL);
    CREATE INDEX signin_lookups_due ON signin_lookups(state, tenant, next_at);
    """


def lookup_json(lookup: Lookup) -> str:
    data: dict[str, Any] = {name: getattr(lookup, name) for name in Lookup.__slots__}
    for key in ("at", "until", "next_at"):
        data[key] = data[key].isoformat()
    data["kinds"] = list(lookup.kinds)
    return json.dumps(data)


def lookup_from(text: str) -> Lookup:
    data = json.loads(text)
    for key in ("at", "until", "next_at"):
        data[key] = datetime.fromisoformat(data[key])
    data["kinds"] = tuple(data["kinds"])
    return Lookup(**data)


class SigninTable:
    """Mixed into ``SQLiteStore``, which provides ``_run`` and ``transaction``."""

    _db: sqlite3.Connection

    def _run(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def queue_lookup(self, lookup: Lookup) -> bool:
        """Queue a look-up unless this incident already had one (True: queued now)."""
        cur = self._run(
            "INSERT OR IGNORE INTO signin_lookups (incident_id, tenant, state, next_at, body) "
            "VALUES (?, ?, 'waiting', ?, ?)",
            (lookup.incident_id, lookup.tenant, lookup.next_at.isoformat(), lookup_json(lookup)),
        )
        return cur.rowcount > 0

    def due_lookups(self, tenant: str, now: datetime, limit: int = 100) -> list[Lookup]:
        rows = self._run(
            "SELECT body FROM signin_lookups WHERE state = 'waiting' AND tenant = ? AND next_at <= ? "
            "ORDER BY next_at LIMIT ?",
            (tenant, now.isoformat(), limit),
        ).fetchall()
        return [lookup_from(r[0]) for r in rows]

    def save_lookup(self, lookup: Lookup, state: LookupState) -> None:
        self._run(
            "UPDATE signin_lookups SET state = ?, next_at = ?, body = ? WHERE incident_id = ?",
            (state, lookup.next_at.isoformat(), lookup_json(lookup), lookup.incident_id),
        )

    def lookup_state(self, incident_id: str) -> LookupState | None:
        row = self._run("SELECT state FROM signin_lookups WHERE incident_id = ?", (incident_id,)).fetchone()
        return row[0] if row else None
