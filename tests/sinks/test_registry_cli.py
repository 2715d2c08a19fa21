"""The registry (one match over the config classes) and ``aadsts-enricher test-sink``."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from enricher import config as cfg
from enricher.cli import main
from enricher.config_load import load_config
from enricher.errors import ConfigError
from enricher.sinks.registry import build_sink, build_sinks
from tests.sinks.conftest import SECRET_PATH
from tests.sinks.servers import Receiver, free_port

CONFIG = """
tenants:
  - name: contoso
    tenant_id: 00000000-0000-0000-0000-000000000000
    credential: {{type: client_secret, client_id: app, client_secret: s3cret}}
    sources: [{{type: powerbi}}]
sinks:
  - {{type: console, name: screen, format: json}}
  - {{type: jsonl, name: file, path: out/alerts.jsonl}}
  - {{type: webhook, name: hook, url: "{url}/hook", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}}
  - {{type: slack, name: chat, webhook_url: "http://127.0.0.1:{dead}{secret}", timeout: 1s}}
  - {{type: teams, name: teams, webhook_url: "{url}/teams"}}
  - {{type: pagerduty, name: pager, routing_key: R0123, url: "{url}/pd"}}
  - {{type: email, name: mail, host: 127.0.0.1, port: {dead}, security: none, sender: a@example.com, recipients: [b@example.com]}}
  - {{type: otel, name: otlp, endpoint: "{url}", metric_interval: 1h}}
  - {{type: alertmanager, name: am, urls: ["{url}"]}}
"""


@pytest.fixture
def config_file(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "enricher.yaml"
    path.write_text(CONFIG.format(url=receiver.url, dead=free_port(), secret=SECRET_PATH), encoding="utf-8")
    return path


def test_every_config_class_has_a_sink(config_file: Path) -> None:
    """Each member of the SinkConfig union builds, with the name and type of its entry."""
    config = load_config(config_file)
    members = typing.get_args(typing.get_args(cfg.SinkConfig)[0])
    assert {type(s) for s in config.sinks} == set(members)
    sinks = build_sinks(config, config_file.parent)
    try:
        assert list(sinks) == ["screen", "file", "hook", "chat", "teams", "pager", "mail", "otlp", "am"]
        names = {name: type(sink).__name__ for name, sink in sinks.items()}
        assert (
            names["hook"] == "WebhookSink"
            and names["otlp"] == "OtelSink"
            and names["pager"] == "PagerDutySink"
            and names["am"] == "AlertmanagerSink"
        )
    finally:
        for sink in sinks.values():
            sink.close()


def test_a_broken_sink_fails_the_whole_build(config_file: Path) -> None:
    config = load_config(config_file)
    broken = config.sinks[2].model_copy(update={"ca_bundle": "missing.pem"})
    with pytest.raises(ConfigError, match=r"sinks\[hook\]\.ca_bundle: no such file"):
        build_sink(broken, config_file.parent)


class TestTestSink:
    def test_delivered(
        self, config_file: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Exit 0, the destination's answer printed, a clearly marked test notification sent."""
        code = main(["test-sink", "hook", "--config", str(config_file)])
        out = capsys.readouterr().out
        assert code == 0 and out == "hook (webhook): delivered: HTTP 200: ok\n"
        sent = receiver.requests[0].json()
        assert sent["type"] == "aadsts_enricher.notification.test"
        assert sent["data"]["kind"] == "test" and sent["data"]["title"].startswith("[TEST] aadsts-enricher")

    def test_not_delivered(self, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Exit 1 with the reason; the secret webhook URL is not printed."""
        code = main(["test-sink", "chat", "--config", str(config_file)])
        out = capsys.readouterr().out
        assert code == 1 and out.startswith(
            "chat (slack): NOT delivered (temporary): connection refused: 127.0.0.1:"
        )
        assert SECRET_PATH not in out

    def test_console_and_jsonl(
        self, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(config_file.parent)  # the jsonl path is relative to the working directory
        assert main(["test-sink", "screen", "--config", str(config_file)]) == 0
        assert '"kind": "test"' in capsys.readouterr().out
        assert main(["test-sink", "file", "--config", str(config_file)]) == 0
        assert (config_file.parent / "out/alerts.jsonl").read_text(encoding="utf-8").count("\n") == 1

    def test_unknown_sink_is_a_config_error(
        self, config_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["test-sink", "nope", "--config", str(config_file)]) == 2
        assert "no sink named 'nope' (known: screen, file, hook" in capsys.readouterr().err

    def test_bad_template_is_a_config_error(
        self, config_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (config_file.parent / "bad.j2").write_text("{{ n.title ", encoding="utf-8")
        text = config_file.read_text(encoding="utf-8").replace(
            "name: hook, url", "name: hook, template: bad.j2, url"
        )
        config_file.write_text(text, encoding="utf-8")
        assert main(["test-sink", "hook", "--config", str(config_file)]) == 2
        assert "sinks[hook].template: bad.j2 line 1" in capsys.readouterr().err
