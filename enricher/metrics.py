"""Counters and gauges the daemon exports at ``/metrics`` (Prometheus text format 0.0.4).

A few dozen series do not need a client library: a dict per metric behind one lock, rendered on
request. Label values are escaped; metric names follow Prometheus conventions (``_total`` for
counters, base units in the name) because this is the Prometheus exposition.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

LabelKey = tuple[tuple[str, str], ...]


@dataclass
class _Metric:
    kind: str
    help: str
    values: dict[LabelKey, float] = field(default_factory=dict)


_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._m: dict[str, _Metric] = {}
        for name, kind, text in (
            ("aadsts_enricher_polls_total", "counter", "Source polls by outcome (ok, error, auth_error)."),
            ("aadsts_enricher_api_requests_total", "counter", "HTTP requests made to each Azure API."),
            ("aadsts_enricher_runs_total", "counter", "New finished runs seen, by source and status."),
            (
                "aadsts_enricher_auth_failures_total",
                "counter",
                "Failed runs with an AADSTS code, by code, category, source and workspace.",
            ),
            ("aadsts_enricher_unexplained_failures_total", "counter", "Failed runs without any AADSTS code."),
            ("aadsts_enricher_incidents_open", "gauge", "Open incidents by severity."),
            (
                "aadsts_enricher_notifications_total",
                "counter",
                "Notification deliveries by sink and outcome.",
            ),
            ("aadsts_enricher_outbox_depth", "gauge", "Notifications waiting for delivery, by sink."),
            (
                "aadsts_enricher_outbox_oldest_age_seconds",
                "gauge",
                "How long the oldest notification waiting for each sink has waited.",
            ),
            (
                "aadsts_enricher_outbox_next_attempt_timestamp_seconds",
                "gauge",
                "When each sink's next waiting notification is due (Unix time).",
            ),
            ("aadsts_enricher_cycle_duration_seconds_sum", "counter", "Total seconds spent in poll cycles."),
            ("aadsts_enricher_cycle_duration_seconds_count", "counter", "Number of poll cycles."),
            (
                "aadsts_enricher_last_success_timestamp_seconds",
                "gauge",
                "When a source last polled successfully.",
            ),
            ("aadsts_enricher_incident_resolve_seconds", "histogram", "How long incidents stayed open."),
        ):
            self._m[name] = _Metric(kind, text)

    def inc(self, name: str, labels: Mapping[str, str] | None = None, value: float = 1.0) -> None:
        key = tuple(sorted((labels or {}).items()))
        with self._lock:
            metric = self._m[name]
            metric.values[key] = metric.values.get(key, 0.0) + value

    def set(self, name: str, labels: Mapping[str, str] | None, value: float) -> None:
        with self._lock:
            self._m[name].values[tuple(sorted((labels or {}).items()))] = value

    def replace(self, name: str, values: Mapping[LabelKey, float]) -> None:
        """Set a whole gauge at once (series that disappeared drop out)."""
        with self._lock:
            self._m[name].values = dict(values)

    def observe(self, name: str, value: float) -> None:
        with self._lock:
            values = self._m[name].values
            for bound in (*_BUCKETS, float("inf")):
                if value <= bound:
                    key = (("le", "+Inf" if bound == float("inf") else f"{bound:g}"),)
                    values[key] = values.get(key, 0.0) + 1
            values[(("__sum", ""),)] = values.get((("__sum", ""),), 0.0) + value
            values[(("__count", ""),)] = values.get((("__count", ""),), 0.0) + 1

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        with self._lock:
            return self._m[name].values.get(tuple(sorted((labels or {}).items())), 0.0)

    def series(self, name: str) -> dict[LabelKey, float]:
        with self._lock:
            return dict(self._m[name].values)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, metric in self._m.items():
                lines.append(f"# HELP {name} {metric.help}")
                lines.append(f"# TYPE {name} {metric.kind}")
                for key, value in sorted(metric.values.items()):
                    lines.append(_line(name, metric.kind, key, value))
        return "\n".join(lines) + "\n"


def _line(name: str, kind: str, key: LabelKey, value: float) -> str:
    if kind == "histogram":
        if key and key[0][0] in ("__sum", "__count"):
            return f"{name}_{key[0][0][2:]} {value:g}"
        return f"{name}_bucket{_labels(key)} {value:g}"
    return f"{name}{_labels(key)} {value:g}"


def _labels(key: LabelKey) -> str:
    if not key:
        return ""
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
