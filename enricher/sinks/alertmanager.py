"""``type: alertmanager``: our incidents as alerts in an existing Prometheus Alertmanager.

Each notification becomes one ``postableAlert`` POSTed (a JSON array) to ``/api/v2/alerts`` of every
configured Alertmanager (its HA guide asks clients to post to each peer). Labels name the problem
(``alertname="AADSTS53003"``, severity, code, category, source, tenant, workspace, item), so
Alertmanager's own grouping, routing, inhibition and silences work on them; annotations carry the
summary, the first fix step and ``runbook_url`` (our per-code page); ``generatorURL`` is our
incident page.

Alertmanager forgets an alert that is not posted again before its ``endsAt`` (or, when a client
leaves ``endsAt`` out, its ``resolve_timeout``, 5 minutes by default). Our incidents can fire for
days with a reminder every few hours, so this sink re-posts every alert still firing each
``resend_interval`` (60 s) with ``endsAt`` = now + 4 intervals, as Prometheus does: three lost posts
in a row are tolerated, and if the daemon stops for good the alerts end on their own. The re-posting
lives here, in a thread of the sink, not in a scheduler job: only the sink knows which incidents
reached it (routes, silences and ``send_resolved`` decide that upstream), and what it holds is the
exact alert it posted. The held alerts are written to ``alertmanager-<name>.json`` in the state
directory, so a restart or a reload goes on re-posting them. A resolved alert is posted with
``endsAt`` = its resolution and re-posted for 5 minutes more (Alertmanager's advice, so a peer that
restarted still hears of it). Posting the same labels again is idempotent in Alertmanager.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enricher.config import AlertmanagerSinkConfig
from enricher.errors import ConfigError
from enricher.notification import Notification
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import HttpPoster, check_url, destination_key, json_body
from enricher.sinks.text import one_line, truncate

log = logging.getLogger("aadsts_enricher.sinks.alertmanager")

API = "/api/v2/alerts"
#: Alertmanager's advice: keep posting a resolved alert this long so every peer hears of it.
RESOLVED_KEEP = timedelta(minutes=5)
#: ``endsAt`` of a firing alert is this many resend intervals ahead (Prometheus uses 4 as well).
LIFETIME = 4
ANNOTATION = 1000  # characters per annotation value; Alertmanager has no limit, chat receivers do


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alertname(n: Notification) -> str:
    """``AADSTS53003``; the marked test and credential-expiry warnings get names of their own."""
    if n.kind == "test":
        return "AADSTSEnricherTest"
    if n.kind == "credential_expiry":
        return "AADSTSCredentialExpiry"
    return f"AADSTS{n.code}" if n.code.isdigit() else "AADSTSEnricher"


def labels_of(n: Notification, extra: Mapping[str, str]) -> dict[str, str]:
    """Static labels first, ours over them; empty values left out (Alertmanager drops them anyway)."""
    ours = {
        "severity": n.severity,
        "code": n.code,
        "category": n.category,
        "source": n.source,
        "tenant": n.tenant,
        "workspace": n.labels.get("workspace") or (n.items[0].container_name if n.items else ""),
        "item": n.labels.get("item") or (n.items[0].item_name if n.items else ""),
    }
    labels = {**extra, "alertname": alertname(n), **ours}
    return {k: one_line(v) for k, v in labels.items() if v}


def annotations_of(n: Notification, base: str) -> dict[str, str]:
    fix = n.fixes[0] if n.fixes else None
    found = {
        "summary": n.title,
        "description": n.summary,
        "fix": (f"{fix.step} ({fix.command})" if fix.command else fix.step) if fix else "",
        "runbook_url": f"{base}/codes/{n.code}" if n.code.isdigit() else "",
        "incident": n.incident_id,
    }
    return {k: truncate(v, ANNOTATION) for k, v in found.items() if v}


def postable(n: Notification, base: str, extra: Mapping[str, str], ends_at: datetime) -> dict[str, Any]:
    """One ``postableAlert`` (api/v2/openapi.yaml); ``n`` already bounded."""
    return {
        "labels": labels_of(n, extra),
        "annotations": annotations_of(n, base),
        "startsAt": _iso(n.first_seen),
        "endsAt": _iso(ends_at),
        "generatorURL": f"{base}/incidents/{n.incident_id}",
    }


class AlertmanagerSink:
    def __init__(
        self,
        config: AlertmanagerSinkConfig,
        config_dir: Path = Path("."),
        *,
        external_url: str = "http://127.0.0.1:9464",
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.name = config.name
        self.rate = config.rate_per_second
        self.send_resolved = config.send_resolved
        if config.template is not None:
            raise ConfigError(
                f"sinks[{config.name}].template: alertmanager alerts have fixed labels; no template"
            )
        for i, url in enumerate(config.urls):
            check_url(url, sink=config.name, field=f"urls[{i}]")
        self.urls = [url.rstrip("/") + API for url in config.urls]
        self.destination = destination_key("alertmanager", *self.urls)
        self.base = (config.external_url or external_url).rstrip("/")
        self.extra = dict(config.labels)
        self.interval = config.resend_interval
        self.clock = clock
        self._headers = {k: v.get_secret_value() for k, v in config.headers.items()}
        self._headers["Content-Type"] = "application/json"
        secrets = [v.get_secret_value() for v in config.headers.values()]
        self.http = HttpPoster.for_sink(config, config_dir, secrets)
        self._resend_http = HttpPoster.for_sink(config, config_dir, secrets)  # its own session: own thread
        self._state = Path(state_dir, f"alertmanager-{config.name}.json") if state_dir else None
        #: incident id -> (the alert as last posted, when it resolved or None while firing)
        self._held: dict[str, tuple[dict[str, Any], datetime | None]] = self._load()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._held:
            self._start()

    def __repr__(self) -> str:
        return f"AlertmanagerSink(name={self.name!r}, urls={self.urls!r})"

    # -- sending -------------------------------------------------------------------------------------

    def send(self, notification: Notification) -> DeliveryResult:
        n = bounded(notification, BOUNDS["alertmanager"])
        now = self.clock()
        resolved = n.kind == "resolved"
        ends = now if resolved else now + LIFETIME * self.interval
        alert = postable(n, self.base, self.extra, ends)
        batch = [alert]
        with self._lock:
            before = self._held.get(n.incident_id)
            if before is not None and before[0]["labels"] != alert["labels"]:
                # severity (or a name) changed: the old label set is another alert, end it now
                batch.append({**before[0], "endsAt": _iso(now)})
        result = self._post(self.http, batch)
        if result.ok and n.kind != "test":
            with self._lock:
                self._held[n.incident_id] = (alert, now if resolved else None)
                self._save()
            self._start()
        return result

    def resend(self, now: datetime | None = None) -> DeliveryResult | None:
        """Post every held alert again (firing: a new ``endsAt``); drop resolved ones after 5 minutes.

        The re-post thread calls this each ``resend_interval``; tests call it directly."""
        now = now or self.clock()
        with self._lock:
            expired = [k for k, (_, done) in self._held.items() if done and now - done > RESOLVED_KEEP]
            for key in expired:
                del self._held[key]
            if expired:
                self._save()
            batch = [
                alert if done else {**alert, "endsAt": _iso(now + LIFETIME * self.interval)}
                for alert, done in self._held.values()
            ]
        if not batch:
            return None
        result = self._post(self._resend_http, batch)
        if not result.ok:
            log.warning("alertmanager re-post failed", extra={"sink": self.name, "problem": result.detail})
        return result

    def _post(self, http: HttpPoster, batch: list[dict[str, Any]]) -> DeliveryResult:
        """To every peer; ok only when all took it (a retry posts to all again: idempotent there)."""
        body = json_body(batch)
        results = [http.send(url, body, self._headers) for url in self.urls]
        failed = [r for r in results if not r.ok]
        if not failed:
            return results[0]
        if any(r.retryable for r in failed):
            return next(r for r in failed if r.retryable)
        return failed[0]

    # -- the re-post thread and its state file ----------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._loop, name=f"alertmanager-{self.name}", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval.total_seconds()):
            try:
                self.resend()
            except Exception:  # a bug here must not end re-posting for good
                log.exception("alertmanager re-post failed", extra={"sink": self.name})

    def _load(self) -> dict[str, tuple[dict[str, Any], datetime | None]]:
        if self._state is None or not self._state.is_file():
            return {}
        try:
            data = json.loads(self._state.read_text(encoding="utf-8"))
            return {
                str(k): (dict(v["alert"]), datetime.fromisoformat(v["resolved"]) if v["resolved"] else None)
                for k, v in data.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("alertmanager state unreadable, starting empty", extra={"sink": self.name})
            return {}

    def _save(self) -> None:
        """Atomically (write then rename), under the lock; a failure costs re-posting after a restart only."""
        if self._state is None:
            return
        data = {
            k: {"alert": alert, "resolved": done.isoformat() if done else None}
            for k, (alert, done) in self._held.items()
        }
        tmp = self._state.with_suffix(".tmp")
        try:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self._state)
        except OSError as exc:
            log.warning("alertmanager state not saved", extra={"sink": self.name, "problem": str(exc)})

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.http.close()
        self._resend_http.close()
