"""What every API handler may read: the world, the clock, issued credentials, counters.

One ``State`` per simulator; handlers hold a reference to it instead of reaching for globals.
The mutable parts (registered client certificates, the log of token-endpoint failures, quota
windows, the request counter) are thread-safe.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from connectors.simulator.clock import SimClock
from connectors.simulator.faults import Quota
from connectors.simulator.ids import stable_uuid
from connectors.simulator.model import App
from connectors.simulator.scenario import Scenario
from connectors.simulator.tls import ClientCertificate
from connectors.simulator.tokens import TokenIssuer
from connectors.simulator.world import World


@dataclass(frozen=True, slots=True)
class TokenFailure:
    """A failed token request, kept for the Graph sign-in log."""

    when: datetime
    tenant_id: str
    client_id: str
    app_name: str
    code: int
    correlation_id: str
    resource: str


@dataclass
class State:
    scenario: Scenario
    world: World
    clock: SimClock
    issuer: TokenIssuer
    paging: dict[str, int]
    base_url: str = ""
    admin_groups_quota: Quota = field(default_factory=lambda: Quota((15, 60.0), (50, 3600.0)))
    refreshables_quota: Quota = field(default_factory=lambda: Quota((200, 3600.0)))
    #: Log Analytics workspace id (lower case) -> the query answer (``Simulator.add_search_results``)
    search_results: dict[str, dict[str, object]] = field(default_factory=dict)
    _certs: dict[str, list[ClientCertificate]] = field(default_factory=dict)
    _failures: deque[TokenFailure] = field(default_factory=lambda: deque(maxlen=10_000))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def seed(self) -> int:
        return self.scenario.seed

    def request_id(self) -> str:
        """Deterministic per request sequence (same requests in the same order: same ids)."""
        return stable_uuid(self.seed, "request", next(self._requests))

    def register_certificate(self, client_id: str, cert: ClientCertificate) -> None:
        with self._lock:
            self._certs.setdefault(client_id.lower(), []).append(cert)

    def certificates(self, app: App) -> list[ClientCertificate]:
        with self._lock:
            issued = list(self._certs.get(app.client_id, []))
        return [ClientCertificate.from_pem(pem) for pem in app.certificates] + issued

    def log_token_failure(self, failure: TokenFailure) -> None:
        with self._lock:
            self._failures.append(failure)

    def token_failures(self, tenant_id: str) -> list[TokenFailure]:
        with self._lock:
            return [f for f in self._failures if f.tenant_id == tenant_id]
