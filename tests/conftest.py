"""Fixtures every test directory may use: a real PostgreSQL server (``tests.postgres``) and a
webhook receiver on loopback (``tests.sinks.servers.Receiver``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.postgres import SKIP_REASON, Cluster, available
from tests.sinks.servers import Receiver


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway cluster per test process (each xdist worker starts its own)."""
    if not available():
        pytest.skip(SKIP_REASON)
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def postgres_url(pg_cluster: Cluster) -> str:
    """The URL of a new, empty database on the session's cluster."""
    return pg_cluster.create(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 recording every request, closed after the test."""
    r = Receiver()
    yield r
    r.close()
