"""One HTTP seam for the webhook-style sinks: every outcome becomes a :class:`DeliveryResult`.

Each sink owns one :class:`HttpPoster` (one ``requests.Session``, so connections are reused per
destination). Requests never follow redirects (a redirect would carry a signed body or a secret URL
to a host nobody configured) and pass ``verify=`` on every call, because ``REQUESTS_CA_BUNDLE``
silently overrides ``Session.verify``. Exceptions from requests are translated here and never
escape: a timeout or refused connection is retryable, a TLS failure is not (retrying cannot fix a
certificate). Details are built from a fixed vocabulary plus the response body, with every secret
of the sink redacted, because the detail is logged and stored in the dead letter.

Status policy (shared/reference/sinks.md section 0): 2xx ok; 408, 425, 429 and 5xx retryable,
honouring ``Retry-After``; other 4xx permanent; 3xx permanent unless the sink says otherwise.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import requests

from enricher import __version__
from enricher.errors import ConfigError
from enricher.sinks.base import DeliveryResult
from enricher.sinks.text import one_line, truncate

USER_AGENT = f"aadsts-enricher/{__version__}"
RETRYABLE = frozenset({408, 425, 429})
#: Seconds; a Retry-After beyond this is capped so one bad header cannot park a sink for days.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class Answer:
    """What the destination said: status, the first part of the body, and Retry-After in seconds."""

    status: int
    body: str
    retry_after: float | None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value: delta-seconds (decimals accepted) or an HTTP date."""
    if not value:
        return None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value.strip())))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, moment - (time.time() if now is None else now)))


def _body_retry_after(body: str) -> float | None:
    """Slack has been seen answering 429 with ``{"retry_after": 1, ...}`` in the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("retry_after") if isinstance(data, dict) else None
    return parse_retry_after(str(value)) if isinstance(value, int | float) else None


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def url_secrets(url: str) -> list[str]:
    """The parts of a secret URL that could show up in an error: the URL, its path and its query."""
    parts = urlsplit(url)
    found = [url, parts.path, parts.query, *(p for p in parts.path.split("/") if len(p) >= 8)]
    found += [v for kv in parts.query.split("&") for v in kv.split("=")[1:] if len(v) >= 8]
    return [s for s in found if s and s != "/"]


def destination_key(kind: str, *parts: str) -> str:
    """Who the rate limit and Retry-After belong to (a webhook URL, a routing key), as a digest.

    Two sinks with the same key share one pause and one pace; the digest keeps the secret out of
    anything that might print the key.
    """
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{kind}:{digest}"


def where(url: str) -> str:
    """``host:port`` of ``url``: enough to say where a connection failed, never the secret path."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the configured host"
    return f"{parts.hostname}:{port}"


def verify_setting(ca_bundle: str | None, config_dir: Path, *, sink: str) -> bool | str:
    """``verify=`` for requests: True (system store), or the CA bundle file, checked to exist now."""
    if ca_bundle is None:
        return True
    path = Path(ca_bundle).expanduser()  # runtime files are relative to the working directory
    if not path.is_file():
        raise ConfigError(f"sinks[{sink}].ca_bundle: no such file: {path}")
    return str(path)


def check_url(url: str, *, sink: str, field: str, secret: bool = False) -> None:
    """A ConfigError at build time for a URL requests could never use (the value is not echoed if secret)."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        shown = "the value" if secret else repr(url)
        raise ConfigError(f"sinks[{sink}].{field}: {shown} is not an http(s) URL")


class SinkHttpSettings(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def timeout(self) -> timedelta: ...
    @property
    def ca_bundle(self) -> str | None: ...


class HttpPoster:
    """POSTs bodies for one sink. Thread-safe enough for one delivery worker per sink."""

    def __init__(self, *, timeout: float, verify: bool | str = True, secrets: Iterable[str] = ()) -> None:
        self.timeout = timeout
        self.verify = verify
        self.secrets = [s for s in secrets if s]
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    @classmethod
    def for_sink(cls, config: SinkHttpSettings, config_dir: Path, secrets: Iterable[str]) -> HttpPoster:
        """The poster of one configured sink: its timeout, its CA bundle, the secrets to keep out of details."""
        return cls(
            timeout=config.timeout.total_seconds(),
            verify=verify_setting(config.ca_bundle, config_dir, sink=config.name),
            secrets=secrets,
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer | DeliveryResult:
        """One attempt. An :class:`Answer` when the destination replied, else a result saying why not."""
        try:
            response = self.session.post(
                url,
                data=body,
                headers=dict(headers),
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError:
            return DeliveryResult.fail(f"TLS handshake with {where(url)} failed (certificate not trusted?)")
        except requests.exceptions.Timeout:
            return DeliveryResult.retry(f"no answer from {where(url)} within {self.timeout:g} s")
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "connection failed"
            return DeliveryResult.retry(f"{reason}: {where(url)}")
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, ValueError):
            return DeliveryResult.fail("the configured URL is not a valid http(s) URL")
        except requests.exceptions.RequestException as exc:
            return DeliveryResult.retry(f"request to {where(url)} failed ({type(exc).__name__})")
        with response:
            text = response.text[:2000] if response.content else ""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None and response.status_code == 429:
            retry_after = _body_retry_after(text)
        return Answer(response.status_code, text, retry_after)

    def describe(self, answer: Answer) -> str:
        """``HTTP 400: invalid_payload`` with secrets redacted, on one short line."""
        body = truncate(one_line(redact(answer.body, self.secrets)), 300)
        return f"HTTP {answer.status}: {body}" if body else f"HTTP {answer.status}"

    def classify(
        self, answer: Answer, *, redirect_retryable: bool = False, note: Mapping[int, str] | None = None
    ) -> DeliveryResult:
        """The status policy of the module docstring; ``note`` adds advice for particular statuses."""
        detail = self.describe(answer)
        if note and answer.status in note:
            detail = f"{detail} ({note[answer.status]})"
        status = answer.status
        if 200 <= status < 300:
            return DeliveryResult.success(detail, status=status)
        if status in RETRYABLE or status >= 500:
            return DeliveryResult.retry(detail, retry_after=answer.retry_after, status=status)
        if 300 <= status < 400:
            detail = f"{detail} (redirect not followed: check the URL)"
            if redirect_retryable:
                return DeliveryResult.retry(detail, retry_after=answer.retry_after, status=status)
        return DeliveryResult.fail(detail, status=status)

    def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        redirect_retryable: bool = False,
        note: Mapping[int, str] | None = None,
    ) -> DeliveryResult:
        """``post`` then ``classify``: the whole exchange as one result."""
        answer = self.post(url, body, headers)
        if isinstance(answer, DeliveryResult):
            return answer
        return self.classify(answer, redirect_retryable=redirect_retryable, note=note)

    def close(self) -> None:
        self.session.close()


def json_body(payload: object) -> bytes:
    """Compact UTF-8 JSON: the bytes we measure against size limits are the bytes we send."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
