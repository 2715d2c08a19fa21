"""Wiring for pushed alerts: detection decides, the pipeline does the rest as for polled runs.

Every pushed alert is read by ``detect`` (with the knowledge base's phrase signatures). Those with
an AADSTS code become run records (``records.record_of``) and go through ``Pipeline.ingest``: the
same seen-runs table, incidents, routes and sinks as a poll. The others are counted
(``aadsts_enricher_ingested_total{outcome="other"}``) and dropped. After storing, ``wake`` asks for
a flush now instead of at the next ``delivery.interval``, so a pushed alert waits only for its
incident's ``group_wait``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from enricher import config as cfg
from enricher.core.detect import detect
from enricher.ingest.formats import Pushed
from enricher.ingest.records import Places, record_of
from enricher.wiring.pipeline import Pipeline


class Intake:
    def __init__(
        self,
        config: cfg.Config,
        pipeline: Pipeline,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.places = Places.of(config)
        self.pipeline = pipeline
        self.clock = clock
        self.wake = wake

    def accept(self, fmt: str, alerts: list[Pushed]) -> dict[str, int]:
        now = self.clock()
        signatures = self.pipeline.kb.signatures
        ours = [a for a in alerts if detect(a.text, signatures)]
        if ours:
            self.pipeline.ingest([record_of(a, self.places, now) for a in ours], now, f"ingest:{fmt}")
            self.wake()
        return {"aadsts": len(ours), "other": len(alerts) - len(ours)}
