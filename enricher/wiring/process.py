"""The daemon process: the scheduler's jobs around a ``Service``, signals, leases and reload.

Signal handlers only set an event; the main loop waits on it, stops the scheduler and the
service within seconds, and a reload (SIGHUP or ``POST /-/reload``) builds a new service from
the re-read config and swaps it in only when it starts.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from enricher import config as cfg
from enricher import logs
from enricher.errors import ConfigError, EnricherError
from enricher.health import HealthServer
from enricher.wiring.build import secrets_of
from enricher.wiring.daemon import Service
from enricher.wiring.replicas import LeaseStore, Replicas, flush_lease, poll_lease

log = logging.getLogger("aadsts_enricher.daemon")


class Daemon:
    """Runs a Service until SIGTERM/SIGINT; SIGHUP or ``POST /-/reload`` swaps in a new config.

    A reload reads the file through the same checks as ``check-config`` and builds the new Service
    before the running one is touched, so a file with a mistake is refused with one log line and the
    old config keeps running. Signal handlers only set events; the main loop does the work.
    """

    def __init__(self, service: Service, config_path: Path | None = None) -> None:
        self.service = service
        self.config_path = config_path
        self.stopped = threading.Event()
        self._reload = threading.Event()
        self._pending: cfg.Config | None = None
        self._lock = threading.Lock()

    def run(self) -> int:
        handlers = {
            signal.SIGTERM: self._on_signal,
            signal.SIGINT: self._on_signal,
            signal.SIGHUP: self._on_hup,
        }
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            running = self._start(self.service)
        except BaseException:  # e.g. health.listen is taken: the CLI prints one line, exit 2
            self.service.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            raise
        log.info(
            "started",
            extra={
                "sources": [j.name for j in self.service.jobs],
                "sinks": list(self.service.sinks),
                "health": running.server.url,
            },
        )
        try:
            while not self.stopped.wait(0.5):
                if self.service.fatal:
                    break
                if self._reload.is_set():
                    self._reload.clear()
                    running = self._reload_now(running)
        finally:
            log.info("stopping")
            running.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("stopped")
        if self.service.fatal:
            log.error("stopped: cannot go on", extra={"reason": self.service.fatal})
            return 1
        return 0

    def _start(self, svc: Service) -> Running:
        scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
        )
        now = datetime.now(UTC)
        for job in svc.jobs:
            seconds = job.interval.total_seconds()
            scheduler.add_job(
                svc.poll,
                "interval",
                args=[job],
                seconds=seconds,
                jitter=min(30.0, seconds / 10),
                id=job.name,
                next_run_time=now,
            )
        scheduler.add_job(
            svc.flush,
            "interval",
            seconds=svc.config.delivery.interval.total_seconds(),
            id="flush",
            next_run_time=now + timedelta(seconds=1),
        )
        if svc.signins.finders:
            scheduler.add_job(
                svc.look_up_signins,
                "interval",
                seconds=30,
                id="signins",
                next_run_time=now + timedelta(seconds=5),
            )
        scheduler.add_job(lambda: svc.pipeline.prune(svc.clock()), "interval", hours=6, id="prune")
        svc.flush_soon = lambda: scheduler.modify_job("flush", next_run_time=datetime.now(UTC))
        # each tenant's own interval (default 6 h) decides whether Graph is asked this time
        scheduler.add_job(svc.watch_credentials, "interval", minutes=5, id="credentials", next_run_time=now)
        server = svc.health_server()
        if isinstance(svc.store, LeaseStore):
            self._share(svc, scheduler, server)
        server.actions["/-/reload"] = self._reload_requested_over_http
        server.start()
        svc.deliverer.start()
        scheduler.start()
        return Running(svc, scheduler, server)

    @staticmethod
    def _share(svc: Service, scheduler: BackgroundScheduler, server: HealthServer) -> None:
        """A store shared with other replicas: jobs run here only under this replica's leases."""
        replicas = Replicas(svc.store, svc.jobs, svc.metrics)  # type: ignore[arg-type]
        by_lease = {poll_lease(job): job.name for job in svc.jobs}
        by_lease |= {flush_lease(job.tenant): "flush" for job in svc.jobs}

        def run_now(lease: str) -> None:  # a lease just gained: its job runs now, not an interval later
            try:
                scheduler.modify_job(by_lease[lease], next_run_time=datetime.now(UTC))
            except Exception:  # the scheduler is stopping
                log.debug("job not moved", exc_info=True)

        replicas.on_gained = run_now
        svc.replicas = replicas
        svc.pipeline.fence = replicas.fence
        server.ready_detail = replicas.detail
        scheduler.add_job(
            replicas.keep,
            "interval",
            seconds=replicas.step,
            id="leases",
            next_run_time=datetime.now(UTC),
        )

    # -- reload --------------------------------------------------------------------------------------

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._reload.set()

    def _reload_requested_over_http(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """``POST /-/reload``: the new file is checked now, so the caller hears about a mistake."""
        try:
            config = self._read()
        except ConfigError as exc:
            log.error("reload refused, the running config stays", extra={"reason": str(exc)})
            return 400, "application/json", json.dumps({"error": str(exc)}).encode()
        with self._lock:
            self._pending = config
        self._reload.set()
        return 200, "application/json", b'{"status": "reloading"}'

    def _read(self) -> cfg.Config:
        if self.config_path is None:
            raise ConfigError("this daemon was not started from a config file: nothing to reload")
        from enricher.wiring.preflight import load_checked

        return load_checked(self.config_path)

    def _reload_now(self, running: Running) -> Running:
        with self._lock:
            config, self._pending = self._pending, None
        old = running.service
        try:
            config = config or self._read()
            new = Service(config, self.config_path.parent, metrics=old.metrics)  # type: ignore[union-attr]
        except (EnricherError, OSError, ValueError) as exc:
            log.error("reload refused, the running config stays", extra={"reason": str(exc)})
            return running
        running.stop()
        logs.setup(config.log.level, config.log.format, [*secrets_of(old.config), *secrets_of(config)])
        try:
            running = self._start(new)
        except OSError as exc:  # e.g. the new health.listen is taken: go back to what worked
            log.error("reload failed, back to the previous config", extra={"reason": str(exc)})
            new.close()
            new = Service(old.config, self.config_path.parent, metrics=old.metrics)  # type: ignore[union-attr]
            running = self._start(new)
        self.service = new
        if self.stopped.is_set():
            new.stop.set()
        log.info("reloaded", extra={"sources": [j.name for j in new.jobs], "sinks": list(new.sinks)})
        return running

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopped.set()
        self.service.stop.set()


@dataclass
class Running:
    """One generation of the daemon: a Service with its scheduler and health server."""

    service: Service
    scheduler: BackgroundScheduler
    server: HealthServer

    def stop(self) -> None:
        self.service.stop.set()
        stopper = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        stopper.start()
        stopper.join(timeout=8)  # running jobs see the stop event and finish their transaction
        if self.service.replicas is not None:
            self.service.replicas.release()  # the other replicas take over now, not at expiry
        self.server.stop()
        self.service.close()
