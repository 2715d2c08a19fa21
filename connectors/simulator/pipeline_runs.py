"""ADF and Synapse pipeline runs: one model, two front doors (reference 4.2, 4.3 and 5).

``queryPipelineRuns`` requires ``lastUpdatedAfter``/``lastUpdatedBefore`` (400 otherwise),
matches them inclusively against ``lastUpdated`` (the run's end, or its start while it is still
running), applies ``filters`` and ``orderBy``, and pages with a ``continuationToken`` that must
come back in the POST *body*: a token in the query string is ignored, so the first page comes
back again, as in ADF. Runs older than 45 days are gone. Run ids carry the pipeline's job
number and slot, so ``pipelineruns/{runId}`` is a lookup, not a search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from connectors.simulator import messages, paging
from connectors.simulator.http import BadRequest, Request
from connectors.simulator.ids import mix64, uuid_index
from connectors.simulator.model import Activity, Pipeline
from connectors.simulator.runs import Run, decode_run_uid, disabled_at, run_at, runs_between
from connectors.simulator.timefmt import micros, parse_instant, ticks_z

RETENTION = timedelta(days=45)
T = TypeVar("T")
_EMPTY_ERROR = {"errorCode": "", "message": "", "failureType": "", "details": ""}
PIPELINE_FIELDS = {
    "PipelineName": "pipelineName",
    "Status": "status",
    "RunStart": "runStart",
    "RunEnd": "runEnd",
}
PIPELINE_FIELDS |= {"RunGroupId": "runGroupId"}
ACTIVITY_FIELDS = {
    "ActivityName": "activityName",
    "ActivityRunStart": "activityRunStart",
    "ActivityRunEnd": "activityRunEnd",
    "ActivityType": "activityType",
    "Status": "status",
}


@dataclass(frozen=True)
class RunQuery:
    after: datetime
    before: datetime
    offset: int
    snapshot: datetime
    body: dict[str, Any]  # the RunFilterParameters as posted


def parse_query(request: Request, scope: str) -> RunQuery:
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a RunFilterParameters object.")
    for name in ("lastUpdatedAfter", "lastUpdatedBefore"):
        if not body.get(name):
            raise BadRequest(f"The required property '{name}' is missing from the request body.")
    try:
        after, before = (
            parse_instant(str(body["lastUpdatedAfter"])),
            parse_instant(str(body["lastUpdatedBefore"])),
        )
    except ValueError:
        raise BadRequest("lastUpdatedAfter and lastUpdatedBefore must be ISO 8601 date-times.") from None
    token = body.get("continuationToken")
    offset, snapshot = paging.decode(str(token), scope) if token else (0, request.now)
    return RunQuery(after, before, offset, snapshot, body)


def _select(rows: list[tuple[dict[str, object], T]], body: dict[str, Any], fields: dict[str, str]) -> list[T]:
    """Apply ``filters`` and ``orderBy`` to rows of (the fields they read, what to return)."""
    for item in body.get("filters") or []:
        if not isinstance(item, dict) or not {"operand", "operator", "values"} <= set(item):
            raise BadRequest("Each filter needs operand, operator and values.")
        key = fields.get(str(item["operand"]))
        if key is None:
            raise BadRequest(f"The filter operand '{item['operand']}' is not supported here.")
        wanted = {str(v).lower() for v in item["values"] or []}
        operator = str(item["operator"])
        if operator not in {"Equals", "NotEquals", "In", "NotIn"}:
            raise BadRequest(f"The filter operator '{operator}' is not supported.")
        keep = operator in {"Equals", "In"}
        rows = [r for r in rows if (str(r[0].get(key) or "").lower() in wanted) == keep]
    for order in reversed(list(body.get("orderBy") or [])):
        if (
            not isinstance(order, dict)
            or order.get("orderBy") not in fields
            or order.get("order") not in {"ASC", "DESC"}
        ):
            raise BadRequest("orderBy items need orderBy (a supported field) and order (ASC or DESC).")
        rows.sort(key=_sort_key(fields[str(order["orderBy"])]), reverse=order["order"] == "DESC")
    return [payload for _, payload in rows]


def _sort_key(field: str) -> Callable[[tuple[dict[str, object], Any]], tuple[bool, str]]:
    def key(row: tuple[dict[str, object], Any]) -> tuple[bool, str]:
        value = row[0].get(field)
        return value is None, str(value or "")

    return key


def page(items: list[T], query: RunQuery, size: int, scope: str) -> tuple[list[T], str | None]:
    """The slice this request asked for, and the continuation token of the next one."""
    more = query.offset + size < len(items)
    token = paging.encode(query.offset + size, query.snapshot, scope) if more else None
    return items[query.offset : query.offset + size], token


def _last_updated(run: Run, now: float) -> float:
    return run.start if run.running(now) else run.end


def query_pipeline_runs(
    pipelines: Iterable[Pipeline], query: RunQuery, seed: int
) -> list[tuple[Pipeline, Run]]:
    """The runs the query selects, in order. Only the fields filters and orderBy read are
    formatted here; the page that is returned is described in full by the caller."""
    now = query.snapshot.timestamp()
    # Compare in whole microseconds, the precision of the timestamps clients echo back.
    after = micros(max(query.after, query.snapshot - RETENTION))
    before = micros(query.before)
    rows: list[tuple[dict[str, object], tuple[Pipeline, Run]]] = []
    for pipeline in pipelines:
        job = pipeline.job
        if job is None:
            continue
        for run in runs_between(job, after / 1e6 - job.duration * 1.3 - 120, before / 1e6 + 1, now):
            if after <= micros(_last_updated(run, now)) <= before:
                rows.append((_summary(pipeline, run, now, seed), (pipeline, run)))
    rows.sort(key=lambda row: row[1][1].start)
    return _select(rows, query.body, PIPELINE_FIELDS)


def _summary(pipeline: Pipeline, run: Run, now: float, seed: int) -> dict[str, object]:
    running = run.running(now)
    return {
        "pipelineName": pipeline.name,
        "status": _status(run, now),
        "runStart": ticks_z(run.start),
        "runEnd": None if running else ticks_z(run.end),
        "runGroupId": run.uid(seed, "pipeline-run"),
    }


def find_run(
    run_id: str, pipelines_by_number: dict[int, Pipeline], container: str, now: datetime, seed: int
) -> tuple[Pipeline, Run] | None:
    number = uuid_index(run_id)
    if number is None:
        return None
    job_number, index = decode_run_uid(number)
    pipeline = pipelines_by_number.get(job_number)
    if pipeline is None or pipeline.job is None or pipeline.container != container:
        return None
    run = run_at(pipeline.job, index)
    cut = disabled_at(pipeline.job)
    t = now.timestamp()
    if (
        run.uid(seed, "pipeline-run") != run_id.lower()
        or run.start > t
        or run.start < t - RETENTION.total_seconds()
    ):
        return None
    if run.start < pipeline.job.not_before or (cut is not None and run.start > cut):
        return None
    return pipeline, run


def _status(run: Run, now: float) -> str:
    if run.running(now):
        return "InProgress"
    return "Failed" if run.failure is not None else "Succeeded"


def failing_activity(pipeline: Pipeline, run: Run) -> Activity:
    target = run.failure.target if run.failure else None
    named = [a for a in pipeline.activities if a.name == target]
    linked = [a for a in pipeline.activities if a.linked_service]
    return (named or linked or list(pipeline.activities))[-1]


def pipeline_run(
    pipeline: Pipeline, run: Run, now: float, *, seed: int, failure: messages.Failure | None
) -> dict[str, object]:
    running = run.running(now)
    run_id = run.uid(seed, "pipeline-run")
    trigger_id = f"0858{mix64(run.job.key ^ run.slot):020d}CU{run.slot % 100:02d}"
    message = ""
    if failure is not None and not running:
        message = messages.adf_pipeline_message(failure, failing_activity(pipeline, run))
    return {
        "runId": run_id,
        "runGroupId": run_id,
        "isLatest": True,
        "pipelineName": pipeline.name,
        "parameters": dict(pipeline.parameters),
        "invokedBy": {"name": pipeline.trigger, "id": trigger_id, "invokedByType": "ScheduleTrigger"},
        "runStart": ticks_z(run.start),
        "runEnd": None if running else ticks_z(run.end),
        "durationInMs": None if running else int((run.end - run.start) * 1000),
        "status": _status(run, now),
        "message": message,
        "lastUpdated": ticks_z(_last_updated(run, now)),
        "annotations": [],
        "runDimension": {},
    }


def activity_runs(
    pipeline: Pipeline, run: Run, now: float, *, seed: int, failure: messages.Failure | None
) -> list[dict[str, object]]:
    """Activities in order; after a failing activity nothing else runs."""
    activities = list(pipeline.activities)
    if run.failure is not None:
        stop = failing_activity(pipeline, run)
        activities = activities[: activities.index(stop) + 1]
    share = max(0.5, (run.end - run.start - 1.5) / len(activities))
    out: list[dict[str, object]] = []
    for i, activity in enumerate(activities):
        start = run.start + 1.0 + i * share
        end = start + share - 0.3
        if start > now:
            break
        done = end <= now
        failed = done and run.failure is not None and i == len(activities) - 1
        error: dict[str, object] = {**_EMPTY_ERROR, "target": activity.name}
        if failed and failure is not None:
            error = messages.adf_activity_error(failure, activity)
        out.append(
            {
                "activityRunEnd": ticks_z(end) if done else None,
                "activityName": activity.name,
                "activityRunStart": ticks_z(start),
                "activityType": activity.type,
                "durationInMs": int((end - start) * 1000) if done else None,
                "retryAttempt": None,
                "error": error,
                "activityRunId": run.guid(seed, f"activity-{i}"),
                "input": dict(_INPUTS.get(activity.type, {})),
                "linkedServiceName": activity.linked_service,
                "output": _output(activity, run, failed) if done else {},
                "userProperties": {},
                "pipelineName": pipeline.name,
                "pipelineRunId": run.uid(seed, "pipeline-run"),
                "status": ("Failed" if failed else "Succeeded") if done else "InProgress",
            }
        )
    return out


_INPUTS: dict[str, dict[str, object]] = {
    "Copy": {"source": {"type": "AzureSqlSource"}, "sink": {"type": "ParquetSink"}},
    "Lookup": {"source": {"type": "AzureSqlSource"}, "firstRowOnly": True},
    "Web": {"method": "POST", "url": "https://login.microsoftonline.com/"},
}


def _output(activity: Activity, run: Run, failed: bool) -> dict[str, object]:
    """A plausible ``output`` per activity type (free-form in the spec)."""
    runtime = "AutoResolveIntegrationRuntime (West Europe)"
    if activity.type == "Copy":
        rows = 0 if failed else 1000 + run.noise % 90_000
        return {
            "dataRead": rows * 48,
            "dataWritten": rows * 31,
            "rowsCopied": rows,
            "errors": [],
            "effectiveIntegrationRuntime": runtime,
        }
    if activity.type == "Lookup":
        return {
            "firstRow": {"watermark": ticks_z(run.start - 86_400)},
            "effectiveIntegrationRuntime": runtime,
        }
    return {} if failed else {"effectiveIntegrationRuntime": runtime}


def select_activities(records: list[dict[str, object]], query: RunQuery) -> list[dict[str, object]]:
    """Activity runs whose last update falls in the window, filtered and ordered."""
    after, before = query.after, query.before
    kept = []
    for record in records:
        stamp = parse_instant(str(record["activityRunEnd"] or record["activityRunStart"]))
        if after <= stamp <= before:
            kept.append(record)
    return _select([(record, record) for record in kept], query.body, ACTIVITY_FIELDS)
