"""``POST /api/v1/ingest/{format}`` on the health server: auth, size, rate, JSON, then ``accept``.

An edge like the dashboard: it knows HTTP and the formats, nothing of the store or the pipeline;
the daemon passes ``accept(format, alerts)``, which runs them through detection and the incident
book (and forwards the others when configured). Answers follow what the senders retry: Alertmanager retries only 5xx and network errors, and
Azure Monitor and Grafana retry 5xx as well, so everything we want to see again (over the rate,
a store error, a forward destination asking to retry) is a 503 with ``Retry-After``, and only a body that can never be read is a 400.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from enricher import config as cfg
from enricher.health import HealthServer, Upload, auth_check
from enricher.ingest.formats import FORMATS, BadPayloadError, Batch
from enricher.ingest.forward import ForwardRetryError
from enricher.metrics import Metrics

log = logging.getLogger("aadsts_enricher.ingest")

PREFIX = "/api/v1/ingest/"
Accept = Callable[[Batch], dict[str, int]]
Reply = tuple[int, str, bytes, dict[str, str]]


class Bucket:
    """A token bucket: ``rate`` requests per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.at = float(burst), clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a request may go ahead, else the seconds until one may."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return status, "application/json", json.dumps(payload).encode(), headers or {}


def register(
    server: HealthServer,
    config: cfg.Config,
    accept: Accept,
    metrics: Metrics,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Add one upload route per format to ``server``; nothing when ingest is off."""
    ingest, health = config.ingest, config.health
    if not ingest.enabled:
        return
    basic = (
        (health.basic_user, health.basic_password.get_secret_value())
        if health.basic_user and health.basic_password
        else None
    )
    bearer = health.bearer_token.get_secret_value() if health.bearer_token else None
    token = ingest.token.get_secret_value() if ingest.token else None
    header_ok = auth_check(basic, bearer) if (basic or bearer) else (lambda header: False)
    if token and not (basic or bearer):
        header_ok = auth_check(None, token)  # the token as a bearer header works too

    def authorized(header: str, query: dict[str, list[str]]) -> bool:
        given = (query.get("token") or [""])[0]
        by_query = bool(token) and hmac.compare_digest(given.encode(), (token or "").encode())
        return by_query or header_ok(header)

    bucket = Bucket(ingest.rate_per_second, ingest.burst, clock)
    for fmt in FORMATS:
        server.uploads[PREFIX + fmt] = Upload(
            authorized, _handler(fmt, accept, metrics, bucket), ingest.max_body
        )


def _handler(fmt: str, accept: Accept, metrics: Metrics, bucket: Bucket) -> Callable[..., Reply]:
    read = FORMATS[fmt]

    def handle(query: dict[str, list[str]], body: bytes) -> Reply:
        wait = bucket.take()
        if wait:
            metrics.inc("aadsts_enricher_ingested_total", {"format": fmt, "outcome": "rejected"})
            return _json(503, {"error": "over the rate limit"}, {"Retry-After": str(max(1, round(wait)))})
        try:
            doc = json.loads(body)
            alerts = read(doc)
        except (
            ValueError,
            BadPayloadError,
            RecursionError,
        ) as exc:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
            metrics.inc("aadsts_enricher_ingested_total", {"format": fmt, "outcome": "rejected"})
            reason = str(exc) if isinstance(exc, BadPayloadError) else "the body is not JSON"
            return _json(400, {"error": reason})
        try:
            counts = accept(Batch(fmt, body, doc, alerts))
        except ForwardRetryError as exc:  # ours are stored; the sender re-sends and we forward again
            log.warning(
                "forwarding pushed alerts failed, asking the sender to retry", extra={"detail": str(exc)}
            )
            after = str(max(1, round(exc.retry_after or 5)))
            return _json(503, {"error": "could not forward the other alerts, retry"}, {"Retry-After": after})
        except Exception:  # the store is busy or broken: the sender keeps the alert and retries
            log.exception("ingest failed", extra={"format": fmt})
            return _json(503, {"error": "could not store the alerts, retry"}, {"Retry-After": "5"})
        for outcome, n in counts.items():
            if n:
                metrics.inc("aadsts_enricher_ingested_total", {"format": fmt, "outcome": outcome}, float(n))
        return _json(202, {"received": len(alerts), **counts})

    return handle
