"""A bounded HTTP listener for the health server (and the dashboard and ingest it carries).

The standard library's threading server starts a thread per connection, listens with a backlog of 5
and never gives up on a slow client, so 2,000 idle connections meant 2,000 threads and a burst of
1,000 probes meant refused connections. Here one thread accepts and reads every request's head
with a selector (a slow or idle client costs a file descriptor, not a thread), a complete head goes
through a bounded queue to a fixed pool of workers, and every wait has a deadline:

- a client has ``head_deadline`` seconds to send the request line and headers, else it gets 408;
- a worker waits at most ``idle`` seconds for any one read or write, and the body must arrive
  within ``body_deadline``;
- over ``pending`` connections still sending their head, the oldest is dropped; with the queue
  full, the newest complete request gets 503 with ``Retry-After``.

Clients that go away early are logged at debug level through the service's logger (where the
redactor sits), never as a traceback on stderr.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("aadsts_enricher.health")


@dataclass(frozen=True)
class Limits:
    workers: int = 8
    queue: int = 1024
    backlog: int = 1024
    pending: int = 1024
    head_deadline: float = 10.0
    idle: float = 10.0
    body_deadline: float = 30.0
    max_head: int = 65536


#: the limits the daemon runs with (tests pass shorter deadlines)
DEFAULT_LIMITS = Limits()


@dataclass
class Accepted:
    """A connection whose request head has arrived, as a worker receives it."""

    sock: socket.socket
    address: Any
    head: bytes
    deadline: float  # monotonic: when reading the body must be over


@dataclass
class _Pending:
    address: Any
    head: bytearray
    deadline: float


_CANNED = {
    408: b"HTTP/1.0 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    431: b"HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    503: b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
}


class BoundedServer:
    """Listens on ``address``; ``handle(accepted)`` serves one request on a worker thread."""

    def __init__(self, address: tuple[str, int], handle: Callable[[Accepted], None], limits: Limits) -> None:
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family, backlog=limits.backlog)
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self.limits = limits
        self._handle = handle
        self._queue: queue.Queue[Accepted | None] = queue.Queue(limits.queue)
        self._pending: dict[socket.socket, _Pending] = {}  # insertion order = oldest first
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._workers: list[threading.Thread] = []

    def serve_forever(self) -> None:
        """The accepting loop (its own thread); starts the workers and ends on ``shutdown``."""
        self._workers = [
            threading.Thread(target=self._work, name=f"health-worker-{i}", daemon=True)
            for i in range(self.limits.workers)
        ]
        for worker in self._workers:
            worker.start()
        sel = selectors.DefaultSelector()
        sel.register(self.socket, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stopping.is_set():
                try:
                    self._step(sel)
                except Exception:  # never let one connection end the listener
                    log.exception("health server: accepting failed")
                    time.sleep(0.05)
        finally:
            for sock in list(self._pending):
                self._drop(sel, sock)
            sel.close()
            self._stopped.set()

    def _step(self, sel: selectors.BaseSelector) -> None:
        for key, _ in sel.select(timeout=0.5):
            if key.data == "listen":
                self._accept(sel)
            elif key.data != "wake":
                self._read(sel, key.fileobj)  # type: ignore[arg-type]
        self._expire(sel)

    def shutdown(self) -> None:
        """Stops accepting, closes what is waiting, lets workers finish their request (bounded)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._stopped.wait(timeout=5)
        for _ in self._workers:
            try:
                self._queue.put(None, timeout=1)
            except queue.Full:
                break
        for worker in self._workers:
            worker.join(timeout=self.limits.idle)

    def server_close(self) -> None:
        self.socket.close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        for _ in range(64):  # a burst at a time, so reading heads is not starved
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of file descriptors: make room by dropping the slowest
                log.warning("health server cannot accept: %s", os.strerror(exc.errno or 0) or exc)
                if self._pending:
                    self._drop(sel, next(iter(self._pending)))
                else:
                    time.sleep(0.05)
                return
            if len(self._pending) >= self.limits.pending:
                self._drop(sel, next(iter(self._pending)))
            sock.setblocking(False)
            self._pending[sock] = _Pending(address, bytearray(), time.monotonic() + self.limits.head_deadline)
            sel.register(sock, selectors.EVENT_READ, "client")

    def _read(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        pending = self._pending.get(sock)
        if pending is None:
            return
        try:
            data = sock.recv(16384)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sel, sock)
            return
        pending.head += data
        if b"\n\r\n" in pending.head or b"\n\n" in pending.head:
            sel.unregister(sock)
            del self._pending[sock]
            self._hand_over(sock, pending)
        elif len(pending.head) > self.limits.max_head:
            self._drop(sel, sock, 431)

    def _hand_over(self, sock: socket.socket, pending: _Pending) -> None:
        accepted = Accepted(
            sock, pending.address, bytes(pending.head), time.monotonic() + self.limits.body_deadline
        )
        sock.setblocking(True)  # before a worker may have it (and close it)
        try:
            self._queue.put_nowait(accepted)
        except queue.Full:
            _answer_and_close(sock, 503)
            log.warning("health server busy: answered 503 (%d requests queued)", self.limits.queue)

    def _expire(self, sel: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for sock, pending in list(self._pending.items()):
            if pending.deadline > now:
                break  # the rest arrived later
            self._drop(sel, sock, 408)

    def _drop(self, sel: selectors.BaseSelector, sock: socket.socket, status: int | None = None) -> None:
        self._pending.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(sock)
        _answer_and_close(sock, status)

    def _work(self) -> None:
        while True:
            accepted = self._queue.get()
            if accepted is None:
                return
            try:
                accepted.sock.settimeout(self.limits.idle)
                self._handle(accepted)
            except (OSError, ValueError) as exc:  # reset, broken pipe, timeout, closed file
                log.debug("health client went away: %s", exc)
            except Exception:
                log.exception("health server request failed")
            finally:
                _close(accepted.sock)


class Prefixed(io.RawIOBase):
    """The request as a worker reads it: the head the listener already has, then the socket, each
    read waiting at most ``idle`` seconds and none after ``deadline``."""

    def __init__(self, accepted: Accepted, idle: float) -> None:
        self._head = memoryview(accepted.head)
        self._sock = accepted.sock
        self._deadline = accepted.deadline
        self._idle = idle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request body did not arrive in time")
        self._sock.settimeout(min(self._idle, left))
        return self._sock.recv_into(buffer)


class Writer(io.RawIOBase):
    """The response side: ``sendall`` (whose timeout, set by the worker, bounds the whole write)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


def _answer_and_close(sock: socket.socket, status: int | None) -> None:
    if status is not None:
        try:
            sock.setblocking(False)
            sock.send(_CANNED[status])
        except OSError:
            pass
    _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()
