"""OpenTelemetry against real OTLP receivers: HTTP/protobuf decoded with opentelemetry-proto, and gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from enricher.sinks.otel import OtelSink
from tests.sinks.conftest import firing, resolved, sink_config
from tests.sinks.servers import Receiver, Reply, free_port

PROTOBUF = {"Content-Type": "application/x-protobuf"}
STATS = {
    "open_incidents": {(("severity", "critical"),): 2.0, (("severity", "high"),): 1.0},
    "notifications": {(("sink", "slack"), ("outcome", "delivered")): 5.0},
    "outbox_depth": {(("sink", "slack"),): 0.0},
}


@pytest.fixture
def collector() -> Iterator[Receiver]:
    server = Receiver(default=Reply(200, b"", PROTOBUF))
    yield server
    server.close()


def otel_sink(endpoint: str | None, **extra: Any) -> OtelSink:
    fields: dict[str, Any] = {"timeout": "1s", "metric_interval": "1h"}
    if endpoint is not None:
        fields["endpoint"] = endpoint
    fields.update(extra)
    stats = fields.pop("stats", lambda: STATS)
    return OtelSink(sink_config("otel", "", **fields), stats=stats)


def attrs(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind)
        out[kv.key] = (
            [getattr(v, v.WhichOneof("value")) for v in value.values] if kind == "array_value" else value
        )
    return out


def log_records(receiver: Receiver) -> list[tuple[dict[str, Any], Any]]:
    """(resource attributes, record) for every log record the receiver got."""
    found = []
    for request in receiver.requests:
        if request.path != "/v1/logs":
            continue
        message = logs_service_pb2.ExportLogsServiceRequest.FromString(request.body)
        for resource_logs in message.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                assert scope_logs.scope.name == "aadsts_enricher.sinks"
                found += [(attrs(resource_logs.resource.attributes), r) for r in scope_logs.log_records]
    return found


def metric_points(receiver: Receiver) -> dict[str, list[tuple[dict[str, Any], float]]]:
    points: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for request in receiver.requests:
        if request.path != "/v1/metrics":
            continue
        message = metrics_service_pb2.ExportMetricsServiceRequest.FromString(request.body)
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    data = getattr(metric, metric.WhichOneof("data"))
                    for p in data.data_points:
                        value = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                        points.setdefault(metric.name, []).append((attrs(p.attributes), value))
    return points


class TestHttpProtobuf:
    def test_log_record_per_notification(self, collector: Receiver) -> None:
        sink = otel_sink(collector.url)
        results = [sink.send(firing()), sink.send(resolved())]
        sink.close()
        assert all(r.ok for r in results) and results[0].status == 200
        (resource, fired), (_, done) = log_records(collector)
        assert resource["service.name"] == "aadsts-enricher"
        assert (fired.severity_number, fired.severity_text) == (18, "critical")
        assert (done.severity_number, done.severity_text) == (9, "info")
        assert fired.event_name == "aadsts_enricher.notification.firing"
        assert done.event_name == "aadsts_enricher.notification.resolved"
        assert fired.body.string_value == firing().title
        assert fired.time_unix_nano == int(firing().last_seen.timestamp() * 1e9)
        a = attrs(fired.attributes)
        assert a["error.type"] == "AADSTS53003"
        assert a["aadsts_enricher.incident.id"] == firing().incident_id
        assert a["aadsts_enricher.workspace"] == "Finance" and a["aadsts_enricher.item"] == "Sales"
        assert a["aadsts_enricher.correlation_id"] == firing().correlation_id
        assert a["aadsts_enricher.fixes"][0].startswith("1. Open the sign-in log")
        assert attrs(done.attributes)["aadsts_enricher.duration"] == 7500.0

    def test_metrics_on_close(self, collector: Receiver) -> None:
        """The notification counter and the observable instruments fed by ``stats``."""
        sink = otel_sink(collector.url)
        sink.send(firing())
        sink.send(firing(id="reminder-x", kind="reminder"))
        sink.close()
        points = metric_points(collector)
        counted = {p[0]["aadsts_enricher.kind"]: p[1] for p in points["aadsts_enricher.notifications"]}
        assert counted == {"firing": 1, "reminder": 1}
        labels = points["aadsts_enricher.notifications"][0][0]
        assert labels["aadsts_enricher.code"] == "53003" and labels["aadsts_enricher.workspace"] == "Finance"
        assert (
            labels["aadsts_enricher.category"] == "conditional_access"
            and labels["aadsts_enricher.source"] == "powerbi"
        )
        open_by_severity = {
            p[0]["aadsts_enricher.severity"]: p[1] for p in points["aadsts_enricher.incident.open"]
        }
        assert open_by_severity == {"critical": 2.0, "high": 1.0}
        [(outcome, count)] = points["aadsts_enricher.notification.outcomes"]
        assert (
            outcome == {"aadsts_enricher.sink": "slack", "aadsts_enricher.outcome": "delivered"}
            and count == 5.0
        )

    def test_broken_stats_do_not_stop_metrics(self, collector: Receiver) -> None:
        def broken() -> dict[str, Any]:
            raise RuntimeError("store closed")

        sink = otel_sink(collector.url, stats=broken)
        sink.send(firing())
        sink.close()
        points = metric_points(collector)
        assert "aadsts_enricher.notifications" in points and "aadsts_enricher.incident.open" not in points

    @pytest.mark.parametrize(
        ("reply", "ok", "retryable", "retry_after"),
        [
            (Reply(400, b""), False, False, None),
            (Reply(401, b""), False, False, None),
            (Reply(500, b""), False, True, None),
            (Reply(503, b"", {"Retry-After": "30"}), False, True, 30.0),
            (Reply(429, b"", {"Retry-After": "30"}), False, True, 30.0),
        ],
    )
    def test_status_table(
        self, collector: Receiver, reply: Reply, ok: bool, retryable: bool, retry_after: float | None
    ) -> None:
        """400-class permanent; 429/5xx retryable with Retry-After (the SDK does not wait past the timeout)."""
        collector.answer(reply)
        sink = otel_sink(collector.url)
        result = sink.send(firing())
        sink.close()
        assert (result.ok, result.retryable, result.retry_after) == (ok, retryable, retry_after), result
        assert result.status == reply.status

    def test_connection_refused_is_retryable(self) -> None:
        sink = otel_sink(f"http://127.0.0.1:{free_port()}", timeout="0.5s")
        result = sink.send(firing())
        sink.close()
        assert result.retryable and "127.0.0.1" in result.detail

    def test_standard_variables_and_secret_headers(
        self, collector: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No endpoint in the config: OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME decide."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=contoso")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "enricher-prod")
        sink = otel_sink(None, headers={"authorization": "Bearer otlp-s3cret"})
        result = sink.send(firing())
        sink.close()
        assert result.ok and "otlp-s3cret" not in result.detail + repr(sink)
        request = collector.requests[0]
        assert request.headers["authorization"] == "Bearer otlp-s3cret"
        [(resource, _)] = log_records(collector)
        assert resource["service.name"] == "enricher-prod"


class Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self) -> None:
        self.requests: list[logs_service_pb2.ExportLogsServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return logs_service_pb2.ExportLogsServiceResponse()


class TestGrpc:
    def test_log_record_over_grpc(self) -> None:
        servicer = Logs()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            sink = otel_sink(f"http://127.0.0.1:{port}", protocol="grpc", insecure=True)
            result = sink.send(firing())
            sink.close()  # no metrics service here: the metric export fails fast (UNIMPLEMENTED)
        finally:
            server.stop(grace=None)
        assert result.ok, result
        [request] = servicer.requests
        record = request.resource_logs[0].scope_logs[0].log_records[0]
        assert record.event_name == "aadsts_enricher.notification.firing" and record.severity_number == 18

    def test_unreachable_grpc_is_retryable(self) -> None:
        sink = otel_sink(f"http://127.0.0.1:{free_port()}", protocol="grpc", insecure=True, timeout="0.5s")
        result = sink.send(firing())
        sink.close()
        assert result.retryable and not result.ok
