"""State: cursors, seen runs, incidents, silences, the delivery outbox and the heartbeat.

``Store`` is the contract; ``SQLiteStore`` (embedded, WAL, one connection behind a lock) is the
default, ``PostgresStore`` (``enricher.store.postgres``, imported only when ``state.url`` is set)
is shared by several replicas, and ``MemoryStore`` is the fake the tests use. All writes of one daemon cycle happen inside ``transaction()``: a crash
(even ``kill -9``) either keeps all of a cycle's effects or none, so the next cycle redoes it.
"""

from enricher.store.base import Backlog, Event, OutboxRow, Store
from enricher.store.memory import MemoryStore
from enricher.store.sqlite import SQLiteStore

__all__ = ["Backlog", "Event", "MemoryStore", "OutboxRow", "SQLiteStore", "Store"]
