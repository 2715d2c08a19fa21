"""The one HTTP client every connector uses: timeouts, retries, Retry-After, token refresh, paging.

Retry policy is data plus one pure function (:func:`next_delay`). A 429 or 503 with
``Retry-After`` blocks the whole host until that moment, not just the one request, so parallel
workers do not keep hammering a throttled API. A wait longer than ``max_wait`` is not slept
through inside a poll: the request fails as retryable and the item is polled again next cycle.
A 401 (and Power BI's 403 ``TokenExpired``) gets exactly one retry with a freshly issued token.
Paging links are followed only on the host and scheme that served the first page, so a token
never leaves it, and a token is never sent over plain ``http`` (unless ``allow_http`` names the
host: loopback test servers).

Nothing an API sends can hold a poll forever or fill memory: every request has a connect and a
read timeout, and one request with all its retries has an overall ``deadline``, which a
:class:`~connectors.watchdog.Watchdog` enforces by cutting the connection (a host trickling one
byte at a time never trips a read timeout). The same watchdog cuts every request in flight when
the ``stop`` event is set, and a request that finds ``stop`` set raises :class:`Stopped`; a body larger
than ``max_bytes`` is refused while it streams in; paging stops at ``max_pages`` pages and at a
link (or a ``$skip`` page) seen before. Each of these is an ApiError with its own ``kind``, so the
connector reports it for that item and goes on with the others.
"""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlparse

import requests

from connectors.auth import TokenProvider
from connectors.errors import ApiError, Stopped
from connectors.watchdog import Watchdog, watched_adapter

RETRYABLE = frozenset({429, 500, 502, 503, 504})
_CLAIMS = re.compile(r'claims="([^"]+)"')


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base: float = 0.5
    cap: float = 20.0
    #: Longest Retry-After we wait out inside one poll; longer waits defer the item to the next cycle.
    max_wait: float = 60.0
    #: Seconds to wait for a connection, and for each read once connected (a hung host).
    connect_timeout: float = 10.0
    timeout: float = 30.0
    #: Seconds one request may take with all its retries; the poll moves on after that.
    deadline: float = 120.0
    #: Largest response body accepted (a page of 100,000 refreshables is about 200 MB... of which
    #: we never need more than this).
    max_bytes: int = 64 * 1024 * 1024
    #: Most pages followed in one listing.
    max_pages: int = 1000
    #: Seconds after the start of a poll when no further item is started (the rest wait a cycle).
    poll_deadline: float = 900.0


def next_delay(attempt: int, retry_after: float | None, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: full-jitter backoff, never less than Retry-After."""
    backoff = rng.uniform(0, min(policy.cap, policy.base * 2**attempt))
    return max(backoff, retry_after or 0.0)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header: integer or decimal seconds (Graph sends 2.128), or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class AzureHttp:
    """Thread-safe; share one per tenant."""

    def __init__(
        self,
        tokens: TokenProvider,
        *,
        verify: str | bool = True,
        policy: RetryPolicy = RetryPolicy(),
        per_host: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        stop: threading.Event | None = None,
        allow_http: frozenset[str] = frozenset(),
    ) -> None:
        self.tokens = tokens
        self.verify = verify
        self.policy = policy
        self.requests: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.stop = stop or threading.Event()
        #: Hosts (``host:port``) that may be called over plain http: loopback servers in tests only.
        self.allow_http = allow_http
        self.watchdog = Watchdog(self.stop, clock)
        self._session = requests.Session()
        adapter = watched_adapter(self.watchdog, pool_connections=8, pool_maxsize=max(per_host, 10))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._per_host = per_host
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._not_before: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)

    def close(self) -> None:
        self._session.close()

    # -- requests ---------------------------------------------------------------------------------

    def get(self, api: str, url: str, scope: str, params: dict[str, Any] | None = None) -> Any:
        return self.request(api, "GET", url, scope, params=params)

    def post(self, api: str, url: str, scope: str, body: Any, params: dict[str, Any] | None = None) -> Any:
        return self.request(api, "POST", url, scope, params=params, body=body)

    def request(
        self,
        api: str,
        method: str,
        url: str,
        scope: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """The parsed JSON body (None for an empty one). Raises ApiError, AuthError or Stopped."""
        host = self._checked_host(api, url)
        refreshed = False
        claims: str | None = None
        last, kind = "no attempt made", "error"
        attempt = 0
        deadline = self._clock() + self.policy.deadline
        while attempt < self.policy.attempts and self._clock() < deadline:
            self._wait_for_host(host)
            token = self._token(scope, refreshed, claims)
            try:
                response = self._send(api, host, method, url, token, params, body, deadline)
            except requests.RequestException as exc:
                if self.stop.is_set():
                    raise Stopped(f"{method} {urlparse(url).path} cut short: stopping") from None
                last, kind = _transport_problem(exc)
                self._pause(next_delay(attempt, None, self.policy, self._rng), deadline)
                attempt += 1
                continue
            except _TooLargeError as exc:
                self.failures[api] += 1
                raise ApiError(api, str(exc), retryable=False, kind="too_large") from None
            if _token_rejected(response) and not refreshed:
                refreshed = True
                claims = _challenge_claims(response)
                continue  # one retry with a new token, not counted as an attempt
            if response.status_code in RETRYABLE:
                retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                last = f"HTTP {response.status_code}"
                kind = "throttled" if response.status_code == 429 else f"http_{response.status_code}"
                if retry_after is not None:
                    self._block_host(host, retry_after)
                    if retry_after > self.policy.max_wait:
                        break
                self._pause(next_delay(attempt, retry_after, self.policy, self._rng), deadline)
                attempt += 1
                continue
            if response.status_code >= 400:
                self.failures[api] += 1
                raise ApiError(
                    api,
                    f"HTTP {response.status_code}: {_error_text(response)}",
                    status=response.status_code,
                    retryable=False,
                )
            try:
                return response.json() if response.content.strip() else None
            except ValueError:
                last, kind = f"malformed or truncated JSON ({len(response.content)} bytes)", "bad_json"
                attempt += 1
        self.failures[api] += 1
        if attempt < self.policy.attempts and kind != "throttled":
            last, kind = f"{last}; gave up after the {self.policy.deadline:g} s deadline", "timeout"
        raise ApiError(
            api, f"{method} {urlparse(url).path} failed after retries: {last}", retryable=True, kind=kind
        )

    def _pause(self, seconds: float, deadline: float) -> None:
        self._sleep(max(0.0, min(seconds, deadline - self._clock())))
        if self.stop.is_set():
            raise Stopped("stopping")

    def _token(self, scope: str, refreshed: bool, claims: str | None) -> str:
        if self.stop.is_set():
            raise Stopped("stopping")
        return self.tokens.token(scope, fresh=refreshed, claims=claims)

    def _checked_host(self, api: str, url: str) -> str:
        """``host:port`` of ``url``, which must be https (or http to a host in ``allow_http``)."""
        parts = urlparse(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.netloc in self.allow_http):
            raise ApiError(
                api, f"refusing to send a token over {parts.scheme or 'no scheme'}://", kind="insecure_link"
            )
        return parts.netloc

    def _send(
        self,
        api: str,
        host: str,
        method: str,
        url: str,
        token: str,
        params: dict[str, Any] | None,
        body: Any,
        deadline: float,
    ) -> requests.Response:
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self._per_host))
            self.requests[api] += 1
        with slot, self.watchdog.guard(min(deadline, self._clock() + self.policy.deadline)):
            response = self._session.request(
                method,
                url,
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=(self.policy.connect_timeout, self.policy.timeout),
                verify=self.verify,  # per request: REQUESTS_CA_BUNDLE would override Session.verify
                allow_redirects=False,
                stream=True,
            )
            with response:
                response._content = _read_capped(response, self.policy.max_bytes, deadline, self._clock)
            return response

    def _block_host(self, host: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._not_before[host] = max(self._not_before.get(host, 0.0), until)

    def _wait_for_host(self, host: str) -> None:
        with self._lock:
            until = self._not_before.get(host, 0.0)
        remaining = until - self._clock()
        if remaining > self.policy.max_wait:
            raise ApiError(host, f"throttled for another {remaining:.0f} s", status=429, retryable=True)
        if remaining > 0:
            self._sleep(remaining)
            if self.stop.is_set():
                raise Stopped("stopping")

    # -- paging -----------------------------------------------------------------------------------

    def follow(
        self, api: str, url: str, scope: str, params: dict[str, Any] | None, link_key: str
    ) -> Iterator[Any]:
        """Pages that link to the next page by absolute URL (``@odata.nextLink``, ``nextLink``, ``continuationUri``)."""
        first = urlparse(url)
        page = self.get(api, url, scope, params)
        seen: set[str] = set()
        while True:
            yield page
            link = page.get(link_key) if isinstance(page, dict) else None
            if not link:
                return
            there = urlparse(str(link))
            if there.netloc != first.netloc:
                raise ApiError(
                    api,
                    f"refusing to follow a paging link to another host: {there.netloc}",
                    kind="foreign_link",
                )
            if there.scheme != first.scheme:
                raise ApiError(
                    api,
                    f"refusing to follow a paging link from {first.scheme} to {there.scheme}",
                    kind="insecure_link",
                )
            self._check_paging(api, url, str(link), seen)
            page = self.get(api, str(link), scope)

    def top_skip(
        self, api: str, url: str, scope: str, params: dict[str, Any], top: int
    ) -> Iterator[list[Any]]:
        """Power BI's $top/$skip paging: raise $skip until a short page. A page identical to the one
        before (an API that ignores ``$skip``) ends paging as a loop."""
        skip, previous = 0, None
        seen: set[str] = set()
        while True:
            page = self.get(api, url, scope, {**params, "$top": top, "$skip": skip})
            values = list(page.get("value") or []) if isinstance(page, dict) else []
            if values and values == previous:
                raise ApiError(
                    api, f"{urlparse(url).path} returned the same page for every $skip", kind="link_loop"
                )
            yield values
            if len(values) < top:
                return
            previous, skip = values, skip + top
            self._check_paging(api, url, str(skip), seen)

    def post_continuation(self, api: str, url: str, scope: str, body: dict[str, Any]) -> Iterator[Any]:
        """ADF/Synapse run queries: the continuation token goes back in the POST body."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self.post(api, url, scope, {**body, "continuationToken": token} if token else body)
            yield page
            token = (page or {}).get("continuationToken") if isinstance(page, dict) else None
            if not token:
                return
            self._check_paging(api, url, str(token), seen)

    def _check_paging(self, api: str, url: str, link: str, seen: set[str]) -> None:
        """Stop a listing that loops (a link seen before) or runs past ``max_pages``."""
        if link in seen:
            raise ApiError(api, f"{urlparse(url).path}: the paging link loops back", kind="link_loop")
        seen.add(link)
        if len(seen) >= self.policy.max_pages:
            raise ApiError(
                api, f"{urlparse(url).path}: stopped after {self.policy.max_pages} pages", kind="page_cap"
            )


class _TooLargeError(Exception):
    pass


def _read_capped(response: requests.Response, limit: int, until: float, clock: Callable[[], float]) -> bytes:
    """The body, refused once it grows past ``limit`` bytes (before it is all in memory) or trickles
    in past ``until`` (a host that sends a byte now and then never trips the read timeout)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLargeError(f"response of {int(declared)} bytes is over the {limit} byte cap")
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=256 * 1024):
        size += len(chunk)
        if size > limit:
            raise _TooLargeError(f"response is over the {limit} byte cap")
        if clock() > until:
            raise requests.Timeout("the body did not arrive within the deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def _transport_problem(exc: requests.RequestException) -> tuple[str, str]:
    """(text, kind) of a request that got no answer: a timeout (a hung host) or no connection."""
    if isinstance(exc, requests.Timeout | requests.exceptions.ChunkedEncodingError):
        return f"{type(exc).__name__}: no answer in time", "timeout"
    if isinstance(exc, requests.ConnectionError):
        return f"{type(exc).__name__}: {exc}"[:300], "unreachable"
    return f"{type(exc).__name__}: {exc}"[:300], "error"


def _token_rejected(response: requests.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code == 403:
        return b"TokenExpired" in response.content[:500]  # Power BI reports an expired token as 403
    return False


def _challenge_claims(response: requests.Response) -> str | None:
    """The claims of a CAE challenge (``WWW-Authenticate: Bearer ..., claims="<base64>"``), if any."""
    m = _CLAIMS.search(response.headers.get("WWW-Authenticate", ""))
    if not m:
        return None
    try:
        return base64.b64decode(m.group(1) + "==").decode()
    except ValueError:
        return None


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return f"{err.get('code', '')}: {err.get('message', '')}"[:300]
        if "errorCode" in body:
            return f"{body.get('errorCode')}: {body.get('message', '')}"[:300]
    return str(body)[:300]
