"""Each API's error envelopes, so a connector sees the shapes it will meet in Azure.

* Power BI: ``{"error": {"code", "message"}}`` or the ``pbi.error`` form; 429 has no body;
  an expired token is a **403** ``TokenExpired``.
* Fabric: ErrorResponse ``{"requestId", "errorCode", "message", ...}``; 429 ``RequestBlocked``.
* ARM and Synapse: CloudError ``{"error": {"code", "message"}}``; 429
  ``SubscriptionRequestsThrottled``; an expired token is 401 ``ExpiredAuthenticationToken``.
* Graph: ``{"error": {"code", "message", "innerError"}}``; 429 ``TooManyRequests`` with a
  fractional ``Retry-After``.
* Entra (token endpoint): the OAuth error JSON of ``aadsts.error_body``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from connectors.simulator import aadsts
from connectors.simulator.http import Response, json_response
from connectors.simulator.timefmt import us_clock

MALFORMED_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>upstream returned an invalid response</center></body></html>"
)
_ARM_AUDIENCES = (
    "'https://management.core.windows.net/','https://management.core.windows.net',"
    "'https://management.azure.com/','https://management.azure.com'"
)


def _pbi_error(code: str) -> dict[str, object]:
    return {"code": code, "pbi.error": {"code": code, "parameters": {}, "details": [], "exceptionCulprit": 1}}


def _graph(status: int, code: str, message: str, rid: str, now: datetime) -> Response:
    inner = {"date": now.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": rid, "client-request-id": rid}
    return json_response(status, {"error": {"code": code, "message": message, "innerError": inner}})


def _fabric(status: int, code: str, message: str, rid: str, **extra: object) -> Response:
    return json_response(status, {"requestId": rid, "errorCode": code, "message": message, **extra})


def _cloud(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


def error(api: str, status: int, code: str, message: str, *, rid: str, now: datetime) -> Response:
    """A plain error in ``api``'s envelope (400, 403, 404, ...)."""
    if api == "powerbi":
        if status in {401, 404}:
            return json_response(status, {"error": _pbi_error(code)}, {"RequestId": rid})
        return json_response(status, {"error": {"code": code, "message": message}}, {"RequestId": rid})
    if api == "fabric":
        return _fabric(status, code, message, rid)
    if api == "graph":
        return _graph(status, code, message, rid, now)
    if api == "token":
        return json_response(status, {"statusCode": status, "message": message})
    return _cloud(status, code, message, {"x-ms-request-id": rid, "x-ms-correlation-request-id": rid})


def throttled(api: str, retry_after: float, rid: str, now: datetime, actor: str = "") -> Response:
    """429 with ``Retry-After`` (Graph: fractional seconds; the others: whole seconds)."""
    whole = str(max(1, math.ceil(retry_after)))
    if api == "powerbi":
        return Response(429, b"", {"Retry-After": whole, "RequestId": rid})
    if api == "fabric":
        until = us_clock(now + timedelta(seconds=retry_after))
        response = _fabric(
            429, "RequestBlocked", f"Request is blocked by the upstream service until: {until} (UTC)", rid
        )
    elif api == "graph":
        inner = {
            "code": "429",
            "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
            "message": "Please retry after",
            "request-id": rid,
            "status": "429",
        }
        body = {
            "error": {"code": "TooManyRequests", "innerError": inner, "message": "Please retry again later."}
        }
        return json_response(429, body, {"Retry-After": f"{retry_after:.3f}"})
    elif api == "token":
        response = json_response(429, aadsts.error_body(90055, rid, rid, now))
    else:
        message = (
            f"Number of 'read' requests for subscription actor '{actor}' exceeded. Please try again after "
            f"'{whole}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling "
            "for additional information."
        )
        response = _cloud(429, "SubscriptionRequestsThrottled", message)
        response.headers["x-ms-ratelimit-remaining-subscription-reads"] = "0"
    response.headers["Retry-After"] = whole
    return response


def server_error(api: str, status: int, rid: str, now: datetime) -> Response:
    unavailable = status == 503
    if api == "powerbi":
        return json_response(
            status, {"error": _pbi_error("ServiceUnavailable" if unavailable else "UnknownError")}
        )
    if api == "fabric":
        code = "ServiceUnavailable" if unavailable else "InternalServerError"
        return _fabric(
            status, code, "The service encountered an error; try again later.", rid, isRetriable=True
        )
    if api == "graph":
        code = "serviceNotAvailable" if unavailable else "generalException"
        return _graph(status, code, "The service is temporarily unavailable.", rid, now)
    if api == "token":
        return json_response(status, aadsts.error_body(50000, rid, rid, now))
    if unavailable:
        return _cloud(
            status, "ServiceUnavailable", "The service is temporarily unavailable. Try again later."
        )
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    message = (
        f"Encountered internal server error. Diagnostic information: timestamp '{stamp}', tracking id "
        f"'{rid}', request correlation id '{rid}'."
    )
    return _cloud(status, "InternalServerError", message, {"x-ms-request-id": rid})


def expired(api: str, rid: str, now: datetime, expired_at: datetime | None = None) -> Response:
    """What each API answers to an expired (or revoked) access token."""
    if api == "powerbi":
        body = {
            "error": {
                "code": "TokenExpired",
                "message": "Access token has expired, resubmit with a new access token",
            }
        }
        return json_response(403, body, {"RequestId": rid})
    if api == "fabric":
        return _fabric(401, "TokenExpired", "The access token has expired.", rid)
    if api == "graph":
        return _graph(
            401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.", rid, now
        )
    was = expired_at or now - timedelta(minutes=1)
    message = f"The access token expiry UTC time '{us_clock(was)}' is earlier than current UTC time '{us_clock(now)}'."
    challenge = 'Bearer error="invalid_token", error_description="The access token has expired."'
    return _cloud(401, "ExpiredAuthenticationToken", message, {"WWW-Authenticate": challenge})


def unauthorized(api: str, problem: str, rid: str, now: datetime, audience: str = "") -> Response:
    """No token, a token we did not issue, or one for another audience."""
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if api == "powerbi":
        return json_response(401, {"error": _pbi_error("PowerBINotAuthorizedException")}, challenge)
    if api == "fabric":
        texts = {"missing": "Access token is missing.", "audience": "The token audience is not valid."}
        return _fabric(401, "InvalidToken", texts.get(problem, "Access token is invalid."), rid)
    if api == "graph":
        texts = {
            "missing": "Access token is empty.",
            "audience": "Access token validation failure. Invalid audience.",
        }
        return _graph(
            401,
            "InvalidAuthenticationToken",
            texts.get(problem, "Access token validation failure."),
            rid,
            now,
        )
    if problem == "missing":
        return _cloud(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            challenge,
        )
    if problem == "audience":
        message = (
            f"The access token has been obtained for wrong audience or resource '{audience}'. It should exactly "
            f"match with one of the allowed audiences {_ARM_AUDIENCES}."
        )
        return _cloud(401, "InvalidAuthenticationTokenAudience", message, challenge)
    return _cloud(401, "InvalidAuthenticationToken", "The access token is invalid.", challenge)


def not_found(api: str, message: str, rid: str, now: datetime) -> Response:
    codes = {
        "powerbi": "PowerBIEntityNotFound",
        "fabric": "EntityNotFound",
        "graph": "Request_ResourceNotFound",
    }
    return error(api, 404, codes.get(api, "ResourceNotFound"), message, rid=rid, now=now)
