"""The throwaway PostgreSQL cluster the store tests use (``tests.postgres``) is real and disposable."""

from __future__ import annotations

import psycopg

from tests.postgres import Cluster


def test_each_database_is_new_and_empty(postgres_url: str) -> None:
    """A test gets its own database on a real PostgreSQL 15 with no tables in it."""
    with psycopg.connect(postgres_url) as conn:
        (version,) = (
            conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone() or ()
        )
        (tables,) = (
            conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
            or ()
        )
    assert (version, tables) == (15, 0)


def test_the_server_does_not_run_as_root(pg_cluster: Cluster) -> None:
    """PostgreSQL refuses root, so as root the cluster belongs to an unprivileged user."""
    pid = int((pg_cluster.data / "postmaster.pid").read_text().split()[0])
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
    assert uid != 0
