"""One request, end to end: count it, apply faults and latency, route, authenticate, answer.

The order matters and mirrors where real failures happen: a fault that models the service
being down or throttling fires before authentication (Azure's front doors answer 429 and 503
before looking at tokens); ``truncated`` and ``malformed`` damage an otherwise correct answer.
"""

from __future__ import annotations

import json
import logging
import threading

from connectors.simulator import errors
from connectors.simulator.auth import authenticate
from connectors.simulator.faults import FaultRule, Faults
from connectors.simulator.http import BadRequest, Request, Response, Route, Router
from connectors.simulator.state import State
from connectors.simulator.stats import Stats

log = logging.getLogger(__name__)

_PREFIXES = {
    "powerbi": "powerbi",
    "fabric": "fabric",
    "arm": "arm",
    "synapse": "synapse",
    "graph": "graph",
    "loganalytics": "log_analytics",
}
_BAD_REQUEST_CODES = {
    "powerbi": "InvalidRequest",
    "fabric": "InvalidParameter",
    "graph": "BadRequest",
    "token": "invalid_request",
}


def api_of(path: str) -> str:
    first = path.lstrip("/").split("/", 1)[0].lower()
    return _PREFIXES.get(first, "token")


class Dispatcher:
    def __init__(
        self,
        state: State,
        router: Router,
        *,
        stats: Stats,
        faults: Faults,
        latency_ms: int,
        stopping: threading.Event,
    ) -> None:
        self.state = state
        self.router = router
        self.stats = stats
        self.faults = faults
        self.latency = latency_ms / 1000
        self.stopping = stopping

    def __call__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        request = Request.parse(method, target, headers, body, self.state.clock.now())
        route, params, path_known = self.router.match(method, request.path)
        api = route.api if route else api_of(request.path)
        self.stats.record(api, route.key if route else f"{method} <unmatched>")
        fault = self.faults.pick(api, target)
        if fault is not None:
            early = self._early(fault, api, route, request)
            if early is not None:
                return early
        if self.latency:
            self.stopping.wait(self.latency)
        response = self._answer(api, route, params, path_known, request)
        if fault is not None and fault.kind in {"loop", "flood"}:
            return _rewrite(fault, response, f"https://{headers.get('host', 'localhost')}{target}")
        return self._damage(fault, response)

    def _answer(
        self, api: str, route: Route | None, params: dict[str, str], path_known: bool, request: Request
    ) -> Response:
        rid = self.state.request_id()
        if route is None:
            status, code = (405, "MethodNotAllowed") if path_known else (404, "NotFound")
            return errors.error(
                api, status, code, f"No route for {request.method} {request.path}", rid=rid, now=request.now
            )
        request.params = params
        if route.auth:
            principal = authenticate(self.state, request, api, rid)
            if isinstance(principal, Response):
                return principal
            request.principal = principal
        try:
            return route.handler(request)
        except BadRequest as problem:
            code = _BAD_REQUEST_CODES.get(api, "BadRequest")
            return errors.error(api, 400, code, str(problem), rid=rid, now=request.now)
        except Exception:
            log.exception("simulator handler failed: %s %s", request.method, request.path)
            return errors.server_error(api, 500, rid, request.now)

    def _early(self, fault: FaultRule, api: str, route: Route | None, request: Request) -> Response | None:
        rid = self.state.request_id()
        match fault.kind:
            case "down":
                if fault.status is not None:
                    return errors.server_error(api, fault.status, rid, request.now)
                return Response(0, drop=True)
            case "throttle":
                return errors.throttled(api, fault.retry_after, rid, request.now, actor=_actor(request))
            case "error5xx":
                return errors.server_error(api, fault.status or 500, rid, request.now)
            case "slow":
                self.stopping.wait(fault.delay_ms / 1000)
            case "expired_token" if route is not None and route.auth:
                return errors.expired(api, rid, request.now)
            case "loop":  # an API that ignores $skip serves its first page again and again
                request.query.pop("$skip", None)
                request.query.pop("skip", None)
            case "forbidden":
                return errors.error(
                    api, 403, "Forbidden", "The caller may not read this.", rid=rid, now=request.now
                )
        return None

    @staticmethod
    def _damage(fault: FaultRule | None, response: Response) -> Response:
        if fault is None or response.drop:
            return response
        if fault.kind == "truncated" and len(response.body) > 1:
            response.body = response.body[: len(response.body) // 2]
        elif fault.kind == "malformed":
            response.body = errors.MALFORMED_BODY
        return response


_LINKS = ("@odata.nextLink", "nextLink", "continuationUri")


def _rewrite(fault: FaultRule, response: Response, url: str) -> Response:
    """``loop``: every paging link names this very request; ``flood``:
    ``value`` grows to ``fault.rows`` copies of its first row."""
    try:
        body = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(body, dict) or response.status >= 400:
        return response
    if fault.kind == "loop":
        for key in _LINKS:
            body[key] = url
    elif isinstance(body.get("value"), list) and body["value"]:
        body["value"] = body["value"][:1] * fault.rows
    response.body = json.dumps(body, separators=(",", ":")).encode()
    response.headers.pop("Content-Length", None)
    return response


def _actor(request: Request) -> str:
    principal = request.principal
    return "" if principal is None else str(principal.app.object_id)
