"""A throwaway PostgreSQL cluster for the tests: Debian's ``postgresql`` (15), nothing of it mocked.

``make test`` installs the package when it runs as root with apt-get (``make postgres``); without
the binaries the tests that need a server skip and say so. The cluster lives in a fresh temporary
directory, listens on a free loopback port (and a unix socket in the same directory), trusts
loopback connections and is removed when the fixture ends. PostgreSQL refuses to run as root, so
as root the cluster belongs to the ``postgres`` system user the package creates (``nobody`` when
it is missing); the directory is made for that user, outside pytest's root-only temp tree.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("ENRICHER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SKIP_REASON = (
    f"PostgreSQL 15 is not installed ({BIN}/initdb missing; make test installs it as root: make postgres)"
)


def available() -> bool:
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owner() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as (None: we are not root, run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


class Cluster:
    """One server: ``start()``, ``url(database)``, ``create(database)``, ``restart()``, ``stop()``."""

    def __init__(self) -> None:
        self.owner = _owner()
        self.root = Path(tempfile.mkdtemp(prefix="enricher-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self._as_owner(
            [str(BIN / "initdb"), "-D", str(self.data), "-U", "enricher", "--auth=trust", "-E", "UTF8"],
            "--no-sync",
        )

    def _as_owner(self, argv: list[str], *extra: str) -> None:
        user = self.owner.pw_name if self.owner else None
        done = subprocess.run(
            [*argv, *extra], user=user, capture_output=True, text=True, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._as_owner(
            [str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]
        )
        self._wait_ready()

    def stop(self, mode: str = "fast") -> None:
        self._as_owner([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://enricher@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped (a test stopped it)
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_ready(self) -> None:
        """Until the server accepts a connection (a start-up wait with a generous bound, not a timing)."""
        import psycopg

        for _ in range(600):
            try:
                with psycopg.connect(self.url(), connect_timeout=5):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not accept connections: {self.log.read_text()[-2000:]}")
