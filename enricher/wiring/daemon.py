"""The long-running service: the pipeline, delivery, health and the jobs the scheduler calls.

One job per source (interval with jitter, ``max_instances=1``, ``coalesce``), one flush job (due
notifications into the outbox, then a wake-up for the delivery workers: it never waits for a
destination), one housekeeping job, and one delivery worker thread per sink. Signal handlers only set an event; every wait in the daemon (HTTP
retries, rate limiting, the main loop) is ``event.wait(timeout)``, so SIGTERM or Ctrl-C stops it
within seconds, and because each poll's effects are one transaction, stopping mid-cycle loses
nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.errors import Stopped
from enricher import config as cfg
from enricher.core.incidents import Scope
from enricher.core.knowledge import load_knowledge
from enricher.errors import StoreError
from enricher.health import HealthServer
from enricher.metrics import Metrics
from enricher.sinks.base import Sink
from enricher.store import Store
from enricher.store.postgres_leases import LeaseLostError
from enricher.wiring.build import SourceJob, Tenant, build_tenant, open_store, state_db
from enricher.wiring.delivery import Deliverer, DeliveryReport
from enricher.wiring.pipeline import Pipeline
from enricher.wiring.replicas import Replicas, poll_lease
from enricher.wiring.reports import CycleReport
from enricher.wiring.signin_lookup import SigninLookups

log = logging.getLogger("aadsts_enricher.daemon")
#: What SQLite says about a damaged file.
_CORRUPT = ("malformed", "not a database", "file is encrypted")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """Everything the daemon is made of, built from one config. ``cycle(now)`` is one full turn."""

    def __init__(
        self,
        config: cfg.Config,
        config_dir: Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        sinks: Mapping[str, Sink] | None = None,
        store: Store | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.stop = threading.Event()
        #: Set (with a one-line reason) when the daemon must not go on, e.g. a corrupt state file.
        self.fatal: str | None = None
        self.kb = load_knowledge([Path(config_dir, config.knowledge_dir)] if config.knowledge_dir else [])
        # a reload hands over the metrics, so counters keep counting
        self.metrics = metrics or Metrics(kb_version=self.kb.version)
        self.metrics.set_kb_version(self.kb.version)
        self._requests_counted: dict[tuple[str, str], int] = {}
        self._requests_lock = threading.Lock()  # source jobs poll in parallel threads
        self.store = store or open_store(config)
        self.tenants = [build_tenant(t, self._sleep, stop=self.stop) for t in config.tenants]
        self.jobs: list[SourceJob] = [job for t in self.tenants for job in t.jobs]
        if sinks is None:
            from enricher.sinks.registry import build_sinks  # imports every sink's dependencies

            sinks = build_sinks(config, config_dir, stats=self.sink_stats)
        self.sinks = dict(sinks)
        self.signins = SigninLookups(
            config, self.tenants, self.store, metrics=self.metrics, sleep=self._sleep
        )
        self.pipeline = Pipeline(
            config,
            self.store,
            self.kb,
            self.jobs,
            metrics=self.metrics,
            sink_filter=self._wants,
            on_incident=self.signins.queue,
            before_flush=self.signins.drain,
            watches=[t.watch for t in self.tenants if t.watch is not None],
        )
        self.deliverer = Deliverer(
            self.store, self.sinks, config.delivery, metrics=self.metrics, clock=clock, stop=self.stop
        )
        #: this replica's leases when ``run`` shares a PostgreSQL store with others (None: it does
        #: everything itself, as with SQLite or in ``once``)
        self.replicas: Replicas | None = None
        #: asks for a flush now; the daemon points it at its scheduler's flush job
        self.flush_soon: Callable[[], None] = lambda: None
        self.config_dir = config_dir
        #: closed with the service (the ingest forwarder's HTTP sessions)
        self._closing: list[Callable[[], None]] = []

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _wants(self, sink: str, notification: Any) -> bool:
        target = self.sinks.get(sink)
        return target is None or notification.kind != "resolved" or target.send_resolved

    def cycle(self, now: datetime | None = None, *, wait: bool = True) -> tuple[CycleReport, DeliveryReport]:
        """One full turn; ``wait=False`` sends what is pending at once instead of honouring group_wait."""
        report = self.pipeline.run_once(now or self.clock(), wait=wait)
        self._count_requests()
        return report, self.deliverer.deliver_due()

    def _mine(self, lease: str) -> bool:
        return self.replicas is None or self.replicas.holds(lease)

    def _flush_scope(self) -> tuple[bool, Scope | None]:
        """Whether this replica decides for any tenant now, and for which (None: all of them)."""
        if self.replicas is None:
            return True, None
        scope = self.replicas.scope()
        return scope is not None, scope

    def poll(self, job: SourceJob) -> None:
        if not self._mine(poll_lease(job)):
            return  # another replica polls this source
        try:
            report = self.pipeline.poll(job, self.clock())
        except Stopped:  # nothing of this poll was stored: the next start polls again
            log.info("poll cut short by stop", extra={"source": job.name})
            return
        except LeaseLostError as exc:  # another replica holds the job now and redoes the work
            log.info("work rolled back", extra={"reason": str(exc)})
            return
        except (StoreError, sqlite3.DatabaseError) as exc:
            self._check_corrupt(exc)
            raise
        self._count_requests()
        log.info(
            "polled",
            extra={
                "source": job.name,
                "runs": report.records,
                "new": report.new,
                "auth_failures": report.failures,
                "errors": len(report.errors),
            },
        )

    def watch_credentials(self) -> None:
        mine, scope = self._flush_scope()
        if not mine:
            return
        self.pipeline.watch_credentials(self.clock(), scope)
        self._count_requests()
        self.deliverer.wake()

    def flush(self) -> None:
        """Write due notifications to the outbox and tell the sink workers; delivery happens there."""
        mine, scope = self._flush_scope()
        if not mine:
            self.deliverer.wake()  # rows other replicas queued are delivered here too
            return
        try:
            self.pipeline.flush(self.clock(), scope=scope)
        except LeaseLostError as exc:  # another replica holds the job now and redoes the work
            log.info("work rolled back", extra={"reason": str(exc)})
            return
        except (StoreError, sqlite3.DatabaseError) as exc:
            self._check_corrupt(exc)
            raise
        self.deliverer.wake()

    def _check_corrupt(self, exc: Exception) -> None:
        """A corrupt state file is fatal: every job would fail while /readyz still said ready.
        ``fatal`` tells the daemon's main loop to stop and exit 1 with this one line."""
        text = str(exc)
        if any(word in text for word in _CORRUPT):
            self.fatal = (
                f"state database {state_db(self.config)} is corrupt ({text}); restore it or move it away"
            )
            self.stop.set()

    def look_up_signins(self) -> None:
        """The scheduler's sign-in job: due look-ups through Graph; the flush job sends what they found."""
        mine, scope = self._flush_scope()
        if not mine:
            return
        found = self.signins.drain(self.clock(), scope)
        self._count_requests()
        if found:
            log.info("sign-ins found", extra={"found": found})

    def last_success(self) -> datetime | None:
        beats = [self.store.last_beat(f"poll:{job.name}") for job in self.jobs]
        ok = [at for beat in beats if beat for at, detail in [beat] if detail == "ok"]
        return max(ok) if ok else None

    def sink_stats(self) -> dict[str, Any]:
        """What the OTel sink exports as observable metrics."""
        return {
            "open_incidents": self.metrics.series("aadsts_enricher_incidents_open"),
            "notifications": self.metrics.series("aadsts_enricher_notifications_total"),
            "outbox_depth": self.metrics.series("aadsts_enricher_outbox_depth"),
        }

    def _count_requests(self) -> None:
        """The HTTP client keeps running totals; the counter gets what is new since last time."""
        with self._requests_lock:
            for tenant in self.tenants:
                self._count_tenant_requests(tenant)

    def _count_tenant_requests(self, tenant: Tenant) -> None:
        for api, count in list(tenant.http.requests.items()):
            key = (tenant.config.name, api)
            new = count - self._requests_counted.get(key, 0)
            if new > 0:
                self._requests_counted[key] = count
                labels = {"tenant": tenant.config.name, "api": api}
                self.metrics.inc("aadsts_enricher_api_requests_total", labels, float(new))

    def health_server(self, listen: str | None = None, setting: str = "health.listen") -> HealthServer:
        """The health/metrics/dashboard server, bound (ListenError names ``setting`` when it cannot be)."""
        h = self.config.health
        basic = (
            (h.basic_user, h.basic_password.get_secret_value()) if h.basic_user and h.basic_password else None
        )
        server = HealthServer(
            listen or h.listen,
            self.metrics,
            self.last_success,
            self.clock,
            h.ready_after,
            basic=basic,
            bearer=h.bearer_token.get_secret_value() if h.bearer_token else None,
            setting=setting,
        )
        from enricher.dashboard import register as add_dashboard  # the page, /api/*, /static/*

        add_dashboard(  # a reload may change the jobs and the knowledge base: read them per request
            server,
            self.store,
            self.clock,
            sources=lambda: [j.name for j in self.jobs],
            kb=lambda: self.pipeline.kb,
        )
        if self.config.ingest.enabled:
            self.add_ingest(server)
        return server

    def add_ingest(self, server: HealthServer, wake: Callable[[], None] | None = None) -> None:
        """``/api/v1/ingest/{format}``: pushed alerts through detection into the incident book."""
        from enricher.ingest.endpoint import register as add_endpoints
        from enricher.ingest.intake import Intake

        ingest = self.config.ingest
        forwarder = None
        if ingest.other == "forward":
            from enricher.ingest.forward import Forwarder

            wanted = [s for s in self.config.sinks if s.name in ingest.forward_to]
            forwarder = Forwarder(
                [s for s in wanted if isinstance(s, cfg.WebhookSinkConfig)], self.config_dir
            )
            self._closing.append(forwarder.close)
        search = {}
        if ingest.fetch_search_results:
            from connectors.log_analytics import LogAnalyticsClient

            search = {t.config.name: LogAnalyticsClient(t.http, t.endpoints) for t in self.tenants}
        intake = Intake(
            self.config,
            self.pipeline,
            self.clock,
            wake or self.wake_flush,
            forwarder=forwarder,
            search=search,
        )
        add_endpoints(server, self.config, intake.accept, self.metrics)

    def wake_flush(self) -> None:
        """Run the flush job now rather than at its next interval (``flush_soon``, set by the daemon)."""
        try:
            self.flush_soon()
        except Exception:  # the scheduler is stopping: the next start flushes anyway
            log.debug("flush wake-up skipped", exc_info=True)

    def close(self) -> None:
        self.stop.set()
        self.deliverer.shutdown()
        for close in self._closing:
            close()
        for sink in self.sinks.values():
            try:
                sink.close()
            except Exception:
                log.exception("closing a sink failed", extra={"sink": sink.name})
        for tenant in self.tenants:
            tenant.http.close()
        self.store.close()
