"""Generic webhook: envelope and CloudEvents bodies (golden), Standard Webhooks signatures verified."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from enricher.errors import ConfigError
from tests.sinks.conftest import WHSEC, assert_golden, firing, make_sink, resolved
from tests.sinks.servers import Receiver, Recorded, Reply


def verify(request: Recorded, secret: str) -> bool:
    """What a receiver does (Standard Webhooks reference): HMAC over id.timestamp.body, constant-time compare."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(sig.partition(",")[2], expected)
        for sig in request.headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


def test_envelope_golden_and_signature(receiver: Receiver) -> None:
    sink = make_sink("webhook", receiver.url)
    assert sink.send(firing()).ok and sink.send(resolved()).ok
    sink.close()
    first, second = receiver.requests
    assert_golden("webhook_firing", first.json())
    shown = {k: v for k, v in first.headers.items() if k.startswith("webhook-") or k == "content-type"}
    assert_golden("webhook_firing_headers", shown, volatile=("webhook-timestamp", "webhook-signature"))
    assert first.json()["type"] == "aadsts_enricher.notification.firing"
    assert second.json()["type"] == "aadsts_enricher.notification.resolved"
    assert second.json()["data"]["status"] == "resolved"
    assert first.headers["content-type"] == "application/json"
    assert verify(first, WHSEC) and verify(second, WHSEC)
    assert not verify(first, "whsec_" + base64.b64encode(b"another key!").decode())


def test_retry_keeps_id_and_body_but_not_timestamp(receiver: Receiver) -> None:
    """webhook-id is the idempotency key: the same on every attempt; the timestamp is per attempt."""
    clock = iter([1_700_000_000.0, 1_700_000_060.0])
    receiver.answer(Reply(503), Reply(200))
    from enricher.sinks.webhook import WebhookSink
    from tests.sinks.conftest import sink_config

    sink = WebhookSink(sink_config("webhook", receiver.url), clock=lambda: next(clock))
    assert sink.send(firing()).retryable
    assert sink.send(firing()).ok
    sink.close()
    one, two = receiver.requests
    assert one.headers["webhook-id"] == two.headers["webhook-id"] == firing().id
    assert (one.headers["webhook-timestamp"], two.headers["webhook-timestamp"]) == (
        "1700000000",
        "1700000060",
    )
    assert one.body == two.body
    assert one.headers["webhook-signature"] != two.headers["webhook-signature"]
    assert verify(one, WHSEC) and verify(two, WHSEC)


def test_cloudevents_structured_mode(receiver: Receiver) -> None:
    sink = make_sink("webhook", receiver.url, cloudevents=True, cloudevents_source="/tests")
    assert sink.send(firing()).ok
    sink.close()
    [request] = receiver.requests
    event = request.json()
    assert_golden("webhook_cloudevent", event)
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert event["specversion"] == "1.0" and event["id"] == request.headers["webhook-id"] == firing().id
    assert (event["source"], event["type"]) == ("/tests", "aadsts_enricher.notification.firing")
    assert verify(request, WHSEC)


def test_unsigned_and_extra_headers(receiver: Receiver) -> None:
    """Without a secret there is no signature; extra headers go out but cannot replace ours."""
    sink = make_sink(
        "webhook",
        receiver.url,
        secret=None,
        headers={"Authorization": "Bearer t0ken", "webhook-id": "forged"},
    )
    assert sink.send(firing()).ok
    sink.close()
    [request] = receiver.requests
    assert "webhook-signature" not in request.headers
    assert request.headers["authorization"] == "Bearer t0ken"
    assert request.headers["webhook-id"] == firing().id


def test_410_gone_is_permanent(receiver: Receiver) -> None:
    receiver.answer(Reply(410, b"gone"))
    sink = make_sink("webhook", receiver.url)
    result = sink.send(firing())
    sink.close()
    assert not result.ok and not result.retryable and "asks us to stop" in result.detail


def test_bad_secret_is_a_config_error(receiver: Receiver) -> None:
    with pytest.raises(ConfigError, match=r"sinks\[webhook-test\]\.secret") as info:
        make_sink("webhook", receiver.url, secret="whsec_not base64!!")
    assert "not base64!!" not in str(info.value)


def test_body_is_compact_utf8(receiver: Receiver) -> None:
    sink = make_sink("webhook", receiver.url)
    sink.send(firing(title="Zürich – Sales"))
    sink.close()
    body = receiver.requests[0].body
    assert "Zürich – Sales".encode() in body and json.loads(body)["data"]["title"] == "Zürich – Sales"
