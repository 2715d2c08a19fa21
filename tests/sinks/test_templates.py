"""Per-sink Jinja2 templates from the config directory: sandboxed, checked when the sink is built."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from enricher.errors import ConfigError
from enricher.sinks.console import ConsoleSink
from enricher.sinks.email import EmailSink
from tests.sinks.conftest import firing, hostile, make_sink, sink_config
from tests.sinks.servers import MailHandler, Receiver, smtp_server


def write(folder: Path, name: str, source: str) -> str:
    (folder / name).write_text(source, encoding="utf-8")
    return name


class TestBuildTimeErrors:
    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ('{"text": {{ n.title | tojson }', r"slack\.j2 line 1: unexpected '}'"),
            ('{"text": {{ n.no_such_field | tojson }}}', "has no attribute 'no_such_field'"),
            ('{"text": {{ n.title }}}', "did not render valid JSON"),
            ("[1, 2]", "must render a JSON object"),
            ('{"blocks_typo": []}', "needs one of: text, blocks"),
            ("{{ n.__class__.__mro__ }}", "SecurityError"),
        ],
    )
    def test_invalid_template_is_a_config_error(
        self, tmp_path: Path, receiver: Receiver, source: str, message: str
    ) -> None:
        """Syntax, unknown fields, non-JSON output, wrong shape, sandbox escapes: all fail at build."""
        name = write(tmp_path, "slack.j2", source)
        with pytest.raises(ConfigError, match=message) as info:
            make_sink("slack", receiver.url, tmp_path, template=name)
        assert str(info.value).startswith("sinks[slack-test].template: ")

    def test_missing_file(self, tmp_path: Path, receiver: Receiver) -> None:
        with pytest.raises(ConfigError, match="cannot read"):
            make_sink("webhook", receiver.url, tmp_path, template="nope.j2")


def test_slack_template_replaces_the_message(tmp_path: Path, receiver: Receiver) -> None:
    name = write(
        tmp_path, "slack.j2", '{"text": {{ ("*" ~ title_line(n) ~ "* " ~ seen_line(n)) | mrkdwn | tojson }}}'
    )
    sink = make_sink("slack", receiver.url, tmp_path, template=name)
    assert sink.send(hostile()).ok
    sink.close()
    sent = receiver.requests[0].json()
    assert set(sent) == {"text"} and sent["text"].startswith("*FIRING · AADSTS53003")
    assert "<!channel>" not in sent["text"] and "&lt;!channel&gt;" in sent["text"]


def test_teams_template_may_render_the_bare_card(tmp_path: Path, receiver: Receiver) -> None:
    source = '{"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": {{ n.title | markdown | tojson }}}]}'
    sink = make_sink("teams", receiver.url, tmp_path, template=write(tmp_path, "teams.j2", source))
    assert sink.send(firing()).ok
    sink.close()
    message = receiver.requests[0].json()
    assert message["type"] == "message"
    assert message["attachments"][0]["content"]["body"][0]["text"] == firing().title


def test_pagerduty_template_replaces_payload_fields(tmp_path: Path, receiver: Receiver) -> None:
    source = '{"summary": {{ ("Sign-in failure on " ~ n.item.item_name) | tojson }}, "severity": "high"}'
    sink = make_sink("pagerduty", receiver.url, tmp_path, template=write(tmp_path, "pd.j2", source))
    assert sink.send(firing()).ok
    sink.close()
    event = receiver.requests[0].json()
    assert event["payload"]["summary"] == "Sign-in failure on Sales"
    assert event["payload"]["severity"] == "error"  # our severities are mapped even from a template
    assert event["dedup_key"] == firing().incident_id and event["payload"]["class"] == "AADSTS53003"


def test_webhook_template_replaces_data(tmp_path: Path, receiver: Receiver) -> None:
    source = '{"incident": {{ n.incident_id | tojson }}, "fixes": {{ fix_steps(n) | map(attribute="text") | list | tojson }}}'
    sink = make_sink("webhook", receiver.url, tmp_path, template=write(tmp_path, "hook.j2", source))
    assert sink.send(firing()).ok
    sink.close()
    data = receiver.requests[0].json()["data"]
    assert data["incident"] == firing().incident_id and len(data["fixes"]) == 2


def test_console_text_template(tmp_path: Path) -> None:
    out = io.StringIO()
    name = write(tmp_path, "console.j2", "{{ state_label(n) }} {{ n.code }} {{ n.item.item_name }}\n")
    ConsoleSink(sink_config("console", "", template=name), tmp_path, stream=out).send(firing())
    assert out.getvalue() == "FIRING 53003 Sales\n"


def test_email_html_template_autoescapes(tmp_path: Path) -> None:
    name = write(tmp_path, "mail.html.j2", "<h1>{{ n.title }}</h1><p>{{ n.excerpt[:50] }}</p>")
    handler = MailHandler()
    server = smtp_server(handler)
    try:
        fields = {
            "host": "127.0.0.1",
            "port": server.port,
            "security": "none",
            "sender": "a@example.com",
            "recipients": ["b@example.com"],
        }
        sink = EmailSink(sink_config("email", "", template=name, **fields), tmp_path)
        assert sink.send(hostile()).ok
    finally:
        server.stop()
    html = handler.messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert html.startswith("<h1>AADSTS53003: Access blocked - &lt;!channel&gt;")
    assert "<script>" not in html
