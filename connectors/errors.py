"""Errors raised by the connectors. ``connectors`` imports nothing from ``enricher``, so it has its own
small tree; the daemon translates these into its own errors at the seam.

    ConnectorError
    ├── ApiError     an API answered with an error (after retries), or with a body we cannot parse
    └── AuthError    azure-identity could not get a token; ``message`` is Entra's text (AADSTS...)

    Stopped          the daemon is stopping: a wait or request was cut short (not a ConnectorError,
                     so no connector reports it as a problem of an item: the whole poll is dropped
                     and, its cursor untouched, redone at the next start)
"""

from __future__ import annotations


class ConnectorError(Exception):
    pass


class ApiError(ConnectorError):
    """``kind`` is a short word for metrics and logs: ``http_403``, ``timeout``, ``bad_json``,
    ``link_loop``, ``page_cap``, ``too_large``, ``throttled``, ``unreachable``..."""

    def __init__(
        self,
        api: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        kind: str | None = None,
    ) -> None:
        super().__init__(f"{api}: {message}")
        self.api = api
        self.status = status
        self.retryable = retryable
        self.kind = kind or (f"http_{status}" if status else "error")


class AuthError(ConnectorError):
    def __init__(self, scope: str, message: str) -> None:
        super().__init__(f"sign-in for {scope} failed: {message}")
        self.scope = scope
        self.message = message


class Stopped(Exception):  # noqa: N818 - an event, not a failure
    """Raised by a network wait that the daemon's stop event ended."""
