"""A total deadline per request, and an end to it on shutdown.

A socket timeout bounds each read, not a request: a host that sends one byte every two seconds
never trips a 30 s read timeout, and one page can take hours. Nor does a timeout notice that the
daemon is stopping. So every request of :class:`connectors.http.AzureHttp` runs inside
:meth:`Watchdog.guard`, which names a deadline; the connection registers its socket with the
guard of the thread that uses it, and one watchdog thread shuts that socket down when the
deadline passes or the stop event is set. The blocked read then fails at once (requests raises a
ConnectionError), which the client reports as a timeout, or as :class:`Stopped` on shutdown.

Only sockets of requests in flight are touched: a guard forgets its sockets when its request ends,
so a keep-alive connection back in the pool is never cut. (The TLS handshake of a new connection
runs before the socket can be registered; it is bounded by the connect timeout per read.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: How often the watchdog looks at the guards while a request is in flight.
TICK = 0.2


class _Guard:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sockets: list[socket.socket] = []
        self.cut = False


class Watchdog:
    """Cuts the connection of a request that runs past its deadline, or of every request on stop."""

    def __init__(
        self, stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stop = stop or threading.Event()
        self._clock = clock
        self._guards: dict[int, _Guard] = {}
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self.cuts = 0

    @contextmanager
    def guard(self, deadline: float) -> Iterator[_Guard]:
        """Watch the requests this thread makes until the block ends (``deadline``: monotonic time)."""
        ident, guard = threading.get_ident(), _Guard(deadline)
        with self._lock:
            self._guards[ident] = guard
            self._start()
            self._lock.notify()
        try:
            yield guard
        finally:
            with self._lock:
                self._guards.pop(ident, None)

    def attach(self, sock: socket.socket | None) -> None:
        """Called by a connection about to send on ``sock`` in the current thread."""
        if sock is None:
            return
        with self._lock:
            guard = self._guards.get(threading.get_ident())
            if guard is not None and sock not in guard.sockets:
                guard.sockets.append(sock)
                if guard.cut:
                    _shut(sock)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="http-watchdog", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        with self._lock:
            while True:
                if not self._guards:
                    self._lock.wait(30)
                    if not self._guards:
                        self._thread = None
                        return
                now, stopping = self._clock(), self.stop.is_set()
                for guard in self._guards.values():
                    if not guard.cut and (stopping or now >= guard.deadline):
                        guard.cut = True
                        self.cuts += 1
                        for sock in guard.sockets:
                            _shut(sock)
                self._lock.wait(TICK)


def _shut(sock: socket.socket) -> None:
    """End every read and write on ``sock`` now (the plain socket call: for a TLS socket it bypasses
    the TLS layer, which another thread may be blocked in)."""
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def watched_adapter(watchdog: Watchdog, **kwargs: Any) -> HTTPAdapter:
    """An HTTPAdapter whose connections register their socket with ``watchdog`` before each request."""

    class Connection(HTTPConnection):
        def request(self, *args: Any, **kw: Any) -> None:
            watchdog.attach(self.sock)
            super().request(*args, **kw)

    class SecureConnection(HTTPSConnection):
        def request(self, *args: Any, **kw: Any) -> None:
            watchdog.attach(self.sock)
            super().request(*args, **kw)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    adapter = HTTPAdapter(**kwargs)
    adapter.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}
    return adapter
