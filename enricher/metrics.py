"""Counters, gauges and histograms the daemon exports at ``/metrics``, through ``prometheus_client``.

The library owns the text format (exact float formatting, escaping, ``_bucket``/``_sum``/``_count``
typing), so a counter above a million still moves and a Unix timestamp keeps every digit. Each
``Metrics`` has its own ``CollectorRegistry`` rather than the process-wide default, so a test (or a
second service in one process) starts from zero. The rest of the code calls a small facade by
metric name (``inc``/``set``/``replace``/``observe``) and never imports the library.

Label scheme, the same in every metric: ``tenant`` is the tenant's configured name and ``source``
the source type (``powerbi``, ``fabric``, ``adf``, ``synapse``, or ``self`` for the enricher's own
sign-in), never the two joined; per-poll metrics carry a source's configured ``name`` instead when
the config gives it one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from enricher import __version__

LabelKey = tuple[tuple[str, str], ...]

#: the text format Prometheus has read longest; promtool checks it
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
PREFIX = "aadsts_enricher_"

# ``*_created`` series double the output and nothing here reads them
prometheus_client.disable_created_metrics()

_RESOLVE_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)
# a poll is one to a few HTTP round trips; minutes means throttling or a huge backlog
_CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

_Kind = type[Counter] | type[Gauge] | type[Histogram]

#: name -> (kind, help, label names); names as exposed (counters end in ``_total``)
SPEC: dict[str, tuple[_Kind, str, tuple[str, ...]]] = {
    "polls_total": (
        Counter,
        "Source polls by outcome (ok, error, auth_error).",
        ("tenant", "source", "outcome"),
    ),
    "api_requests_total": (Counter, "HTTP requests made to each Azure API.", ("tenant", "api")),
    "runs_total": (Counter, "New finished runs seen, by source and status.", ("tenant", "source", "status")),
    "auth_failures_total": (
        Counter,
        "Failed runs with an AADSTS code, by code, category, source and workspace.",
        ("tenant", "source", "workspace", "code", "category"),
    ),
    "ingested_total": (
        Counter,
        "Alerts pushed to /api/v1/ingest by format and outcome (aadsts: became a failure or a "
        "resolution; other: no AADSTS code, dropped; rejected: the request was refused).",
        ("format", "outcome"),
    ),
    "unexplained_failures_total": (Counter, "Failed runs without any AADSTS code.", ("tenant", "source")),
    "source_problems_total": (
        Counter,
        "Problems a source met (a refused optional call, a hung host, a capped or looping listing), "
        "by kind; each counted once per item until that item works again.",
        ("tenant", "source", "kind"),
    ),
    "signin_lookups_total": (
        Counter,
        "Sign-in look-ups by outcome: found, expired (not in the log within the window), refused "
        "(no licence or AuditLog.Read.All) and no_policies (no Policy.Read.All), the last two once per tenant.",
        ("tenant", "outcome"),
    ),
    "incidents_open": (Gauge, "Open incidents by severity.", ("severity",)),
    "notifications_total": (Counter, "Notification deliveries by sink and outcome.", ("sink", "outcome")),
    "outbox_depth": (Gauge, "Notifications waiting for delivery, by sink.", ("sink",)),
    "outbox_oldest_age_seconds": (
        Gauge,
        "How long the oldest notification waiting for each sink has waited.",
        ("sink",),
    ),
    "outbox_next_attempt_timestamp_seconds": (
        Gauge,
        "When each sink's next waiting notification is due (Unix time).",
        ("sink",),
    ),
    "cycle_duration_seconds": (Histogram, "How long one poll of a source took.", ("tenant", "source")),
    "last_success_timestamp_seconds": (
        Gauge,
        "Unix time of the last successful poll of a source (the poll's own clock).",
        ("tenant", "source"),
    ),
    "incident_resolve_seconds": (Histogram, "How long incidents stayed open.", ()),
    "parents_opened_total": (
        Counter,
        "Parent incidents opened (two or more items failing with one code and one root cause), by "
        "the kind of cause (client_id, gateway, datasource, linked_service, tenant, policy).",
        ("tenant", "root_cause"),
    ),
    "children_total": (
        Counter,
        "Items that joined a parent incident (their own notifications are inhibited), by the kind of cause.",
        ("tenant", "root_cause"),
    ),
    "leases_held": (
        Gauge,
        "Leases this replica holds (a shared PostgreSQL store: poll:TENANT/SOURCE jobs and flush).",
        (),
    ),
    "lease_takeovers_total": (
        Counter,
        "Leases this replica took from another whose lease had expired (it died or stalled).",
        ("lease",),
    ),
    "credential_expiry_timestamp_seconds": (
        Gauge,
        "When each client secret or certificate of a watched app expires (Unix time, from Graph).",
        ("app_id", "key_id", "kind"),
    ),
}


class Metrics:
    """One registry of the daemon's metrics; every method takes the full name (``aadsts_enricher_...``)."""

    def __init__(self, kb_version: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # replace() clears then refills a gauge: a scrape must not see it half done
        self._lock = threading.Lock()
        self._m: dict[str, Counter | Gauge | Histogram] = {}
        for short, (kind, text, labels) in SPEC.items():
            self._m[PREFIX + short] = _build(kind, PREFIX + short, text, labels, self.registry)
        self._info = Gauge(
            PREFIX + "build_info",
            "Always 1; the labels say which enricher and knowledge base are running.",
            ("version", "kb_version"),
            registry=self.registry,
        )
        self.set_kb_version(kb_version)

    def set_kb_version(self, kb_version: str) -> None:
        """After a reload the knowledge base may be another one; build_info shows the one in use."""
        self._info.clear()
        self._info.labels(version=__version__, kb_version=kb_version or "none").set(1)

    def _typed(self, name: str, kind: _Kind) -> Any:
        metric = self._m[name]
        if not isinstance(metric, kind):
            raise TypeError(f"{name} is a {type(metric).__name__.lower()}, not a {kind.__name__.lower()}")
        return metric

    def inc(self, name: str, labels: Mapping[str, str] | None = None, value: float = 1.0) -> None:
        metric = self._typed(name, Counter)
        _child(metric, labels).inc(value)

    def set(self, name: str, labels: Mapping[str, str] | None, value: float) -> None:
        metric = self._typed(name, Gauge)
        _child(metric, labels).set(value)

    def replace(self, name: str, values: Mapping[LabelKey, float]) -> None:
        """Set a whole gauge at once (series that disappeared drop out)."""
        metric = self._typed(name, Gauge)
        with self._lock:
            metric.clear()
            for key, value in values.items():
                _child(metric, dict(key)).set(value)

    def observe(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        metric = self._typed(name, Histogram)
        _child(metric, labels).observe(value)

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """The current value of one series (a histogram's ``_count``); 0 when it does not exist."""
        sample = f"{name}_count" if isinstance(self._m[name], Histogram) else name
        return self.registry.get_sample_value(sample, dict(labels or {})) or 0.0

    def series(self, name: str) -> dict[LabelKey, float]:
        """Every series of a counter or gauge, keyed by its sorted label pairs."""
        with self._lock:
            families = list(self._m[name].collect())
        return {
            tuple(sorted(s.labels.items())): s.value
            for family in families
            for s in family.samples
            if s.name == name
        }

    def render(self) -> str:
        with self._lock:
            return generate_latest(self.registry).decode()


def _build(
    kind: _Kind, name: str, text: str, labels: tuple[str, ...], registry: CollectorRegistry
) -> Counter | Gauge | Histogram:
    if kind is Histogram:
        buckets = _CYCLE_BUCKETS if name.endswith("cycle_duration_seconds") else _RESOLVE_BUCKETS
        return Histogram(name, text, labels, registry=registry, buckets=buckets)
    if kind is Counter:
        # the library appends ``_total`` itself
        return Counter(name.removesuffix("_total"), text, labels, registry=registry)
    return Gauge(name, text, labels, registry=registry)


def _child(metric: Any, labels: Mapping[str, str] | None) -> Any:
    """The labelled series (the library raises ValueError when the label names are not the declared ones)."""
    return metric.labels(**labels) if labels else metric
