"""``type: webhook``: our own JSON event, signed the Standard Webhooks way, optionally as a CloudEvent.

Body: ``{"type": "aadsts_enricher.notification.<kind>", "timestamp": <created_at>, "data":
n.to_dict()}``, or with ``cloudevents: true`` a CloudEvents 1.0 structured-mode event
(``application/cloudevents+json``; ``id`` = notification id). The body depends only on the
notification, so every retry sends the same bytes. Headers: ``webhook-id`` (the notification id:
the receiver's idempotency key, the same on every retry), ``webhook-timestamp`` (this attempt, Unix
seconds) and, when a ``whsec_`` secret is set, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` keyed with the base64-decoded secret. Configured extra headers are
sent too (their values are secrets) but cannot replace the standard ones.

Status policy (Standard Webhooks): 2xx success; 410 Gone is permanent (the receiver asks us to
stop); a redirect is a failed attempt that is retried; 429 and 5xx retry; other 4xx permanent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from enricher.config import WebhookSinkConfig
from enricher.errors import ConfigError
from enricher.notification import Notification
from enricher.sinks import limits, text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import HttpPoster, check_url, destination_key, json_body
from enricher.sinks.templates import RenderError, TemplateSpec, load_template

NOTES = {410: "the receiver asks us to stop: remove or fix this sink"}
SPEC_VERSION = "1.0"


def event_type(n: Notification) -> str:
    return f"aadsts_enricher.notification.{n.kind}"


def data_of(n: Notification) -> dict[str, Any]:
    """``n.to_dict()`` with the raw error sentence capped, so the body stays small."""
    data = n.to_dict()
    data["excerpt"] = text.truncate(n.excerpt, limits.WEBHOOK_EXCERPT)
    return data


def envelope(n: Notification, data: Any) -> dict[str, Any]:
    return {"type": event_type(n), "timestamp": n.created_at.isoformat(), "data": data}


def cloudevent(n: Notification, data: Any, source: str) -> dict[str, Any]:
    return {
        "specversion": SPEC_VERSION,
        "id": n.id,
        "source": source,
        "type": event_type(n),
        "subject": f"incidents/{n.incident_id}",
        "time": n.created_at.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def signing_key(secret: str, *, sink: str) -> bytes:
    """The HMAC key: the base64 after ``whsec_`` (the secret itself is never put in the message)."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"sinks[{sink}].secret: expected whsec_ followed by base64") from exc
    if not key:
        raise ConfigError(f"sinks[{sink}].secret: the key is empty")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``webhook-signature`` entry: ``v1,`` + base64(HMAC-SHA256(key, "{id}.{ts}.{body}"))."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _reserved(header: str) -> bool:
    name = header.lower()
    return name == "content-type" or name.startswith("webhook-")


#: what a ``template:`` for this sink must render (checked by check-config and at start)
TEMPLATE = TemplateSpec("json")


class WebhookSink:
    def __init__(
        self,
        config: WebhookSinkConfig,
        config_dir: Path = Path("."),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = config.name
        self.rate = config.rate_per_second
        self.send_resolved = config.send_resolved
        self.url = config.url
        check_url(self.url, sink=config.name, field="url")
        self.destination = destination_key("webhook", self.url)
        self.cloudevents = config.cloudevents
        self.source = config.cloudevents_source
        self.clock = clock
        secret = config.secret.get_secret_value() if config.secret else None
        self._key = signing_key(secret, sink=config.name) if secret else None
        self._extra = {k: v.get_secret_value() for k, v in config.headers.items()}
        self.http = HttpPoster.for_sink(config, config_dir, [s for s in (secret, *self._extra.values()) if s])
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEMPLATE)

    def __repr__(self) -> str:
        return f"WebhookSink(name={self.name!r}, url={self.url!r})"

    def body(self, n: Notification) -> bytes:
        n = bounded(n, BOUNDS["webhook"])
        data = self.template.render_json(n) if self.template is not None else data_of(n)
        event = cloudevent(n, data, self.source) if self.cloudevents else envelope(n, data)
        return json_body(event)

    def headers(self, n: Notification, body: bytes) -> dict[str, str]:
        """Standard Webhooks headers for this attempt (a fresh timestamp, so a fresh signature)."""
        message_id = n.id.replace(".", "_")
        timestamp = int(self.clock())
        kind = "application/cloudevents+json" if self.cloudevents else "application/json"
        headers = {k: v for k, v in self._extra.items() if not _reserved(k)}
        headers.update({"Content-Type": kind, "webhook-id": message_id, "webhook-timestamp": str(timestamp)})
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, message_id, timestamp, body)
        return headers

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            body = self.body(notification)
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        headers = self.headers(notification, body)
        return self.http.send(self.url, body, headers, redirect_retryable=True, note=NOTES)

    def close(self) -> None:
        self.http.close()
