"""E-mail against a real aiosmtpd server: STARTTLS/implicit TLS with a test CA, AUTH, threading."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from enricher.errors import ConfigError
from enricher.sinks.email import EmailSink
from tests.sinks.conftest import firing, hostile, resolved, sink_config
from tests.sinks.servers import Authenticator, Certs, MailHandler, free_port, smtp_server

PASSWORD = "s3cret-Passw0rd"


def first_firing() -> Any:
    """The incident's first notification: the incident book hashes "{incident}:1" into its id."""
    n = firing()
    return dataclasses.replace(
        n, id="firing-" + hashlib.sha256(f"{n.incident_id}:1".encode()).hexdigest()[:16]
    )


def email_sink(port: int, certs: Certs | None, **extra: Any) -> EmailSink:
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "sender": "alerts@example.com",
        "recipients": ["team@example.com", "oncall@example.com"],
        "timeout": "3s",
    }
    if certs is not None:
        fields["ca_bundle"] = str(certs.ca)
    fields.update(extra)
    config = sink_config("email", "", **fields)
    return EmailSink(config)


@pytest.fixture
def mail(certs: Certs) -> Iterator[tuple[MailHandler, int, Authenticator]]:
    handler, auth = MailHandler(), Authenticator("alerts", PASSWORD)
    server = smtp_server(handler, certs=certs, auth=auth)
    yield handler, server.port, auth
    server.stop()


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = msg.iter_parts()
    assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    return text_part.get_content(), html_part.get_content()  # type: ignore[attr-defined]


class TestStartTlsWithAuth:
    def test_one_thread_per_incident(
        self, mail: tuple[MailHandler, int, Authenticator], certs: Certs
    ) -> None:
        """First mail = the root id; later mails reply to it; the subject never changes."""
        handler, port, _ = mail
        sink = email_sink(port, certs, username="alerts", password=PASSWORD)
        reminder = dataclasses.replace(firing(), id="reminder-1", kind="reminder")
        results = [sink.send(n) for n in (first_firing(), reminder, resolved())]
        assert all(r.ok for r in results), results
        assert results[0].detail == f"accepted by 127.0.0.1:{port} for 2 of 2 recipient(s)"
        first, second, third = handler.messages
        root = f"<incident-{firing().incident_id}@aadsts-enricher>"
        assert first["Message-ID"] == root and first["In-Reply-To"] is None
        for later in (second, third):
            assert (
                later["Message-ID"] != root and later["In-Reply-To"] == root and later["References"] == root
            )
        assert len({m["Message-ID"] for m in handler.messages}) == 3
        assert len({m["Subject"] for m in handler.messages}) == 1
        assert (
            first["Subject"] == "[aadsts-enricher] AADSTS53003: Access blocked by Conditional Access - Sales"
        )
        assert (first["Auto-Submitted"], first["X-Auto-Response-Suppress"]) == ("auto-generated", "All")
        assert (first["X-Alert-State"], third["X-Alert-State"]) == ("firing", "resolved")
        assert first["X-Alert-Severity"] == "critical" and first["X-Alert-Code"] == "AADSTS53003"
        assert handler.envelopes[0] == ("alerts@example.com", ["team@example.com", "oncall@example.com"])

    def test_text_first_then_html(self, mail: tuple[MailHandler, int, Authenticator], certs: Certs) -> None:
        handler, port, _ = mail
        assert email_sink(port, certs, username="alerts", password=PASSWORD).send(resolved()).ok
        text, html = parts(handler.messages[0])
        assert text.startswith("RESOLVED · AADSTS53003") and "lasted 2 h 5 min" in text
        assert '<p style="font-size:18px;font-weight:bold">✅ RESOLVED · AADSTS53003' in html

    def test_hostile_text_is_escaped_in_html(
        self, mail: tuple[MailHandler, int, Authenticator], certs: Certs
    ) -> None:
        handler, port, _ = mail
        assert email_sink(port, certs, username="alerts", password=PASSWORD).send(hostile()).ok
        msg = handler.messages[0]
        _, html = parts(msg)
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert 'href="javascript:' not in html and "\x1b" not in html
        assert "\n" not in msg["Subject"] and len(msg["Subject"]) <= 200

    def test_wrong_password_is_permanent_and_secret(
        self, mail: tuple[MailHandler, int, Authenticator], certs: Certs
    ) -> None:
        _, port, auth = mail
        result = email_sink(port, certs, username="alerts", password="wrong-" + PASSWORD).send(firing())
        assert not result.ok and not result.retryable and result.status == 535
        assert PASSWORD not in result.detail and auth.attempts >= 1

    def test_untrusted_certificate_is_permanent(self, mail: tuple[MailHandler, int, Authenticator]) -> None:
        """No ca_bundle: the system store does not know the test CA, and smtplib must not skip checks."""
        _, port, _ = mail
        result = email_sink(port, None, username="alerts", password=PASSWORD).send(firing())
        assert not result.ok and not result.retryable and "TLS" in result.detail


def test_implicit_tls(certs: Certs) -> None:
    handler = MailHandler()
    server = smtp_server(handler, certs=certs, implicit=True)
    try:
        result = email_sink(server.port, certs, security="tls").send(firing())
    finally:
        server.stop()
    assert result.ok, result
    assert handler.messages[0]["Subject"].startswith("[aadsts-enricher] AADSTS53003")


@pytest.mark.parametrize(
    ("where", "reply", "want"),
    [
        ("data", "451 4.3.0 try again later", "retry"),
        ("data", "554 5.7.1 rejected as spam", "fail"),
        ("rcpt", "450 4.2.1 mailbox busy", "retry"),
        ("rcpt", "550 5.1.1 no such user", "fail"),
    ],
)
def test_smtp_status_table(where: str, reply: str, want: str) -> None:
    """SMTP 4xx is temporary, 5xx permanent, wherever in the dialogue it comes."""
    handler = MailHandler()
    setattr(handler, f"{where}_reply", reply)
    server = smtp_server(handler)
    try:
        result = email_sink(server.port, None, security="none").send(firing())
    finally:
        server.stop()
    assert result.retryable if want == "retry" else not result.ok and not result.retryable, result
    assert result.status == int(reply[:3]) and reply[4:] in result.detail


def test_connection_refused_is_retryable() -> None:
    result = email_sink(free_port(), None, security="none").send(firing())
    assert result.retryable and "connection refused" in result.detail


def test_timeout_setting_reaches_smtplib() -> None:
    sink = email_sink(25, None, security="none", timeout=timedelta(seconds=4))
    assert sink.timeout == 4.0


def test_password_without_tls_is_refused() -> None:
    with pytest.raises(ConfigError, match="without TLS"):
        email_sink(25, None, security="none", username="alerts", password=PASSWORD)
