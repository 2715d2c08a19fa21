"""Failure texts in the shape each source really uses (reference section 9 and the samples).

``failure_of`` turns a failed run into a ``Failure`` (code, ids, instant, the AADSTS line); the
``powerbi_*``, ``fabric_*`` and ``adf_*`` functions render it the way that source does:
Power BI double-encodes JSON in ``serviceExceptionJson``; ADF nests the MSAL exception inside the
connector's text and prefixes ``Operation on target X failed:``; a Web activity embeds the token
endpoint's JSON, escaped; Fabric notebooks often say nothing useful at all. Non-auth kinds
(``processing``, ``credentials``, ``sql``, ``generic``) carry no AADSTS text: they are the
negatives a detector must not match, even when the scenario gives them a code (the code then
only shows up in the sign-in log).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.simulator import aadsts
from connectors.simulator.ids import stable_uuid
from connectors.simulator.model import Activity
from connectors.simulator.runs import Run
from connectors.simulator.timefmt import ticks_z

AUTH_KINDS = frozenset({"oauth", "gateway", "details", "linked_service", "web_token", "notebook"})
_BLANK_VALUES = (
    "Column 'OrderDate' in Table 'Sales' contains blank values and this is not allowed for "
    "columns on the one side of a many-to-one relationship or for columns that are used as the "
    "primary key of a table."
)
_ACTIVITY_CODES = {"Copy": "2200", "Lookup": "2100", "Web": "2108", "SqlServerStoredProcedure": "2402"}


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Failure:
    code: int | None
    kind: str
    trace_id: str
    correlation_id: str
    when: datetime
    principal: str  # a UPN for user codes, an app id for app codes
    values: dict[str, str]

    @property
    def has_text(self) -> bool:
        return self.code is not None and self.kind in AUTH_KINDS

    def line(self) -> str:
        """``AADSTS<code>: text\\r\\nTrace ID: ..\\r\\nCorrelation ID: ..\\r\\nTimestamp: ..``"""
        assert self.code is not None
        return aadsts.with_trailer(
            aadsts.describe(self.code, **self.values), self.trace_id, self.correlation_id, self.when
        )

    def token_error_json(self) -> str:
        """The token endpoint's error body as a Web activity would print it."""
        assert self.code is not None
        body = aadsts.error_body(self.code, self.trace_id, self.correlation_id, self.when, **self.values)
        return _compact(body)


def failure_of(run: Run, seed: int, domain: str, name: str, resource: str) -> Failure | None:
    window = run.failure
    if window is None:
        return None
    principal = window.principal
    if principal is None and window.code is not None:
        principal = (
            stable_uuid(seed, "service-principal", run.job.key)
            if aadsts.lookup(window.code).principal == "app"
            else f"svc-data@{domain}"
        )
    principal = principal or ""
    issued = run.start - 90 * 86_400 - run.noise % 86_400  # when the stale token was issued
    values = {
        "app": principal,
        "name": name,
        "domain": domain,
        "tenant": domain,
        "resource": resource,
        "issued": ticks_z(issued),
    }
    return Failure(
        code=window.code,
        kind=window.kind,
        trace_id=run.guid(seed, "trace"),
        correlation_id=run.guid(seed, "correlation"),
        when=datetime.fromtimestamp(run.fail_time(), UTC),
        principal=principal,
        values=values,
    )


def powerbi_exception(failure: Failure) -> str:
    """The ``serviceExceptionJson`` string (JSON inside a JSON string)."""
    if failure.kind == "credentials" or (failure.kind in AUTH_KINDS and failure.code is None):
        return _compact({"errorCode": "ModelRefreshFailed_CredentialsNotSpecified"})
    if not failure.has_text:
        return _compact(
            {"errorCode": "ModelRefresh_ShortMessage_ProcessingError", "errorDescription": _BLANK_VALUES}
        )
    if failure.kind == "gateway":
        return _compact(
            {
                "errorCode": "DM_GWPipeline_Gateway_MashupDataAccessError",
                "errorDescription": "The credentials provided for the OData source are invalid. "
                f"(Source at https://{failure.values['domain'].split('.')[0]}.sharepoint.com/"
                f"sites/finance.) Underlying error: {failure.line()}",
            }
        )
    if failure.kind == "details":
        detail = {
            "code": "DM_ErrorDetailNameCode_UnderlyingErrorMessage",
            "detail": {"type": 1, "value": failure.line()},
        }
        hresult = {
            "code": "DM_ErrorDetailNameCode_UnderlyingHResult",
            "detail": {"type": 1, "value": "-2147467259"},
        }
        pbi_error = {
            "code": "DMTS_OAuthTokenRefreshFailedError",
            "parameters": {},
            "details": [detail, hresult],
            "exceptionCulprit": 1,
        }
        return _compact(
            {
                "errorCode": "DMTS_OAuthTokenRefreshFailedError",
                "error": {"code": "DMTS_OAuthTokenRefreshFailedError", "pbi.error": pbi_error},
            }
        )
    return _compact(
        {
            "errorCode": "DMTS_OAuthTokenRefreshFailedError",
            "errorDescription": f"Failed to refresh OAuth token. {failure.line()}",
        }
    )


def fabric_reason(failure: Failure, request_id: str) -> dict[str, object]:
    """``failureReason`` of a failed Fabric job instance."""
    if not failure.has_text:
        return {"errorCode": "JobInstanceStatusFailed", "message": "Job instance failed without detail error"}
    flat = failure.line().replace("\r\n", " ")
    if failure.kind == "notebook":
        message = (
            "Notebook execution failed at Notebook service with http status code - '200', please "
            "check the Run logs on Notebook, additional details - 'Error name - "
            f"MsalServiceException, Error value - {flat}' :"
        )
        return {"requestId": request_id, "errorCode": "JobInstanceStatusFailed", "message": message}
    return {
        "requestId": request_id,
        "errorCode": "DMTS_OAuthTokenRefreshFailedError",
        "message": f"Failed to refresh OAuth token. {flat}",
    }


def _sql_failure(server: str, inner: str) -> str:
    return (
        "Failure happened on 'Source' side. ErrorCode=SqlFailedToConnect,'Type=Microsoft."
        "DataTransfer.Common.Shared.HybridDeliveryException,Message=Cannot connect to SQL "
        f"Database. Please contact SQL server team for further support. Server: '{server}', "
        "Database: 'sales', User: ''. Check the linked service configuration is correct, and make "
        "sure the SQL Database firewall allows the integration runtime to access.,Source=Microsoft."
        f"DataTransfer.Connectors.MSSQL,''{inner}'"
    )


def adf_activity_error(failure: Failure, activity: Activity) -> dict[str, object]:
    """``error`` of the failing activity run: ADF's own numeric code plus the connector text."""
    server = (
        f"sql-{activity.linked_service.removeprefix('ls_').replace('_', '-') or 'data'}.database.windows.net"
    )
    if failure.has_text and failure.kind == "web_token":
        code, message = "2108", failure.token_error_json()
    elif failure.has_text:
        inner = (
            f"Type=Microsoft.Identity.Client.MsalServiceException,Message={failure.line()},"
            "Source=Microsoft.Identity.Client,"
        )
        code, message = _ACTIVITY_CODES.get(activity.type, "2200"), _sql_failure(server, inner)
    else:
        inner = (
            "Type=Microsoft.Data.SqlClient.SqlException,Message=A network-related or "
            "instance-specific error occurred while establishing a connection to SQL Server. The "
            "server was not found or was not accessible.,Source=Core Microsoft SqlClient Data Provider,"
        )
        code, message = _ACTIVITY_CODES.get(activity.type, "2200"), _sql_failure(server, inner)
    return {
        "errorCode": code,
        "message": message,
        "failureType": "UserError",
        "target": activity.name,
        "details": [],
    }


def adf_pipeline_message(failure: Failure, activity: Activity) -> str:
    message = adf_activity_error(failure, activity)["message"]
    return f"Operation on target {activity.name} failed: {message}"
