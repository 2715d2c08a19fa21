"""``check-config`` accepts only what the daemon can run: every bad config below is exit 2 and one line.

Each case is a config that, before these checks, was called valid and then failed at run time (a
traceback in ``once``, a scheduler traceback every two seconds in ``run``, a dead letter at the
first notification) or was silently misread (a misspelt key).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from enricher.cli import main

BASE = """
tenants:
  - name: contoso
    tenant_id: 72f988bf-0000-0000-0000-000000000000
    credential: {type: client_secret, client_id: c1, client_secret: s3cr3t-value}
    sources: [{type: powerbi}]
sinks:
  - {name: screen, type: console}
  - {name: file, type: jsonl, path: out.jsonl}
"""
ROUTES = """routes:
  - {match: {severity: critical}, sinks: [screen]}
  - {match: {code: '53003'}, sinks: [file]}
"""

CERT = "credential: {type: certificate, client_id: c1, certificate_path: /nonexistent/sp.pem}"
BAD = [
    (
        BASE.replace("credential: {type: client_secret, client_id: c1, client_secret: s3cr3t-value}", CERT),
        "tenants[0].credential.certificate_path: no such file: /nonexistent/sp.pem",
    ),
    (
        BASE.replace(
            "type: client_secret, client_id: c1, client_secret: s3cr3t-value",
            "type: workload_identity, client_id: c1, token_file: /nonexistent/token",
        ),
        "tenants[0].credential.token_file: no such file: /nonexistent/token",
    ),
    (
        BASE.replace("    credential:", "    ca_bundle: /nonexistent/ca.pem\n    credential:"),
        "tenants[0].ca_bundle: no such file: /nonexistent/ca.pem",
    ),
    (
        BASE + "maintenance: [{name: w, timezone: Europe/Amsterdm, start: '22:00', end: '02:00'}]\n",
        "maintenance[0].timezone: unknown time zone 'Europe/Amsterdm' (did you mean 'Europe/Amsterdam'?)",
    ),
    (
        BASE + ROUTES + "  - {match: {workspace: 're:(unclosed'}, sinks: [screen]}\n",
        "routes[2].match.workspace[0]: 're:(unclosed' is not a valid regular expression",
    ),
    (
        BASE + "silences: [{match: {item: 're:[a-'}, ends_at: '2030-01-01T00:00:00Z'}]\n",
        "silences[0].match.item[0]: 're:[a-' is not a valid regular expression",
    ),
    (
        BASE.replace("{type: powerbi}", "{type: powerbi, workspaces: {exclude: ['re:*x']}}"),
        "tenants[0].sources[0].workspaces.exclude[0]: 're:*x' is not a valid regular expression",
    ),
    (
        BASE + "silences: [{match: {code: '53003'}, ends_at: next tuesday}]\n",
        "silences[0].ends_at: 'next tuesday' is not an ISO 8601 time",
    ),
    (
        BASE + "silences: [{match: {code: '53003'}, ends_at: '2030-01-01T00:00:00'}]\n",
        "silences[0].ends_at: give a time zone",
    ),
    (
        BASE + ROUTES.replace("[file]", "[fiel]"),
        "routes[1].sinks: no sink named 'fiel' (did you mean 'file'? known: screen, file)",
    ),
    (BASE + "default_sinks: [pager]\n", "default_sinks: no sink named 'pager'"),
    (
        BASE + "  - {name: chat, type: slak, webhook_url: 'https://hooks.slack.com/x'}\n",
        "sinks[2]: unknown type 'slak' (did you mean 'slack'?); expected one of",
    ),
    (BASE + "  - {name: screen, type: console}\n", "sinks[2].name: 'screen' is used twice"),
    (
        BASE.replace(
            "sources:",
            "sources: [{type: adf}]\n  - name: contoso\n    tenant_id: t2\n"
            "    credential: {type: default}\n    sources:",
        ),
        "tenants[1].name: 'contoso' is used twice",
    ),
    (
        BASE
        + "maintenance: [{name: w, start: '01:00', end: '02:00'}, {name: w, start: '03:00', end: '04:00'}]\n",
        "maintenance[1].name: 'w' is used twice",
    ),
    (BASE + "incident: {group_wait: 1m}\n", "incident: unknown setting (did you mean 'incidents'?)"),
    (
        BASE.replace("{type: powerbi}", "{type: powerbi, mod: workspace}"),
        "tenants[0].sources[0].mod: unknown setting (did you mean 'mode'?)",
    ),
    (
        BASE.replace("{name: screen, type: console}", "{name: screen, type: console, colour: never}"),
        "sinks[0].colour: unknown setting (did you mean 'color'?)",
    ),
    (
        BASE + "  - {name: chat, type: slack, webhok_url: 'https://hooks.slack.com/x'}\n",
        "sinks[2].webhok_url: unknown setting (did you mean 'webhook_url'?)",
    ),
    (
        BASE + "routes: [{match: {workspce: Finance}, sinks: [file]}]\n",
        "routes[0].match.workspce: unknown setting (did you mean 'workspace'?)",
    ),
    (BASE + "health: {listen: '9464'}\n", "health.listen: '9464' is not HOST:PORT"),
    (BASE + "health: {basic_user: ops}\n", "health: basic_user and basic_password go together"),
    (
        BASE.replace("{name: screen, type: console}", "{name: screen, type: console, template: missing.j2}"),
        "sinks[screen].template: cannot read",
    ),
]


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_check_config_refuses_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    assert main(["check-config", "--config", str(write(tmp_path, text))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("aadsts-enricher: ") and captured.err.count("\n") == 1
    assert message in captured.err


TEMPLATES = [
    ("screen", "console", "{{ n.title }\n", "sinks[screen].template: bad.j2 line 1"),
    ("screen", "console", "{{ n.no_such_field }}\n", "has no attribute 'no_such_field'"),
    ("file", "jsonl", "[1, 2]\n", "must render a JSON object"),
    ("chat", "slack", '{"channel": "x"}\n', "the JSON object needs one of: text, blocks"),
    ("otel", "otel", "{% for %}\n", "sinks[otel].template: bad.j2"),
]


@pytest.mark.parametrize(("name", "kind", "template", "message"), TEMPLATES, ids=[t[1] for t in TEMPLATES])
def test_templates_are_rendered_with_the_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, kind: str, template: str, message: str
) -> None:
    """A template that cannot render the sample notification would dead-letter every real one."""
    write(tmp_path, template, "bad.j2")
    extra = {
        "console": "",
        "jsonl": "",
        "slack": "  - {name: chat, type: slack, webhook_url: 'https://hooks.slack.com/x', template: bad.j2}\n",
        "otel": "  - {name: otel, type: otel, endpoint: 'http://127.0.0.1:9', template: bad.j2}\n",
    }[kind]
    text = (BASE + extra).replace(
        f"{{name: {name}, type: {kind}", f"{{name: {name}, type: {kind}, template: bad.j2"
    )
    assert main(["check-config", "--config", str(write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_test_sink_is_not_stopped_by_another_broken_sink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = BASE.replace("path: out.jsonl", "path: out.jsonl, template: missing.j2")
    assert main(["check-config", "--config", str(write(tmp_path, text))]) == 2
    capsys.readouterr()
    assert main(["test-sink", "screen", "--config", str(tmp_path / "config.yaml")]) == 0
    assert "screen (console): delivered" in capsys.readouterr().out


def test_a_good_template_and_knowledge_dir_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, '{"title": {{ n.title | tojson }}}\n', "ok.j2")
    (tmp_path / "kb").mkdir()
    text = BASE.replace("path: out.jsonl", "path: out.jsonl, template: ok.j2") + "knowledge_dir: kb\n"
    assert main(["check-config", "--config", str(write(tmp_path, text))]) == 0
    assert "valid" in capsys.readouterr().out


def test_a_certificate_that_does_not_parse_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``once`` and ``run`` died with a traceback from azure-identity."""
    write(tmp_path, "not a certificate\n", "sp.pem")
    text = BASE.replace(
        "type: client_secret, client_id: c1, client_secret: s3cr3t-value",
        f"type: certificate, client_id: c1, certificate_path: {tmp_path / 'sp.pem'}",
    )
    assert main(["check-config", "--config", str(write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aadsts-enricher: tenants[0].credential: cannot be used: ") and err.count("\n") == 1


def test_a_broken_knowledge_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "x.yaml").write_text("code: [unclosed\n", encoding="utf-8")
    assert main(["check-config", "--config", str(write(tmp_path, BASE + "knowledge_dir: kb\n"))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aadsts-enricher: knowledge_dir: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("workspace=re:(unclosed", "--match workspace[0]: 're:(unclosed' is not a valid regular expression"),
        ("workspce=Sandbox", "--match workspce: unknown setting (did you mean 'workspace'?)"),
        ("severity=urgent", "--match severity[0]: Input should be 'critical'"),
    ],
)
def test_silence_add_applies_the_same_checks(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    match: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, BASE)
    assert main(["silence", "add", "--config", str(path), "--match", match]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / ".data").exists()  # nothing was stored


@pytest.mark.parametrize("command", ["once", "run", "check-config"])
def test_no_command_starts_on_a_bad_time_zone(tmp_path: Path, command: str) -> None:
    """Before: ``once`` crashed with a traceback and ``run`` logged one every 2 s. Now: exit 2, one line."""
    text = BASE + "maintenance: [{name: w, timezone: Europe/Amsterdm, start: '22:00', end: '02:00'}]\n"
    result = subprocess.run(
        [sys.executable, "-m", "enricher", command, "--config", str(write(tmp_path, text))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "maintenance[0].timezone: unknown time zone 'Europe/Amsterdm'" in result.stderr
