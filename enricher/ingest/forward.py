"""Pushed alerts that are not about a sign-in, handed on as they came (``ingest.other: forward``).

Users point a sender (an Alertmanager receiver, an action group) at us for all its alerts; what we
do not enrich must still reach where it went before, so it is posted unchanged to the webhook
sinks in ``ingest.forward_to``: the original body when no alert in it was ours, else the same
envelope with only the other alerts in its ``alerts`` list (Alertmanager, Grafana). An Azure
Monitor body is one alert, forwarded whole or not at all.

A forward goes out while the sender waits for our answer, with the sink's URL, timeout, CA bundle
and extra headers (and, with a ``whsec_`` secret, a Standard Webhooks signature whose
``webhook-id`` is a digest of the body, so a re-sent alert has the same id). When a destination
answers with a retryable failure, the caller answers 503 and the sender retries the whole body:
the enriched alerts in it are already stored and are recognised again, the others go out again
(at least once). A permanent failure (a 4xx) is logged and counted; retrying cannot help.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from enricher.config import WebhookSinkConfig
from enricher.errors import DeliveryError
from enricher.sinks.base import DeliveryResult
from enricher.sinks.http import HttpPoster, check_url
from enricher.sinks.webhook import sign, signing_key

log = logging.getLogger("aadsts_enricher.ingest")

#: tells a receiver shared by several senders which format the body is
FORMAT_HEADER = "aadsts-enricher-format"


class ForwardRetryError(DeliveryError):
    """A destination asked to be tried again: the sender should re-send (503 + Retry-After)."""

    def __init__(self, detail: str, retry_after: float | None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class _Destination:
    def __init__(self, config: WebhookSinkConfig, config_dir: Path) -> None:
        check_url(config.url, sink=config.name, field="url")
        self.name, self.url = config.name, config.url
        secret = config.secret.get_secret_value() if config.secret else None
        self.key = signing_key(secret, sink=config.name) if secret else None
        self.extra = {k: v.get_secret_value() for k, v in config.headers.items()}
        secrets = [s for s in (secret, *self.extra.values()) if s]
        self.http = HttpPoster.for_sink(config, config_dir, secrets)


class Forwarder:
    def __init__(
        self,
        sinks: Sequence[WebhookSinkConfig],
        config_dir: Path = Path("."),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.destinations = [_Destination(s, config_dir) for s in sinks]
        self.clock = clock

    def headers(self, dest: _Destination, fmt: str, body: bytes) -> dict[str, str]:
        headers = {k: v for k, v in dest.extra.items() if k.lower() != "content-type"}
        headers |= {"Content-Type": "application/json", FORMAT_HEADER: fmt}
        if dest.key is not None:
            message_id = "fwd_" + hashlib.sha256(body).hexdigest()[:32]
            timestamp = int(self.clock())
            headers |= {
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(dest.key, message_id, timestamp, body),
            }
        return headers

    def send(self, fmt: str, body: bytes) -> list[tuple[str, DeliveryResult]]:
        """Post ``body`` to every destination; raise ForwardRetryError when one should be retried."""
        results = [
            (d.name, d.http.send(d.url, body, self.headers(d, fmt, body), redirect_retryable=True))
            for d in self.destinations
        ]
        for name, result in results:
            if not result.ok and not result.retryable:
                log.warning(
                    "forwarding a pushed alert failed for good",
                    extra={"sink": name, "format": fmt, "detail": result.detail},
                )
        retry = [(name, r) for name, r in results if r.retryable and not r.ok]
        if retry:
            waits = [r.retry_after for _, r in retry if r.retry_after is not None]
            detail = "; ".join(f"{name}: {r.detail}" for name, r in retry)
            raise ForwardRetryError(detail, max(waits) if waits else None)
        return results

    def close(self) -> None:
        for d in self.destinations:
            d.http.close()
