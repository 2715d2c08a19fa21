"""Power BI refreshes and dataflow transactions as run records (pure mapping, no I/O)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from connectors.base import Identity
from connectors.powerbi_catalog import Dataflow, Dataset
from connectors.records import RunRecord, Source, shared_extra, status_from_word
from connectors.timefmt import parse_time

_ATTENDED = {"ondemand", "ondemandtraining"}


def dataset_record(
    identity: Identity, d: Dataset, refresh: Mapping[str, Any], schedule_enabled: object
) -> RunRecord:
    """One refresh of a dataset (from refreshables' lastRefresh or the history) as a run record."""
    error_json = refresh.get("serviceExceptionJson")
    if not error_json:
        attempts = refresh.get("refreshAttempts")
        attempts = attempts if isinstance(attempts, list) else []  # any JSON shape: never raise
        error_json = next(
            (
                a.get("serviceExceptionJson")
                for a in attempts
                if isinstance(a, dict) and a.get("serviceExceptionJson")
            ),
            "",
        )
    refresh_type = sys.intern(str(refresh.get("refreshType") or ""))
    gateway = d.gateway or "gateway" in str(error_json).lower()
    extra = shared_extra(
        tenant_id=identity.tenant_id,
        refresh_type=refresh_type,
        gateway="true" if gateway else "false",
        schedule_enabled="" if schedule_enabled is None else ("true" if schedule_enabled else "false"),
    )
    return RunRecord(
        source=Source.POWERBI,
        tenant=identity.tenant,
        container_id=d.workspace_id,
        container_name=d.workspace_name,
        item_id=d.id,
        item_name=d.name,
        item_type="dataset",
        run_id=refresh_key(refresh),
        status=status_from_word(str(refresh.get("status"))),
        raw_status=sys.intern(str(refresh.get("status") or "")),
        started_at=parse_time(refresh.get("startTime")),
        ended_at=parse_time(refresh.get("endTime")),
        unattended=refresh_type.lower() not in _ATTENDED,
        error_text=str(error_json or ""),
        error_code=error_code(error_json),
        extra=extra,
    )


def dataflow_record(identity: Identity, flow: Dataflow, row: Mapping[str, Any]) -> RunRecord:
    """One dataflow transaction: a status, never an error text."""
    return RunRecord(
        source=Source.POWERBI_DATAFLOW,
        tenant=identity.tenant,
        container_id=flow.workspace_id,
        container_name=flow.workspace_name,
        item_id=flow.id,
        item_name=flow.name,
        item_type="dataflow",
        run_id=str(row.get("id")),
        status=status_from_word(str(row.get("status"))),
        raw_status=str(row.get("status") or ""),
        started_at=parse_time(row.get("startTime")),
        ended_at=parse_time(row.get("endTime")),
        unattended=str(row.get("refreshType") or "").lower() not in _ATTENDED,
        extra={"tenant_id": identity.tenant_id, "refresh_type": str(row.get("refreshType") or "")},
    )


def refresh_key(refresh: Mapping[str, Any]) -> str:
    """requestId, or (startTime, refreshType) when a refresh has none (the reference's dedup key)."""
    return str(refresh.get("requestId") or f"{refresh.get('startTime')}|{refresh.get('refreshType')}")


def error_code(error_json: object) -> str:
    """``errorCode`` of a serviceExceptionJson string; '' when it does not parse (never raises)."""
    if not isinstance(error_json, str) or not error_json:
        return ""
    try:
        data = json.loads(error_json)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    code = data.get("errorCode") or (error.get("code") if isinstance(error, dict) else None)
    return str(code or "")
