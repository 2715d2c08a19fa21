"""One error tree for the whole daemon.

    EnricherError
    ├── ConfigError      a config file or value is wrong; the message names the path and the reason
    │   └── ListenError  the address to listen on is taken or not ours (also an OSError)
    ├── KnowledgeError   a knowledge-base file does not load or validate
    ├── SourceError      an API could not be read (after retries); carries the API name
    ├── DeliveryError    a sink could not deliver (raised only where a caller must stop)
    └── StoreError       the state store is unusable

Third-party exceptions (requests, azure-identity, sqlite3, pydantic) are translated into these at
the seam where they enter, so the CLI can print one clear line and choose an exit code.
"""

from __future__ import annotations


class EnricherError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(EnricherError):
    """A configuration problem. ``str(err)`` is a one-line, user-facing message."""


class ListenError(ConfigError, OSError):
    """A server could not bind: one line naming the setting and the port (exit 2, no traceback).

    Also an ``OSError``, so code that already treats a failed bind as one keeps working."""


class KnowledgeError(EnricherError):
    """A knowledge-base file is missing, unreadable or invalid."""


class SourceError(EnricherError):
    def __init__(self, api: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"{api}: {message}")
        self.api = api
        self.retryable = retryable


class DeliveryError(EnricherError):
    """A sink failed in a way the caller must see (e.g. ``test-sink``)."""


class StoreError(EnricherError):
    """The state store cannot be opened or written."""
