"""Wiring for pushed alerts: detection decides, the pipeline does the rest as for polled runs.

Every pushed alert is read by ``detect`` (with the knowledge base's phrase signatures). Those with
an AADSTS code become run records (``records.record_of``) and go through ``Pipeline.ingest``: the
same seen-runs table, incidents, routes and sinks as a poll. The others are counted
(``aadsts_enricher_ingested_total{outcome="other"}``) and dropped, or with ``ingest.other:
forward`` handed on unchanged (``forward.Forwarder``) after ours are stored. After storing,
``wake`` asks for a flush now instead of at the next ``delivery.interval``, so a pushed alert
waits only for its incident's ``group_wait``.

With ``ingest.fetch_search_results``, an Azure Monitor log search alert that came without its
rows gets them from its results link first (``connectors.log_analytics``, the tenant's credential
and HTTP client with its retries and deadline), so each failed run in them is read on its own. If
that read fails, the alert is still read from its dimensions and one warning says why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime

from connectors.errors import ConnectorError
from connectors.log_analytics import LogAnalyticsClient
from enricher import config as cfg
from enricher.core.detect import detect
from enricher.ingest.formats import Batch, Pushed, azure_monitor, others_body, search_link, with_results
from enricher.ingest.forward import Forwarder
from enricher.ingest.records import Places, record_of
from enricher.wiring.pipeline import Pipeline

log = logging.getLogger("aadsts_enricher.ingest")
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/]+)/", re.IGNORECASE)


class Intake:
    def __init__(
        self,
        config: cfg.Config,
        pipeline: Pipeline,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
        *,
        forwarder: Forwarder | None = None,
        search: Mapping[str, LogAnalyticsClient] | None = None,
    ) -> None:
        self.places = Places.of(config)
        self.pipeline = pipeline
        self.clock = clock
        self.wake = wake
        self.forwarder = forwarder
        #: tenant name -> its Log Analytics client; empty unless ``fetch_search_results``
        self.search = search or {}

    def accept(self, batch: Batch) -> dict[str, int]:
        alerts = list(batch.alerts)
        if batch.format == "azure-monitor" and self.search:
            alerts = self._with_fetched_rows(batch) or alerts
        now = self.clock()
        signatures = self.pipeline.kb.signatures
        found = [bool(detect(a.text, signatures)) for a in alerts]
        ours = [a for a, hit in zip(alerts, found, strict=True) if hit]
        if ours:
            self.pipeline.ingest(
                [record_of(a, self.places, now) for a in ours], now, f"ingest:{batch.format}"
            )
            self.wake()
        counts = {"aadsts": len(ours), "other": len(alerts) - len(ours)}
        if self.forwarder is not None:
            others = [a for a, hit in zip(alerts, found, strict=True) if not hit]
            body = others_body(Batch(batch.format, batch.body, batch.doc, alerts), others)
            if body is not None:
                self.forwarder.send(batch.format, body)  # ForwardRetryError: the endpoint answers 503
            counts["forwarded"] = len(others) if body is not None else 0
        return counts

    def _with_fetched_rows(self, batch: Batch) -> list[Pushed] | None:
        link = search_link(batch.doc)
        if not link:
            return None
        tenant = self._tenant_of(batch.alerts[0] if batch.alerts else None)
        client = self.search.get(tenant)
        if client is None:
            return None
        try:
            results = client.results(link)
        except ConnectorError as exc:
            log.warning(
                "could not read the alert's search results; using its dimensions",
                extra={"tenant": tenant, "reason": str(exc)},
            )
            return None
        return azure_monitor(with_results(batch.doc, results))

    def _tenant_of(self, alert: Pushed | None) -> str:
        """The tenant whose credential reads the results: by the subscription the alert targets."""
        found = _SUBSCRIPTION.search(alert.target if alert else "")
        sub = found.group(1).lower() if found else ""
        return self.places.by_subscription.get(sub, self.places.default)
