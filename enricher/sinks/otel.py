"""``type: otel``: each notification as an OTLP log record, plus metrics, over HTTP/protobuf or gRPC.

The log record: severity number/text per shared/reference/sinks.md 6.1 (critical 18 "critical",
high 17 "error", medium 13 "warning", low and info 9 "info"; resolved and test are 9 "info"), body
= the title, ``event_name`` = ``aadsts_enricher.notification.<kind>``, attributes namespaced
``aadsts_enricher.*`` plus ``error.type`` (``AADSTS<code>``). Metrics: the counter
``aadsts_enricher.notifications`` (by code, category, source, workspace, kind) and, when the
daemon passes ``stats``, ``aadsts_enricher.incident.open`` and
``aadsts_enricher.notification.outcomes`` read from it at every collection.

Delivery must be known, so a log record is exported synchronously inside ``send`` by a small
processor that keeps the exporter's answer; for OTLP/HTTP the exporter's ``requests`` session
records the status, so a 400 is permanent and a 429/5xx retryable. Metrics go out every
``metric_interval`` and on ``close()``. Providers are private to the sink (no global state).

Configuration: ``endpoint`` (base URL; HTTP appends ``/v1/logs`` and ``/v1/metrics``),
``protocol`` and ``headers`` win; otherwise the standard ``OTEL_EXPORTER_OTLP_*`` variables apply,
and the protocol defaults to the spec's ``http/protobuf``. All ``opentelemetry._logs`` imports
live in this module, because that API is still experimental and renamed between releases.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import requests
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from enricher import __version__
from enricher.config import OtelSinkConfig
from enricher.errors import ConfigError
from enricher.notification import Notification
from enricher.sinks import text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import RETRYABLE, parse_retry_after, where
from enricher.sinks.otel_attrs import STATS, log_attributes, metric_attributes, observations
from enricher.sinks.templates import TEXT, RenderError, load_template

Stats = Callable[[], Mapping[str, Any]]
SCOPE = "aadsts_enricher.sinks"
SEVERITY = {
    "critical": (SeverityNumber.ERROR2, "critical"),
    "high": (SeverityNumber.ERROR, "error"),
    "medium": (SeverityNumber.WARN, "warning"),
    "low": (SeverityNumber.INFO, "info"),
    "info": (SeverityNumber.INFO, "info"),
}
PROTOCOLS = ("http/protobuf", "grpc")


class RecordingSession(requests.Session):
    """The OTLP/HTTP exporter's session: remembers the last answer so a failure can be classified."""

    status: int | None = None
    retry_after: float | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.status = self.retry_after = None
        response = super().request(method, url, *args, **kwargs)
        self.status = response.status_code
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return response


class ExportNow(LogRecordProcessor):
    """Exports each record as it is emitted and keeps the exporter's answer for ``send`` to read."""

    def __init__(self, exporter: LogRecordExporter) -> None:
        self.exporter = exporter
        self.answer: LogRecordExportResult | Exception | None = None

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        readable = ReadableLogRecord(
            log_record=log_record.log_record,
            resource=log_record.resource or Resource.create({}),
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        try:
            self.answer = self.exporter.export((readable,))
        except Exception as exc:  # an exporter must not take the daemon down; the answer says what failed
            self.answer = exc

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def resource() -> Resource:
    """``service.name`` from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, else ``aadsts-enricher``."""
    found = Resource.create({"service.version": __version__})
    if str(found.attributes.get("service.name", "")).startswith("unknown_service"):
        found = found.merge(Resource({"service.name": "aadsts-enricher"}))
    return found


def protocol_of(config: OtelSinkConfig, environ: Mapping[str, str]) -> str:
    protocol = (
        config.protocol
        or environ.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"sinks[{config.name}].protocol: {protocol!r} is not supported (use {' or '.join(PROTOCOLS)})"
        )
    return protocol


def target(config: OtelSinkConfig, protocol: str, environ: Mapping[str, str]) -> str:
    """``host:port`` the logs go to, for messages (never a path, a query or a header)."""
    default = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
    endpoint = (
        config.endpoint
        or environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or default
    )
    return where(endpoint if "://" in endpoint else f"http://{endpoint}")


def exporters(
    config: OtelSinkConfig, protocol: str, session: RecordingSession
) -> tuple[LogRecordExporter, MetricExporter]:
    """The log and metric exporters; ``None`` arguments let the exporters read OTEL_* themselves."""
    headers = {k: v.get_secret_value() for k, v in config.headers.items()} or None
    timeout = config.timeout.total_seconds()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics

        insecure = True if config.insecure else None
        return (
            GrpcLogs(endpoint=config.endpoint, insecure=insecure, headers=headers, timeout=timeout),
            GrpcMetrics(endpoint=config.endpoint, insecure=insecure, headers=headers, timeout=timeout),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    base = config.endpoint.rstrip("/") if config.endpoint else None
    return (
        OTLPLogExporter(
            endpoint=f"{base}/v1/logs" if base else None, headers=headers, timeout=timeout, session=session
        ),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None, headers=headers, timeout=timeout),
    )


class OtelSink:
    def __init__(
        self,
        config: OtelSinkConfig,
        config_dir: Path = Path("."),
        *,
        stats: Stats | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = config.name
        self.rate = 100.0
        self.send_resolved = config.send_resolved
        self.stats = stats
        environ = os.environ if environ is None else environ
        self.protocol = protocol_of(config, environ)
        self.where = target(config, self.protocol, environ)
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEXT)
        self.session = RecordingSession()
        log_exporter, metric_exporter = exporters(config, self.protocol, self.session)
        found = resource()
        self.processor = ExportNow(log_exporter)
        self.logs = LoggerProvider(resource=found, shutdown_on_exit=False)
        self.logs.add_log_record_processor(self.processor)
        self.logger = self.logs.get_logger(SCOPE, __version__)
        reader = PeriodicExportingMetricReader(
            metric_exporter,
            export_interval_millis=config.metric_interval.total_seconds() * 1000,
            export_timeout_millis=config.timeout.total_seconds() * 1000,
        )
        self.metrics = MeterProvider(resource=found, metric_readers=[reader], shutdown_on_exit=False)
        meter = self.metrics.get_meter(SCOPE, __version__)
        self.counter = meter.create_counter(
            "aadsts_enricher.notifications",
            unit="{notification}",
            description="Notifications delivered to OTLP",
        )
        for key, name, kind, unit, description, label in STATS:
            create = (
                meter.create_observable_counter
                if kind == "counter"
                else meter.create_observable_up_down_counter
            )
            create(name, [self._observer(key, label)], unit, description)
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"OtelSink(name={self.name!r}, protocol={self.protocol!r})"

    def _observer(self, key: str, label: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            try:
                return observations(self.stats().get(key) if self.stats else None, label)
            except Exception:  # a broken stats callable must not stop the other metrics
                return []

        return observe

    def send(self, notification: Notification) -> DeliveryResult:
        n = bounded(notification, BOUNDS["otel"])
        try:
            body = self.template.render(n).strip() if self.template is not None else text.one_line(n.title)
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        number, label = (
            (SeverityNumber.INFO, "info")
            if n.kind in {"resolved", "test"}
            else SEVERITY.get(n.severity, (SeverityNumber.INFO, "info"))
        )
        with self._lock:
            if self._closed:
                return DeliveryResult.retry("the OTel sink is closed")
            self.processor.answer = None
            self.logger.emit(
                timestamp=int(n.last_seen.timestamp() * 1e9),
                observed_timestamp=int(n.created_at.timestamp() * 1e9),
                severity_number=number,
                severity_text=label,
                body=body,
                attributes=log_attributes(n),
                event_name=f"aadsts_enricher.notification.{n.kind}",
            )
            result = self._result(self.processor.answer)
        if result.ok:
            self.counter.add(1, metric_attributes(n))
        return result

    def _result(self, answer: LogRecordExportResult | Exception | None) -> DeliveryResult:
        if answer is None:
            return DeliveryResult.success("OpenTelemetry SDK disabled (OTEL_SDK_DISABLED): nothing exported")
        if answer is LogRecordExportResult.SUCCESS:
            return DeliveryResult.success(
                f"exported to {self.where} ({self.protocol})", status=self.session.status
            )
        status = self.session.status if self.protocol != "grpc" else None
        detail = f"OTLP export to {self.where} failed" + (f": HTTP {status}" if status else "")
        if isinstance(answer, Exception):
            detail += f" ({type(answer).__name__})"
        if status is not None and 400 <= status < 500 and status not in RETRYABLE:
            return DeliveryResult.fail(detail, status=status)
        return DeliveryResult.retry(detail, retry_after=self.session.retry_after, status=status)

    def close(self) -> None:
        """Export the last metrics and release both providers; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.metrics.shutdown()
        self.logs.shutdown()
