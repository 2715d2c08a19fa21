"""Status handling of every HTTP sink against a real server: what each answer becomes."""

from __future__ import annotations

import pytest

from enricher.sinks.base import DeliveryResult
from tests.sinks.conftest import ROUTING_KEY, SECRET_PATH, WHSEC, firing, make_sink
from tests.sinks.servers import Certs, Receiver, Reply, free_port

OK, RETRY, FAIL = "ok", "retry", "fail"
COMMON = {
    200: OK,
    202: OK,
    204: OK,
    400: FAIL,
    401: FAIL,
    403: FAIL,
    404: FAIL,
    410: FAIL,
    429: RETRY,
    500: RETRY,
    502: RETRY,
    503: RETRY,
}
TABLE = {
    "slack": {**COMMON, 302: FAIL},
    "teams": {**COMMON, 302: FAIL},
    "pagerduty": {**COMMON, 302: FAIL},
    "webhook": {**COMMON, 302: RETRY},  # Standard Webhooks: a redirect is a failed attempt
}
CASES = [(kind, status, want) for kind, table in TABLE.items() for status, want in table.items()]


def outcome(result: DeliveryResult) -> str:
    return OK if result.ok else RETRY if result.retryable else FAIL


@pytest.mark.parametrize(("kind", "status", "want"), CASES, ids=[f"{k}-{s}" for k, s, _ in CASES])
def test_status_table(receiver: Receiver, kind: str, status: int, want: str) -> None:
    """2xx delivered; 429/5xx retryable; 4xx permanent; redirects are never followed."""
    headers = {"Location": "http://127.0.0.1:1/elsewhere"} if status == 302 else {}
    receiver.answer(Reply(status, b"answer", headers))
    sink = make_sink(kind, receiver.url)
    result = sink.send(firing())
    sink.close()
    assert outcome(result) == want, result
    assert result.status == status
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("kind", list(TABLE))
def test_retry_after_is_honoured(receiver: Receiver, kind: str) -> None:
    """Retry-After in seconds comes back as ``retry_after``."""
    receiver.answer(Reply(429, b"rate_limited", {"Retry-After": "7"}))
    sink = make_sink(kind, receiver.url)
    result = sink.send(firing())
    sink.close()
    assert result.retryable and result.retry_after == 7.0


def test_slack_retry_after_from_body(receiver: Receiver) -> None:
    """Slack has answered 429 with the wait only in a JSON body."""
    receiver.answer(Reply(429, b'{"retry_after":3,"ok":false,"error":"rate_limited"}'))
    sink = make_sink("slack", receiver.url)
    result = sink.send(firing())
    sink.close()
    assert result.retryable and result.retry_after == 3.0


@pytest.mark.parametrize("kind", list(TABLE))
def test_timeout_is_retryable(receiver: Receiver, kind: str) -> None:
    receiver.answer(Reply(200, delay=1.0))
    sink = make_sink(kind, receiver.url, timeout="0.2s")
    result = sink.send(firing())
    sink.close()
    assert result.retryable and "within 0.2 s" in result.detail


@pytest.mark.parametrize("kind", list(TABLE))
def test_connection_refused_is_retryable(kind: str) -> None:
    sink = make_sink(kind, f"http://127.0.0.1:{free_port()}")
    result = sink.send(firing())
    sink.close()
    assert result.retryable and result.detail.startswith("connection refused: 127.0.0.1:")


SECRETS = {
    "slack": SECRET_PATH.rsplit("/", 1)[1],
    "teams": SECRET_PATH.rsplit("/", 1)[1],
    "pagerduty": ROUTING_KEY,
    "webhook": WHSEC,
}


@pytest.mark.parametrize("kind", list(TABLE))
def test_secrets_never_in_detail_or_repr(receiver: Receiver, kind: str) -> None:
    """A destination that echoes our request back cannot make the detail leak the secret."""
    receiver.answer(Reply(400, lambda r: f"bad request to {r.path} {r.body.decode()} {r.headers}".encode()))
    sink = make_sink(kind, receiver.url)
    results = [sink.send(firing())]
    sink.close()
    refused = make_sink(kind, f"http://127.0.0.1:{free_port()}")
    results.append(refused.send(firing()))
    refused.close()
    secret = SECRETS[kind]
    for result in results:
        assert secret not in result.detail
    assert secret not in repr(sink) and secret not in repr(results)


def test_tls_with_configured_ca_bundle(certs: Certs) -> None:
    """``ca_bundle`` makes a private CA trusted; without it the handshake fails permanently."""
    server = Receiver(tls=certs.server_context())
    try:
        trusted = make_sink("webhook", server.url, ca_bundle=str(certs.ca))
        untrusted = make_sink("webhook", server.url)
        ok, bad = trusted.send(firing()), untrusted.send(firing())
        trusted.close()
        untrusted.close()
    finally:
        server.close()
    assert ok.ok, ok
    assert not bad.ok and not bad.retryable and "TLS" in bad.detail
