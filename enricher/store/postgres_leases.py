"""Leases: which replica does which job, kept in the shared database.

Several replicas run the same schedule; a job (polling one tenant's source, the flush) must run
on one of them at a time, and move to another when its replica dies. A lease is a row
``(name, holder, ttl, expires_at)``: the holder renews it well before it expires; any replica may
take a lease that has expired.

Why rows with an expiry and not PostgreSQL's advisory locks: a session-level advisory lock
belongs to one connection, and a pool hands out several, reconnects after a restart (silently
dropping the lock while the replica still thinks it holds it) and, behind PgBouncer in
transaction mode, shares sessions between clients. A row is visible to every replica and to an
operator (``SELECT * FROM leases``), survives reconnects, and bounds a takeover by its expiry.

Times are the database's (``clock_timestamp()``), never a replica's clock, so skew between
machines cannot make two replicas both believe they hold a lease. A replica that stalls past its
expiry loses the lease; the poll or flush it was doing is fenced out: ``fence`` runs inside that
work's transaction and rolls it back unless the lease is still this replica's (and locks the row
until commit, so a takeover waits for that commit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from enricher.errors import StoreError

#: One statement acquires or renews many leases: rows this holder has are renewed, expired rows
#: are taken, others are left alone. ``prev`` reads the holders before the change (every part of
#: a WITH sees one snapshot), so a takeover knows whom it took from. Rows are locked in name
#: order, so two replicas acquiring at once cannot deadlock.
_ACQUIRE = """
WITH wanted AS (SELECT * FROM unnest(%s::text[], %s::float8[]) AS w(name, ttl) ORDER BY name),
prev AS (SELECT l.name, l.holder FROM leases l JOIN wanted w USING (name))
INSERT INTO leases AS l (name, holder, ttl_seconds, expires_at, acquired_at)
SELECT name, %s, ttl, clock_timestamp() + make_interval(secs => ttl), clock_timestamp() FROM wanted
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, ttl_seconds = excluded.ttl_seconds,
    expires_at = excluded.expires_at,
    acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END
WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
RETURNING l.name, (SELECT p.holder FROM prev p WHERE p.name = l.name)
"""


class LeaseLostError(StoreError):
    """The work's lease went to another replica meanwhile: its transaction is rolled back."""


@dataclass(frozen=True)
class Held:
    """A lease this replica holds after ``acquire``; ``taken_from`` names the replica it took over
    from (None: it was free or already ours)."""

    name: str
    taken_from: str | None


class PgLeases:
    """Mixed into ``PostgresStore``, which provides ``_run`` and ``transaction``."""

    def _run(self, sql: str, args: Sequence[object] | None = None) -> Any:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def acquire(self, holder: str, wanted: Mapping[str, float]) -> list[Held]:
        """Take or renew each lease of ``wanted`` (name -> seconds to live) that is free, expired or
        already ``holder``'s; the ones held now."""
        if not wanted:
            return []
        names = sorted(wanted)
        rows = self._run(_ACQUIRE, (names, [float(wanted[n]) for n in names], holder))
        return [Held(name, prev if prev not in (None, holder) else None) for name, prev in rows]

    def release(self, holder: str, names: Sequence[str] | None = None) -> int:
        """Give leases of ``holder`` up at once (``names``, or all of them at a clean stop), so
        another replica takes them at its next step instead of waiting for the expiry."""
        args: list[object]
        if names is None:
            sql, args = "UPDATE leases SET expires_at = clock_timestamp() WHERE holder = %s", [holder]
        else:
            sql = "UPDATE leases SET expires_at = clock_timestamp() WHERE holder = %s AND name = ANY(%s)"
            args = [holder, list(names)]
        return int(self._run(sql, args).rowcount)

    def forget_departed(self, after_seconds: float = 3600.0) -> int:
        """Drop presence rows (``replica:...``) of replicas gone longer than ``after_seconds``: each
        restart brings a new one, and the table would otherwise keep every replica that ever ran."""
        return int(
            self._run(
                "DELETE FROM leases WHERE name LIKE 'replica:%%' "
                "AND expires_at < clock_timestamp() - make_interval(secs => %s)",
                (after_seconds,),
            ).rowcount
        )

    def fence(self, names: Sequence[str], holder: str) -> None:
        """Inside a transaction: go on only while ``holder`` has every lease of ``names``, and keep
        them until commit."""
        rows = self._run(
            "SELECT name FROM leases WHERE name = ANY(%s) AND holder = %s "
            "AND expires_at > clock_timestamp() ORDER BY name FOR UPDATE",
            (sorted(names), holder),
        ).fetchall()
        lost = sorted(set(names) - {name for (name,) in rows})
        if lost:
            raise LeaseLostError(
                f"lease {', '.join(lost)} no longer held by this replica; its work is redone by the holder"
            )

    def leases(self) -> list[tuple[str, str, bool]]:
        """(name, holder, live) of every lease, for tests and operators."""
        rows = self._run("SELECT name, holder, expires_at > clock_timestamp() FROM leases ORDER BY name")
        return [(n, h, bool(live)) for n, h, live in rows]
