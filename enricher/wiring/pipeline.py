"""One daemon cycle as a function of ``now``: poll -> detect -> enrich -> incidents -> outbox.

Network work (polling, delivery) happens outside transactions; everything a poll changes in the
store (seen runs, incidents, pending notifications, the cursor) is written in ONE transaction, and
the notifications a flush produces are written to the outbox in another. A crash anywhere leaves
either the old state (the poll is simply redone: same runs, same deterministic notification ids,
so the outbox's uniqueness keeps every notification single) or the new one.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from connectors.clouds import CLOUDS
from connectors.records import RunRecord, RunStatus, Source
from enricher import config as cfg
from enricher.core.detect import detect
from enricher.core.enrich import PUBLIC_PORTALS, Portals, enrich
from enricher.core.grouping import (
    RootCause,
    alone,
    group,
    parent_fingerprint,
    parent_fingerprint_of,
    root_cause_of,
    sibling_of,
)
from enricher.core.incidents import Book, Incident, Scope, fingerprint_of, on_failure, on_success
from enricher.core.kb_schema import SEVERITIES
from enricher.core.knowledge import KnowledgeBase
from enricher.core.redact import scrub, scrub_record, secret_list
from enricher.core.wording import counted
from enricher.metrics import Metrics
from enricher.models import Alert, Detection
from enricher.notification import Notification
from enricher.store import Store
from enricher.store.base import Event
from enricher.store.books import poll_book
from enricher.store.queries import IncidentFilter
from enricher.wiring import collector, expiry
from enricher.wiring.announce import Announcer
from enricher.wiring.build import SourceJob, policy_of, secrets_of
from enricher.wiring.expiry import CredentialWatch
from enricher.wiring.replicas import poll_lease
from enricher.wiring.reports import CycleReport, PollReport, ReadRun

log = logging.getLogger("aadsts_enricher.pipeline")
#: Open lone incidents of one code read per poll to find an item's siblings (the newest first).
MAX_SIBLINGS_READ = 10_000
_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}


class Pipeline:
    def __init__(
        self,
        config: cfg.Config,
        store: Store,
        kb: KnowledgeBase,
        jobs: Sequence[SourceJob],
        *,
        metrics: Metrics | None = None,
        sink_filter: Callable[[str, Notification], bool] = lambda sink, n: True,
        portals: Portals | None = None,
        on_incident: Callable[[Incident, Alert, datetime], None] | None = None,
        before_flush: Callable[[datetime], object] | None = None,
        watches: Sequence[CredentialWatch] = (),
    ) -> None:
        self.config = config
        self.watches = list(watches)
        self.store = store
        self.kb = kb
        self.jobs = list(jobs)
        self.metrics = metrics or Metrics()
        self.policy = policy_of(config.incidents)
        self.sink_filter = sink_filter
        # the sign-in look-up (enricher.wiring.signin_lookup): queued in the poll's transaction, drained
        # before the flush so a cause found this cycle goes out with it
        self.on_incident = on_incident
        #: Called inside each poll's and flush's transaction with the work's lease names; raises to
        #: roll the work back when another replica took one meanwhile (``wiring.replicas``).
        self.fence: Callable[[Sequence[str]], None] = lambda leases: None
        self.before_flush = before_flush
        self._open: dict[str, int] | None = None  # open incidents per severity, see _gauge_open
        # error-lookup links on the tenant's own cloud; portal hosts of sovereign clouds stay public for now
        self.portals = {
            t.name: portals or replace(PUBLIC_PORTALS, login=CLOUDS[t.cloud].authority)
            for t in config.tenants
        }
        self.announcer = Announcer(
            config,
            store,
            self.policy,
            self.metrics,
            sink_filter,
            self.watches,
            self._fence,  # late-bound: the daemon sets ``fence`` after construction
        )

    def _fence(self, leases: Sequence[str]) -> None:
        self.fence(leases)

    def run_once(self, now: datetime, *, wait: bool = True) -> CycleReport:
        """Poll every source once and flush: what ``once`` and the tests do."""
        report = CycleReport([self.poll(job, now) for job in self.jobs])
        expiring = self.watch_credentials(now)
        if self.before_flush is not None:
            self.before_flush(now)
        report.notifications = [*expiring, *self.flush(now, wait=wait)]
        return report

    # -- polling ---------------------------------------------------------------------------------

    @functools.cached_property
    def _secrets(self) -> tuple[str, ...]:
        return secret_list(secrets_of(self.config))

    def poll(self, job: SourceJob, now: datetime) -> PollReport:
        report = PollReport(job.name)
        started = time.monotonic()
        poll = job.connector.poll(now, self.store.get_cursor(job.name))
        poll.records = [scrub_record(r, self._secrets) for r in poll.records]  # a peer may echo one
        report.records = len(poll.records)
        report.errors = [scrub(e, self._secrets) for e in poll.errors]
        report.notes = [
            scrub(f"{n.item}: {n.message}", self._secrets)
            for n in poll.notices
            if f"{n.item}: {n.message}" not in poll.errors
        ]
        report.auth_error = scrub(poll.auth_error.message, self._secrets) if poll.auth_error else None
        detected = expiry.read_apps(self.watches, self.kb, poll.records, now)  # Graph, before the transaction
        try:
            with self.store.transaction(), collector.held_for(len(poll.records)):
                self.fence([poll_lease(job)])
                new = self.store.take_unseen(poll.records, now)
                report.new = len(new)
                report.failures, opened = self._process(new, now, job.source, detected)
                self.store.set_cursor(job.name, poll.cursor, now)
                self.store.beat(
                    f"poll:{job.name}", now, "ok" if report.ok else "; ".join(report.errors)[:500]
                )
                if report.ok:  # the dashboard shows the last good poll beside the last attempt
                    self.store.beat(f"poll-ok:{job.name}", now, "ok")
        except BaseException:
            # nothing of this poll was stored: a connector that remembers what it saw between polls
            # (Power BI's last refresh per dataset) must forget it, or the next poll skips those runs
            rewind = getattr(job.connector, "rewind", None)
            if rewind is not None:
                rewind()
            raise
        self._gauge_open(opened)
        self._count_poll(job, report, time.monotonic() - started, now)
        for notice in poll.notices:  # each problem once, when it first appears (not every cycle)
            log.warning(
                "source problem",
                extra={
                    "source": job.name,
                    "kind": notice.kind,
                    "item": notice.item,
                    "problem": notice.message,
                },
            )
            self.metrics.inc(
                "aadsts_enricher_source_problems_total",
                {"tenant": job.tenant, "source": job.source, "kind": notice.kind},
            )
        for error in report.errors:
            log.debug("poll problem", extra={"source": job.name, "problem": error})
        return report

    def ingest(self, records: list[RunRecord], now: datetime, source: str = "ingest") -> int:
        """Pushed alerts as runs, down the same path as a poll's (seen runs, incidents, one
        transaction), so a failure seen both ways is one incident. Returns how many were new."""
        with self.store.transaction(), collector.held_for(len(records)):
            new = self.store.take_unseen(records, now)
            _, opened = self._process(new, now, source)
        self._gauge_open(opened)
        return len(new)

    def _process(
        self,
        records: list[RunRecord],
        now: datetime,
        source: str,
        detected: Mapping[str, Detection] | None = None,
    ) -> tuple[int, dict[str, int]]:
        """Explain the runs, load only the incidents they can touch, apply them in order, save.
        ``source`` is the configured name of the source that read them (their metrics label);
        ``detected``: error text -> detection already made for this poll (``expiry.read_apps``)."""
        tallies: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        runs = [
            self._read(rec, now, source, detected or {}, tallies)
            for rec in sorted(records, key=lambda r: r.ended_at or r.started_at or now)
        ]
        for (tenant, status), n in Counter((r.tenant, r.status.value) for r in records).items():
            tallies[
                "aadsts_enricher_runs_total", (("tenant", tenant), ("source", source), ("status", status))
            ] += n
        for (name, labels), n in tallies.items():
            self.metrics.inc(name, dict(labels), float(n))  # once per label set, not per run
        causes = {id(r): self._cause(r.alert) for r in runs if r.alert}
        fingerprints = {fingerprint_of(r.alert, self.policy.group_by) for r in runs if r.alert}
        fingerprints |= {
            parent_fingerprint(r.rec.tenant, r.alert.code, cause)
            for r in runs
            if r.alert and (cause := causes[id(r)]) is not None
        }
        items = {r.rec.item_key for r in runs if r.rec.status is RunStatus.SUCCEEDED}
        book = poll_book(self.store, fingerprints, items, now)
        failed: dict[str, int] = {}  # fingerprint -> failed runs of this poll
        events: list[Event] = []  # written in one go before the book (a store sums failures from them)
        for run in runs:
            rec = run.rec
            if run.alert is not None:
                cause = causes[id(run)]
                inc = on_failure(
                    book,
                    run.alert,
                    now,
                    self.policy,
                    streak=run.streak,
                    schedule_enabled=run.schedule_on,
                    root_cause=cause.as_dict() if cause else None,
                )
                failed[inc.fingerprint] = failed.get(inc.fingerprint, 0) + 1
                inc = expiry.with_app_credentials(self.watches, book, inc, run.alert, now)
                if self.on_incident is not None:
                    self.on_incident(inc, run.alert, now)
                events.append(Event(inc.id, now, "failure", f"run {rec.run_id}: AADSTS{run.alert.code}"))
            elif rec.status is RunStatus.SUCCEEDED and rec.item_key in book.open_items:
                for inc in on_success(book, rec.item_key, rec.ended_at or now, now, self.policy):
                    events.append(Event(inc.id, now, "resolved", f"run {rec.run_id} succeeded"))
                    self.metrics.observe(
                        "aadsts_enricher_incident_resolve_seconds",
                        ((inc.resolved_at or now) - inc.first_seen).total_seconds(),
                    )
        before = {fp: (i.id, i.children) for fp, i in book.incidents.items() if i.children}
        touched = [book.incidents[fp] for fp in failed]
        for parent in group(book, touched, now, failed, self._siblings(book, touched, now)):
            events.append(Event(parent.id, now, "children", counted(parent.children, "item")))
            self._count_family(parent, before.get(parent.fingerprint))
        self.store.add_events(events)
        opened = book.open_change()
        self.store.save_book(book, now)
        expiry.remember_clients(self.store, [r.alert for r in runs if r.alert is not None], now)
        return sum(r.failure for r in runs), opened

    def _siblings(self, book: Book, touched: list[Incident], now: datetime) -> list[Incident]:
        """Open lone incidents of earlier polls with the cause of an item this poll opened and leaves
        alone, read per code from the top level of the store. Only a newly open item looks: one that
        was open already was looked for by every item of its cause that opened after it."""
        opened = [
            i for i in touched if (was := book.before.get(i.fingerprint)) is None or was.state != "open"
        ]
        causes = alone(book, touched) & {parent_fingerprint_of(i) for i in opened if i.root_cause}
        if not causes:
            return []
        codes = sorted({i.code for i in opened if i.root_cause and parent_fingerprint_of(i) in causes})
        mine = {i.fingerprint for i in touched}
        found: list[Incident] = []
        for code in codes:
            top = IncidentFilter(now, codes=(code,), top_level=True)
            stored = self.store.list_incidents(top, state="open", limit=MAX_SIBLINGS_READ)
            found += [i for i in stored if i.fingerprint not in mine and sibling_of(i, causes)]
        return found

    def _count_family(self, parent: Incident, before: tuple[str, int] | None) -> None:
        """Parents opened and children adopted (a parent seen before counts only its new children)."""
        labels = {"tenant": parent.tenant, "root_cause": (parent.root_cause or {}).get("key", "")}
        if before is not None and before[0] == parent.id:
            added = parent.children - before[1]
        else:
            self.metrics.inc("aadsts_enricher_parents_opened_total", labels)
            added = parent.children
        if added > 0:
            self.metrics.inc("aadsts_enricher_children_total", labels, added)

    def _cause(self, alert: Alert) -> RootCause | None:
        entry = self.kb.get(alert.code) if alert.known else None
        return root_cause_of(alert, entry.group_by) if entry else None

    def _read(
        self,
        rec: RunRecord,
        now: datetime,
        source: str,
        detected: Mapping[str, Detection],
        tallies: Counter[tuple[str, tuple[tuple[str, str], ...]]],
    ) -> ReadRun:
        """For a failure, explain it; ``alert`` only when it makes an incident. What it counts goes
        into ``tallies`` (metric name and labels), which ``_process`` adds to the metrics."""
        streak, schedule_on = self._streak(rec)
        if rec.status is not RunStatus.FAILED:
            return ReadRun(rec, None, streak, schedule_on, False)
        detection = detected.get(rec.error_text) or detect(rec.error_text, self.kb.signatures)
        alert = enrich(rec, detection, self.kb, portals=self.portals.get(rec.tenant, PUBLIC_PORTALS))
        if alert is None:
            tallies[
                "aadsts_enricher_unexplained_failures_total", (("tenant", rec.tenant), ("source", source))
            ] += 1
            return ReadRun(rec, None, streak, schedule_on, False)
        labels = (
            ("tenant", rec.tenant),
            ("code", alert.code),
            ("category", alert.category),
            ("source", source),
            ("workspace", rec.container_name),
        )
        tallies["aadsts_enricher_auth_failures_total", labels] += 1
        if _RANK[alert.severity] > _RANK[self.config.min_severity]:
            return ReadRun(rec, None, streak, schedule_on, True)
        return ReadRun(rec, alert, streak, schedule_on, True)

    def _streak(self, rec: RunRecord) -> tuple[int | None, bool]:
        """Consecutive failed scheduled refreshes of a Power BI dataset (Power BI gives up after 4)."""
        if rec.source is not Source.POWERBI or rec.extra.get("refresh_type", "").lower() != "scheduled":
            return None, True
        schedule_on = rec.extra.get("schedule_enabled") != "false"
        if rec.status is RunStatus.FAILED:
            streak = self.store.get_streak(rec.item_key) + 1
        elif rec.status is RunStatus.SUCCEEDED:
            streak = 0
        else:
            return None, schedule_on
        self.store.set_streak(rec.item_key, streak)
        return streak, schedule_on

    def _count_poll(self, job: SourceJob, report: PollReport, seconds: float, now: datetime) -> None:
        outcome = "auth_error" if report.auth_error else ("error" if report.errors else "ok")
        where = {"tenant": job.tenant, "source": job.source}
        self.metrics.inc("aadsts_enricher_polls_total", {**where, "outcome": outcome})
        self.metrics.observe("aadsts_enricher_cycle_duration_seconds", seconds, where)
        if report.ok:
            self.metrics.set("aadsts_enricher_last_success_timestamp_seconds", where, now.timestamp())

    # -- credential expiry and flushing: the deciding half (wiring.announce) ------------------------

    def watch_credentials(self, now: datetime, scope: Scope | None = None) -> list[Notification]:
        """Each tenant's credential forecast when its interval has passed; queued like any notification."""
        return self.announcer.watch_credentials(now, scope)

    def flush(self, now: datetime, *, wait: bool = True, scope: Scope | None = None) -> list[Notification]:
        """Reminders, batching, silences and routing: due notifications go into the outbox; of
        the tenants ``scope`` covers (a replica's share), or of all."""
        return self.announcer.flush(now, wait=wait, scope=scope)

    def _gauge_open(self, change: Mapping[str, int]) -> None:
        """Open incidents per severity: counted by the store once, then kept up to date from what
        each poll changed (only polls open and resolve incidents), so no poll counts the book."""
        if self._open is None:
            self._open = dict.fromkeys(SEVERITIES, 0) | self.store.open_counts()
        else:
            for severity, step in change.items():
                self._open[severity] = self._open.get(severity, 0) + step
        counts: dict[tuple[tuple[str, str], ...], float] = {
            (("severity", s),): float(n) for s, n in self._open.items()
        }
        self.metrics.replace("aadsts_enricher_incidents_open", counts)

    def prune(self, now: datetime, keep: timedelta = timedelta(days=14)) -> int:
        return self.store.prune_seen(now - keep)
