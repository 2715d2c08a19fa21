"""What ADF and Synapse share: the run-query models, windows and the mapping to run records.

Both APIs are POST queries over a required ``lastUpdated`` window with the continuation token in the
body. Each factory or workspace keeps its own watermark in the cursor: the next window starts at
the previous end minus an overlap (runs updated right at the edge are never missed; the store drops
the ones already seen). A target whose query fails keeps its old watermark, so the next cycle asks
for the same window again and nothing is lost. For every failed run, the failed activities are read
too: their error message, not the pipeline's summary, carries the MSAL text with the AADSTS code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Identity, Poll, as_dict, collect, fan_out
from connectors.http import AzureHttp
from connectors.records import RunRecord, RunStatus, Source, status_from_word
from connectors.timefmt import iso, parse_time

_ATTENDED = {"manual"}


@dataclass(frozen=True)
class Target:
    """One data factory or Synapse workspace."""

    key: str
    name: str
    runs_url: str
    activity_url: Callable[[Mapping[str, Any]], str]
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Windowing:
    overlap: timedelta = timedelta(minutes=10)
    first_lookback: timedelta = timedelta(hours=24)
    activities: bool = True
    workers: int = 8


def window(cursor: Mapping[str, str], key: str, now: datetime, w: Windowing) -> tuple[datetime, datetime]:
    mark = parse_time(cursor.get(key))
    start = mark - w.overlap if mark else now - w.first_lookback
    return start, now


def poll_targets(
    poll: Poll,
    http: AzureHttp,
    api: str,
    scope: str,
    source: Source,
    identity: Identity,
    targets: list[Target],
    cursor: Mapping[str, str],
    now: datetime,
    w: Windowing,
) -> None:
    def one(target: Target) -> list[RunRecord]:
        start, end = window(cursor, target.key, now, w)
        body = {"lastUpdatedAfter": iso(start), "lastUpdatedBefore": iso(end)}
        runs = [
            run
            for page in http.post_continuation(api, target.runs_url, scope, body)
            for run in as_dict(page).get("value") or []
            if isinstance(run, dict)
        ]
        records = []
        for run in runs:
            activities = []
            if w.activities and status_from_word(str(run.get("status"))) is RunStatus.FAILED:
                activities = failed_activities(http, api, scope, target, run, now)
            records.append(run_record(source, identity, target, run, activities))
        return records

    for target, records in collect(
        poll, fan_out(one, targets, w.workers, poll.until), lambda t: f"{api} {t.name}"
    ):
        poll.records.extend(records)
        poll.cursor[target.key] = iso(now)  # a failed target keeps its old watermark


def failed_activities(
    http: AzureHttp, api: str, scope: str, target: Target, run: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    started = parse_time(run.get("runStart")) or now
    ended = parse_time(run.get("runEnd")) or now
    body = {
        "lastUpdatedAfter": iso(started - timedelta(minutes=5)),
        "lastUpdatedBefore": iso(max(ended, now) + timedelta(minutes=5)),
        "filters": [{"operand": "Status", "operator": "Equals", "values": ["Failed"]}],
    }
    return [
        activity
        for page in http.post_continuation(api, target.activity_url(run), scope, body)
        for activity in as_dict(page).get("value") or []
        if isinstance(activity, dict)
    ]


def run_record(
    source: Source,
    identity: Identity,
    target: Target,
    run: Mapping[str, Any],
    activities: list[dict[str, Any]],
) -> RunRecord:
    invoked = as_dict(run.get("invokedBy"))
    texts: list[str] = []
    codes: list[str] = []
    first: dict[str, Any] = activities[0] if activities else {}
    for activity in activities:
        error = as_dict(activity.get("error"))
        if error.get("message"):
            texts.append(str(error["message"]))
        if error.get("errorCode"):
            codes.append(str(error["errorCode"]))
    message = str(run.get("message") or "")
    if message and not any(t in message for t in texts):
        texts.insert(0, message)
    elif not texts and message:
        texts.append(message)
    extra = {**target.extra, "tenant_id": identity.tenant_id, "invoked_by": str(invoked.get("name") or "")}
    if first:
        extra["activity_name"] = str(first.get("activityName") or "")
        extra["activity_type"] = str(first.get("activityType") or "")
        extra["linked_service"] = str(first.get("linkedServiceName") or "")
    return RunRecord(
        source=source,
        tenant=identity.tenant,
        container_id=target.key,
        container_name=target.name,
        item_id=str(run.get("pipelineName") or ""),
        item_name=str(run.get("pipelineName") or ""),
        item_type="pipeline",
        run_id=str(run.get("runId")),
        status=status_from_word(str(run.get("status"))),
        raw_status=str(run.get("status") or ""),
        started_at=parse_time(run.get("runStart")),
        ended_at=parse_time(run.get("runEnd")),
        unattended=str(invoked.get("invokedByType") or "").lower() not in _ATTENDED,
        error_text="\n".join(texts),
        error_code=",".join(codes),
        extra={k: v for k, v in extra.items() if v},
    )
