"""Power BI JSON objects, key for key like the samples (camelCase, ``ContentProviderType``).

Refreshes follow reference 2.4: ``Unknown`` without ``endTime`` while running, ``Completed`` or
``Failed``; ``serviceExceptionJson`` only on failure, as a JSON *string*; failed refreshes have
two ``Data`` attempts (Power BI retries), completed ones a ``Data`` and a ``Query`` attempt.
Refreshables (2.5) summarise the last 7 days, at most 60 refreshes; their durations are derived
from the dataset's nominal duration (not averaged run by run: the scale scenario serves 5,000
of them per page).
"""

from __future__ import annotations

import functools

from connectors.simulator import messages
from connectors.simulator.ids import mix64
from connectors.simulator.model import PbiDataflow, PbiDataset, PbiWorkspace
from connectors.simulator.runs import Run, disabled_at, first_run, last_run, latest_runs
from connectors.simulator.schedule import Schedule
from connectors.simulator.timefmt import powerbi, powerbi_offset, ticks_z

SHAREPOINT = "00000003-0000-0ff1-ce00-000000000000"
WEEK = 7 * 86_400


def group(ws: PbiWorkspace) -> dict[str, object]:
    out: dict[str, object] = {
        "id": ws.id,
        "isReadOnly": False,
        "isOnDedicatedCapacity": ws.capacity is not None,
    }
    if ws.capacity is not None:
        out["capacityId"] = ws.capacity.id
        out["defaultDatasetStorageFormat"] = "Small"
    out["name"] = ws.name
    return out


def admin_group(ws: PbiWorkspace) -> dict[str, object]:
    out = group(ws)
    if ws.capacity is not None:
        out["capacityMigrationStatus"] = "Migrated"
    out.update(
        {
            "description": ws.description,
            "type": "Workspace",
            "state": "Active",
            "hasWorkspaceLevelSettings": False,
        }
    )
    return out


def dataset(ds: PbiDataset) -> dict[str, object]:
    return {
        "id": ds.id,
        "name": ds.name,
        "addRowsAPIEnabled": False,
        "configuredBy": ds.configured_by,
        "isRefreshable": ds.refreshable,
        "isEffectiveIdentityRequired": False,
        "isEffectiveIdentityRolesRequired": False,
        "isOnPremGatewayRequired": ds.gateway,
        "targetStorageMode": "Abf",
        "createdDate": powerbi_offset(ds.created),
        "ContentProviderType": "PbixInImportMode",
        "isInPlaceSharingEnabled": False,
        "upstreamDataflows": [],
    }


def dataflow(df: PbiDataflow) -> dict[str, object]:
    return {
        "objectId": df.id,
        "name": df.name,
        "description": "",
        "modelUrl": f"https://wabiprodeuwstorage.blob.core.windows.net/powerbi/{df.workspace.id}/{df.id}/model.json",
        "configuredBy": df.configured_by,
    }


def _exception(run: Run, seed: int, domain: str, name: str) -> str:
    failure = messages.failure_of(run, seed, domain, name, SHAREPOINT)
    assert failure is not None
    return messages.powerbi_exception(failure)


def refresh(
    run: Run, now: float, *, seed: int, domain: str, name: str, attempts: bool = True
) -> dict[str, object]:
    out: dict[str, object] = {"refreshType": "Scheduled", "startTime": powerbi(run.start)}
    if run.running(now):
        out["status"] = "Unknown"
        out["requestId"] = run.guid(seed, "refresh")
        return out
    out["endTime"] = powerbi(run.end)
    text = _exception(run, seed, domain, name) if run.failure is not None else None
    if text is not None:
        out["serviceExceptionJson"] = text
    out["status"] = "Failed" if text is not None else "Completed"
    out["requestId"] = run.guid(seed, "refresh")
    if attempts:
        out["refreshAttempts"] = _attempts(run, text)
    return out


def _attempts(run: Run, text: str | None) -> list[dict[str, object]]:
    if text is not None:
        middle = run.start + (run.end - run.start) / 2
        return [
            {
                "attemptId": 1,
                "startTime": powerbi(run.start),
                "endTime": powerbi(middle - 6),
                "serviceExceptionJson": text,
                "type": "Data",
            },
            {
                "attemptId": 2,
                "startTime": powerbi(middle),
                "endTime": powerbi(run.end),
                "serviceExceptionJson": text,
                "type": "Data",
            },
        ]
    split = run.end - min(3.4, (run.end - run.start) / 4)
    return [
        {"attemptId": 1, "startTime": powerbi(run.start), "endTime": powerbi(split), "type": "Data"},
        {"attemptId": 1, "startTime": powerbi(split + 0.006), "endTime": powerbi(run.end), "type": "Query"},
    ]


def refresh_history(
    ds: PbiDataset, now: float, top: int, *, seed: int, domain: str
) -> list[dict[str, object]]:
    """Newest first; 60 entries at most, and beyond 20 only those younger than 3 days."""
    if ds.job is None:
        return []
    runs = latest_runs(ds.job, now, 60)
    kept = [r for i, r in enumerate(runs) if i < 20 or r.start >= now - 3 * 86_400]
    return [refresh(r, now, seed=seed, domain=domain, name=ds.name) for r in kept[:top]]


def refreshable(ds: PbiDataset, now: float, expand: set[str], *, seed: int, domain: str) -> dict[str, object]:
    job = ds.job
    window = now - WEEK
    out: dict[str, object] = {"id": ds.id, "name": ds.name, "kind": "Dataset"}
    count = failures = 0
    first: Run | None = None
    last: Run | None = None
    if job is not None:
        cut = disabled_at(job)
        top = now if cut is None else min(now, cut)
        count = min(60, job.schedule.count(max(window, job.not_before), top))
        last = last_run(job, now)
        if count and job.failures:
            recent = latest_runs(job, now, 60, since=window)
            failures = sum(1 for r in recent if r.failure is not None and not r.running(now))
            first = recent[-1] if recent else None
        elif count:
            first = first_run(job, window)
    average = (job.duration if job else 0.0) * (0.9 + (mix64(job.key if job else 0) % 2000) / 10_000)
    out.update(
        {
            "startTime": powerbi(first.start if first else window),
            "endTime": powerbi(last.end if last and not last.running(now) else now),
            "refreshCount": count,
            "refreshFailures": failures,
            "averageDuration": round(average, 4),
            "medianDuration": round(average * 0.94, 4),
            "refreshesPerDay": round(job.schedule.per_day()) if job else 0,
        }
    )
    if last is not None:
        out["lastRefresh"] = refresh(last, now, seed=seed, domain=domain, name=ds.name, attempts=False)
    if job is not None:
        cut = disabled_at(job)
        out["refreshSchedule"] = {
            "days": _weekdays(job.schedule),
            "times": _times(job.schedule),
            "enabled": cut is None or cut > now,
            "localTimeZoneId": "UTC",
            "notifyOption": "MailOnFailure",
        }
    out["configuredBy"] = [ds.configured_by]
    capacity = ds.workspace.capacity
    if capacity is not None and expand & {"capacity", "capacities"}:
        out["capacity"] = {"id": capacity.id, "displayName": capacity.name, "sku": capacity.sku}
    if expand & {"group", "groups"}:
        out["group"] = {"id": ds.workspace.id, "name": ds.workspace.name}
    return out


@functools.lru_cache(maxsize=1024)
def _weekdays(schedule: Schedule) -> tuple[str, ...]:
    return tuple(schedule.weekday_names())  # a tuple: the cached value is shared


@functools.lru_cache(maxsize=1024)
def _times(schedule: Schedule) -> tuple[str, ...]:
    return tuple(schedule.times_of_day())


def transaction(run: Run, now: float, seed: int) -> dict[str, object]:
    number = run.slot - run.job.schedule.last_index(run.job.not_before)
    out: dict[str, object] = {
        "id": f"{ticks_z(run.start)}@{run.guid(seed, 'transaction')}${number}",
        "refreshType": "Scheduled",
        "startTime": ticks_z(run.start),
    }
    if run.running(now):
        out["status"] = "InProgress"
        return out
    out["endTime"] = ticks_z(run.end)
    out["status"] = "Failed" if run.failure is not None else "Success"
    return out
