"""``type: pagerduty``: Events API v2, one PagerDuty alert per incident.

``dedup_key`` is the incident id (hashed when longer than 255 characters), so a reminder is a second
``trigger`` that PagerDuty merges into the open alert instead of paging again, and a resolved
notification is a ``resolve`` carrying only ``routing_key``, ``dedup_key`` and ``event_action``
(PagerDuty's own examples send nothing else). A test notification triggers and then resolves its
own throw-away key, so ``test-sink`` leaves no open alert behind.

Limits (shared/reference/sinks.md section 1): ``summary`` <= 1024 characters (longer is a 400),
the whole event <= 512 KB; severities are lower case ``critical|error|warning|info``.
202 is success, 400 a payload we must fix (permanent), 429 and 5xx retry.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from enricher.config import PagerDutySinkConfig
from enricher.notification import Notification
from enricher.sinks import limits, text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import HttpPoster, check_url, destination_key, json_body
from enricher.sinks.templates import RenderError, TemplateSpec, load_template, require_object

SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}
HEADERS = {"Content-Type": "application/json"}
NOTES = {400: "PagerDuty rejected the event", 403: "check the integration (routing) key"}


def dedup_key(n: Notification) -> str:
    key = n.incident_id
    if len(key) <= limits.PAGERDUTY_DEDUP_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def short(value: str, limit: int = limits.PAGERDUTY_FIELD) -> str:
    return text.truncate(text.one_line(value), limit)


def summary(n: Notification) -> str:
    title = text.one_line(n.title)
    if n.kind == "flapping":
        title = f"Flapping: {title}"
    return text.truncate(title, limits.PAGERDUTY_SUMMARY)


def custom_details(n: Notification) -> dict[str, Any]:
    fixes = [
        f"{s.number}. {s.text}" + (f"\n$ {text.one_line(s.command)}" if s.command else "")
        for s in text.fix_steps(n)
    ]
    details: dict[str, Any] = {
        "state": text.state_label(n),
        "severity": n.severity,
        "category": n.category,
        "code": f"AADSTS{n.code}",
        "cause": text.one_line(n.cause),
        "summary": text.one_line(n.summary),
        "fixes": fixes,
        "items": text.items_lines(n),
        "seen": text.seen_line(n),
        "count": n.count,
        "ids": dict(text.id_pairs(n)),
    }
    for note in (
        text.schedule_line(n),
        n.context_note and text.one_line(n.context_note),
        *text.family_lines(n),
    ):
        if note:
            details.setdefault("notes", []).append(note)
    if n.excerpt:
        details["error_message"] = text.excerpt(n)
    return details


def trigger(n: Notification, routing_key: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``trigger`` event; ``payload`` (from a template) replaces the built-in ``payload`` fields."""
    item = n.item if n.items else None
    where = [n.source, item.container_name, item.item_name] if item else [n.source]
    built = {
        "summary": summary(n),
        "source": short("/".join(part for part in where if part)),
        "severity": SEVERITY.get(n.severity, "info"),
        "timestamp": n.last_seen.isoformat(),
        "component": short(item.item_name if item else n.source),
        "group": short(item.container_name if item else n.tenant),
        "class": f"AADSTS{n.code}",
        "custom_details": custom_details(n),
    }
    if payload is not None:
        built.update(payload)
        built["summary"] = text.truncate(str(built["summary"]), limits.PAGERDUTY_SUMMARY)
        built["severity"] = SEVERITY.get(str(built["severity"]), str(built["severity"]))
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n),
        "client": "aadsts-enricher",
        "payload": built,
        "links": [{"href": url, "text": label} for label, url in text.link_pairs(n)][
            : limits.PAGERDUTY_LINKS
        ],
    }
    return fit(event)


def fit(event: dict[str, Any]) -> dict[str, Any]:
    """Under 512 KB: drop the bulkiest custom details first, as Alertmanager does."""
    details = event["payload"].get("custom_details")
    for key in ("error_message", "items", "fixes"):
        if len(json_body(event)) <= limits.PAGERDUTY_BYTES or not isinstance(details, dict):
            break
        details.pop(key, None)
    if len(json_body(event)) > limits.PAGERDUTY_BYTES:
        event["payload"]["custom_details"] = {"note": limits.MARKER}
    return event


def resolve(n: Notification, routing_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, "dedup_key": dedup_key(n), "event_action": "resolve"}


#: what a ``template:`` for this sink must render (checked by check-config and at start)
TEMPLATE = TemplateSpec("json", require_object("summary"))


class PagerDutySink:
    def __init__(self, config: PagerDutySinkConfig, config_dir: Path = Path(".")) -> None:
        self.name = config.name
        self.rate = config.rate_per_minute / 60.0
        self.send_resolved = config.send_resolved
        self.url = config.url
        self._key = config.routing_key.get_secret_value()
        check_url(self.url, sink=config.name, field="url")
        self.destination = destination_key("pagerduty", self.url, self._key)  # the limit is per routing key
        self.http = HttpPoster.for_sink(config, config_dir, [self._key])
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEMPLATE)

    def __repr__(self) -> str:
        return f"PagerDutySink(name={self.name!r})"

    def events(self, n: Notification) -> list[dict[str, Any]]:
        """What one notification becomes: a resolve, a trigger, or (test) a trigger and its resolve."""
        n = bounded(n, BOUNDS["pagerduty"])
        if n.kind == "resolved":
            return [resolve(n, self._key)]
        payload = self.template.render_json(n) if self.template is not None else None
        first = trigger(n, self._key, payload)
        return [first, resolve(n, self._key)] if n.kind == "test" else [first]

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            events = self.events(notification)
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        result = self.http.send(self.url, json_body(events[0]), HEADERS, note=NOTES)
        if not result.ok or len(events) == 1:
            return result
        cleanup = self.http.send(self.url, json_body(events[1]), HEADERS, note=NOTES)
        tail = (
            "test alert resolved again"
            if cleanup.ok
            else f"could not resolve the test alert: {cleanup.detail}"
        )
        return DeliveryResult.success(f"{result.detail}; {tail}", status=result.status)

    def close(self) -> None:
        self.http.close()
